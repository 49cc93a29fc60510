"""A real DICOM series (../shared fixture, skipped when absent): read as a folder and as a Slicer volume node."""

import numpy as np
import pytest

from segthor.io.volume import read_volume
from segthor.logic import SegmentationLogic

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def dicom_dir(shared_data_dir):
    return shared_data_dir / "dicom_ct_abdomen_20slices"


def test_dicom_folder_segments_on_its_own_grid(dicom_dir, tiny_model_dir):
    ct = read_volume(dicom_dir)
    prediction = SegmentationLogic(tiny_model_dir, "cpu").segment(ct)
    assert prediction.labels.same_geometry(ct)
    assert prediction.labels.array.shape == (20, 512, 512)


@pytest.mark.mrml
def test_dicom_through_the_scene_matches_the_file_path(dicom_dir, mrml_scene, threshold_package):
    from segthor.mrml.segmentation_nodes import labels_from_segmentation
    from segthor.mrml.volume_nodes import node_from_volume

    ct = read_volume(dicom_dir)
    node = node_from_volume(ct, "dicom", mrml_scene)
    result = SegmentationLogic(threshold_package, "cpu").segment_node(node)
    labels = labels_from_segmentation(result.segmentation_node, node)
    expected = SegmentationLogic(threshold_package, "cpu").segment(ct).labels.array
    assert (expected == 2).sum() > 1000  # real bone/contrast above 150 HU: a non-trivial mask
    np.testing.assert_array_equal(labels, expected)


def test_real_series_read_from_positions_matches_itk_and_the_published_nifti(shared_data_dir, dicom_dir):
    """Regular real series: the position-based reader gives ITK's own stacking, voxel for voxel, no warnings."""
    import SimpleITK as sitk

    from segthor.io.volume import Volume

    for folder in (dicom_dir, shared_data_dir / "ibsi_chest_ct_crop" / "dicom" / "image"):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        itk = Volume.from_sitk(reader.Execute())
        ours = read_volume(folder)
        assert ours.same_geometry(itk, tol=1e-6) and ours.warnings == []
        np.testing.assert_array_equal(ours.array, itk.array)
    # a study folder holding the CT series in image/ and an RTSTRUCT in mask/: the one series below is read
    study = read_volume(shared_data_dir / "ibsi_chest_ct_crop" / "dicom")
    published = read_volume(shared_data_dir / "ibsi_chest_ct_crop" / "nifti" / "image" / "phantom.nii.gz")
    assert study.same_geometry(published, tol=1e-4) and study.warnings == [
        "dicom holds no DICOM series itself; read the one in its subfolder image"
    ]
    np.testing.assert_array_equal(study.array, published.array)
