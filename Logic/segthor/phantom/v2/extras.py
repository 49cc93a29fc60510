"""What a planning CT carries besides the organs: table, arms, breasts, lymph nodes and pathology.

Everything here is unlabelled context that a network must not confuse with the four organs: nodes beside the
trachea and esophagus, a tumour or atelectasis against the mediastinum, fluid in the posterior recesses, metal
leads through the SVC into the right heart (with their streaks), calcified plaque in the aortic wall (which
stays inside the aorta's label, as in SegTHOR). Each item is drawn from the case's `extras_seed`.
"""

from __future__ import annotations

import numpy as np

from segthor.phantom.grid import Grid
from segthor.phantom.layout import Tube
from segthor.phantom.shapes import BoxMask, ellipsoid, resample_path, stamp_voxels
from segthor.phantom.tissue import Tissue

SOFT_CONTEXT = (Tissue.FAT, Tissue.LUNG, Tissue.LUNG_VESSEL, Tissue.THYMUS)


def _paint_box(tissue: np.ndarray, box: BoxMask, value: int, only) -> int:
    if box.mask.size == 0:
        return 0
    sub = tissue[box.slices]
    table = np.zeros(256, dtype=bool)
    table[[int(v) for v in only]] = True
    sel = box.mask & table[sub]
    sub[sel] = value
    return int(sel.sum())


def _paint_idx(tissue: np.ndarray, zyx, value: int, only) -> None:
    z, y, x = zyx
    if len(z) == 0:
        return
    table = np.zeros(256, dtype=bool)
    table[[int(v) for v in only]] = True
    keep = table[tissue[z, y, x]]
    tissue[z[keep], y[keep], x[keep]] = value


