"""Bounding boxes of masks, so heavy work (morphology, VTK images, file extents) runs on the organ only."""

from __future__ import annotations

import numpy as np


def bounding_box(mask: np.ndarray, *others: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding every true voxel of `mask` (and of `others`, same shape), grown by
    `margin` and clipped to the array; None if all are empty.

    Projects onto each axis with `any` rather than taking `argwhere`, which would list every voxel, and
    combines the projections of several masks rather than forming their union.
    """
    box = []
    for axis, size in enumerate(mask.shape):
        rest = tuple(a for a in range(mask.ndim) if a != axis)
        projection = mask.any(axis=rest)
        for other in others:
            projection = projection | other.any(axis=rest)
        hits = np.flatnonzero(projection)
        if hits.size == 0:
            return None
        box.append(slice(max(0, int(hits[0]) - margin), min(size, int(hits[-1]) + 1 + margin)))
    return tuple(box)
