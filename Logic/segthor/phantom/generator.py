"""One phantom case from a seed: parameters -> layout -> tissue map and organ masks -> CT + label volumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segthor.io.volume import Volume
from segthor.phantom.acquisition import acquire
from segthor.phantom.anatomy import Anatomy, build_anatomy
from segthor.phantom.grid import Grid
from segthor.phantom.layout import Layout, scan_range
from segthor.phantom.params import draw_params

SYNTHETIC_NOTE = "synthetic phantom (segthor.phantom): not patient data, not for clinical use"


@dataclass
class PhantomCase:
    ct: Volume  # int16 HU
    labels: Volume  # uint8 SegTHOR labels, same geometry
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        sx, sy, sz = self.ct.spacing
        x, y, z = self.ct.shape_xyz
        phase = "contrast" if self.params.get("contrast") else "no contrast"
        return f"{x}x{y}x{z}, {sx:.2f}x{sy:.2f}x{sz:.2f} mm, {phase}, seed {self.params.get('seed')}"


def phantom_grid(p: dict) -> tuple[Grid, Layout]:
    z_bottom, z_top = scan_range(p)
    grid = Grid.from_params(p, z_bottom)
    return grid, Layout(p, z_bottom, z_top)


def generate_anatomy(p: dict) -> Anatomy:
    """The noiseless tissue map and organ masks of the phantom with parameters `p` (see `draw_params`)."""
    grid, layout = phantom_grid(p)
    return build_anatomy(p, grid, layout)


def _volume(array: np.ndarray, grid: Grid) -> Volume:
    return Volume(array, grid.spacing, grid.origin_lps, np.eye(3))


def generate_case(
    seed: int,
    size: int = 512,
    n_slices: int | None = None,
    contrast: bool | None = None,
    **overrides: Any,
) -> PhantomCase:
    """A synthetic thoracic CT with SegTHOR labels; the same arguments always give the same arrays.

    `size` is the in-plane matrix; smaller sizes keep the field of view (the voxels grow), so the anatomy
    keeps its size in mm. `n_slices` None draws SegTHOR's 150-284 slices (scaled with size / 512);
    `contrast` None draws it. `overrides` force any parameter of `draw_params` (e.g. noise_sd_hu=0).
    """
    p = draw_params(seed, size, n_slices, contrast, **overrides)
    anatomy = generate_anatomy(p)
    ct = acquire(anatomy.tissue, anatomy.grid, p)
    labels = anatomy.label_map()
    params = dict(p)
    params["note"] = SYNTHETIC_NOTE
    return PhantomCase(_volume(ct, anatomy.grid), _volume(labels, anatomy.grid), params)


SAMPLE_SEED = 20191
SAMPLE_SIZE = 128
SAMPLE_SLICES = 64
SAMPLE_SPACING_XY = 3.6  # SegTHOR's smallest field of view (0.9 mm x 512) on a 128 matrix


def sample_case() -> PhantomCase:
    """A small deterministic case (128 x 128 x 64 voxels, 3.6 mm in plane) for tests and the demo, in ~0.2 s."""
    return generate_case(
        SAMPLE_SEED, size=SAMPLE_SIZE, n_slices=SAMPLE_SLICES, contrast=True, spacing_xy=SAMPLE_SPACING_XY
    )
