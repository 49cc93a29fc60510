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


def nonzero_box(array: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Slices of the smallest box holding every non-zero voxel of a 3D array (any strides), None if all are zero.

    One pass for the maximum projection along axis 0, then one over the slices of the in-plane box it gives (no
    boolean copy of the array; `bounding_box` of `array != 0` takes four passes and a copy).
    """
    plane = array.max(axis=0) != 0 if array.dtype != bool else array.any(axis=0)
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    if rows.size == 0:
        return None
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    inner = array[:, r0:r1, c0:c1]
    ks = np.flatnonzero(inner.any(axis=(1, 2)) if array.dtype == bool else inner.max(axis=(1, 2)) != 0)
    return slice(int(ks[0]), int(ks[-1]) + 1), slice(r0, r1), slice(c0, c1)


def label_boxes(labels: np.ndarray, max_label: int) -> list[tuple[slice, ...] | None]:
    """``scipy.ndimage.find_objects(labels, max_label=max_label)`` of a 3D array of non-negative integer labels:
    the bounding box of each label 1..`max_label` (index label - 1; None where absent), as slices of `labels`
    (any strides, e.g. a patient-frame view).

    find_objects visits every voxel (~0.1 s for a 512x512x200 CT); here it runs only inside `nonzero_box`: the
    same boxes in a tenth of the time when the organs fill a small part of the CT.
    """
    from scipy import ndimage

    box = nonzero_box(labels) if labels.ndim == 3 else tuple(slice(0, n) for n in labels.shape)
    if box is None:
        return [None] * max_label
    starts = [b.start for b in box]
    return [
        None if found is None else tuple(slice(f.start + o, f.stop + o) for f, o in zip(found, starts, strict=True))
        for found in ndimage.find_objects(labels[box], max_label=max_label)
    ]
