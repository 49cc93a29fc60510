"""Planar contours of a 2D mask, and masks rasterised from planar contours (the even-odd rule).

Convention (what `segthor` writes and reads): each connected piece of an organ and each hole in it is one
closed polygon; a slice's mask is the exclusive OR of the insides of its polygons, so a hole is a polygon
inside an outer one and an island in a hole is a third. Polygons follow the 0.5 iso-line of the mask
(marching squares, `skimage.measure.find_contours`), i.e. the midpoints between inside and outside pixel
centres, which is where the voxel boundary lies; a pixel is inside when its centre is inside (no pixel
centre can lie on such a polygon, so the round trip is exact). Keyhole contours (one polygon with a slit
to the hole) read correctly with the same rule.
"""

from __future__ import annotations

import numpy as np

CONTOUR_LEVEL = 0.5
# A vertex whose turn (cross product of its edges, pixels^2) is below this square goes straight on.
_SIMPLIFY_TOLERANCE_PX = 1e-3


def mask_contours(mask: np.ndarray) -> list[np.ndarray]:
    """Closed polygons of a 2D boolean mask [row, column]: a list of (N, 2) float (row, column) vertices.

    The last vertex is not repeated. An empty mask gives an empty list.
    """
    from skimage.measure import find_contours

    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(mask.any(axis=0))
    r0, c0 = rows[0], cols[0]
    # Only the mask's bounding box, padded by one pixel so contours touching the image border close too.
    padded = np.pad(np.asarray(mask[r0 : rows[-1] + 1, c0 : cols[-1] + 1], dtype=np.float32), 1)
    offset = np.array([r0 - 1.0, c0 - 1.0])
    polygons = []
    for contour in find_contours(padded, CONTOUR_LEVEL):
        if len(contour) > 1 and np.allclose(contour[0], contour[-1]):
            contour = contour[:-1]
        contour = _drop_straight_vertices(contour)
        if len(contour) >= 3:
            polygons.append(contour + offset)
    return polygons


def _drop_straight_vertices(contour: np.ndarray) -> np.ndarray:
    """The closed polygon without vertices where it goes straight on (same shape, far fewer points)."""
    incoming = contour - np.roll(contour, 1, axis=0)
    outgoing = np.roll(contour, -1, axis=0) - contour
    turn = incoming[:, 0] * outgoing[:, 1] - incoming[:, 1] * outgoing[:, 0]
    return contour[np.abs(turn) > _SIMPLIFY_TOLERANCE_PX**2]


def rasterise_polygons(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask [row, column] of `shape`: pixels whose centre is inside an odd number of polygons.

    `polygons`: (N, 2) continuous (row, column) vertices each (the last may repeat the first).
    """
    from skimage.draw import polygon

    mask = np.zeros(shape, dtype=bool)
    for vertices in polygons:
        rr, cc = polygon(vertices[:, 0], vertices[:, 1], shape)
        mask[rr, cc] ^= True
    return mask
