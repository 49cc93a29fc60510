"""The logic object on a real MRML scene: segment a volume node, cancel without a trace, and compare into a
table (the GUI's child-process job: test_runner_job.py)."""

import numpy as np
import pytest
from segmentation_helpers import heart_truth, make_ct, scene_state

from segthor.errors import CancelledError, InputError
from segthor.logic import SegmentationLogic
from segthor.mrml.segmentation_nodes import labels_from_segmentation
from segthor.mrml.volume_nodes import node_from_volume
from segthor.organs import ORGANS

pytestmark = pytest.mark.mrml


def test_segment_node_writes_four_segments_matching_the_input(mrml_scene, threshold_package):
    ct = make_ct()
    node = node_from_volume(ct, "CT", mrml_scene)
    result = SegmentationLogic(threshold_package, "cpu").segment_node(node)
    seg = result.segmentation_node
    names = [seg.GetSegmentation().GetNthSegment(i).GetName() for i in range(4)]
    assert names == [o.name for o in ORGANS] and seg.GetName() == "CT organs"
    heart = labels_from_segmentation(seg, node) == 2
    truth = heart_truth(ct) == 2
    assert 2 * (heart & truth).sum() / (heart.sum() + truth.sum()) > 0.9


def test_cancel_mid_run_leaves_the_scene_exactly_as_it_was(mrml_scene, threshold_package):
    ct = make_ct(shape=(30, 40, 40), direction=np.eye(3))
    node = node_from_volume(ct, "CT", mrml_scene)
    existing = SegmentationLogic(threshold_package, "cpu").segment_node(node).segmentation_node
    existing.GetSegmentation().AddEmptySegment("mine", "Mine")
    before = scene_state(mrml_scene)

    logic = SegmentationLogic(threshold_package, "cpu", batch_size=2)
    messages = []

    def cancel_half_way(fraction, message):
        messages.append(message)
        if fraction > 0.5:
            logic.cancel()

    logic.progress_callback = cancel_half_way
    with pytest.raises(CancelledError):
        logic.segment_node(node, existing, replace_existing=True)
    assert scene_state(mrml_scene) == before
    assert any("slices" in m for m in messages)
    # A new logic run after a cancel works (the flag is per run).
    logic.progress_callback = None
    logic.segment_node(node, existing, replace_existing=True)


def test_refusal_happens_before_any_work(mrml_scene, threshold_package):
    node = node_from_volume(make_ct(), "CT", mrml_scene)
    first = SegmentationLogic(threshold_package, "cpu").segment_node(node).segmentation_node
    calls = []
    logic = SegmentationLogic(threshold_package, "cpu", progress=lambda f, m: calls.append(m))
    with pytest.raises(InputError, match="already has segments"):
        logic.segment_node(node, first)
    assert calls == []


def test_compare_identical_segmentations_gives_dice_one(mrml_scene, threshold_package):
    node = node_from_volume(make_ct(), "CT", mrml_scene)
    logic = SegmentationLogic(threshold_package, "cpu")
    a = logic.segment_node(node, name="a").segmentation_node
    b = logic.segment_node(node, name="b").segmentation_node
    table, metrics = logic.compare(a, b)
    assert metrics["heart"].dice == pytest.approx(1.0)
    assert table.GetTable().GetNumberOfRows() == len(ORGANS)