def paint_table(tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """A curved carbon-fibre table top (two thin skins around foam) under the patient, in every slice."""
    xs, ys = grid.axis("x"), grid.axis("y")
    top = p["body_posterior_mm"] + p["table_gap_mm"]
    curve = top - xs**2 / (2.0 * p["table_radius_mm"])  # y of the top surface, rising towards the sides
    half = p["table_half_width_mm"]
    d = ys[:, None] - curve[None, :]
    inside_x = np.abs(xs)[None, :] <= half
    # Skins at least a pixel thick, so coarse grids do not break them into dashes.
    w = max(2.5, 1.2 * float(grid.spacing[1]))
    skin = inside_x & (((d >= 0) & (d < w)) | ((d >= 38.0) & (d < 38.0 + w)))
    foam = inside_x & (d >= w) & (d < 38.0)
    rows = np.nonzero((skin | foam).any(axis=1))[0]
    if len(rows) == 0:
        return
    r0, r1 = rows[0], rows[-1] + 1
    for k in range(tissue.shape[0]):
        t = tissue[k, r0:r1]
        air = t == Tissue.AIR
        t[air & skin[r0:r1]] = Tissue.TABLE
        t[air & foam[r0:r1]] = Tissue.TABLE_FOAM


def _ellipse2d(xs, ys, cx, cy, ax, ay):
    return ((xs[None, :] - cx) / ax) ** 2 + ((ys[:, None] - cy) / ay) ** 2


def paint_arms(tissue: np.ndarray, grid: Grid, lay, p: dict) -> None:
    """Arms beside the trunk (down) or beside the neck and shoulders (up): skin, fat, muscle, humerus."""
    if p["arms"] == "none":
        return
    xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
    for k, z in enumerate(zs):
        a, ba, bp = lay.body_axes(z)
        if p["arms"] == "down":
            if z < lay.z_r - 140.0:
                continue
            cx, cy, ax, ay = a + 8.0 + p["arm_radius_mm"], 10.0, p["arm_radius_mm"], p["arm_radius_mm"] * 1.15
        else:  # up: the arms rise beside the head; the scan cuts them above the shoulders
            if z < lay.z_apex - 40.0:  # raised arms reach down to the axillae, beside the lung apices
                continue
            rise = min(z - (lay.z_apex - 40.0), 120.0)
            cx, cy = a + 0.5 * p["arm_radius_mm"] - 0.15 * rise, 15.0 - 0.2 * rise
            ax, ay = p["arm_radius_mm"] * 1.1, p["arm_radius_mm"] * 1.3
        for side in (-1.0, 1.0):
            # Only the arm's bounding box of the slice.
            c0, c1 = np.searchsorted(xs, side * cx - ax), np.searchsorted(xs, side * cx + ax, side="right")
            r0, r1 = np.searchsorted(ys, cy - ay), np.searchsorted(ys, cy + ay, side="right")
            if c1 <= c0 or r1 <= r0:
                continue
            e = _ellipse2d(xs[c0:c1], ys[r0:r1], side * cx, cy, ax, ay)
            t = tissue[k, r0:r1, c0:c1]
            free = t == Tissue.AIR
            t[free & (e <= 1.0)] = Tissue.SKIN
            t[free & (e <= (1.0 - 2.0 / ax) ** 2)] = Tissue.FAT
            t[free & (e <= (1.0 - (2.0 + p["fat_mm"] * 0.6) / ax) ** 2)] = Tissue.MUSCLE
            bone = _ellipse2d(xs[c0:c1], ys[r0:r1], side * cx, cy + 3.0, 11.0, 11.0)
            t[free & (bone <= 1.0)] = Tissue.BONE_CORTEX
            t[free & (bone <= 0.45)] = Tissue.BONE_TRABECULAR


def paint_breasts(tissue: np.ndarray, grid: Grid, lay, p: dict) -> None:
    """Breasts on the anterior chest wall: skin, fat and glandular tissue, only outside the trunk."""
    r = p["breast_radius_mm"]
    if r <= 0:
        return
    z0 = lay.z_r + 45.0
    for side in (-1.0, 1.0):
        a, ba, _ = lay.body_axes(z0)
        # Supine: flattened front to back and spread sideways, on the chest wall at the nipple line.
        x0 = side * 0.42 * a
        y0 = -ba * np.sqrt(1.0 - 0.45**2)
        centre = np.array([x0, y0, z0])
        semi = np.array([0.95 * r, 0.5 * r, 0.85 * r])
        outer = ellipsoid(grid, centre, semi + 2.0)
        _paint_box(tissue, outer, Tissue.SKIN, only=[Tissue.AIR])
        inner = ellipsoid(grid, centre, semi)
        # The breast's fat runs on into the subcutaneous fat: no skin line between breast and chest wall.
        _paint_box(tissue, inner, Tissue.FAT, only=[Tissue.SKIN])
        gland = ellipsoid(grid, centre + np.array([0.0, -0.1 * r, 0.0]), semi * p["breast_gland_fraction"])
        _paint_box(tissue, gland, Tissue.GLAND, only=[Tissue.FAT])


def paint_lymph_nodes(tissue: np.ndarray, grid: Grid, lay, p: dict, rng: np.random.Generator) -> None:
    """Mediastinal and hilar nodes (5-15 mm) in the fat: paratracheal, subcarinal, aorto-pulmonary, hilar."""
    c = lay.carina
    stations = [
        c + (-16.0, -4.0, 30.0),
        c + (-14.0, -10.0, 55.0),
        c + (4.0, 14.0, -22.0),
        c + (18.0, -18.0, 6.0),
        lay.hila["right"] + (-4.0, 8.0, -8.0),
        lay.hila["left"] + (4.0, 8.0, -8.0),
        c + (12.0, 10.0, 40.0),
    ]
    n = int(p["lymph_nodes"])
    for i in rng.permutation(len(stations))[:n]:
        centre = np.asarray(stations[i], dtype=float) + rng.normal(0.0, 4.0, 3)
        semi = rng.uniform(2.5, 7.5) * np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.4)])
        # In the mediastinal fat, bulging into the lung at the hila.
        _paint_box(tissue, ellipsoid(grid, centre, semi), Tissue.LYMPH_NODE, only=SOFT_CONTEXT)


