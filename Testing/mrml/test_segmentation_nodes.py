"""Writing organ labels into segmentation nodes: names, terminology, colours, geometry, study, and the
existing-segment policy (refuse unless replace_existing; other segments never touched)."""

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.mrml.segmentation_nodes import (
    build_organ_segments,
    commit_organ_segments,
    labels_from_segmentation,
    organ_segment_ids,
)
from segthor.mrml.volume_nodes import node_from_volume
from segthor.organs import ORGANS

pytestmark = pytest.mark.mrml

OBLIQUE = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


def _case(direction=OBLIQUE, seed=0):
    rng = np.random.default_rng(seed)
    ct = Volume(rng.integers(-1000, 400, (8, 12, 10)).astype(np.int16), (0.8, 0.9, 2.5), (5.0, -7.0, 11.0), direction)
    labels = np.zeros(ct.array.shape, np.uint8)
    labels[1:4, 2:6, 3:7] = 2
    labels[5:7, 8:10, 1:3] = 4
    labels[2, 10, 8] = 1
    return ct, ct.with_array(labels)  # trachea (3) deliberately absent: still gets an empty segment


def _write(scene, ct, labels, **kwargs):
    node = kwargs.pop("volume_node", None) or node_from_volume(ct, "ct", scene)
    return node, commit_organ_segments(build_organ_segments(labels), node, **kwargs)


def _segments(seg_node):
    s = seg_node.GetSegmentation()
    return [(s.GetNthSegmentID(i), s.GetNthSegment(i).GetName()) for i in range(s.GetNumberOfSegments())]


def test_new_segmentation_has_named_coded_coloured_segments_in_the_input_geometry(mrml_scene):
    ct, labels = _case()
    node, result = _write(mrml_scene, ct, labels)
    seg = result.segmentation_node
    assert result.created and [n for _, n in _segments(seg)] == [o.name for o in ORGANS]
    for organ in ORGANS:
        segment = seg.GetSegmentation().GetSegment(result.segment_ids[organ.key])
        assert segment.GetTerminology() == organ.terminology
        np.testing.assert_allclose(segment.GetColor(), organ.color_float, atol=1e-6)
    np.testing.assert_array_equal(labels_from_segmentation(seg, node), labels.array)
    assert seg.GetNodeReference(seg.GetReferenceImageGeometryReferenceRole()) is node


def test_new_segmentation_lands_in_the_input_study(mrml_scene):
    import slicer

    ct, labels = _case()
    node = node_from_volume(ct, "ct", mrml_scene)
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient")
    study = sh.CreateStudyItem(patient, "Study")
    sh.CreateItem(study, node)  # what Slicer's DICOM loader does for a loaded series
    _, result = _write(mrml_scene, ct, labels, volume_node=node)
    assert sh.GetItemParent(sh.GetItemByDataNode(result.segmentation_node)) == study


def test_existing_segments_refuse_without_replace_and_leave_everything(mrml_scene):
    ct, labels = _case()
    node, first = _write(mrml_scene, ct, labels)
    seg = first.segmentation_node
    user = seg.GetSegmentation().AddEmptySegment("tumour", "Tumour", (0.1, 0.9, 0.1))
    before = _segments(seg)
    with pytest.raises(InputError, match="already has segments for Esophagus, Heart, Trachea, Aorta"):
        _write(mrml_scene, ct, labels, volume_node=node, segmentation_node=seg)
    assert _segments(seg) == before
    assert seg.GetSegmentation().GetSegment(user) is not None


def test_replace_existing_keeps_ids_order_and_other_segments(mrml_scene):
    import slicer

    ct, labels = _case()
    node, first = _write(mrml_scene, ct, labels)
    seg = first.segmentation_node
    user = seg.GetSegmentation().AddEmptySegment("tumour", "Tumour", (0.1, 0.9, 0.1))
    tumour = np.zeros(ct.array.shape, np.uint8)
    tumour[6:8, 0:3, 6:9] = 1
    slicer.util.updateSegmentBinaryLabelmapFromArray(tumour, seg, user, node)
    before = _segments(seg)

    _, other = _case(seed=1)
    new_labels = other.with_array(np.where(labels.array == 2, 0, labels.array).astype(np.uint8))  # heart gone
    _, second = _write(mrml_scene, ct, new_labels, volume_node=node, segmentation_node=seg, replace_existing=True)
    assert not second.created and sorted(second.replaced) == sorted(first.segment_ids.values())
    assert _segments(seg) == before  # same ids, names and order
    np.testing.assert_array_equal(labels_from_segmentation(seg, node), new_labels.array)
    np.testing.assert_array_equal(slicer.util.arrayFromSegmentBinaryLabelmap(seg, user, node), tumour)


def test_segments_matched_by_terminology_even_when_renamed(mrml_scene):
    ct, labels = _case()
    _, result = _write(mrml_scene, ct, labels)
    seg = result.segmentation_node
    seg.GetSegmentation().GetSegment(result.segment_ids["heart"]).SetName("Cor")
    assert organ_segment_ids(seg)["heart"] == result.segment_ids["heart"]
