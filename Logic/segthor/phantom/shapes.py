"""Rasterising solid shapes (ellipsoids, tubes along centre lines) into boxed boolean masks.

A shape's mask is computed only inside its bounding box (`BoxMask`), so a thin vessel costs what its own
voxels cost, not what the whole volume costs. Tubes are swept spheres: every centre-line sample stamps the
voxels within its radius, all samples at once with numpy (no per-sample Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segthor.phantom.grid import Grid

# Stamping works on (samples x ball offsets) arrays; this bounds their size (elements per chunk).
_CHUNK_ELEMENTS = 1_500_000


@dataclass
class BoxMask:
    """A boolean mask `mask` whose voxel [0, 0, 0] is the grid's voxel `lo` (z, y, x)."""

    lo: tuple[int, int, int]
    mask: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, a + n) for a, n in zip(self.lo, self.mask.shape, strict=True))

    def count(self) -> int:
        return int(np.count_nonzero(self.mask))

    def z_coords(self, grid: Grid) -> np.ndarray:
        """Anatomical z (mm) of the box's slices, broadcastable against the mask."""
        return grid.axis("z")[self.slices[0]][:, None, None]

    def union(self, other: BoxMask) -> BoxMask:
        lo = tuple(min(a, b) for a, b in zip(self.lo, other.lo, strict=True))
        hi = tuple(
            max(a + n, b + m) for a, n, b, m in zip(self.lo, self.mask.shape, other.lo, other.mask.shape, strict=True)
        )
        out = BoxMask(lo, np.zeros(tuple(h - lo_ for h, lo_ in zip(hi, lo, strict=True)), dtype=bool))
        for part in (self, other):
            sub = tuple(slice(a - o, a - o + n) for a, o, n in zip(part.lo, lo, part.mask.shape, strict=True))
            out.mask[sub] |= part.mask
        return out

    def minus(self, other: BoxMask) -> BoxMask:
        """This mask with `other`'s voxels removed."""
        out = BoxMask(self.lo, self.mask.copy())
        inter = _intersection(self, other)
        if inter is not None:
            mine, theirs = inter
            out.mask[mine] &= ~other.mask[theirs]
        return out


def _intersection(a: BoxMask, b: BoxMask):
    lo = [max(x, y) for x, y in zip(a.lo, b.lo, strict=True)]
    hi = [min(x + n, y + m) for x, n, y, m in zip(a.lo, a.mask.shape, b.lo, b.mask.shape, strict=True)]
    if any(h <= lo_ for h, lo_ in zip(hi, lo, strict=True)):
        return None
    in_a = tuple(slice(lo_ - o, h - o) for lo_, h, o in zip(lo, hi, a.lo, strict=True))
    in_b = tuple(slice(lo_ - o, h - o) for lo_, h, o in zip(lo, hi, b.lo, strict=True))
    return in_a, in_b


def overlap_count(a: BoxMask, b: BoxMask) -> int:
    inter = _intersection(a, b)
    if inter is None:
        return 0
    return int(np.count_nonzero(a.mask[inter[0]] & b.mask[inter[1]]))


def _box(grid: Grid, lo_mm: np.ndarray, hi_mm: np.ndarray) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Voxel box (z, y, x) covering anatomical [lo_mm, hi_mm] (x, y, z order), clipped to the grid."""
    i_lo = np.floor(grid.to_index(lo_mm)).astype(int)
    i_hi = np.ceil(grid.to_index(hi_mm)).astype(int) + 1
    n = grid.shape
    lo = (max(i_lo[2], 0), max(i_lo[1], 0), max(i_lo[0], 0))
    hi = (min(i_hi[2], n[0]), min(i_hi[1], n[1]), min(i_hi[0], n[2]))
    return lo, hi


def ellipsoid(
    grid: Grid,
    center: np.ndarray,
    semi_axes: np.ndarray,
    rotation: np.ndarray | None = None,
) -> BoxMask:
    """Voxels inside an ellipsoid; `rotation`'s columns are its axes in the anatomical frame."""
    center = np.asarray(center, dtype=float)
    semi = np.asarray(semi_axes, dtype=float)
    rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    half = np.sqrt(((rot * semi[None, :]) ** 2).sum(axis=1))  # world-axis half extents
    lo, hi = _box(grid, center - half, center + half)
    shape = tuple(max(h - lo_, 0) for h, lo_ in zip(hi, lo, strict=True))
    if 0 in shape:
        return BoxMask(lo, np.zeros((0, 0, 0), dtype=bool))
    dx = (grid.axis("x")[lo[2] : hi[2]] - center[0]).astype(np.float32)[None, None, :]
    dy = (grid.axis("y")[lo[1] : hi[1]] - center[1]).astype(np.float32)[None, :, None]
    dz = (grid.axis("z")[lo[0] : hi[0]] - center[2]).astype(np.float32)[:, None, None]
    acc = np.zeros(shape, dtype=np.float32)
    for j in range(3):
        r = rot[:, j] / semi[j]
        u = np.float32(r[0]) * dx + np.float32(r[1]) * dy
        u = u + np.float32(r[2]) * dz
        acc += u * u
    return BoxMask(lo, acc <= 1.0)


def resample_path(points: np.ndarray, radii: np.ndarray, step_factor: float = 0.35, min_step: float = 0.3):
    """Resample a polyline so consecutive samples are at most `step_factor` x the local radius apart.

    Stamped spheres that close together leave a surface ripple under 2 % of the radius.
    """
    points = np.asarray(points, dtype=float)
    radii = np.broadcast_to(np.asarray(radii, dtype=float), (len(points),))
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] == 0:
        return points[:1], radii[:1]
    step = max(float(radii.min()) * step_factor, min_step)
    t = np.linspace(0.0, arc[-1], max(int(np.ceil(arc[-1] / step)) + 1, 2))
    out = np.stack([np.interp(t, arc, points[:, i]) for i in range(3)], axis=1)
    return out, np.interp(t, arc, radii)


