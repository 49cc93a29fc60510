"""The case report (`<case>.json`): one pure function builds it from what a run produced.

Every writer of a case report calls `build_case_report` (the single-case logic, the batch runner through it,
Slicer's batch script), so the schema lives in one place; docs/quality.md and the README describe its keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from segthor._version import __version__
from segthor.io.volume import Volume
from segthor.organs import ORGANS


def organ_volumes_ml(labels: Volume) -> dict[str, float]:
    """Volume of each organ in millilitres (voxel count x voxel volume, spacing in mm), rounded to 1 ul."""
    voxel_ml = float(np.prod(labels.spacing)) / 1000.0
    # One comparison per organ, not np.bincount: that converts the whole array to int64 first (420 MB for a
    # 512x512x200 CT; 0.3-4 s on a busy machine against ~0.1 s for the four counts).
    return {o.key: round(float(np.count_nonzero(labels.array == o.label)) * voxel_ml, 3) for o in ORGANS}


def geometry_record(volume: Volume) -> dict[str, Any]:
    """The CT's grid as the report records it: size (x, y, z voxels), spacing (x, y, z mm), origin (LPS mm) and
    the direction matrix (columns are the x, y, z axes in LPS)."""
    return {
        "size_xyz": list(volume.shape_xyz),
        "spacing_xyz_mm": list(volume.spacing),
        "origin_lps_mm": list(volume.origin),
        "direction": volume.direction.tolist(),
    }


def build_case_report(
    *,
    case: str,
    input_path: str,
    input_resolved: str,
    volume: Volume,
    prediction: Any,
    model: Mapping[str, Any],
    device: str,
    timings: Mapping[str, float],
    outputs: Mapping[str, Any],
    postprocess: Mapping[str, Any] | None = None,
    reference: str | None = None,
    reference_unused_segments: Sequence[str] = (),
    metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The case report of one segmented CT, as a JSON-able dict (keys in the order they are written).

    `volume` is the CT as read (its warnings and geometry are recorded); `prediction` a
    `segthor.inference.Prediction` (labels on the CT's grid, batch size, threads, network grid, plausibility
    verdict in `quality`, or None when not assessed); `model` is `SegmentationLogic.model_info()`; `timings`
    seconds per stage; `outputs` output kind -> file name; `metrics` organ -> metric record against `reference`.
    Pure: reads nothing, writes nothing, the same inputs give the same dict.
    """
    quality = getattr(prediction, "quality", None)
    return {
        "case": case,
        "status": "ok",
        "input": str(input_path),
        "input_resolved": input_resolved,
        "reference": str(reference) if reference else None,
        "reference_unused_segments": list(reference_unused_segments),
        # what reading the input left out, resampled or chose (DICOM geometry, NIfTI transforms)
        "input_warnings": list(volume.warnings),
        "geometry": geometry_record(volume),
        "model": dict(model),
        "device": str(device),
        "batch_size": prediction.batch_size,
        "cpu_threads": prediction.threads,
        "network_grid_zyx": list(prediction.network_shape),
        "postprocess": dict(postprocess) if postprocess is not None else None,
        "timings_s": dict(timings),
        "organ_volumes_ml": organ_volumes_ml(prediction.labels),
        # a regularised or partly left-out input needs a look as much as a flagged organ
        "needs_review": (quality.needs_review or bool(volume.warnings)) if quality is not None else None,
        "quality": quality.to_dict() if quality is not None else None,
        "metrics": dict(metrics) if metrics is not None else None,
        "outputs": dict(outputs),
        "segthor_version": __version__,
    }
