"""Painting the trunk slice by slice: body wall, lungs and diaphragm, mediastinal fat, spine, sternum.

These structures are elliptical in every axial slice with sizes that change slowly along z, so each slice is
painted with a few 2D operations on the body's bounding box only; this is the cheap way to fill most of the
volume's voxels.
"""

from __future__ import annotations

import numpy as np

from segthor.phantom.grid import Grid
from segthor.phantom.layout import SKIN_MM, Layout
from segthor.phantom.tissue import Tissue

_F = np.float32


def _ellipse(X: np.ndarray, Y: np.ndarray, cx: float, cy: float, ax: float, ay_front: float, ay_back: float):
    """(x/a)^2 + (y/b)^2 on the grid X (cols) x Y (rows), b = ay_front in front of cy and ay_back behind."""
    xn = ((X - _F(cx)) / _F(max(ax, 1e-3))) ** 2
    dy = Y - _F(cy)
    yn = np.where(dy < 0, dy / _F(max(ay_front, 1e-3)), dy / _F(max(ay_back, 1e-3))) ** 2
    return yn[:, None] + xn[None, :]


def _window(axis: np.ndarray, lo: float, hi: float) -> slice:
    """Index range of `axis` (ascending) covering [lo, hi]."""
    return slice(int(np.searchsorted(axis, lo)), int(np.searchsorted(axis, hi, side="right")))


def paint_trunk(tissue: np.ndarray, grid: Grid, lay: Layout) -> None:
    p = lay.p
    xs = grid.axis("x").astype(_F)
    ys = grid.axis("y").astype(_F)
    zs = grid.axis("z")
    a_max = p["body_half_width_mm"] * 1.07 + 2
    b_ant = p["body_anterior_mm"] * (1 + p["belly_factor"]) + 2
    cols = _window(xs, -a_max, a_max)
    rows = _window(ys, -b_ant, p["body_posterior_mm"] + 2)
    X, Y = xs[cols], ys[rows]
    dome = lay.dome_z(X[None, :], Y[:, None]).astype(_F)
    dome_hi = float(dome.max())
    # Angle around the body axis from the back (0) to the front (pi), for the scapulae.
    around = np.arctan2(np.abs(X)[None, :], Y[:, None]).astype(_F)
    vb_rx, vb_ry = p["vertebra_rx_mm"], p["vertebra_ry_mm"]
    for k, z in enumerate(zs):
        t = tissue[k, rows, cols]
        a, ba, bp = lay.body_axes(z)
        fat, muscle = lay.wall(z)
        body = _ellipse(X, Y, 0, 0, a, ba, bp)
        t[body <= 1] = Tissue.SKIN
        s = SKIN_MM
        t[_ellipse(X, Y, 0, 0, a - s, ba - s, bp - s) <= 1] = Tissue.FAT
        core = _ellipse(X, Y, 0, 0, a - s - fat, ba - s - fat, bp - s - 0.5 * fat) <= 1
        t[core] = Tissue.MUSCLE

        ca, cba, cbp = lay.cavity_axes(z)
        cavity = _ellipse(X, Y, 0, 0, ca, cba, cbp) <= 1
        cap = float(p.get("apex_cap_mm", 120.0))  # v2 draws shorter caps (lungs widen faster below the apex)
        if z > lay.z_apex - cap:
            # Lung apices: paraboloid caps over each lung, the cavity narrowing to them.
            depth = max(lay.z_apex - z, 0.0)
            w = np.sqrt(depth / cap)
            caps = np.minimum(
                _ellipse(X, Y, -0.55 * ca, 0.15 * cbp, 0.5 * ca * w, 0.8 * cba * w + 1, 0.8 * cbp * w + 1),
                _ellipse(X, Y, 0.55 * ca, 0.15 * cbp, 0.5 * ca * w, 0.8 * cba * w + 1, 0.8 * cbp * w + 1),
            )
            abdomen = None
            lungs = cavity & (caps <= 1) if depth > 0 else np.zeros_like(cavity)
        elif z > dome_hi:
            lungs, abdomen = cavity, None
        else:
            above = dome < _F(z)
            lungs = cavity & above
            abdomen = cavity & ~above
            # The diaphragm: a muscle sheet under the lungs' base.
            t[cavity & above & (dome > _F(z - 5.0))] = Tissue.MUSCLE
            lungs &= dome <= _F(z - 5.0)
        if abdomen is not None:
            t[abdomen] = Tissue.ABDOMEN
        t[lungs] = Tissue.LUNG

        yv = float(lay.spine_y(z))
        canal = float(lay.canal_y(z))
        if lungs.any():
            # Mediastinal fat between the lungs, sternum to spine.
            y_front = -cba
            y_back = yv - vb_ry
            med = (
                _ellipse(
                    X,
                    Y,
                    4.0,
                    0.5 * (y_front + y_back),
                    24.0 + 6.0 * (z < 0),
                    0.5 * (y_back - y_front) + 6,
                    0.5 * (y_back - y_front) + 6,
                )
                <= 1
            )
            t[med & lungs] = Tissue.FAT

        if z > lay.z_apex - 20.0:
            # Thoracic inlet and shoulders: fat planes around the vessels, trachea and esophagus.
            inlet = _ellipse(X, Y, 0.0, -0.3 * cba, 0.45 * ca, 0.5 * cba, 0.5 * cba) <= 1
            t[inlet & core & (t == Tissue.MUSCLE)] = Tissue.FAT
        lo_s, hi_s = lay.scapula_z
        if lo_s < z < hi_s:
            # A thin plate outside the posterior ribs, narrowing to the inferior angle.
            reach = (z - lo_s) / (hi_s - lo_s)
            ring = _ellipse(X, Y, 0.0, 0.0, ca + 17.0, cba + 17.0, cbp + 17.0)
            span = (around > _F(0.45)) & (around < _F(0.55 + 0.6 * np.sqrt(reach)))
            plate = (np.abs(ring - 1.0) < _F(3.0 / (ca + 17.0))) & span & core
            t[plate] = Tissue.BONE_CORTEX
        # Paraspinal muscles beside the spinous processes, inside the subcutaneous fat.
        para = _ellipse(X, Y, 0, canal + 22.0, 60.0, 30.0, 40.0) <= 1
        t[para & core] = Tissue.MUSCLE
        _paint_vertebra(t, X, Y, z, lay, yv, canal, vb_rx, vb_ry)
        if lay.sternum_bottom < z < lay.sternum_top:
            w = 24.0 if z > 35.0 else 15.0
            cy = -cba - 8.0
            sternum = _ellipse(X, Y, 0.0, cy, w, 6.5, 6.5)
            t[sternum <= 1] = Tissue.BONE_CORTEX
            t[sternum <= 0.55] = Tissue.BONE_TRABECULAR


