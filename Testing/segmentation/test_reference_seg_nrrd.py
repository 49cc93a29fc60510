"""A reference saved by Slicer as .seg.nrrd: segments in any order, cropped to their content."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume, write_volume
from segthor.logic import read_reference
from segthor.organs import organ_by_name
from segthor.phantom import sample_case


def _save_slicer_seg_nrrd(case, path, order=("aorta", "heart", "trachea", "esophagus")):
    """Build a segmentation node the way a user would in Slicer and save it with Slicer's storage node."""
    import slicer
    import slicer.util

    from segthor.mrml.volume_nodes import node_from_volume

    volume_node = node_from_volume(case.ct, name="ct")
    seg = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    seg.CreateDefaultDisplayNodes()
    seg.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
    for key in order:  # not SegTHOR's label order, so raw label values differ from 1-4
        organ = organ_by_name(key)
        sid = seg.GetSegmentation().AddEmptySegment(organ.name, organ.name, organ.color_float)
        mask = (case.labels.array == organ.label).astype(np.uint8)
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask, seg, sid, volume_node)
    storage = seg.CreateDefaultStorageNode()
    storage.SetCropToMinimumExtent(True)  # what makes the saved extent smaller than the CT
    storage.SetFileName(str(path))
    assert storage.WriteData(seg)


def test_reference_seg_nrrd_maps_segments_by_name_and_pads_the_cropped_extent(mrml_scene, tmp_path):
    case = sample_case()
    path = tmp_path / "reference.seg.nrrd"
    _save_slicer_seg_nrrd(case, path)

    reference = read_reference(path, case.ct)

    assert reference.same_geometry(case.ct)
    np.testing.assert_array_equal(reference.array, case.labels.array)


def test_reference_on_another_grid_is_refused(tmp_path):
    case = sample_case()
    shifted = Volume(
        case.labels.array, case.labels.spacing, np.add(case.labels.origin, (0.4, 0.0, 0.0)), case.labels.direction
    )
    path = write_volume(shifted, tmp_path / "shifted_labels.nii.gz")
    with pytest.raises(InputError, match="not on the CT's grid"):
        read_reference(path, case.ct)
