"""Overlap and volume metrics: 3D Dice, 2D (per axial slice) Dice, volumes in ml."""

from __future__ import annotations

import numpy as np


def dice_3d(pred: np.ndarray, ref: np.ndarray) -> float:
    """2|P∩R| / (|P|+|R|); 1.0 when both are empty."""
    total = int(np.count_nonzero(pred)) + int(np.count_nonzero(ref))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(pred & ref)) / total


def dice_2d(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean per-slice Dice over the axial slices (first axis) where P or R has voxels; 1.0 if there are none."""
    inter = np.count_nonzero(pred & ref, axis=(1, 2))
    total = np.count_nonzero(pred, axis=(1, 2)) + np.count_nonzero(ref, axis=(1, 2))
    used = total > 0
    if not used.any():
        return 1.0
    return float(np.mean(2.0 * inter[used] / total[used]))


def volume_ml(mask: np.ndarray, spacing: tuple[float, ...]) -> float:
    """Volume of a mask in millilitres (voxel count x voxel volume in mm^3 / 1000)."""
    return int(np.count_nonzero(mask)) * float(np.prod(spacing)) / 1000.0
