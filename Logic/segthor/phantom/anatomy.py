"""Rasterising one phantom's layout: a uint8 tissue map and one boxed mask per labelled organ.

Painting order decides what is in front where shapes meet: trunk, abdominal organs, mediastinal fat, lung
vessels, ribs, unlabelled vessels, airways, esophagus, aorta, heart. The organ masks are kept apart from the
tissue map so tests can check that the generator's own organs never overlap before they are merged into a
label map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segthor.organs import LABELS
from segthor.phantom.grid import Grid
from segthor.phantom.layout import Layout, Solid, Tube
from segthor.phantom.shapes import BoxMask, ellipsoid, mask_from_voxels, resample_path, stamp_voxels
from segthor.phantom.tissue import Tissue
from segthor.phantom.trunk import paint_trunk
from segthor.phantom.vessels import vessel_tree


@dataclass
class Anatomy:
    grid: Grid
    layout: Layout
    tissue: np.ndarray  # uint8 Tissue classes, [z, y, x]
    organs: dict[str, BoxMask]  # organ key (segthor.organs) -> its voxels

    def label_map(self) -> np.ndarray:
        labels = np.zeros(self.tissue.shape, dtype=np.uint8)
        for key, box in self.organs.items():
            labels[box.slices][box.mask] = LABELS[key]
        return labels


def _paint(tissue: np.ndarray, zyx, value: Tissue, only=None, never=None) -> None:
    """Set voxels `zyx` to `value`, optionally only where the tissue is in `only`, never where in `never`."""
    z, y, x = zyx
    if len(z) == 0:
        return
    if only is not None or never is not None:
        current = tissue[z, y, x]
        keep = np.isin(current, [int(t) for t in only]) if only is not None else np.ones(len(z), dtype=bool)
        if never is not None:
            keep &= ~np.isin(current, [int(t) for t in never])
        z, y, x = z[keep], y[keep], x[keep]
    tissue[z, y, x] = value


def _paint_box(tissue: np.ndarray, box: BoxMask, value: Tissue, only=None) -> None:
    if box.mask.size == 0:
        return
    sub = tissue[box.slices]
    sel = box.mask if only is None else box.mask & np.isin(sub, [int(t) for t in only])
    sub[sel] = value


def _voxels(grid: Grid, paths: list[Tube], extra: float = 0.0, scale=(1.0, 1.0, 1.0)):
    pts = np.concatenate([p.points for p in paths])
    rad = np.concatenate([p.radii for p in paths]) + extra
    return stamp_voxels(grid, pts, rad, scale)


def _keep_z(box: BoxMask, grid: Grid, lo: float, hi: float) -> BoxMask:
    z = box.z_coords(grid)
    return BoxMask(box.lo, box.mask & (z >= lo) & (z <= hi))


def _heart_outline(grid: Grid, lay: Layout, parts: list[Solid], margin: float = 0.0) -> BoxMask:
    box = None
    for part in parts:
        m = ellipsoid(grid, part.center, part.semi + margin, part.rotation)
        box = m if box is None else box.union(m)
    # The heart's diaphragmatic surface is flat: cut it at the diaphragm.
    xs = grid.axis("x")[box.slices[2]]
    ys = grid.axis("y")[box.slices[1]]
    dome = lay.dome_z(xs[None, :], ys[:, None])
    return BoxMask(box.lo, box.mask & (box.z_coords(grid) > dome[None] + 1.0))


def _abdomen(tissue: np.ndarray, grid: Grid, lay: Layout) -> None:
    yv = float(lay.spine_y(lay.z_r))
    A = Tissue.ABDOMEN
    liver = ellipsoid(grid, (-50.0, -5.0, lay.z_r - 72.0), (108.0, 88.0, 88.0))
    _paint_box(tissue, liver, Tissue.LIVER, only=[A])
    sc = lay.stomach_center
    rot = np.array([[0.94, 0.0, -0.34], [0.0, 1.0, 0.0], [0.34, 0.0, 0.94]])
    outer = ellipsoid(grid, sc, (44.0, 40.0, 62.0), rot)
    _paint_box(tissue, outer, Tissue.STOMACH_WALL, only=[A])
    inner = ellipsoid(grid, sc, (39.0, 35.0, 57.0), rot)
    _paint_box(tissue, inner, Tissue.STOMACH_CONTENT, only=[Tissue.STOMACH_WALL])
    # Supine patient: gas rises to the front of the stomach.
    ys = grid.axis("y")[inner.slices[1]]
    gas = BoxMask(inner.lo, inner.mask & (ys[None, :, None] < sc[1] - 12.0))
    _paint_box(tissue, gas, Tissue.AIR, only=[Tissue.STOMACH_CONTENT])
    spleen = ellipsoid(grid, (95.0, yv + 15.0, lay.z_l - 50.0), (28.0, 50.0, 48.0))
    _paint_box(tissue, spleen, Tissue.SPLEEN, only=[A])
    for side in (-1.0, 1.0):
        kidney = ellipsoid(grid, (side * 72.0, yv + 8.0, lay.z_r - 125.0), (28.0, 24.0, 55.0))
        _paint_box(tissue, kidney, Tissue.KIDNEY, only=[A, Tissue.LIVER, Tissue.SPLEEN])


def build_anatomy(p: dict, grid: Grid, lay: Layout) -> Anatomy:
    tissue = np.zeros(grid.shape, dtype=np.uint8)
    paint_trunk(tissue, grid, lay)
    _abdomen(tissue, grid, lay)

    L, F = Tissue.LUNG, Tissue.FAT
    airways = [lay.trachea, lay.bronchus_r, lay.bronchus_l, *lay.lobar_bronchi]
    vessels = [*lay.arch_branches, lay.svc, *lay.pulmonary]
    # Fat around the mediastinal organs (it separates them from the lungs, as on real CT).
    _paint(tissue, _voxels(grid, [lay.aorta, *vessels, lay.trachea], 4.0), F, only=[L])
    _paint(tissue, _voxels(grid, [lay.esophagus], 4.0, lay.esophagus_scale), F, only=[L])
    _paint_box(tissue, _heart_outline(grid, lay, lay.heart_parts, 5.0), F, only=[L])

    rng = np.random.default_rng(int(p["vessel_seed"]))
    for side, hilum in ((-1.0, lay.hila["right"]), (1.0, lay.hila["left"])):
        pts, rad = vessel_tree(hilum, side, rng)
        _paint(tissue, stamp_voxels(grid, pts, rad), Tissue.LUNG_VESSEL, only=[L])

    _paint(tissue, _voxels(grid, lay.ribs), Tissue.RIB, never=[Tissue.AIR])
    _paint(tissue, _voxels(grid, lay.cartilage), Tissue.CARTILAGE, never=[Tissue.AIR])
    _paint(tissue, _voxels(grid, lay.clavicles), Tissue.RIB, never=[Tissue.AIR])
    bone = [Tissue.BONE_CORTEX, Tissue.BONE_TRABECULAR, Tissue.RIB]
    _paint(tissue, _voxels(grid, vessels), Tissue.BLOOD, never=bone)

    outer = {
        name: mask_from_voxels(_voxels(grid, [path]))
        for name, path in (("trachea", lay.trachea), ("bronchus_r", lay.bronchus_r), ("bronchus_l", lay.bronchus_l))
    }
    wall = p["trachea_wall_mm"]
    _paint(tissue, _voxels(grid, lay.lobar_bronchi), Tissue.AIRWAY_WALL)
    _paint(tissue, _voxels(grid, lay.lobar_bronchi, -0.35 * wall), Tissue.AIRWAY)
    for box in outer.values():
        _paint_box(tissue, box, Tissue.AIRWAY_WALL)
    _paint(tissue, _voxels(grid, airways[:3], -wall), Tissue.AIRWAY)

    esophagus = mask_from_voxels(_voxels(grid, [lay.esophagus], 0.0, lay.esophagus_scale))
    _paint_box(tissue, esophagus, Tissue.ESOPHAGUS)
    if p["esophagus_air"]:
        pts = lay.esophagus.points
        sel = (pts[:, 2] > -90.0) & (pts[:, 2] < -30.0)
        pocket = Tube(*resample_path(pts[sel], np.full(int(sel.sum()), 0.45 * p["esophagus_ry_mm"])))
        _paint(tissue, _voxels(grid, [pocket], 0.0, (1.0, 1.5, 1.0)), Tissue.AIR, only=[Tissue.ESOPHAGUS])

    aorta = mask_from_voxels(_voxels(grid, [lay.aorta]))
    _paint_box(tissue, aorta, Tissue.BLOOD)
    heart = _heart_outline(grid, lay, lay.heart_parts)
    _paint_box(tissue, heart, Tissue.MYOCARDIUM)
    for chamber in lay.chambers:
        _paint_box(
            tissue,
            ellipsoid(grid, chamber.center, chamber.semi, chamber.rotation),
            Tissue.BLOOD,
            only=[Tissue.MYOCARDIUM],
        )

    trachea = outer["trachea"].union(outer["bronchus_r"]).union(outer["bronchus_l"])
    organs = {
        "esophagus": _keep_z(esophagus, grid, *lay.esophagus_label),
        "heart": heart,
        "trachea": _keep_z(trachea, grid, *lay.trachea_label),
        "aorta": _keep_z(aorta.minus(heart), grid, *lay.aorta_label),
    }
    return Anatomy(grid, lay, tissue, organs)
