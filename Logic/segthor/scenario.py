"""The module self-test scenario, Qt-free: run by SegTHORSlicerTest inside Slicer and by pytest on slicer-core.

A front-door-level module: it drives ``segthor.logic`` and the MRML adapter the way the Slicer module does,
and reaches `slicer` only through ``segthor.mrml`` (None as `scene` means `slicer.mrmlScene`).

Loads the bundled phantom CT as a volume node, segments it with a model, checks the four segments (names,
terminology, geometry) and compares them with the phantom's ground truth into a table node.
"""

from __future__ import annotations

from typing import Any

from segthor.organs import ORGANS


def run_phantom_scenario(
    model: Any = None, device: str = "auto", min_mean_dice: float | None = None, scene: Any = None
) -> dict[str, Any]:
    """Run the scenario on `scene` (default `slicer.mrmlScene`); raise AssertionError when a check fails.

    Returns the nodes created and the per-organ metrics. `min_mean_dice` (e.g. for the trained demo model)
    adds an accuracy check; geometry and naming checks always run.
    """
    import numpy as np

    from segthor.logic import SegmentationLogic
    from segthor.mrml.segmentation_nodes import build_organ_segments, commit_organ_segments, labels_from_segmentation
    from segthor.mrml.volume_nodes import node_from_volume
    from segthor.phantom import sample_case

    case = sample_case()
    ct_node = node_from_volume(case.ct, "SegTHOR phantom CT", scene)
    logic = SegmentationLogic(model, device)
    result = logic.segment_node(ct_node)
    seg = result.segmentation_node
    segmentation = seg.GetSegmentation()
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    if names != [o.name for o in ORGANS]:
        raise AssertionError(f"expected segments {[o.name for o in ORGANS]}, got {names}")
    for organ in ORGANS:
        terminology = segmentation.GetSegment(result.segment_ids[organ.key]).GetTerminology()
        if f"SCT^{organ.snomed_code}^" not in terminology:
            raise AssertionError(f"{organ.name} lacks its SNOMED CT code {organ.snomed_code}: {terminology}")
    labels = labels_from_segmentation(seg, ct_node)
    if labels.shape != case.ct.array.shape or not np.array_equal(labels, result.prediction.labels.array):
        raise AssertionError("segments do not reproduce the predicted labels on the CT grid")

    truth = commit_organ_segments(build_organ_segments(case.labels), ct_node, name="phantom ground truth")
    table, metrics = logic.compare(seg, truth.segmentation_node)
    dice = {key: float(m.dice) for key, m in metrics.items()}
    mean_dice = float(np.mean(list(dice.values())))
    if min_mean_dice is not None and not mean_dice >= min_mean_dice:
        raise AssertionError(f"mean Dice {mean_dice:.3f} on the phantom is below {min_mean_dice}: {dice}")
    return {
        "volume_node": ct_node,
        "segmentation_node": seg,
        "reference_node": truth.segmentation_node,
        "table_node": table,
        "dice": dice,
        "mean_dice": mean_dice,
        "model": logic.model_info(),
    }
