"""Rasterising a v2 phantom: v1's trunk, then the warped template organs, the esophagus and the labels.

Each template group is sampled on its own voxel box: the template mask (float) is interpolated linearly at
the warped positions and cut at 0.5, which gives smooth surfaces at any output spacing. Painting order decides
what is in front where shapes meet (later wins): trunk, abdomen, mediastinal fat, lung vessels, bones,
thymus, great vessels, airways, esophagus, aorta, heart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from segthor.phantom.anatomy import Anatomy, _abdomen, _keep_z, _paint, _voxels
from segthor.phantom.grid import Grid
from segthor.phantom.layout import Tube
from segthor.phantom.shapes import BoxMask, mask_from_voxels, resample_path, stamp_voxels
from segthor.phantom.tissue import Tissue
from segthor.phantom.trunk import paint_trunk
from segthor.phantom.v2.extras import (
    paint_arms,
    paint_azygos,
    paint_breasts,
    paint_lymph_nodes,
    paint_pathology,
    paint_peripheral_vessels,
    paint_posterior_mediastinum,
    paint_retroperitoneum,
    paint_table,
    reshape_chest_wall,
)
from segthor.phantom.v2.layout import LayoutV2
from segthor.phantom.v2.template import Template
from segthor.phantom.v2.warp import Warp
from segthor.phantom.vessels import vessel_tree

Local = Callable[[list[np.ndarray]], list[np.ndarray]]


def _window(axis: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    return int(np.searchsorted(axis, lo)), int(np.searchsorted(axis, hi, side="right"))


class Family:
    """Template positions of one voxel box of the grid, for groups that share one map (global or a local one).

    `labels()` samples all template labels at once (nearest neighbour: unlabelled structures); `smooth(names)`
    interpolates one group's mask linearly and cuts it at 0.5 (labelled organs: smooth surfaces at any spacing).
    """

    def __init__(
        self, t: Template, names: tuple[str, ...], grid: Grid, warp: Warp, local: Local | None = None, pad: float = 12.0
    ):
        self.t = t
        crop, lo, hi = t.group(names)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        q = warp.to_anatomy(corners)
        qlo, qhi = q.min(axis=0) - pad, q.max(axis=0) + pad
        xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
        (i0, i1), (j0, j1), (k0, k1) = (
            _window(xs, qlo[0], qhi[0]),
            _window(ys, qlo[1], qhi[1]),
            _window(zs, qlo[2], qhi[2]),
        )
        self.lo = (k0, j0, i0)
        self.shape = (max(k1 - k0, 0), max(j1 - j0, 0), max(i1 - i0, 0))
        self.coords = None
        if 0 in self.shape:
            return
        f32 = np.float32
        tc = warp.to_template(
            xs[i0:i1].astype(f32)[None, None, :],
            ys[j0:j1].astype(f32)[None, :, None],
            zs[k0:k1].astype(f32)[:, None, None],
        )
        if local is not None:
            tc = local(tc)
        self.coords = np.empty((3, *self.shape), dtype=np.float32)
        for a in range(3):  # template voxel index (z, y, x) of every box voxel
            self.coords[a] = (tc[2 - a] - np.float32(t.origin[2 - a])) / np.float32(t.spacing)

    def _empty(self) -> BoxMask:
        return BoxMask((0, 0, 0), np.zeros((0, 0, 0), dtype=bool))

    def labels(self) -> np.ndarray:
        from scipy.ndimage import map_coordinates

        if self.coords is None:
            return np.zeros((0, 0, 0), dtype=np.uint8)
        return map_coordinates(self.t.labels, self.coords, order=0, cval=0, prefilter=False, output=np.uint8)

    def pick(self, labels: np.ndarray, *names: str) -> BoxMask:
        if self.coords is None:
            return self._empty()
        table = np.zeros(256, dtype=bool)
        table[[self.t.label(n) for n in names]] = True
        return BoxMask(self.lo, table[labels])

    def smooth(self, *names: str) -> BoxMask:
        from scipy.ndimage import map_coordinates

        if self.coords is None:
            return self._empty()
        crop, lo, _ = self.t.group(names)
        shift = ((lo - self.t.origin) / self.t.spacing)[::-1].astype(np.float32)
        coords = self.coords - shift[:, None, None, None]
        vals = map_coordinates(crop, coords, order=1, cval=0.0, prefilter=False, output=np.float32)
        return BoxMask(self.lo, vals > 0.5)


def clear_of_masks(
    points: np.ndarray,
    radius: float,
    boxes: list[BoxMask],
    grid: Grid,
    gap: float,
    y_max: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Centre-line points (N, 3) moved in their axial plane until `radius + gap` clears every mask's voxels.

    Each point is pushed straight away from the nearest offending voxel; the shifts are then smoothed along the
    line (so the tube bends instead of kinking) and the whole is repeated a few times. `y_max(z)` bounds the
    points from behind (the spine): a point pushed back against it slides sideways instead.
    """
    pts = np.array(points, dtype=float)
    xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
    reach = radius + gap
    for _ in range(4):
        shift = np.zeros((len(pts), 2))
        for n, (x, y, z) in enumerate(pts):
            k = int(round((z - zs[0]) / grid.spacing[2]))
            for box in boxes:
                kk = k - box.lo[0]
                if box.mask.size == 0 or not 0 <= kk < box.mask.shape[0]:
                    continue
                jj, ii = np.nonzero(box.mask[kk])
                if len(jj) == 0:
                    continue
                dx = x - xs[ii + box.lo[2]]
                dy = y - ys[jj + box.lo[1]]
                d = np.hypot(dx, dy)
                m = int(np.argmin(d))
                if d[m] < reach:
                    u = np.array([dx[m], dy[m]]) / max(d[m], 1e-3)
                    shift[n] += u * (reach - d[m])
        if not shift.any():
            break
        kernel = np.ones(9) / 9.0
        for c in range(2):
            shift[:, c] = np.convolve(np.pad(shift[:, c], 4, mode="edge"), kernel, mode="valid") * 1.5
        pts[:, :2] += shift
        if y_max is not None:
            limit = y_max(pts[:, 2])
            over = pts[:, 1] > limit
            # Pushed back against the spine: slide left instead (the trachea is in front, the spine behind).
            pts[over, 0] += pts[over, 1] - limit[over]
            pts[over, 1] = limit[over]
    return pts


