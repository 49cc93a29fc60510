"""Simulated acquisition: tissue map -> HU, scanner noise, partial-volume blur, int16 quantisation.

Noise is added before the blur, so the blur both smooths edges (partial volume, scanner PSF) and gives the
noise the in-plane correlation of real CT noise; its strength is set so the *final* noise has the drawn
standard deviation. Noise comes from a small bank of random planes, each slice taking one at a random
offset: the same statistics as fresh noise for a fraction of the cost of drawing 50 million normals.
"""

from __future__ import annotations

import numpy as np

from segthor.phantom.grid import Grid
from segthor.phantom.tissue import Tissue, hu_lut

HU_MIN, HU_MAX = -1024, 3071  # the range of 12-bit CT with the usual -1024 offset
_BANK_PLANES = 12
_BANK_PAD = 48
_TRUNCATE = 3.0


def _kernel(sigma: float) -> np.ndarray:
    radius = int(_TRUNCATE * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur_sigmas(p: dict, grid: Grid) -> tuple[float, float, float]:
    """Gaussian sigmas in voxels (z, y, x): scanner PSF plus the voxel's own partial-volume width."""
    sx, sy, _ = grid.spacing
    psf = float(p["psf_sigma_mm"])
    return 0.45, float(np.hypot(psf / sy, 0.45)), float(np.hypot(psf / sx, 0.45))


def acquire(tissue: np.ndarray, grid: Grid, p: dict, lut: np.ndarray | None = None) -> np.ndarray:
    """The CT volume (int16 HU, [z, y, x]) that a scanner would give for the tissue map.

    `lut` (256 float32 HU values by tissue class) replaces the table of `hu_lut(p)` (generator v2's phases
    and domain-randomised intensities).
    """
    from scipy.ndimage import gaussian_filter1d

    lut = hu_lut(p) if lut is None else np.asarray(lut, dtype=np.float32)
    depth, rows, cols = tissue.shape
    sigmas = blur_sigmas(p, grid)
    # White noise of sd s becomes sd s * sqrt(sum k^2) per axis after the separable blur.
    shrink = float(np.prod([np.sqrt((_kernel(s) ** 2).sum()) for s in sigmas]))
    sd = float(p["noise_sd_hu"]) / shrink
    rng = np.random.default_rng(int(p["noise_seed"]))
    planes = min(_BANK_PLANES, depth)
    bank = rng.standard_normal((planes, rows + _BANK_PAD, cols + _BANK_PAD), dtype=np.float32)
    bank *= np.float32(sd)
    pick = rng.integers(0, planes, depth)
    oy = rng.integers(0, _BANK_PAD + 1, depth)
    ox = rng.integers(0, _BANK_PAD + 1, depth)

    # Lungs are denser at the back (gravity, supine): a gradient along y inside lung voxels.
    ys = grid.axis("y")
    gradient = (p["lung_gradient_hu"] * (np.clip((ys + 100.0) / 200.0, 0.0, 1.0) - 0.5)).astype(np.float32)

    # Slice by slice: HU lookup, noise, in-plane blur into a ring of three slices, then the 3-tap blur along z
    # and quantisation of the middle one. Never holds a float copy of the whole volume.
    kz = _kernel(sigmas[0])
    if len(kz) == 1:
        kz = np.array([0.0, 1.0, 0.0])
    w_side, w_mid = np.float32(kz[0]), np.float32(kz[1])
    lung = np.uint8(Tissue.LUNG)
    scratch = np.empty((rows, cols), dtype=np.float32)
    ring = np.empty((3, rows, cols), dtype=np.float32)
    out = np.empty(tissue.shape, dtype=np.int16)
    acc = np.empty((rows, cols), dtype=np.float32)

    def blurred_slice(k: int, dest: np.ndarray) -> None:
        t = tissue[k]
        np.take(lut, t, out=scratch)
        np.add(scratch, gradient[:, None], out=scratch, where=t == lung)
        np.add(scratch, bank[pick[k], oy[k] : oy[k] + rows, ox[k] : ox[k] + cols], out=scratch)
        gaussian_filter1d(scratch, sigmas[2], axis=1, output=acc, truncate=_TRUNCATE)
        gaussian_filter1d(acc, sigmas[1], axis=0, output=dest, truncate=_TRUNCATE)

    def emit(k: int, below: np.ndarray, mid: np.ndarray, above: np.ndarray) -> None:
        np.add(below, above, out=acc)
        np.multiply(acc, w_side, out=acc)
        np.add(acc, w_mid * mid, out=acc)
        np.rint(acc, out=acc)
        np.clip(acc, HU_MIN, HU_MAX, out=acc)
        out[k] = acc

    # Slices beyond the ends are mirrored (scipy's "reflect" boundary).
    blurred_slice(0, ring[0])
    if depth == 1:
        emit(0, ring[0], ring[0], ring[0])
        return out
    blurred_slice(1, ring[1])
    emit(0, ring[0], ring[0], ring[1])
    for k in range(1, depth - 1):
        blurred_slice(k + 1, ring[(k + 1) % 3])
        emit(k, ring[(k - 1) % 3], ring[k % 3], ring[(k + 1) % 3])
    emit(depth - 1, ring[(depth - 2) % 3], ring[(depth - 1) % 3], ring[(depth - 1) % 3])
    return out