def _random_lung_point(tissue: np.ndarray, grid: Grid, rng: np.random.Generator, margin_vox: int = 2):
    depth, rows, cols = tissue.shape
    for _ in range(400):
        k, j, i = rng.integers(margin_vox, depth - margin_vox), rng.integers(0, rows), rng.integers(0, cols)
        if tissue[k, j, i] == Tissue.LUNG:
            return np.array([grid.axis("x")[i], grid.axis("y")[j], grid.axis("z")[k]])
    return None


def paint_pathology(tissue: np.ndarray, grid: Grid, lay, p: dict, aorta: BoxMask, rng: np.random.Generator) -> list:
    """Tumour, effusion with atelectasis, calcified plaques, pacemaker and clips; returns metal points (mm)."""
    lungish = [Tissue.LUNG, Tissue.LUNG_VESSEL]
    metal_points: list = []
    if p["tumour_mm"] > 0:
        centre = _random_lung_point(tissue, grid, rng)
        if centre is not None:
            r = p["tumour_mm"] / 2.0
            for _ in range(3):  # lobulated: three overlapping ellipsoids
                off = rng.normal(0.0, 0.3 * r, 3)
                semi = r * rng.uniform(0.6, 1.0, 3)
                _paint_box(tissue, ellipsoid(grid, centre + off, semi), Tissue.TUMOUR, only=[*lungish, Tissue.FAT])
    if p["effusion"] != "none":
        side = -1.0 if p["effusion"] == "right" else 1.0
        xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
        depth = p["effusion_depth_mm"]
        for k, z in enumerate(zs):
            if z > lay.z_r + 80.0:
                continue
            back = float(lay.canal_y(z)) + 2.0
            t = tissue[k]
            lung = (t == Tissue.LUNG) | (t == Tissue.LUNG_VESSEL)
            half = (np.sign(xs) == side)[None, :]
            fluid_y = back - depth * np.clip((lay.z_r + 80.0 - z) / 80.0, 0.0, 1.0)
            deep = ys[:, None] > fluid_y
            t[lung & half & deep] = Tissue.FLUID
            band = ys[:, None] > fluid_y - p["atelectasis_mm"]
            t[lung & half & band & ~deep] = Tissue.ATELECTASIS
    if p["plaques"] > 0 and aorta.mask.size:
        from scipy import ndimage as ndi

        wall = aorta.mask & ~ndi.binary_erosion(aorta.mask)
        kk, jj, ii = np.nonzero(wall)
        if len(kk):
            for idx in rng.choice(len(kk), size=min(int(p["plaques"]), len(kk)), replace=False):
                k, j, i = kk[idx] + aorta.lo[0], jj[idx] + aorta.lo[1], ii[idx] + aorta.lo[2]
                centre = np.array([grid.axis("x")[i], grid.axis("y")[j], grid.axis("z")[k]])
                semi = rng.uniform(1.2, 3.0) * np.array([1.0, 1.0, rng.uniform(1.0, 2.5)])
                _paint_box(tissue, ellipsoid(grid, centre, semi), Tissue.PLAQUE, only=[Tissue.BLOOD, Tissue.FAT])
    if p["pacemaker"]:
        t, warp = lay.template, lay.warp
        a, ba, _ = lay.body_axes(80.0)
        box = np.array([0.55 * a, -ba + p["fat_mm"] * 0.5 + 4.0, 75.0])
        svc = warp.to_anatomy(np.array(t.marks["svc_centre"]))
        ra = warp.to_anatomy([t.marks["ra_centre"]])[0]
        rv = warp.to_anatomy([t.marks["rv_apex"]])[0]
        ctrl = [box, box + (-35.0, 20.0, 12.0), (0.5 * (box[0] + svc[0, 0]), svc[0, 1] - 5.0, svc[0, 2] + 30.0)]
        ctrl += [tuple(q) for q in svc[::3]] + [tuple(ra), tuple(rv)]
        lead = Tube.through(ctrl, [1.2] * len(ctrl))
        _paint_idx(tissue, stamp_voxels(grid, lead.points, lead.radii), Tissue.METAL, only=list(range(1, 256)))
        can = ellipsoid(grid, box, np.array([22.0, 5.0, 20.0]))
        _paint_box(tissue, can, Tissue.METAL, only=[Tissue.FAT, Tissue.MUSCLE, Tissue.SKIN])
        metal_points.append(box)
    for _ in range(int(p["clips"])):
        centre = lay.carina + rng.normal(0.0, 1.0, 3) * (35.0, 25.0, 40.0)
        pts, rad = resample_path(np.array([centre, centre + rng.normal(0, 1, 3) * 3.0]), [0.9, 0.9])
        _paint_idx(tissue, stamp_voxels(grid, pts, rad), Tissue.METAL, only=[Tissue.FAT, Tissue.LYMPH_NODE])
        metal_points.append(centre)
    return metal_points


