"""v1's procedural trunk fitted around the template: spine behind the esophagus and the descending aorta, the
esophagus drawn along the template's anatomy, the diaphragm under the template's heart.

Template landmarks are carried into the anatomical frame by the case's `Warp`; everything v1 draws from its own
parameters (body wall, ribs, lungs, abdomen) keeps v1's code.
"""

from __future__ import annotations

import numpy as np

from segthor.phantom.layout import Layout, Tube
from segthor.phantom.v2.aorta import aorta_shift, desc_x, esophagus_spine_gap
from segthor.phantom.v2.template import Template
from segthor.phantom.v2.warp import Warp


def _interp(z: float | np.ndarray, table: np.ndarray, col: int) -> np.ndarray:
    order = np.argsort(table[:, 2])
    return np.interp(z, table[order, 2], table[order, col])


def esophagus_template_path(
    t: Template, ery: float, gap: float, spine_gap: float = 3.0, aorta_x=None
) -> tuple[np.ndarray, np.ndarray]:
    """Esophagus control points (template frame) from C4 down to the hiatus, and the spine's front line.

    Above the carina it lies against the trachea's posterior wall and a little left of it; below, between the
    heart's posterior surface (left atrium) and the descending aorta, right of and in front of the aorta. The
    vertebral bodies' front lies `spine_gap` mm behind the esophagus (the descending aorta is then placed against
    them, segthor.phantom.v2.aorta). `aorta_x(z)`: template x of the descending aorta's centre (default: the
    template's own marks). Returns (points (N, 3), spine front samples (M, 3) with x = 0).
    """
    tr = np.array(t.marks["trachea_centre"])  # x, y, z, posterior wall y
    tr = np.column_stack([tr[:, 0], tr[:, 1], tr[:, 2], tr[:, 3]])
    ao = np.array(t.marks["aorta_desc_centre"])
    hb = np.array(t.marks["heart_back"])  # z, y
    z_top_tr = float(tr[:, 2].max())
    pts = []
    for z in (z_top_tr + 60.0, z_top_tr, 70.0, 40.0, 15.0):
        zc = min(z, z_top_tr)
        x = float(_interp(zc, tr, 0)) + 5.0
        wall = float(_interp(zc, np.column_stack([tr[:, 0], tr[:, 3], tr[:, 2]]), 1))
        pts.append((x, wall + 1.0 + ery, z))
    carina_back = float(_interp(2.0, np.column_stack([tr[:, 0], tr[:, 3], tr[:, 2]]), 1))
    for z in (-15.0, -45.0, -75.0, -105.0):
        ax, ay = float(_interp(z, ao, 0)), float(_interp(z, ao, 1))
        back = float(np.interp(z, hb[:, 0], hb[:, 1])) if hb[0, 0] <= z <= hb[-1, 0] else carina_back
        y = max(back + gap + ery, carina_back + 1.0 + ery if z > -30 else -np.inf)
        y = min(y, ay + 6.0)  # never behind the aorta's centre: the aorta lies left-posterior of it
        if aorta_x is not None:
            ax = float(aorta_x(z))
        x = min(ax - 22.0, 14.0 + 0.1 * (-z))
        pts.append((x, y, z))
    pts_arr = np.array(pts)
    zs = np.arange(-420.0, z_top_tr + 80.0, 10.0)
    eso_y = np.interp(zs, pts_arr[::-1, 2], pts_arr[::-1, 1])
    # Behind the esophagus at every level (the retro-esophageal space is a few mm): in adults the esophagus lies
    # on the vertebral bodies and the descending aorta beside it, against their left antero-lateral surface.
    front = eso_y + ery + spine_gap
    front = np.convolve(np.pad(front, 3, mode="edge"), np.ones(7) / 7.0, mode="valid")  # a smooth spine line
    return pts_arr, np.column_stack([np.zeros_like(zs), front, zs])


class LayoutV2(Layout):
    """v1's Layout with spine, esophagus, diaphragm and labels placed by the warped template."""

    def __init__(self, p: dict, z_bottom: float, z_top: float, template: Template, warp: Warp):
        self.template, self.warp = template, warp
        eso_t, spine_t = esophagus_template_path(
            template,
            p["esophagus_ry_mm"],
            p["v2_esophagus_gap_mm"],
            esophagus_spine_gap(template, p),
            aorta_x=lambda z: desc_x(template, p, warp, z)[0],
        )
        self.aorta_shift = aorta_shift(template, p, warp, spine_t)
        self.eso_upper = warp.to_anatomy(eso_t)
        spine = warp.to_anatomy(spine_t)
        order = np.argsort(spine[:, 2])
        self._spine_z, self._spine_front = spine[order, 2], spine[order, 1]
        super().__init__(p, z_bottom, z_top)

    def spine_y(self, z):
        return np.interp(np.asarray(z, dtype=float), self._spine_z, self._spine_front) + self.p["vertebra_ry_mm"]

    def _esophagus_and_airways(self) -> None:
        p = self.p
        erx, ery = p["esophagus_rx_mm"], p["esophagus_ry_mm"]
        yf = self.spine_front
        self.z_gej = self.z_l - p["gej_depth_mm"]
        self.stomach_center = np.array([62.0, float(yf(self.z_l)) - 62.0, self.z_l - 55.0])
        top = self.z_top + 25.0
        upper = [tuple(q) for q in self.eso_upper if q[2] < top + 40.0 and q[2] > self.z_r + 25.0]
        # The template's path can end below the larynx (the Visible Human Female's esophagus mesh-free path starts
        # 60 mm above its trachea's top, which the warp may bring to ~70 mm above the carina). The esophagus runs
        # on behind the trachea and larynx to the pharynx (C6) and SegTHOR labels it from C4, so the tube goes on
        # straight up past the scan's top.
        if upper and upper[0][2] < top + 15.0:
            upper.insert(0, (upper[0][0], upper[0][1], top + 15.0))
        last = np.array(upper[-1])
        # Through the hiatus: forward and to the left, in front of the aorta, into the stomach (v1's course).
        lower = [
            (last[0] + 6.0, float(yf(self.z_r - 8)) - 30, self.z_r - 8),
            (last[0] + 16.0, float(yf(self.z_gej)) - 46, self.z_gej),
            tuple(self.stomach_center + np.array([-12.0, 0.0, 10.0])),
        ]
        self.esophagus = Tube.through(upper + lower, [erx] * (len(upper) + len(lower)))
        self.esophagus_scale = (1.0, erx / ery, 1.0)
        self.carina = np.array([self.warp.c[0], self.warp.c[1], 0.0])
        hila = self.warp.to_anatomy([self.template.marks["hila"]["right"], self.template.marks["hila"]["left"]])
        self.hila = {"right": hila[0], "left": hila[1]}
        self.trachea_y = lambda z: float(self.carina[1])

    def _airway_tubes(self) -> list[Tube]:
        return []

    def _heart(self) -> None:
        self.heart_parts, self.chambers = [], []

    def _aorta(self) -> None:
        self.arch_points = []

    def _other_vessels(self) -> None:
        self.arch_branches, self.pulmonary = [], []

    def _labels(self) -> None:
        p = self.p
        stop = self.z_top - p["label_top_gap_mm"]
        self.esophagus_label = (self.z_gej, min(p["esophagus_top_z_mm"], stop))
        self.trachea_label = (self.carina[2] - 20.0, min(p["larynx_z_mm"], stop))
        self.aorta_label = (self.z_r - p["aorta_label_below_dome_mm"], np.inf)
