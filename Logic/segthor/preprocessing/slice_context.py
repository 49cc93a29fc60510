"""Neighbouring slices as extra input channels of a 2D network ("2.5D" input).

A single axial slice cannot show continuity along z: the collapsed esophagus looks like the fat beside it on
one slice, and a radiologist finds it by scrolling. A 2D network whose input channels are the CT at fixed
physical offsets above and below the slice it labels sees that continuity at the cost of a wider first
convolution only. Offsets are in mm so one network serves CTs of any slice spacing: each channel is
interpolated linearly between the two nearest slices, and positions beyond the volume's ends take its end
slice (replicate), as a CT scanned no further would show.

Arrays are [z, y, x] on the network grid; `spacing_z` is that grid's slice spacing in mm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CENTRE_ONLY = (0.0,)


def check_offsets(offsets_mm: Sequence[float]) -> tuple[float, ...]:
    """`offsets_mm` as a tuple of floats; ValueError (one line) unless they are finite, strictly ascending
    and include 0 (the slice being labelled)."""
    try:
        values = tuple(float(v) for v in offsets_mm)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"slice_offsets_mm must be a list of numbers (mm), got {offsets_mm!r}") from exc
    if not values or not all(np.isfinite(values)) or 0.0 not in values:
        raise ValueError(f"slice_offsets_mm must be finite mm offsets including 0, got {list(offsets_mm)!r}")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"slice_offsets_mm must be strictly ascending, got {list(values)!r}")
    return values


def slice_positions(zs: np.ndarray, offsets_mm: Sequence[float], spacing_z: float) -> np.ndarray:
    """Fractional slice indices (N, C) of channel c for slice zs[n]: zs[n] + offsets_mm[c] / spacing_z.
    Raises ValueError for a non-positive spacing."""
    if not spacing_z > 0:
        raise ValueError(f"slice spacing must be positive mm, got {spacing_z}")
    steps = np.asarray(offsets_mm, dtype=np.float64) / float(spacing_z)
    return np.asarray(zs, dtype=np.float64)[:, None] + steps[None, :]


def sample_slices(volume: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """float32 slices of `volume` [z, y, x] at fractional z `positions` (any shape P): shape (*P, y, x),
    linear between the two nearest slices, clamped to the volume's ends."""
    n = volume.shape[0]
    p = np.clip(np.asarray(positions, dtype=np.float64), 0.0, n - 1)
    low = np.floor(p).astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    w = (p - low).astype(np.float32)[..., None, None]
    out = volume[low].astype(np.float32, copy=True)
    if np.any(w):
        out *= 1.0 - w
        out += w * volume[high]
    return out


def slice_stack(volume: np.ndarray, zs: np.ndarray, offsets_mm: Sequence[float], spacing_z: float) -> np.ndarray:
    """The network input of slices `zs` (N,) of `volume` [z, y, x]: float32 (N, C, y, x), channel c the CT
    `offsets_mm[c]` mm along z from the slice (`sample_slices`). With offsets (0,) it is volume[zs][:, None]."""
    zs = np.asarray(zs)
    if tuple(offsets_mm) == CENTRE_ONLY:
        return np.ascontiguousarray(volume[zs][:, None], dtype=np.float32)
    return sample_slices(volume, slice_positions(zs, offsets_mm, spacing_z))