def stamp_voxels(
    grid: Grid,
    samples: np.ndarray,
    radii: np.ndarray,
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, y, x) indices of voxels whose centre lies within `radii` of any sample (duplicates possible).

    `samples` must already be dense (see `resample_path`); they need not form one connected line, so many
    tubes can be stamped in one call. `scale` stretches distances per axis before comparing with the radius:
    (1, 1.5, 1) gives a cross-section whose y semi-axis is the radius / 1.5 (a flattened tube).
    """
    pts = np.asarray(samples, dtype=float).reshape(-1, 3)
    rad = np.broadcast_to(np.asarray(radii, dtype=float), (len(pts),))
    empty = np.zeros(0, dtype=np.int64)
    if len(pts) == 0:
        return empty, empty, empty
    sp = np.asarray(grid.spacing)
    sc = np.asarray(scale, dtype=float)
    rmax = float(rad.max())
    # Ball offsets (voxel units, x/y/z order) that can lie within rmax of a sample's nearest voxel.
    R = np.ceil(rmax / sc / sp).astype(int) + 1
    oi, oj, ok = np.meshgrid(*(np.arange(-r, r + 1) for r in R), indexing="ij")
    off = np.stack([oi.ravel(), oj.ravel(), ok.ravel()], axis=1)
    off = off[(((np.abs(off) - 1).clip(0) * sp * sc) ** 2).sum(axis=1) <= rmax**2]

    idx = grid.to_index(pts)
    centre = np.rint(idx).astype(np.int64)
    frac = ((centre - idx) * sp * sc).astype(np.float32)  # sample -> its nearest voxel, in scaled mm
    offmm = (off * sp * sc).astype(np.float32)
    r2 = (rad * rad).astype(np.float32)
    hi_xyz = np.array([grid.shape[2], grid.shape[1], grid.shape[0]])
    chunk = max(1, _CHUNK_ELEMENTS // len(off))
    found = []
    for s in range(0, len(pts), chunk):
        d = frac[s : s + chunk, None, :] + offmm[None, :, :]
        si, oi_ = np.nonzero(np.einsum("ijk,ijk->ij", d, d) <= r2[s : s + chunk, None])
        vox = centre[s : s + chunk][si] + off[oi_]
        found.append(vox[np.all((vox >= 0) & (vox < hi_xyz), axis=1)])
    vox = np.concatenate(found)
    return vox[:, 2], vox[:, 1], vox[:, 0]


def mask_from_voxels(zyx: tuple[np.ndarray, np.ndarray, np.ndarray]) -> BoxMask:
    z, y, x = zyx
    if len(z) == 0:
        return BoxMask((0, 0, 0), np.zeros((0, 0, 0), dtype=bool))
    lo = (int(z.min()), int(y.min()), int(x.min()))
    shape = (int(z.max()) - lo[0] + 1, int(y.max()) - lo[1] + 1, int(x.max()) - lo[2] + 1)
    mask = np.zeros(shape, dtype=bool)
    mask[z - lo[0], y - lo[1], x - lo[2]] = True
    return BoxMask(lo, mask)


def push_clear(
    path: np.ndarray,
    radii: np.ndarray,
    other: np.ndarray,
    other_radii: np.ndarray,
    gap: float,
    iterations: int = 8,
    smooth_mm: float = 12.0,
) -> np.ndarray:
    """Move centre-line samples of `path` away from `other` until the two tubes are `gap` mm apart.

    Too-close samples move straight away from their nearest sample on `other`, in x and y only (the path keeps
    its height). The pushes are smoothed along the path (Gaussian, `smooth_mm`) so the tube bends gently
    instead of kinking; a last unsmoothed pass settles what the smooth passes left.
    """
    from scipy.ndimage import gaussian_filter1d

    path = np.array(path, dtype=float)
    radii = np.broadcast_to(np.asarray(radii, dtype=float), (len(path),))
    other = np.asarray(other, dtype=float)
    other_radii = np.broadcast_to(np.asarray(other_radii, dtype=float), (len(other),))
    step = float(np.median(np.linalg.norm(np.diff(path, axis=0), axis=1))) if len(path) > 1 else 1.0
    sigma = smooth_mm / max(step, 1e-3)
    for it in range(iterations + 1):
        diff = path[:, None, :] - other[None, :, :]
        dist = np.linalg.norm(diff, axis=2)
        need = radii[:, None] + other_radii[None, :] + gap
        rows = np.arange(len(path))
        nearest = np.argmin(dist - need, axis=1)
        short = need[rows, nearest] - dist[rows, nearest]
        if not (short > 0).any():
            break
        dxy = diff[rows, nearest][:, :2]
        norm = np.linalg.norm(dxy, axis=1)
        norm[norm == 0] = 1.0
        push = np.where(short[:, None] > 0, (short + 0.1)[:, None] * dxy / norm[:, None], 0.0)
        if it < iterations and len(path) > 2:
            smoothed = gaussian_filter1d(push, sigma, axis=0, mode="nearest")
            # Smoothing spreads a push thin; scale it back so the worst sample still moves its full way.
            peak = np.abs(push).max() / max(np.abs(smoothed).max(), 1e-9)
            push = smoothed * min(peak, 4.0)
        path[:, :2] += push
    return path
