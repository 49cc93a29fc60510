"""All metrics of one organ from a predicted and a reference boolean mask."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segthor.errors import InputError
from segthor.metrics.distances import boundary_metrics, surface_distances
from segthor.metrics.overlap import dice_2d, dice_3d, volume_ml
from segthor.metrics.result import (
    HD95_POOLED,
    STATUS_BOTH_EMPTY,
    STATUS_OK,
    STATUS_PRED_EMPTY,
    STATUS_REF_EMPTY,
    OrganMetrics,
    check_hd95_convention,
)
from segthor.metrics.surfaces import surface, union_box


def binary_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float],
    hd95: str = HD95_POOLED,
    restricted: bool = False,
) -> OrganMetrics:
    """Dice, Dice 2D, HD, HD95, ASSD, AHD and volumes of a predicted vs a reference 3D mask.

    ``spacing`` is in mm in the arrays' axis order (like medpy's ``voxelspacing``); the first axis is the
    axial (slice) axis used by Dice 2D and restricted evaluation. For a segthor ``Volume`` (array [z, y, x],
    spacing (x, y, z)) pass ``volume.spacing[::-1]``, or use ``evaluate_volumes``.
    ``restricted``: evaluate only the axial slices where the reference has voxels (the SegTHOR paper's
    Table 3); prediction voxels elsewhere are ignored, so an organ absent from the reference is
    ``both_empty``. ``hd95``: ``pooled`` or ``max-directed`` (see ``OrganMetrics``).
    """
    pred = np.asarray(pred)
    ref = np.asarray(ref)
    if pred.shape != ref.shape or pred.ndim != 3:
        raise InputError(f"prediction {pred.shape} and reference {ref.shape} must be 3D arrays of the same shape")
    spacing = check_spacing(spacing)
    return masks_metrics(pred.astype(bool, copy=False), ref.astype(bool, copy=False), spacing, hd95, restricted)


def check_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(s) for s in spacing)
    if len(values) != 3 or not all(np.isfinite(s) and s > 0 for s in values):
        raise InputError(f"spacing must be three positive numbers in mm, got {spacing!r}")
    return values  # type: ignore[return-value]


def masks_metrics(
    pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float, float], hd95: str, restricted: bool
) -> OrganMetrics:
    """``binary_metrics`` on boolean arrays already checked (they may be crops holding both masks)."""
    hd95 = check_hd95_convention(hd95)
    if restricted:
        pred = pred & np.any(ref, axis=(1, 2))[:, None, None]
    box = union_box(pred, ref, margin=1)
    if box is None:
        return _without_distances(1.0, 1.0, 0.0, 0.0, STATUS_BOTH_EMPTY, hd95, distance=0.0)
    # Everything outside the box is background for both masks, so every metric is unchanged by cropping.
    pred, ref = pred[box], ref[box]
    vol_pred, vol_ref = volume_ml(pred, spacing), volume_ml(ref, spacing)
    if vol_pred == 0.0:
        return _without_distances(0.0, 0.0, vol_ref, vol_pred, STATUS_PRED_EMPTY, hd95)
    if vol_ref == 0.0:
        return _without_distances(0.0, 0.0, vol_ref, vol_pred, STATUS_REF_EMPTY, hd95)
    pred_surface, ref_surface = surface(pred), surface(ref)
    bm = boundary_metrics(*surface_distances(pred_surface, ref_surface, spacing), hd95)
    return OrganMetrics(
        dice=dice_3d(pred, ref),
        dice_2d=dice_2d(pred, ref),
        hd=bm.hd,
        hd95=bm.hd95,
        assd=bm.assd,
        ahd=bm.ahd,
        volume_ref_ml=vol_ref,
        volume_pred_ml=vol_pred,
        volume_diff_ml=vol_pred - vol_ref,
        status=STATUS_OK,
        hd95_convention=hd95,
    )


def _without_distances(
    dice: float, dice2d: float, vol_ref: float, vol_pred: float, status: str, hd95: str, distance: float | None = None
) -> OrganMetrics:
    return OrganMetrics(
        dice=dice,
        dice_2d=dice2d,
        hd=distance,
        hd95=distance,
        assd=distance,
        ahd=distance,
        volume_ref_ml=vol_ref,
        volume_pred_ml=vol_pred,
        volume_diff_ml=vol_pred - vol_ref,
        status=status,
        hd95_convention=hd95,
    )
