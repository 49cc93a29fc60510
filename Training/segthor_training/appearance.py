"""Appearance augmentation for transfer to real CT: random HU shift and scale (per image and per label region),
gamma, a multiplicative bias field, Gaussian noise of random level, blur, random in-plane resolution and simulated
slice thickness. Networks trained on synthetic images then have to rely on shape and context rather than on the
one HU table of the generator (the idea of SynthSeg: Billot et al., Medical Image Analysis 86, 2023, 102789).

Every transform changes the image only, never the labels, and draws all its randomness from the generator it is
given, so a batch is a function of the seed. Images are in network units (after the preprocessing recipe's
normalisation); amounts are given in HU and converted with `hu_per_unit` (the recipe's fixed HU scale, e.g. 500
for `fast2d`; for z-scored recipes one unit is about 500 HU, the standard deviation of a chest CT). Arrays are
[y, x] slices or [z, y, x] crops; in-plane operations act on the last two axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AppearanceConfig:
    """Probabilities (0 turns a transform off) and ranges of each appearance transform; HU amounts in HU."""

    probability: float = 0.0  # chance that a sample gets any appearance transform at all
    hu_per_unit: float | None = None  # None: taken from the preprocessing recipe by the trainer
    scale_probability: float = 0.8
    scale_range: tuple[float, float] = (0.85, 1.15)  # contrast about water (0 HU)
    shift_hu: float = 60.0  # uniform in +-shift_hu
    region_probability: float = 0.5  # chance per organ label of its own HU shift
    region_shift_hu: float = 40.0
    gamma_probability: float = 0.3
    log_gamma: float = 0.3  # gamma = exp(U(-log_gamma, log_gamma)) on the image rescaled to [0, 1]
    bias_probability: float = 0.4
    bias_grid: int = 4  # control points per axis of the smooth field
    bias_sigma: float = 0.06  # log-field standard deviation (about +-6 % of the attenuation)
    noise_probability: float = 0.7
    noise_hu: tuple[float, float] = (0.0, 40.0)  # standard deviation drawn uniformly in this range
    blur_probability: float = 0.3
    blur_sigma_px: tuple[float, float] = (0.3, 1.2)
    resolution_probability: float = 0.3
    resolution_factor: tuple[float, float] = (1.0, 2.0)  # in-plane down-sampling factor before up-sampling back
    thickness_probability: float = 0.3  # 2D only: average 2k+1 neighbouring slices (see `thick_slice`)
    thickness_max_slices: int = 2  # k drawn from 1..this

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AppearanceConfig:
        """Config from a training config's `augmentation.appearance` object; ValueError names unknown keys or bad
        ranges."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown appearance key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("scale_range", "noise_hu", "blur_sigma_px", "resolution_factor"):
            if key in d:
                d[key] = tuple(float(v) for v in d[key])
                if len(d[key]) != 2 or d[key][0] > d[key][1]:
                    raise ValueError(f"appearance.{key} must be [low, high] with low <= high, got {list(d[key])}")
        cfg = cls(**d)
        if cfg.hu_per_unit is not None and not cfg.hu_per_unit > 0:
            raise ValueError(f"appearance.hu_per_unit must be positive, got {cfg.hu_per_unit}")
        if cfg.resolution_factor[0] < 1.0:
            raise ValueError("appearance.resolution_factor must be >= 1 (1 keeps the resolution)")
        return cfg

    @property
    def active(self) -> bool:
        return self.probability > 0


def _fires(rng: np.random.Generator, p: float) -> bool:
    # Always draw, so that turning one transform off does not change the draws of the others.
    return bool(rng.random() < p)


def bias_field(shape: tuple[int, ...], rng: np.random.Generator, grid: int, sigma: float) -> np.ndarray:
    """A smooth positive field of `shape` (mean about 1): exp of a cubic up-sampling of a `grid`^n normal mesh."""
    from scipy.ndimage import zoom

    coarse = rng.normal(0.0, sigma, (max(2, grid),) * len(shape))
    field = zoom(
        coarse, [s / c for s, c in zip(shape, coarse.shape, strict=True)], order=3, mode="nearest", grid_mode=True
    )
    return np.exp(field[tuple(slice(0, s) for s in shape)]).astype(np.float32)


def _in_plane(ndim: int, value: float) -> list[float]:
    return [0.0] * (ndim - 2) + [value, value]


def _resolution(image: np.ndarray, factor: float) -> np.ndarray:
    """Down-sample in-plane by `factor` (area-like: blur first) and up-sample back linearly to the same shape."""
    from scipy.ndimage import gaussian_filter, zoom

    small = zoom(
        gaussian_filter(image, _in_plane(image.ndim, 0.4 * factor)),
        [1.0] * (image.ndim - 2) + [1 / factor, 1 / factor],
        order=1,
        grid_mode=True,
        mode="nearest",
    )
    back = zoom(
        small,
        [1.0] * (image.ndim - 2) + [n / m for n, m in zip(image.shape[-2:], small.shape[-2:], strict=True)],
        order=1,
        grid_mode=True,
        mode="nearest",
    )
    out = np.empty_like(image)
    region = tuple(slice(0, min(a, b)) for a, b in zip(image.shape, back.shape, strict=True))
    out[...] = image
    out[region] = back[region]
    return out