def reshape_chest_wall(tissue: np.ndarray, grid: Grid, lay, p: dict) -> None:
    """Replace v1's uniform muscle ring by named muscles: pectoralis in front (upper chest), latissimus and
    serratus at the back and side, a thin intercostal layer elsewhere; fat takes the rest of the ring."""
    xs, ys, zs = grid.axis("x").astype(np.float32), grid.axis("y").astype(np.float32), grid.axis("z")
    a_max = p["body_half_width_mm"] * 1.07 + 2
    cols = slice(int(np.searchsorted(xs, -a_max)), int(np.searchsorted(xs, a_max, side="right")))
    b_ant = p["body_anterior_mm"] * (1 + p["belly_factor"]) + 2
    rows = slice(int(np.searchsorted(ys, -b_ant)), int(np.searchsorted(ys, p["body_posterior_mm"] + 2, side="right")))
    X, Y = xs[cols], ys[rows]
    dist = np.sqrt(X[None, :] ** 2 + Y[:, None] ** 2)
    phi = np.arctan2(np.abs(X)[None, :], -Y[:, None])  # 0 in front, pi at the back
    pect = p["pectoralis_mm"] * np.exp(-(((phi - 0.8) / 0.35) ** 2))
    lat = p["latissimus_mm"] * np.exp(-(((phi - 1.95) / 0.3) ** 2))
    for k, z in enumerate(zs):
        if z < lay.z_r - 60.0:
            continue
        t = tissue[k, rows, cols]
        muscle = t == Tissue.MUSCLE
        if not muscle.any():
            continue
        a, ba, bp = lay.body_axes(z)
        _, ring = lay.wall(z)
        rho = np.sqrt(_ellipse_front_back(X, Y, a, ba, bp))
        depth = dist * (1.0 / np.maximum(rho, 1e-3) - 1.0)  # mm below the skin along the ray from the centre
        canal = float(lay.canal_y(z))
        para = ((X[None, :] / 60.0) ** 2 + ((Y[:, None] - canal - 22.0) / 35.0) ** 2) <= 1.0
        upper = 1.0 if z > lay.z_r + 30.0 else 0.3
        keep = 2.5 + upper * pect + (lat if z < 90.0 else 0.0)
        inner_edge = 2.0 + p["fat_mm"] + ring  # where v1's ring meets the ribs
        to_fat = muscle & ~para & (depth < inner_edge - keep) & (depth > 1.0)
        t[to_fat] = Tissue.FAT
        grow = (t == Tissue.FAT) & ~para & (depth >= inner_edge - keep) & (depth < inner_edge) & (rho < 1.0)
        t[grow] = Tissue.MUSCLE


def _ellipse_front_back(X, Y, a, ba, bp):
    dy = Y[:, None]
    b = np.where(dy < 0, np.float32(ba), np.float32(bp))
    return (X[None, :] / np.float32(a)) ** 2 + (dy / b) ** 2


