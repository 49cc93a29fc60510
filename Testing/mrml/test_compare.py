"""Comparing a segmentation node with a reference node into a table node (Dice, HD95, ASSD per organ)."""

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.mrml.compare import TABLE_COLUMNS, compare_segmentations, metrics_to_table
from segthor.mrml.segmentation_nodes import build_organ_segments, commit_organ_segments
from segthor.mrml.volume_nodes import node_from_volume

pytestmark = pytest.mark.mrml


def _seg(scene, ct_node, ct, labels, name):
    return commit_organ_segments(build_organ_segments(ct.with_array(labels)), ct_node, name=name).segmentation_node


def test_compare_into_table(mrml_scene):
    ct = Volume(np.full((8, 16, 16), -1000, np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    node = node_from_volume(ct, "ct", mrml_scene)
    ref = np.zeros(ct.array.shape, np.uint8)
    ref[2:6, 4:12, 4:12] = 2
    ref[2:6, 1:3, 1:3] = 4
    pred = ref.copy()
    pred[2:6, 4:12, 4:8] = 0  # half the heart missed
    pred_node = _seg(mrml_scene, node, ct, pred, "pred")
    ref_node = _seg(mrml_scene, node, ct, ref, "ref")
    n_nodes = mrml_scene.GetNumberOfNodes()

    metrics = compare_segmentations(pred_node, ref_node)  # grid from the segmentation's reference geometry
    assert mrml_scene.GetNumberOfNodes() == n_nodes  # temporary nodes cleaned up
    assert metrics["aorta"].dice == pytest.approx(1.0)
    assert metrics["heart"].dice == pytest.approx(2 * 128 / (128 + 256))
    with_volume = compare_segmentations(pred_node, ref_node, node)
    assert with_volume["heart"].dice == pytest.approx(metrics["heart"].dice)

    table_node = metrics_to_table(metrics, scene=mrml_scene)
    table = table_node.GetTable()
    assert [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())] == list(TABLE_COLUMNS)
    rows = {table.GetValue(r, 0).ToString(): r for r in range(table.GetNumberOfRows())}
    assert table.GetValue(rows["Heart"], 1).ToDouble() == pytest.approx(metrics["heart"].dice)
    assert table.GetValue(rows["Aorta"], 2).ToDouble() == pytest.approx(0.0)


def test_reference_without_organ_segments_is_refused(mrml_scene):
    ct = Volume(np.full((4, 8, 8), -1000, np.int16))
    node = node_from_volume(ct, "ct", mrml_scene)
    pred = _seg(mrml_scene, node, ct, np.zeros(ct.array.shape, np.uint8), "pred")
    other = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "other")
    other.GetSegmentation().AddEmptySegment("lung", "Lung")
    with pytest.raises(InputError, match="has no segment named"):
        compare_segmentations(pred, other)


def test_compare_on_the_reference_segmentations_grid(mrml_scene):
    # The reference was drawn on a CT covering only x < 8: on its grid, the prediction beyond it does not count.
    ct = Volume(np.full((8, 16, 16), -1000, np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    half = Volume(np.full((8, 16, 8), -1000, np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    node, half_node = node_from_volume(ct, "ct", mrml_scene), node_from_volume(half, "half", mrml_scene)
    pred = np.zeros(ct.array.shape, np.uint8)
    pred[2:6, 4:12, 4:16] = 2
    ref = np.zeros(half.array.shape, np.uint8)
    ref[2:6, 4:12, 4:8] = 2
    pred_node = _seg(mrml_scene, node, ct, pred, "pred")
    ref_node = _seg(mrml_scene, half_node, half, ref, "ref")
    on_reference = compare_segmentations(pred_node, ref_node, ref_node)
    on_input = compare_segmentations(pred_node, ref_node, node)
    assert on_reference["heart"].dice == pytest.approx(1.0)
    assert on_input["heart"].dice == pytest.approx(2 * 128 / (128 + 384))