def apply_appearance(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    cfg: AppearanceConfig,
    hu_per_unit: float,
    channels: bool = False,
) -> np.ndarray:
    """A randomly re-styled float32 copy of `image` (same shape; `labels` only select the per-region shifts and
    are not changed). Values stay within the input's [min, max], the range the preprocessing clip allows.

    `channels`: `image` is a 2.5D stack [C, y, x] (neighbouring slices): one in-plane bias field serves every
    channel, and `labels` are [C, y, x] (each channel's own) or [y, x] (one outline for all)."""
    from scipy.ndimage import gaussian_filter

    if not _fires(rng, cfg.probability):
        return image
    x = np.array(image, dtype=np.float32, copy=True)
    lo, hi = float(x.min()), float(x.max())
    hpu = float(hu_per_unit)
    # The image minimum is air (the recipe's lower clip): x - lo is proportional to the attenuation, which a
    # bias field multiplies.

    draws = [
        _fires(rng, p)
        for p in (
            cfg.resolution_probability,
            cfg.blur_probability,
            cfg.bias_probability,
            cfg.scale_probability,
            cfg.gamma_probability,
            cfg.noise_probability,
        )
    ]
    do_res, do_blur, do_bias, do_scale, do_gamma, do_noise = draws
    # Scanner resolution first (it acts on the true image), intensity changes next, noise last.
    if do_res:
        x = _resolution(x, float(rng.uniform(*cfg.resolution_factor)))
    if do_blur:
        x = gaussian_filter(x, _in_plane(x.ndim, float(rng.uniform(*cfg.blur_sigma_px))))
    if do_bias:  # one in-plane field for a 2.5D stack: its channels are neighbouring slices
        field = bias_field(x.shape[1:] if channels else x.shape, rng, cfg.bias_grid, cfg.bias_sigma)
        x = (x - lo) * field + lo
    if do_scale:  # contrast about 0 in network units (water for fixed-HU recipes, the mean for z-scored ones)
        x = x * float(rng.uniform(*cfg.scale_range)) + float(rng.uniform(-cfg.shift_hu, cfg.shift_hu)) / hpu
    for label in range(1, int(labels.max(initial=0)) + 1):
        fire, shift = _fires(rng, cfg.region_probability), float(rng.uniform(-cfg.region_shift_hu, cfg.region_shift_hu))
        if fire:
            mask = labels == label
            x[..., mask] += shift / hpu
    if do_gamma:
        gamma = math.exp(float(rng.uniform(-cfg.log_gamma, cfg.log_gamma)))
        span = max(hi - lo, 1e-6)
        x = lo + span * np.clip((x - lo) / span, 0.0, 1.0) ** gamma
    if do_noise:
        sigma = float(rng.uniform(*cfg.noise_hu)) / hpu
        x = x + rng.normal(0.0, sigma, x.shape).astype(np.float32)
    return np.clip(x, lo, hi).astype(np.float32)


def thick_slice(volume: np.ndarray, z: int, rng: np.random.Generator, cfg: AppearanceConfig) -> np.ndarray:
    """Slice `z` of a [z, y, x] volume, or (with `cfg.thickness_probability`) a triangle-weighted mean of the
    2k+1 slices around it, k in 1..`thickness_max_slices`: a thicker reconstructed slice (edges clamp).
    `thick_stack` of the one position `z`."""
    return thick_stack(volume, np.array([float(z)]), rng, cfg)[0]


def thick_stack(
    volume: np.ndarray, positions: np.ndarray, rng: np.random.Generator, cfg: AppearanceConfig
) -> np.ndarray:
    """A 2.5D net's input (C, y, x): the slices of `volume` [z, y, x] at fractional z `positions` (C,)
    (`segthor.preprocessing.slice_context.sample_slices`), or, with `cfg.thickness_probability` when the
    appearance augmentation is on, each a triangle-weighted mean over the 2k+1 slices around it, k in
    1..`thickness_max_slices` (the same k for every channel: one scanner reconstructs all of them)."""
    from segthor.preprocessing.slice_context import sample_slices

    positions = np.asarray(positions, dtype=np.float64)
    if not cfg.active:
        return sample_slices(volume, positions)
    fire, k = _fires(rng, cfg.thickness_probability), int(rng.integers(1, max(1, cfg.thickness_max_slices) + 1))
    if not fire or volume.shape[0] < 2:
        return sample_slices(volume, positions)
    offsets = np.arange(-k, k + 1)
    weights = (k + 1 - np.abs(offsets)).astype(np.float32)
    weights /= weights.sum()
    out = np.zeros((len(positions), *volume.shape[1:]), np.float32)
    for offset, weight in zip(offsets, weights, strict=True):
        out += weight * sample_slices(volume, positions + offset)
    return out