def paint_peripheral_vessels(tissue: np.ndarray, grid: Grid, lay, p: dict, rng: np.random.Generator) -> None:
    """Hundreds of short small vessels in the lung periphery, pointing away from the hila (the trees stop at
    ~1 mm after five generations; real lungs show vessels almost to the pleura)."""
    depth, rows, cols = tissue.shape
    n_try = 40 * int(p["peripheral_vessels"])
    k = rng.integers(0, depth, n_try)
    j = rng.integers(0, rows, n_try)
    i = rng.integers(0, cols, n_try)
    sel = tissue[k, j, i] == Tissue.LUNG
    k, j, i = (
        k[sel][: int(p["peripheral_vessels"])],
        j[sel][: int(p["peripheral_vessels"])],
        i[sel][: int(p["peripheral_vessels"])],
    )
    if len(k) == 0:
        return
    pts = np.stack([grid.axis("x")[i], grid.axis("y")[j], grid.axis("z")[k]], axis=1)
    hila = np.stack([lay.hila["right"], lay.hila["left"]])
    near = hila[(pts[:, 0] > 0).astype(int)]
    away = pts - near
    dist = np.linalg.norm(away, axis=1, keepdims=True)
    direction = away / np.maximum(dist, 1.0) + rng.normal(0.0, 0.25, pts.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    length = rng.uniform(6.0, 16.0, (len(pts), 1))
    radius = np.clip(2.2 - dist[:, 0] / 90.0, 0.6, 1.6)
    samples, radii = [], []
    for frac in np.linspace(0.0, 1.0, 9):
        samples.append(pts + frac * length * direction)
        radii.append(radius * (1.0 - 0.3 * frac))
    _paint_idx(
        tissue,
        stamp_voxels(grid, np.concatenate(samples), np.concatenate(radii)),
        Tissue.LUNG_VESSEL,
        only=[Tissue.LUNG],
    )


def paint_posterior_mediastinum(
    tissue: np.ndarray,
    grid: Grid,
    lay,
    p: dict,
    organs: list[BoxMask],
    z_range: tuple[float, float],
    replace: tuple[Tissue, ...] = (Tissue.LUNG,),
) -> None:
    """Fat filling the posterior mediastinum between the heart, the esophagus, the descending aorta and the
    vertebral bodies, slice by slice over `z_range` (mm: the gastro-esophageal junction to above the carina).

    On real CT the esophagus behind the heart lies in fat and connective tissue, against the left atrium in front,
    the aorta to its left and the spine behind; lung touches it only on the right, in the azygo-esophageal
    recess (Gray's Anatomy, 42nd ed., posterior mediastinum). Without this fill the phantoms showed the lower
    esophagus and aorta surrounded by lung, and a network trained on them found no esophagus behind a real
    heart (docs/phantoms.md). Each slice's union of `organs` and the vertebral body is closed with a disk of
    radius `p["v2_mediastinum_close_mm"]` (so only gaps narrower than twice that are filled, the recess
    left as lung when wider) and the lung inside the closed region becomes fat (`replace`: the tissues that do;
    `paint_retroperitoneum` passes liver and abdomen)."""
    from scipy.ndimage import binary_closing

    zs = grid.axis("z")
    ks = np.flatnonzero((zs >= z_range[0]) & (zs <= z_range[1]))
    if len(ks) == 0:
        return
    union = np.zeros((len(ks), *tissue.shape[1:]), dtype=bool)
    for box in organs:
        if box.mask.size == 0:
            continue
        z0 = box.slices[0].start
        for j, k in enumerate(ks):
            if box.slices[0].start <= k < box.slices[0].stop:
                union[j][box.slices[1], box.slices[2]] |= box.mask[k - z0]
    xs, ys = grid.axis("x"), grid.axis("y")
    bone = np.zeros(256, dtype=bool)
    bone[[int(Tissue.BONE_CORTEX), int(Tissue.BONE_TRABECULAR)]] = True
    replaceable = np.zeros(256, dtype=bool)
    replaceable[[int(t) for t in replace]] = True
    radius = float(p["v2_mediastinum_close_mm"])
    step = float(grid.spacing[0])
    r = max(1, int(round(radius / step)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = xx**2 + yy**2 <= r * r
    for j, k in enumerate(ks):
        front = float(lay.spine_front(zs[k]))
        # The vertebral body: bone within 30 mm of the midline, from the spine's front 25 mm back.
        near = (np.abs(xs)[None, :] < 30.0) & (ys[:, None] > front - 2.0) & (ys[:, None] < front + 25.0)
        region = union[j] | (bone[tissue[k]] & near)
        rows, cols = np.nonzero(region)
        if len(rows) == 0:
            continue
        r0, r1 = max(0, rows.min() - r), min(region.shape[0], rows.max() + r + 1)
        c0, c1 = max(0, cols.min() - r), min(region.shape[1], cols.max() + r + 1)
        # Padded so the closing never meets the crop's edge; it fills concavities, it does not grow the outline.
        closed = binary_closing(np.pad(region[r0:r1, c0:c1], r), disk)[r:-r, r:-r]
        sub = tissue[k, r0:r1, c0:c1]
        sub[closed & replaceable[sub]] = Tissue.FAT


# The diaphragmatic crura below the aortic hiatus (Gray's Anatomy, 42nd ed., diaphragm): they join in front of the
# aorta only at the hiatus (the median arcuate ligament, T12/L1), then run down beside it as two bands attached to
# the vertebral bodies, the right one to L3, the left one to L2 (about three and two vertebrae below the hiatus).
CRUS_ARCH_MM = 15.0
CRUS_RIGHT_MM, CRUS_LEFT_MM = 80.0, 60.0


def paint_retroperitoneum(tissue: np.ndarray, grid: Grid, lay, p: dict, aorta: BoxMask) -> None:
    """The abdominal aorta's surroundings below the diaphragm: retroperitoneal fat (`p["retro_fat_mm"]` thick)
    around it, the diaphragmatic crura (muscle, `p["crus_mm"]` thick) with as much fat again outside them, and fat
    between it and the vertebral body; painted over liver and abdomen only.

    The abdominal aorta is retroperitoneal: it lies on the front of the vertebral bodies between the crura,
    in fat, with the liver's caudate lobe and the IVC to its right (Gray's Anatomy, 42nd ed., posterior
    abdominal wall). The crura arch in front of it for `CRUS_ARCH_MM` below the hiatus (the highest slice where
    liver or abdomen lies near the aorta), then flank it, the right one down to `CRUS_RIGHT_MM` below the
    hiatus, the left one to `CRUS_LEFT_MM`. v1's liver ellipsoid crosses the midline behind the aorta, so the
    phantoms wrapped it in liver: on a non-contrast phantom the aorta (blood 32-50 HU) then had no outline against
    the liver around it, and its label ran 20-30 mm below anything a network (or a reader) could see
    (docs/phantoms.md)."""
    from scipy.ndimage import distance_transform_edt, label

    if aorta.mask.size == 0:
        return
    soft = np.zeros(256, dtype=bool)
    soft[[int(Tissue.LIVER), int(Tissue.ABDOMEN)]] = True
    fat_mm, crus_mm = float(p["retro_fat_mm"]), float(p["crus_mm"])
    step = (float(grid.spacing[1]), float(grid.spacing[0]))  # rows (y), columns (x)
    margin = int(np.ceil((2.0 * fat_mm + crus_mm + 1.0) / min(step)))
    zs = grid.axis("z")
    z0, y0, x0 = aorta.lo
    slices = []  # (slice index, crop window, the aorta's pixels in it) where liver or abdomen lies near the aorta
    for j in range(aorta.mask.shape[0]):
        parts, n = label(aorta.mask[j])
        if n == 0:
            continue
        # The largest part: below the diaphragm only the descending aorta is there.
        rows, cols = np.nonzero(parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:])))
        k = z0 + j
        r0, r1 = max(0, y0 + rows.min() - margin), min(tissue.shape[1], y0 + rows.max() + margin + 1)
        c0, c1 = max(0, x0 + cols.min() - margin), min(tissue.shape[2], x0 + cols.max() + margin + 1)
        if soft[tissue[k, r0:r1, c0:c1]].any():  # above the diaphragm: lung and mediastinal fat, nothing to do
            slices.append((k, (r0, r1, c0, c1), (rows + y0 - r0, cols + x0 - c0)))
    if not slices:
        return
    hiatus = max(float(zs[k]) for k, _, _ in slices)
    for k, (r0, r1, c0, c1), (rows, cols) in slices:
        sub = tissue[k, r0:r1, c0:c1]
        inside = np.zeros(sub.shape, dtype=bool)
        inside[rows, cols] = True
        dist = distance_transform_edt(~inside, sampling=step)
        depth = hiatus - float(zs[k])
        radius_px = np.sqrt(len(rows) / np.pi)
        cy, cx = float(rows.mean()), float(cols.mean())
        yy = np.arange(sub.shape[0])[:, None]
        xx = np.arange(sub.shape[1])[None, :]
        # Never behind the aorta; in front of it only at the hiatus. x grows to the patient's left.
        where = yy < cy + 0.3 * radius_px
        if depth > CRUS_ARCH_MM:  # two bands at the sides, none in front
            where = where & (yy > cy - 0.5 * radius_px)
        where = where & (((xx < cx) & (depth <= CRUS_RIGHT_MM)) | ((xx >= cx) & (depth <= CRUS_LEFT_MM)))
        crus = (dist > fat_mm) & (dist <= fat_mm + crus_mm) & where & soft[sub]
        sub[crus] = Tissue.MUSCLE
        # The fat lies inside the crura and, as thick again, outside them (between them and the liver).
        sub[(dist > 0) & (dist <= 2.0 * fat_mm + crus_mm) & soft[sub]] = Tissue.FAT
    # Fat, not liver, between the aorta and the vertebral body.
    lowest = min(float(zs[k]) for k, _, _ in slices)
    paint_posterior_mediastinum(tissue, grid, lay, p, [aorta], (lowest, hiatus), replace=(Tissue.LIVER, Tissue.ABDOMEN))


