"""Bounding boxes of masks, so heavy work (morphology, VTK images, file extents) runs on the organ only."""

from __future__ import annotations

import numpy as np


def bounding_box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding every true voxel, grown by `margin` and clipped; None if empty.

    Projects onto each axis with `any` rather than taking `argwhere`, which would list every voxel.
    """
    box = []
    for axis, size in enumerate(mask.shape):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if hits.size == 0:
            return None
        box.append(slice(max(0, int(hits[0]) - margin), min(size, int(hits[-1]) + 1 + margin)))
    return tuple(box)
