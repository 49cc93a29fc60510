"""All metrics of one organ from a predicted and a reference boolean mask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from segthor.boxes import bounding_box
from segthor.errors import InputError
from segthor.metrics.registry import MaskPair, compute_all, metric_options
from segthor.metrics.result import (
    HD95_POOLED,
    STATUS_BOTH_EMPTY,
    STATUS_OK,
    STATUS_PRED_EMPTY,
    STATUS_REF_EMPTY,
    OrganMetrics,
    check_hd95_convention,
)


def binary_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float],
    hd95: str = HD95_POOLED,
    restricted: bool = False,
    options: Mapping[str, Any] | None = None,
) -> OrganMetrics:
    """Every registry metric (Dice, Dice 2D, HD, HD95, ASSD, AHD, NSD, volumes) of a predicted vs a reference 3D mask.

    ``spacing`` is in mm in the arrays' axis order (like medpy's ``voxelspacing``); the first axis is the
    axial (slice) axis used by Dice 2D and restricted evaluation. For a segthor ``Volume`` (array [z, y, x],
    spacing (x, y, z)) pass ``volume.spacing[::-1]``, or use ``evaluate_volumes``.
    ``restricted``: evaluate only the axial slices where the reference has voxels (the SegTHOR paper's
    Table 3); prediction voxels elsewhere are ignored, so an organ absent from the reference is
    ``both_empty``. ``hd95``: ``pooled`` or ``max-directed`` (see ``OrganMetrics``). ``options``: metric
    parameters by name, e.g. ``{"nsd_tolerance_mm": 3.0}`` (defaults in ``segthor.metrics.registry``).
    Raises ``InputError`` for mismatched shapes, bad spacing, an unknown convention or option.
    """
    pred = np.asarray(pred)
    ref = np.asarray(ref)
    if pred.shape != ref.shape or pred.ndim != 3:
        raise InputError(f"prediction {pred.shape} and reference {ref.shape} must be 3D arrays of the same shape")
    spacing = check_spacing(spacing)
    return masks_metrics(
        pred.astype(bool, copy=False), ref.astype(bool, copy=False), spacing, hd95, restricted, metric_options(options)
    )


def check_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(s) for s in spacing)
    if len(values) != 3 or not all(np.isfinite(s) and s > 0 for s in values):
        raise InputError(f"spacing must be three positive numbers in mm, got {spacing!r}")
    return values  # type: ignore[return-value]


def masks_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: tuple[float, float, float],
    hd95: str,
    restricted: bool,
    options: dict[str, float] | None = None,
) -> OrganMetrics:
    """``binary_metrics`` on boolean arrays already checked (they may be crops holding both masks);
    ``options`` complete (``metric_options()``), or None for the defaults."""
    hd95 = check_hd95_convention(hd95)
    options = metric_options() if options is None else options
    if restricted:
        pred = pred & np.any(ref, axis=(1, 2))[:, None, None]
    box = bounding_box(pred, ref, margin=1)
    if box is None:
        status, empty_case = STATUS_BOTH_EMPTY, 0
        pred = ref = np.zeros((1, 1, 1), dtype=bool)
    else:
        # Everything outside the box is background for both masks, so every metric is unchanged by cropping.
        pred, ref = pred[box], ref[box]
        has_pred, has_ref = bool(pred.any()), bool(ref.any())
        status = STATUS_OK if has_pred and has_ref else STATUS_PRED_EMPTY if has_ref else STATUS_REF_EMPTY
        empty_case = None if status == STATUS_OK else 1
    values = compute_all(MaskPair(pred, ref, spacing, hd95, options), empty_case)
    return OrganMetrics(values, status, hd95, dict(options))
