"""Label maps moved between a segthor `Volume` grid and the slices of a DICOM series (nearest neighbour).

The CT is read by `segthor.io.volume`, which may regularise the series (resample, reorder); the outputs must
still refer to the original slices. So each source slice's pixel centres are mapped to the label Volume's
voxel indices through both geometries (patient LPS coordinates) and sampled by nearest neighbour. When the
grids coincide (the usual case) this is an exact copy.
"""

from __future__ import annotations

import numpy as np

from segthor.dicom_rt.series import SourceSeries
from segthor.io.volume import Volume


def labels_on_series(labels: Volume, series: SourceSeries) -> np.ndarray:
    """Labels sampled on every source slice: uint8 [slice (series order), row, column].

    Pixels of a slice that fall outside the label Volume (or more than half a voxel off its slices) are 0.
    """
    lps_to_ijk = np.linalg.inv(labels.ijk_to_lps())
    nz, ny, nx = labels.array.shape
    first = series.slices[0]
    out = np.zeros((len(series.slices), first.rows, first.columns), dtype=np.uint8)
    for index, s in enumerate(series.slices):
        # (column, row, 1) -> (i, j, k): an affine map, so two direction vectors and an offset per slice.
        m = lps_to_ijk[:3, :3] @ s.pixel_to_lps()
        m[:, 2] += lps_to_ijk[:3, 3]
        rounded = np.round(m)
        if np.allclose(m, rounded, atol=1e-3) and _is_axis_copy(rounded):
            out[index] = _copy_slice(labels.array, rounded, s.rows, s.columns)
            continue
        rows, cols = np.mgrid[0 : s.rows, 0 : s.columns]
        ijk = np.einsum("ab,bij->aij", m, np.stack([cols, rows, np.ones_like(rows)]).astype(float))
        idx = np.round(ijk).astype(np.int64)
        inside = (idx[0] >= 0) & (idx[0] < nx) & (idx[1] >= 0) & (idx[1] < ny) & (idx[2] >= 0) & (idx[2] < nz)
        out[index][inside] = labels.array[idx[2][inside], idx[1][inside], idx[0][inside]]
    return out


def _is_axis_copy(m: np.ndarray) -> bool:
    """Columns map to +x and rows to +y with unit steps (the slice is a plain [k, y0:, x0:] window)."""
    return bool(np.array_equal(m[:, 0], [1, 0, 0]) and np.array_equal(m[:, 1], [0, 1, 0]))


def _copy_slice(array: np.ndarray, m: np.ndarray, rows: int, columns: int) -> np.ndarray:
    nz, ny, nx = array.shape
    x0, y0, k = (int(v) for v in m[:, 2])
    out = np.zeros((rows, columns), dtype=np.uint8)
    if not 0 <= k < nz:
        return out
    xs, ys = slice(max(x0, 0), min(x0 + columns, nx)), slice(max(y0, 0), min(y0 + rows, ny))
    if xs.start >= xs.stop or ys.start >= ys.stop:
        return out
    out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = array[k, ys, xs]
    return out
