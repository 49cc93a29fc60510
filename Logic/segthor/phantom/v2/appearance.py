"""CT appearance of v2 phantoms: HU tables by contrast phase, or domain-randomised intensities, and a bias field.

The acquisition itself (correlated noise, partial-volume blur, int16) is v1's `acquire`; this module chooses
the table it reads and adds what v1 lacks. Domain randomisation (SynthSeg's idea, Billot et al. 2023) draws
every tissue's value independently so a network must learn shape and context, not one HU table.
"""

from __future__ import annotations

import numpy as np

from segthor.phantom.acquisition import HU_MAX, HU_MIN, acquire
from segthor.phantom.grid import Grid
from segthor.phantom.tissue import Tissue, hu_lut


def lut_for(p: dict) -> np.ndarray:
    """256-entry HU table for the case: the phase's values, or random ones in domain-randomised mode."""
    lut = hu_lut(p)
    if not p.get("domain_random"):
        return lut
    rng = np.random.default_rng(int(p["appearance_seed"]))
    used = [int(t) for t in Tissue]
    lut = lut.copy()
    lut[used] = rng.uniform(-1000.0, 1500.0, len(used)).astype(np.float32)
    return lut


def _bias_profile(rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    return np.cos(2 * np.pi * (rng.uniform(0.2, 0.8) * x + rng.uniform(0, 1))).astype(np.float32)


def add_streaks(ct: np.ndarray, tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """Metal streaks: in each slice with metal, alternating bright and dark rays from the metal's centre,
    fading with distance (photon starvation and beam hardening along the rays through dense metal)."""
    rng = np.random.default_rng(int(p["appearance_seed"]) + 2)
    metal = np.nonzero((tissue == Tissue.METAL).any(axis=(1, 2)))[0]
    if len(metal) == 0:
        return
    xs, ys = grid.axis("x").astype(np.float32), grid.axis("y").astype(np.float32)
    amp = np.float32(p["streak_hu"])
    for k in metal:
        jj, ii = np.nonzero(tissue[k] == Tissue.METAL)
        cx, cy = xs[ii].mean(), ys[jj].mean()
        dx, dy = xs[None, :] - cx, ys[:, None] - cy
        theta = np.arctan2(dy, dx)
        r = np.sqrt(dx * dx + dy * dy)
        n_rays = int(rng.integers(6, 18))
        rays = np.cos(n_rays * theta + rng.uniform(0, 2 * np.pi)) * np.cos(
            int(rng.integers(2, 5)) * theta + rng.uniform(0, 2 * np.pi)
        )
        weight = min(1.0, len(jj) / 30.0)
        field = amp * weight * np.sign(rays) * np.abs(rays) ** 3 * np.exp(-r / 120.0) * (r > 4.0)
        ct[k] = np.clip(ct[k] + field, HU_MIN, HU_MAX).astype(np.int16)


def add_beam_hardening(ct: np.ndarray, tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """The dark band between two dense bone masses (shoulders, humeri): beam hardening along the rays that
    cross both. In each slice with cortical bone far out on both sides, a Gaussian band of -`beam_hardening_hu`
    along the line joining their centres, inside the body only."""
    depth = p.get("beam_hardening_hu", 0.0)
    if depth <= 0:
        return
    xs, ys = grid.axis("x").astype(np.float32), grid.axis("y").astype(np.float32)
    side_r, side_l = xs < -70.0, xs > 70.0
    # Slices with enough cortical bone far out on both sides (one pass over the lateral columns).
    i_r, i_l = int(np.searchsorted(xs, -70.0)), int(np.searchsorted(xs, 70.0, side="right"))
    right_n = np.count_nonzero(tissue[:, :, :i_r] == Tissue.BONE_CORTEX, axis=(1, 2))
    left_n = np.count_nonzero(tissue[:, :, i_l:] == Tissue.BONE_CORTEX, axis=(1, 2))
    for k in np.nonzero((right_n >= 40) & (left_n >= 40))[0]:
        bone = tissue[k] == Tissue.BONE_CORTEX
        jr, ir = np.nonzero(bone[:, side_r])
        jl, il = np.nonzero(bone[:, side_l])
        if len(jr) < 40 or len(jl) < 40:
            continue
        a = np.array([xs[side_r][ir].mean(), ys[jr].mean()])
        b = np.array([xs[side_l][il].mean(), ys[jl].mean()])
        u = (b - a) / max(float(np.linalg.norm(b - a)), 1.0)
        # Distance of every pixel from the line a-b, and whether it lies between a and b.
        dx, dy = xs[None, :] - a[0], ys[:, None] - a[1]
        along = dx * u[0] + dy * u[1]
        across = dx * u[1] - dy * u[0]
        inside = (along > 0) & (along < np.linalg.norm(b - a)) & (tissue[k] != Tissue.AIR)
        band = np.float32(depth) * np.exp(-0.5 * (across / 7.0) ** 2) * inside
        ct[k] = np.clip(ct[k] - band, HU_MIN, HU_MAX).astype(np.int16)


def add_texture(ct: np.ndarray, tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """Tissue texture that noise alone lacks: mottled lung parenchyma, septa in fat, grain in soft tissue.

    A bank of smooth random planes (Gaussian-filtered noise, ~2 mm grain), scaled per tissue class and added
    slice by slice (each slice reads one plane at a random offset, like the scanner noise).
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(int(p["appearance_seed"]) + 3)
    depth, rows, cols = tissue.shape
    pad = 32
    sigma = max(2.0 / grid.spacing[0], 0.7)
    bank = rng.standard_normal((6, rows + pad, cols + pad)).astype(np.float32)
    for b in range(len(bank)):
        bank[b] = gaussian_filter(bank[b], sigma)
        bank[b] /= max(float(bank[b].std()), 1e-6)
    amp = np.zeros(256, dtype=np.float32)
    amp[[Tissue.LUNG]] = p["texture_lung_hu"]
    amp[[Tissue.FAT, Tissue.GLAND]] = 2.0 * p["texture_soft_hu"]
    for t in (Tissue.MUSCLE, Tissue.LIVER, Tissue.SPLEEN, Tissue.MYOCARDIUM, Tissue.ABDOMEN, Tissue.THYMUS):
        amp[int(t)] = p["texture_soft_hu"]
    pick = rng.integers(0, len(bank), depth)
    oy, ox = rng.integers(0, pad + 1, depth), rng.integers(0, pad + 1, depth)
    plane = np.empty((rows, cols), dtype=np.float32)
    for k in range(depth):
        np.take(amp, tissue[k], out=plane)
        plane *= bank[pick[k], oy[k] : oy[k] + rows, ox[k] : ox[k] + cols]
        plane += ct[k]
        np.clip(plane, HU_MIN, HU_MAX, out=plane)
        ct[k] = plane


def field_of_view_outside(tissue: np.ndarray, grid: Grid, p: dict) -> np.ndarray | None:
    """The in-plane pixels ([y, x] bool) outside the case's reconstruction circle, or None when it has none.

    The circle has diameter `p["fov_circle_mm"]` (0: none) and is centred on the body and table's in-plane extent
    (over all slices), moved by `fov_offset_x_mm` / `fov_offset_y_mm`. Real chest CTs are often reconstructed on a
    320-400 mm field narrower than the patient with the arms, so the body's sides and the arms are cut at the
    circle; a network trained only on whole bodies lost the upper esophagus on the real development CT re-made on
    a 350 mm field (docs/benchmarks.md)."""
    diameter = float(p.get("fov_circle_mm", 0.0))
    if diameter <= 0:
        return None
    occupied = tissue != Tissue.AIR
    rows = np.flatnonzero(occupied.any(axis=(0, 2)))
    cols = np.flatnonzero(occupied.any(axis=(0, 1)))
    if len(rows) == 0:
        return None
    ys, xs = grid.axis("y"), grid.axis("x")
    cy = 0.5 * (ys[rows[0]] + ys[rows[-1]]) + float(p.get("fov_offset_y_mm", 0.0))
    cx = 0.5 * (xs[cols[0]] + xs[cols[-1]]) + float(p.get("fov_offset_x_mm", 0.0))
    return (xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2 > (0.5 * diameter) ** 2


def render(tissue: np.ndarray, grid: Grid, p: dict) -> np.ndarray:
    """The CT volume (int16 HU, [z, y, x]) of a v2 tissue map (before the reconstruction circle's padding, which
    `generate_case_v2` applies to the CT and the labels together)."""
    ct = acquire(tissue, grid, p, lut=lut_for(p))
    if not p.get("domain_random"):
        add_texture(ct, tissue, grid, p)
    add_beam_hardening(ct, tissue, grid, p)
    add_streaks(ct, tissue, grid, p)
    if p.get("domain_random"):
        # A smooth separable bias field of up to +-150 HU (intensity non-uniformity, beam hardening cupping).
        rng = np.random.default_rng(int(p["appearance_seed"]) + 1)
        amp = np.float32(rng.uniform(20.0, 150.0))
        fz = _bias_profile(rng, ct.shape[0])
        fy = _bias_profile(rng, ct.shape[1])
        fx = _bias_profile(rng, ct.shape[2])
        plane = (amp * fy[:, None] * fx[None, :]).astype(np.float32)
        for k in range(ct.shape[0]):
            ct[k] = np.clip(ct[k] + fz[k] * plane, HU_MIN, HU_MAX).astype(np.int16)
    return ct