def paint_azygos(tissue: np.ndarray, grid: Grid, lay, p: dict, svc: BoxMask) -> None:
    """The azygos vein: up the right front of the vertebral bodies, behind and right of the esophagus, from below
    the diaphragm to about 2 cm above the carina, then arching forward over the right main bronchus into the
    SVC (Gray's Anatomy, 42nd ed.). Unlabelled venous blood a network must not take for the esophagus or aorta."""
    radius = float(p["azygos_radius_mm"])
    c = lay.carina
    z_arch = float(c[2]) + float(p["azygos_arch_mm"])
    zs = np.arange(lay.z_gej - 40.0, z_arch + 1e-6, 8.0)
    # Right of the midline (x grows to the patient's left) and always right of the esophagus, which lies right
    # of the midline itself where the aorta runs in front of the spine.
    eso = lay.esophagus.points[np.argsort(lay.esophagus.points[:, 2])]
    eso_right = np.interp(zs, eso[:, 2], eso[:, 0]) - float(p["esophagus_rx_mm"]) - radius - 1.5
    xs = np.minimum(-float(p["azygos_x_mm"]), eso_right)
    path = [(float(x), float(lay.spine_front(z)) - 0.5 * radius, float(z)) for x, z in zip(xs, zs, strict=True)]
    x = float(xs[-1])
    target = None
    if svc.mask.size and svc.mask.any():
        k, j, i = np.nonzero(svc.mask)
        z_svc = grid.axis("z")[svc.slices[0]][k]
        near = np.abs(z_svc - z_arch) < 12.0
        if near.any():
            target = (
                float(grid.axis("x")[svc.slices[2]][i[near]].mean()),
                float(grid.axis("y")[svc.slices[1]][j[near]].mean()),
                z_arch,
            )
    if target is None:
        target = (x - 12.0, float(c[1]) - 12.0, z_arch)
    top = path[-1]
    path += [
        (0.5 * (top[0] + target[0]) - 4.0, 0.5 * (top[1] + target[1]), z_arch + 6.0),
        target,
    ]
    pts, rad = resample_path(np.asarray(path), np.full(len(path), radius))
    _paint_idx(tissue, stamp_voxels(grid, pts, rad), Tissue.RIGHT_BLOOD, only=[*SOFT_CONTEXT, Tissue.MUSCLE])
