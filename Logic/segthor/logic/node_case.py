"""Node-level segmentation: a scalar volume node in, organ segments committed into the Slicer scene.

Two halves, so the Slicer widget can run the long one away from the scene: `prepare_node_segments` (prediction
and off-scene vtkSegments, cancellable, safe on a worker thread or in a child process) and `commit` (one short,
all-or-nothing write into the scene on the thread that owns it, after the last cancellation point).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from segthor.inference.prediction import Prediction
from segthor.inference.progress import Progress, StageTimer
from segthor.io.volume import Volume

if TYPE_CHECKING:
    from segthor.logic.facade import SegmentationLogic
    from segthor.quality.findings import QualityReport


@dataclass
class NodeResult:
    """What `segment_node` produced in the scene."""

    segmentation_node: Any
    segment_ids: dict[str, str]
    created: bool
    replaced: list[str]
    prediction: Prediction
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def quality(self) -> QualityReport | None:
        """Input warnings and per-organ plausibility of this result."""
        return self.prediction.quality


def prepare_node_segments(
    logic: SegmentationLogic, volume: Volume, progress: Progress | None = None
) -> tuple[Prediction, list]:
    """The cancellable part of `segment_node`: prediction + off-scene vtkSegments (safe on a worker thread)."""
    from segthor.mrml.segmentation_nodes import build_organ_segments

    progress = progress or logic.new_progress()
    timer = StageTimer()
    prediction = logic.segment(volume, progress.sub(0.0, 0.9), timer)
    with timer.stage("segments"):
        progress.report(0.9, "building segments")
        segments = build_organ_segments(prediction.labels, prediction.quality)
    prediction.timings = timer.rounded()
    progress.report(0.97, "adding segments to the scene")
    return prediction, segments


def commit(
    logic: SegmentationLogic,
    prediction: Prediction,
    segments: list,
    volume_node: Any,
    segmentation_node: Any = None,
    replace_existing: bool = False,
    name: str | None = None,
) -> NodeResult:
    """Write prepared segments into the scene (all or nothing); call on the thread that owns the scene."""
    from segthor.mrml.segmentation_nodes import commit_organ_segments

    logic.cancel_token.check()  # last cancellation point: nothing in the scene has changed yet
    result = commit_organ_segments(segments, volume_node, segmentation_node, replace_existing, name)
    if logic.progress_callback is not None:
        logic.progress_callback(1.0, "done")
    return NodeResult(
        result.segmentation_node, result.segment_ids, result.created, result.replaced, prediction, prediction.timings
    )


def segment_node(
    logic: SegmentationLogic,
    volume_node: Any,
    segmentation_node: Any = None,
    replace_existing: bool = False,
    name: str | None = None,
) -> NodeResult:
    """Segment a scalar volume node into `segmentation_node` (new when None) in one call."""
    from segthor.mrml.segmentation_nodes import check_can_write
    from segthor.mrml.volume_nodes import volume_from_node

    logic.cancel_token.reset()
    check_can_write(segmentation_node, replace_existing)  # refuse before the long part
    volume = volume_from_node(volume_node)
    prediction, segments = prepare_node_segments(logic, volume)
    return commit(logic, prediction, segments, volume_node, segmentation_node, replace_existing, name)