def heart_pivot(t: Template) -> np.ndarray:
    """The point a heart is scaled and turned about: its centre moved back onto its posterior surface (left
    atrium), so a bigger heart grows forward, left and down, not into the esophagus and the aorta."""
    hc = np.array(t.marks["heart_centre"], dtype=float)
    back = np.array(t.marks["heart_back"])
    hc[1] = float(np.interp(hc[2], back[:, 0], back[:, 1]))
    return hc


def _scale_about(centre: np.ndarray, scale: float, angle_deg: float) -> Local:
    """Local map in template space: a heart bigger by `scale`, turned by `angle` about the body's z axis."""
    a = np.radians(angle_deg)
    ca, sa = np.cos(a), np.sin(a)

    def f(tc: list[np.ndarray]) -> list[np.ndarray]:
        dx, dy, dz = (tc[0] - centre[0]) / scale, (tc[1] - centre[1]) / scale, (tc[2] - centre[2]) / scale
        return [centre[0] + ca * dx + sa * dy, centre[1] - sa * dx + ca * dy, centre[2] + dz]

    return f


def _unfold(z0: float, factor: float) -> Local:
    """The aorta above z0 stretched up by `factor` (an unfolded, elongated arch in older patients)."""

    def f(tc: list[np.ndarray]) -> list[np.ndarray]:
        z = tc[2]
        return [tc[0], tc[1], np.where(z > z0, z0 + (z - z0) / factor, z)]

    return f


def _widen_airway(t: Template, scale: float) -> Local:
    tr = np.array(t.marks["trachea_centre"])
    order = np.argsort(tr[:, 2])
    zt, xt, yt = tr[order, 2], tr[order, 0], tr[order, 1]

    def f(tc: list[np.ndarray]) -> list[np.ndarray]:
        z = tc[2]
        cx = np.interp(z, zt, xt).astype(np.float32)
        cy = np.interp(z, zt, yt).astype(np.float32)
        return [cx + (tc[0] - cx) / scale, cy + (tc[1] - cy) / scale, z]

    return f


def _paint_box(tissue: np.ndarray, box: BoxMask, value: Tissue, only=None) -> None:
    """Set the box's voxels to `value` (only where the tissue is in `only`): a table lookup, not np.isin."""
    if box.mask.size == 0:
        return
    sub = tissue[box.slices]
    sel = box.mask
    if only is not None:
        table = np.zeros(256, dtype=bool)
        table[[int(v) for v in only]] = True
        sel = sel & table[sub]
    sub[sel] = value


