"""SegmentationProcessJob on a real MRML scene: the child process segments, the caller commits all four
segments in one step; cancel and failure leave the scene exactly as it was."""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np
import pytest
from segmentation_helpers import make_ct, scene_state

from segthor.errors import CancelledError, InputError, ProcessError
from segthor.logic import SegmentationLogic
from segthor.mrml.volume_nodes import node_from_volume
from segthor.organs import ORGANS
from segthor.runner.job import SegmentationProcessJob

pytestmark = pytest.mark.mrml


def _poll_like_slicer(job, timeout: float = 120.0) -> bool:
    """Poll as Slicer's QTimer does, the main thread holding the GIL in C between ticks (POSIX: usleep via
    ctypes.PyDLL, which keeps the GIL); elsewhere plain sleeps."""
    hold = ctypes.PyDLL(None).usleep if sys.platform != "win32" else (lambda us: time.sleep(us / 1e6))
    deadline = time.monotonic() + timeout
    while not job.poll():
        if time.monotonic() > deadline:
            return False
        hold(100_000)
    return True


def test_job_commits_all_four_segments_and_keeps_the_users_own(mrml_scene, tiny_model_dir, threshold_package):
    node = node_from_volume(make_ct(shape=(6, 30, 30), direction=np.eye(3)), "CT", mrml_scene)
    existing = SegmentationLogic(threshold_package, "cpu").segment_node(node).segmentation_node
    mine = existing.GetSegmentation().AddEmptySegment("mine", "Mine")
    before = scene_state(mrml_scene)
    job = SegmentationProcessJob(node, existing, replace_existing=True, model=tiny_model_dir, device="cpu")
    try:
        job.start()
        assert _poll_like_slicer(job), "the child did not finish"
        assert scene_state(mrml_scene) == before  # the child never touches the scene
        result = job.finish()
    finally:
        job.close()
    assert not job.work_dir.exists()
    seg = result.segmentation_node.GetSegmentation()
    assert result.segmentation_node is existing and len(result.segment_ids) == len(ORGANS)
    assert [seg.GetNthSegment(i).GetName() for i in range(seg.GetNumberOfSegments())] == [o.name for o in ORGANS] + [
        "Mine"
    ]
    assert seg.GetSegment(mine) is not None
    assert job.result_info["model"]["id"] == "tiny-enet" and job.progress()[0] == 1.0
    # The child's plausibility verdict reaches the module: on the result and in every organ segment's tags.
    import vtk

    assert set(result.quality.organs) == {o.key for o in ORGANS}
    for key, sid in result.segment_ids.items():
        status = vtk.reference("")
        assert seg.GetSegment(sid).GetTag("SegTHOR.Status", status)
        assert str(status) == result.quality.organs[key].status


def test_cancel_ends_the_child_within_a_second_and_leaves_the_scene_unchanged(mrml_scene, tiny_model_dir):
    node = node_from_volume(make_ct(shape=(6, 30, 30), direction=np.eye(3)), "CT", mrml_scene)
    before = scene_state(mrml_scene)
    job = SegmentationProcessJob(node, model=tiny_model_dir, device="cpu").start()
    try:
        t0 = time.perf_counter()
        job.cancel()
        assert time.perf_counter() - t0 < 1.0
        assert job.poll()
        with pytest.raises(CancelledError):
            job.finish()
    finally:
        job.close()
    assert scene_state(mrml_scene) == before


def test_refusal_comes_before_any_work(mrml_scene, threshold_package, tmp_path):
    node = node_from_volume(make_ct(), "CT", mrml_scene)
    first = SegmentationLogic(threshold_package, "cpu").segment_node(node).segmentation_node
    with pytest.raises(InputError, match="already has segments"):
        SegmentationProcessJob(node, first, work_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_child_comes_back_as_one_line_and_changes_nothing(mrml_scene, tmp_path):
    node = node_from_volume(make_ct(), "CT", mrml_scene)
    before = scene_state(mrml_scene)
    job = SegmentationProcessJob(node, model=tmp_path / "no-such-model", device="cpu").start()
    try:
        assert job.wait(120)
        with pytest.raises(ProcessError) as info:
            job.finish()
    finally:
        job.close()
    assert "no-such-model" in str(info.value) and "\n" not in str(info.value)
    assert scene_state(mrml_scene) == before
