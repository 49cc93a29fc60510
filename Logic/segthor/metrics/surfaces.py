"""Mask surfaces and the merged crop box that keeps distance transforms small (``segthor.boxes`` finds boxes).

Surface of a mask: its voxels with at least one 6-connected neighbour outside the mask, the image border
counting as outside (``mask XOR erosion`` with a 6-connected cross and border value 0, as medpy and MONAI).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_CROSS_6 = ndimage.generate_binary_structure(3, 1)


def merge_boxes(a: tuple[slice, ...] | None, b: tuple[slice, ...] | None, shape: tuple[int, ...], margin: int = 1):
    """The box holding both boxes (as from ``scipy.ndimage.find_objects``), grown by ``margin`` and clipped."""
    boxes = [x for x in (a, b) if x is not None]
    if not boxes:
        return None
    return tuple(
        slice(max(min(x[d].start for x in boxes) - margin, 0), min(max(x[d].stop for x in boxes) + margin, shape[d]))
        for d in range(len(shape))
    )


def surface(mask: np.ndarray) -> np.ndarray:
    """Boolean surface voxels of a 3D boolean mask (the image border counts as outside).

    The same as ``mask & ~binary_erosion(mask, 6-connected cross, border_value=0)``, written as six shifted
    ANDs of a zero-padded copy because that is several times faster than the generic erosion.
    """
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1, 1:-1].copy()
    for view in (p[:-2, 1:-1, 1:-1], p[2:, 1:-1, 1:-1], p[1:-1, :-2, 1:-1], p[1:-1, 2:, 1:-1]):
        inner &= view
    inner &= p[1:-1, 1:-1, :-2]
    inner &= p[1:-1, 1:-1, 2:]
    return mask & ~inner


def surface_by_erosion(mask: np.ndarray) -> np.ndarray:
    """The definition spelled out with scipy's erosion (what medpy and MONAI do); used to test ``surface``."""
    return mask & ~ndimage.binary_erosion(mask, structure=_CROSS_6, border_value=0)
