"""Output files: a .seg.nrrd that slicerio and Slicer read as four coded segments; strict JSON reports."""

import json

import numpy as np
import pytest
from segmentation_helpers import OBLIQUE_DIRECTION

from segthor.io.volume import Volume
from segthor.organs import ORGANS
from segthor.outputs import write_report, write_seg_nrrd


def _labels():
    array = np.zeros((6, 9, 8), np.uint8)
    array[1:3, 2:5, 3:6] = 2
    array[4, 1, 1] = 4
    array[5, 7, 6] = 1
    return Volume(array, (0.7, 0.8, 2.5), (10.0, -20.0, 30.0), OBLIQUE_DIRECTION)


def test_seg_nrrd_is_read_by_slicerio_with_names_codes_and_voxels(tmp_path):
    import slicerio

    labels = _labels()
    path = write_seg_nrrd(labels, tmp_path / "case.seg.nrrd")
    seg = slicerio.read_segmentation(str(path))
    segments = {s["name"]: s for s in seg["segments"]}
    assert list(segments) == [o.name for o in ORGANS]
    for organ in ORGANS:
        assert segments[organ.name]["labelValue"] == organ.label
        assert segments[organ.name]["terminology"]["type"][1] == organ.snomed_code
    # slicerio gives voxels in I,J,K order; ours are [z, y, x].
    np.testing.assert_array_equal(np.transpose(seg["voxels"], (2, 1, 0)), labels.array)
    np.testing.assert_allclose(np.asarray(seg["ijkToLPS"]), labels.ijk_to_lps(), atol=1e-6)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.mrml
def test_seg_nrrd_is_read_by_slicer_storage_node(tmp_path, mrml_scene):
    import slicer

    from segthor.mrml.segmentation_nodes import labels_from_segmentation, organ_segment_ids

    labels = _labels()
    path = write_seg_nrrd(labels, tmp_path / "case.seg.nrrd")
    node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    mrml_scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(node)
    assert set(organ_segment_ids(node)) == {o.key for o in ORGANS}
    np.testing.assert_array_equal(labels_from_segmentation(node, labels), labels.array)


def test_report_is_strict_json(tmp_path):
    path = write_report({"hd95": float("nan"), "dice": np.float32(0.5), "inf": float("inf")}, tmp_path / "r.json")
    assert json.loads(path.read_text()) == {"hd95": None, "dice": 0.5, "inf": None}