def _paint_vertebra(t, X, Y, z, lay: Layout, yv: float, canal: float, rx: float, ry: float) -> None:
    cols = _window(X, -40.0, 40.0)
    rows = _window(Y, yv - ry - 2, canal + 45.0)
    t = t[rows, cols]
    X, Y = X[cols], Y[rows]
    phase = (z / lay.hv) % 1.0
    body = _ellipse(X, Y, 0.0, yv, rx, ry, ry)
    if phase < 0.18:
        t[body <= 1] = Tissue.DISC
    else:
        t[body <= 1] = Tissue.BONE_CORTEX
        t[_ellipse(X, Y, 0.0, yv, rx - 2.0, ry - 2.0, ry - 2.0) <= 1] = Tissue.BONE_TRABECULAR
    # Posterior arch: pedicles/laminae ring, spinous and (in the upper part of each vertebra) transverse processes.
    ring = _ellipse(X, Y, 0.0, canal, 13.0, 12.0, 13.0) <= 1
    t[ring] = Tissue.BONE_TRABECULAR
    spinous = (np.abs(X)[None, :] < 4.0) & ((canal < Y)[:, None] & (canal + 40.0 - 6.0 * (phase < 0.4) > Y)[:, None])
    t[spinous] = Tissue.BONE_TRABECULAR
    if phase > 0.45:
        transverse = (np.abs(X)[None, :] < 30.0) & (np.abs(Y - canal + 2.0) < 5.0)[:, None]
        t[transverse] = Tissue.BONE_TRABECULAR
    t[_ellipse(X, Y, 0.0, canal, 8.0, 7.5, 7.5) <= 1] = Tissue.CORD