def build_anatomy_v2(p: dict, grid: Grid, lay: LayoutV2) -> Anatomy:
    t, warp = lay.template, lay.warp
    tissue = np.zeros(grid.shape, dtype=np.uint8)
    paint_trunk(tissue, grid, lay)
    _abdomen(tissue, grid, lay)
    L, F = Tissue.LUNG, Tissue.FAT
    extras_rng = np.random.default_rng(int(p["extras_seed"]))
    reshape_chest_wall(tissue, grid, lay, p)
    paint_breasts(tissue, grid, lay, p)
    paint_arms(tissue, grid, lay, p)
    paint_table(tissue, grid, p)

    heart_local = _scale_about(heart_pivot(t), p["v2_heart_scale"], p["v2_heart_rot_deg"])
    unfold, shift = _unfold(-25.0, p["v2_arch_unfold"]), lay.aorta_shift.local()

    def aorta_local(tc: list[np.ndarray]) -> list[np.ndarray]:
        # The arch unfolds in the frame where the descending aorta already lies against the spine.
        return shift(unfold(tc))

    airway_local = _widen_airway(t, p["v2_trachea_scale"])

    context = Family(t, ("fat_rim",), grid, warp)
    ctx = context.labels()
    heart_f = Family(t, ("heart_wall", "heart_left_blood", "heart_right_blood"), grid, warp, heart_local)
    heart_all = heart_f.smooth("heart_wall", "heart_left_blood", "heart_right_blood")
    heart_lab = heart_f.labels()
    aorta = Family(t, ("aorta",), grid, warp, aorta_local).smooth("aorta")
    airway_f = Family(t, ("airway_wall", "airway_lumen"), grid, warp, airway_local)
    airway = airway_f.smooth("airway_wall", "airway_lumen")
    lumen = airway_f.smooth("airway_lumen")

    # The esophagus is drawn from landmarks; after the warp and the local changes it may touch the sampled
    # aorta or airway: move its centre line sideways until it clears them.
    ery = p["esophagus_ry_mm"]
    lay.esophagus.points = clear_of_masks(
        lay.esophagus.points,
        lay.esophagus.radii.max(),
        [aorta, airway],
        grid,
        gap=1.5,
        y_max=lambda z: np.asarray(lay.spine_front(z)) - ery - 1.0,
    )
    rim = context.pick(ctx, "fat_rim", "thymus", "pulmonary_vein", "svc", "pulmonary_artery", "arch_branch")
    _paint_box(tissue, rim, F, only=[L])
    _paint(tissue, _voxels(grid, [lay.esophagus], 4.0, lay.esophagus_scale), F, only=[L])
    _paint_box(tissue, heart_all.union(aorta), F, only=[L])
    esophagus_rim = mask_from_voxels(_voxels(grid, [lay.esophagus], 4.0, lay.esophagus_scale))
    paint_posterior_mediastinum(
        tissue, grid, lay, p, [esophagus_rim, aorta, heart_all], (lay.z_gej, float(lay.carina[2]) + 10.0)
    )
    paint_retroperitoneum(tissue, grid, lay, p, aorta)
    paint_azygos(tissue, grid, lay, p, context.pick(ctx, "svc"))

    rng = np.random.default_rng(int(p["vessel_seed"]))
    for side, hilum in ((-1.0, lay.hila["right"]), (1.0, lay.hila["left"])):
        pts, rad = vessel_tree(hilum, side, rng)
        _paint(tissue, stamp_voxels(grid, pts, rad), Tissue.LUNG_VESSEL, only=[L])

    paint_peripheral_vessels(tissue, grid, lay, p, extras_rng)
    _paint(tissue, _voxels(grid, lay.ribs), Tissue.RIB, never=[Tissue.AIR])
    _paint(tissue, _voxels(grid, lay.cartilage), Tissue.CARTILAGE, never=[Tissue.AIR])
    _paint(tissue, _voxels(grid, lay.clavicles), Tissue.RIB, never=[Tissue.AIR])
    soft = [L, F, Tissue.MUSCLE, Tissue.LUNG_VESSEL, Tissue.ABDOMEN, Tissue.SKIN]

    _paint_box(tissue, context.pick(ctx, "thymus"), Tissue.THYMUS, only=[L, F])
    for names, value in (
        (("pulmonary_vein",), Tissue.BLOOD),
        (("ivc",), Tissue.RIGHT_BLOOD),
        (("svc",), Tissue.RIGHT_BLOOD),
        (("pulmonary_artery",), Tissue.RIGHT_BLOOD),
        (("arch_branch",), Tissue.BLOOD),
    ):
        box = context.pick(ctx, *names)
        _paint_box(tissue, box, value, only=[*soft, Tissue.THYMUS, Tissue.LIVER, Tissue.BLOOD, Tissue.RIGHT_BLOOD])

    _paint_box(tissue, airway, Tissue.AIRWAY_WALL)
    _paint_box(tissue, lumen, Tissue.AIRWAY)
    _paint_box(tissue, context.pick(ctx, "larynx"), Tissue.CARTILAGE, only=soft)
    # Lobar bronchi (unlabelled air) continue the main bronchi into the lungs.
    _lobar_bronchi(tissue, grid, lay, p)

    esophagus = mask_from_voxels(_voxels(grid, [lay.esophagus], 0.0, lay.esophagus_scale))
    _paint_box(tissue, esophagus, Tissue.ESOPHAGUS, only=[*soft, Tissue.THYMUS, Tissue.BLOOD, Tissue.RIGHT_BLOOD])
    state = p["esophagus_state"]
    if state != "collapsed":
        pts = lay.esophagus.points
        lo_z, hi_z = (-90.0, -20.0) if state == "air" else (lay.z_gej, 60.0)
        sel = (pts[:, 2] > lo_z) & (pts[:, 2] < hi_z)
        if sel.sum() > 1:
            lumen = Tube(*resample_path(pts[sel], np.full(int(sel.sum()), 0.45 * p["esophagus_ry_mm"])))
            fill = Tissue.AIR if state == "air" else Tissue.ORAL_CONTRAST
            _paint(tissue, _voxels(grid, [lumen], 0.0, (1.0, 1.5, 1.0)), fill, only=[Tissue.ESOPHAGUS])

    _paint_box(tissue, aorta, Tissue.BLOOD)
    heart = heart_all
    # The heart's diaphragmatic surface is flat: cut it at the diaphragm.
    xs = grid.axis("x")[heart.slices[2]]
    ys = grid.axis("y")[heart.slices[1]]
    dome = lay.dome_z(xs[None, :], ys[:, None])
    heart = BoxMask(heart.lo, heart.mask & (heart.z_coords(grid) > dome[None] + 1.0))
    # Where a deformed heart reaches the esophagus, the esophagus indents it (never the reverse).
    heart = heart.minus(esophagus)
    _paint_box(tissue, heart, Tissue.MYOCARDIUM)
    for name, value in (("heart_left_blood", Tissue.BLOOD), ("heart_right_blood", Tissue.RIGHT_BLOOD)):
        pool = heart_f.pick(heart_lab, name)
        _paint_box(tissue, BoxMask(pool.lo, pool.mask & heart.mask), value, only=[Tissue.MYOCARDIUM])

    paint_lymph_nodes(tissue, grid, lay, p, extras_rng)
    metal = paint_pathology(tissue, grid, lay, p, aorta, extras_rng)

    trachea_z = _keep_z(airway, grid, *lay.trachea_label)
    organs = {
        "esophagus": _keep_z(esophagus, grid, *lay.esophagus_label).minus(airway).minus(aorta),
        "heart": heart,
        "trachea": trachea_z,
        "aorta": _keep_z(aorta.minus(heart), grid, *lay.aorta_label),
    }
    anatomy = Anatomy(grid, lay, tissue, organs)
    anatomy.metal_points = metal  # where streaks start (segthor.phantom.v2.appearance)
    return anatomy


def _lobar_bronchi(tissue: np.ndarray, grid: Grid, lay: LayoutV2, p: dict) -> None:
    """Short unlabelled lobar bronchi from the ends of the main bronchi: air in a thin wall, inside the lungs."""
    ends = lay.warp.to_anatomy(lay.template.marks.get("bronchus_ends", []) or np.zeros((0, 3)))
    tubes = []
    for end, side in zip(ends, (-1.0, 1.0), strict=False):
        for d in ((0.9 * side, 0.1, 0.45), (0.5 * side, 0.55, -0.75), (0.6 * side, -0.5, -0.5)):
            v = np.asarray(d) / np.linalg.norm(d)
            tubes.append(Tube.through([end, end + 28.0 * v], [4.5, 3.5], smooth=False))
    if not tubes:
        return
    _paint(tissue, _voxels(grid, tubes, 1.2), Tissue.AIRWAY_WALL, only=[Tissue.LUNG, Tissue.LUNG_VESSEL, Tissue.FAT])
    _paint(tissue, _voxels(grid, tubes), Tissue.AIRWAY, only=[Tissue.AIRWAY_WALL])
