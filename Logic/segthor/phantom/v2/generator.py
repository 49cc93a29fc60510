"""One v2 phantom from a seed: parameters -> warp -> layout -> tissue map and organ masks -> CT + labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from segthor.phantom.generator import SYNTHETIC_NOTE, PhantomCase, _volume
from segthor.phantom.grid import Grid
from segthor.phantom.layout import scan_range
from segthor.phantom.v2.anatomy import build_anatomy_v2, heart_pivot
from segthor.phantom.v2.appearance import field_of_view_outside, render
from segthor.phantom.v2.layout import LayoutV2
from segthor.phantom.v2.params import draw_params_v2
from segthor.phantom.v2.template import load_template
from segthor.phantom.v2.warp import Warp

TEMPLATE_NOTE = (
    "organ shapes from the HuBMAP Human Reference Atlas 3D reference organs (Visible Human Female), CC BY 4.0"
)


def prepare(p: dict):
    """Template, warp, grid and layout of the v2 phantom with parameters `p` (fits the diaphragm in `p`)."""
    t = load_template()
    warp = Warp(p)
    # The diaphragm lies under the template's heart: the left dome (under the heart) a little above its bottom.
    bottom = warp.to_anatomy([[t.marks["heart_centre"][0], t.marks["heart_centre"][1], t.marks["heart_bottom_z"]]])
    hc = np.array(t.marks["heart_centre"])
    heart_bottom = float(bottom[0, 2]) - (p["v2_heart_scale"] - 1.0) * (hc[2] - t.marks["heart_bottom_z"])
    p["dome_right_z_mm"] = round(heart_bottom + p["dome_left_drop_mm"] + p["v2_dome_above_heart_mm"], 1)
    # The chest must hold the heart: deepen a body whose front would cut it.
    pivot_y = heart_pivot(t)[1]
    front_t = pivot_y + (t.marks["heart_front_y"] - pivot_y) * p["v2_heart_scale"]
    front = warp.to_anatomy([[hc[0], front_t, hc[2]]])[0, 1]
    need = -front + 8.0 + 2.0 + p["fat_mm"] + 0.6 * p["muscle_mm"] + 2.0  # v1's cavity_axes, plus 2 mm
    if p["body_anterior_mm"] < need:
        p["body_anterior_mm"] = round(need, 1)
    z_bottom, z_top = scan_range(p)
    grid = Grid.from_params(p, z_bottom)
    lay = LayoutV2(p, z_bottom, z_top, t, warp)
    # The back must hold the spine and the paraspinal muscles.
    back = float(np.max(lay.canal_y(grid.axis("z")))) + p["paraspinal_mm"] + 2.0 + 0.5 * p["fat_mm"]  # v1's yv0
    # (The layout's ribs and lungs hang on the spine, not on the body's outline, so it need not be rebuilt.)
    if p["body_posterior_mm"] < back:
        p["body_posterior_mm"] = round(back, 1)
    return t, warp, grid, lay


def generate_case_v2(
    seed: int,
    size: int = 512,
    n_slices: int | None = None,
    contrast: bool | None = None,
    domain_random: bool = False,
    **overrides: Any,
) -> PhantomCase:
    """A v2 synthetic thoracic CT with SegTHOR labels; the same arguments always give the same arrays."""
    p = draw_params_v2(seed, size, n_slices, contrast, domain_random=domain_random, **overrides)
    _, _, grid, lay = prepare(p)
    anatomy = build_anatomy_v2(p, grid, lay)
    ct = render(anatomy.tissue, grid, p)
    labels = anatomy.label_map()
    outside = field_of_view_outside(anatomy.tissue, grid, p)
    if outside is not None:
        # The scanner's padding value (-3024, -2048 or -1024 HU) outside the circle, and no label where the image
        # holds no anatomy (the organs rarely reach it).
        ct[:, outside] = np.int16(p["fov_pad_hu"])
        labels[:, outside] = 0
    params = dict(p)
    params["note"] = SYNTHETIC_NOTE
    params["template_note"] = TEMPLATE_NOTE
    return PhantomCase(_volume(ct, grid), _volume(labels, grid), params)
