"""Anatomical plausibility figures of a segmentation of a real (unlabelled) chest CT, for bench_real_ct.py.

All arrays are [z, y, x] in LPS-canonical order (z inferior -> superior, y anterior -> posterior, x right -> left;
`segthor.render.overlay.to_lps_canonical`), HU as float, labels 0-4 as in SegTHOR; spacing (sx, sy, sz) in mm.

Definitions (the numbers printed by the benchmark):
- body interior: per axial slice, everything not connected to the slice border through air (< -400 HU) — outside
  air and the table's gaps are excluded, air inside the chest (lungs, airways, bowel) is kept.
- airway reference (semi-automatic, no manual step): the tracheal lumen grown slice by slice from an air seed.
  Seed: the first slice from the top holding, inside the body, a < -900 HU component of 30-800 mm^2 (a tracheal
  cross-section) whose centroid lies within 35 mm of the body's left-right midline and in the anterior 70 % of
  the body; the largest such component. Growth: going down one slice at a time, keep the < -900 HU components
  (inside the body) that overlap the previous slice's lumen; stop the trachea at the first slice where two
  components of >= 15 mm^2 each overlap it (the carina), or where the lumen area jumps above 3x the median area
  so far (a leak into lung). Below the carina the two main-bronchus components are followed 20 mm further
  (SegTHOR labels the trachea to 2 cm below the carina), with the same leak guard.
- lungs: body-interior voxels < -400 HU, minus the airway reference dilated by 3 mm (lumen wall partial volume),
  in 3D components (26-connected) of at least 50 ml. The share of an organ "in lungs" is the share of its voxels
  that lie there.
- trachea air share: share of predicted trachea voxels below -400 HU. Lumen coverage: share of the reference
  lumen above the carina that is labelled trachea.
- pieces: 26-connected components of an organ; "outside largest" is the share of its voxels not in the largest.
- positions: trachea anterior to esophagus (share of the slices holding both above the carina where the trachea's
  centroid is anterior); aortic arch above the heart (top of aorta minus top of heart, mm); esophagus anterior to
  the spine (share of the esophagus's slices where its centroid is anterior to the vertebral body's: voxels
  > 200 HU within 25 mm of the body midline in the posterior half of the body).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from segthor.organs import ORGANS

AIR_HU = -400.0
LUMEN_HU = -900.0
BONE_HU = 200.0
LUNG_MIN_ML = 50.0
BRONCHUS_MM = 20.0
_FULL = np.ones((3, 3, 3), bool)

# Approximate adult volume ranges (ml) of the SegTHOR structures, as contoured by SegTHOR, over a chest CT's
# usual coverage. Derived, not measured on a cohort; the sources and the arithmetic are in docs/benchmarks.md.
ADULT_ML = {"esophagus": (15.0, 100.0), "heart": (400.0, 1100.0), "trachea": (10.0, 80.0), "aorta": (80.0, 450.0)}


@dataclass
class Airway:
    """The semi-automatic airway reference: lumen above the carina, and lumen down to 20 mm below it."""

    above_carina: np.ndarray  # bool [z, y, x]
    with_bronchi: np.ndarray  # bool [z, y, x]
    seed_z: int | None
    carina_z: int | None
    note: str


def body_interior(hu: np.ndarray) -> np.ndarray:
    """Voxels not reachable from the slice border through air (< -400 HU), per axial slice."""
    air = hu < AIR_HU
    out = np.ones(hu.shape, bool)
    for z in range(hu.shape[0]):
        lab, _ = ndi.label(air[z])
        border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        outside = np.isin(lab, border[border > 0])
        out[z] = ~outside
    return out


def _components(mask2d: np.ndarray) -> tuple[np.ndarray, int]:
    return ndi.label(mask2d, structure=np.ones((3, 3), bool))


def _seed_candidates(lumen2d: np.ndarray, body2d: np.ndarray, sx: float, pixel_mm2: float) -> list[np.ndarray]:
    """Tracheal cross-section candidates of one slice, largest first (see the module docstring)."""
    ys, xs = np.nonzero(body2d)
    if ys.size == 0:
        return []
    mid_x, y0, y1 = xs.mean(), ys.min(), ys.max()
    lab, n = _components(lumen2d)
    found = []
    for k in range(1, n + 1):
        comp = lab == k
        area = comp.sum() * pixel_mm2
        if not 30.0 <= area <= 800.0:
            continue
        cy, cx = (c.mean() for c in np.nonzero(comp))
        if abs(cx - mid_x) * sx > 35.0 or cy > y0 + 0.7 * (y1 - y0):
            continue
        found.append((area, comp))
    return [c for _, c in sorted(found, key=lambda t: -t[0])]


def _grow_down(
    lumen: np.ndarray, seed_z: int, seed: np.ndarray, pixel_mm2: float
) -> tuple[np.ndarray, int | None, str]:
    """Lumen above the carina grown down from `seed` at `seed_z`; (mask, carina slice or None, note)."""
    above = np.zeros(lumen.shape, bool)
    above[seed_z] = seed
    areas = [seed.sum()]
    prev, carina_z, note = seed, None, "stopped at the scan's lower end"
    for z in range(seed_z - 1, -1, -1):
        lab, _ = _components(lumen[z])
        hits = [k for k in np.unique(lab[prev]) if k > 0]
        comps = [lab == k for k in hits]
        if not comps:
            note = f"lumen lost at slice {z}"
            break
        if sum(c.sum() * pixel_mm2 >= 15.0 for c in comps) >= 2:
            carina_z, note = z, f"carina at slice {z}"
            break
        cur = np.logical_or.reduce(comps)
        if cur.sum() > 3.0 * np.median(areas):
            note = f"leak guard at slice {z}"
            break
        above[z] = cur
        areas.append(cur.sum())
        prev = cur
    return above, carina_z, note


def airway_reference(
    hu: np.ndarray, body: np.ndarray, spacing: tuple[float, float, float], min_length_mm: float = 40.0
) -> Airway:
    """Grow the tracheal lumen from the top down (see the module docstring for the exact rule). A seed whose
    lumen runs less than `min_length_mm` down (bowel gas, an oesophageal air pocket) is rejected and the search
    goes on below it, down to the middle of the scan."""
    sx, sy, sz = spacing
    pixel_mm2 = sx * sy
    lumen = (hu < LUMEN_HU) & body
    empty = np.zeros(hu.shape, bool)
    for z in range(hu.shape[0] - 1, hu.shape[0] // 2 - 1, -1):
        for seed in _seed_candidates(lumen[z], body[z], sx, pixel_mm2):
            above, carina_z, note = _grow_down(lumen, z, seed, pixel_mm2)
            zs = np.flatnonzero(above.any(axis=(1, 2)))
            if (zs.max() - zs.min() + 1) * sz < min_length_mm:
                continue
            with_bronchi = above.copy()
            if carina_z is not None:
                _follow_bronchi(lumen, with_bronchi, carina_z, pixel_mm2, sz)
            return Airway(above, with_bronchi, z, carina_z, note)
    return Airway(
        empty,
        empty.copy(),
        None,
        None,
        f"no tracheal air column of >= {min_length_mm:.0f} mm found (trachea not in the scan?)",
    )


def _follow_bronchi(lumen: np.ndarray, airway: np.ndarray, carina_z: int, pixel_mm2: float, sz: float) -> None:
    """Add to `airway` (in place) the main-bronchus lumen from the carina 20 mm down, with the leak guard."""
    prev = airway[carina_z + 1]
    areas = [prev.sum()]
    for z in range(carina_z, max(-1, carina_z - int(round(BRONCHUS_MM / sz)) - 1), -1):
        lab, _ = _components(lumen[z])
        hits = [k for k in np.unique(lab[prev]) if k > 0]
        if not hits:
            break
        cur = np.isin(lab, hits)
        if cur.sum() > 3.0 * np.median(areas):
            break
        airway[z] = cur
        areas.append(cur.sum())
        prev = cur


def lungs(hu: np.ndarray, body: np.ndarray, airway: Airway, spacing: tuple[float, float, float]) -> np.ndarray:
    """Lung-density tissue: body-interior voxels < -400 HU off the (3 mm dilated) airway, in components >= 50 ml."""
    sx, sy, sz = spacing
    radius = [max(1, int(round(3.0 / s))) for s in (sz, sy, sx)]
    zz, yy, xx = np.ogrid[-radius[0] : radius[0] + 1, -radius[1] : radius[1] + 1, -radius[2] : radius[2] + 1]
    ball = (zz * sz) ** 2 + (yy * sy) ** 2 + (xx * sx) ** 2 <= 9.0
    airway_ext = ndi.binary_dilation(airway.with_bronchi, ball) if airway.with_bronchi.any() else airway.with_bronchi
    candidate = (hu < AIR_HU) & body & ~airway_ext
    lab, n = ndi.label(candidate, structure=_FULL)
    if n == 0:
        return candidate
    sizes = np.bincount(lab.ravel())[1:] * sx * sy * sz / 1000.0
    keep = np.flatnonzero(sizes >= LUNG_MIN_ML) + 1
    return np.isin(lab, keep)


def largest_piece(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """(largest 26-connected component, number of components)."""
    lab, n = ndi.label(mask, structure=_FULL)
    if n <= 1:
        return mask.copy(), n
    sizes = np.bincount(lab.ravel())[1:]
    return lab == (int(np.argmax(sizes)) + 1), n


def spine_centre_y(hu: np.ndarray, body: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Per slice, the y centroid of the vertebral body (NaN where none); see the module docstring."""
    out = np.full(hu.shape[0], np.nan)
    for z in range(hu.shape[0]):
        ys, xs = np.nonzero(body[z])
        if ys.size == 0:
            continue
        mid_x, mid_y = xs.mean(), (ys.min() + ys.max()) / 2.0
        bone = hu[z] > BONE_HU
        by, bx = np.nonzero(bone)
        sel = (np.abs(bx - mid_x) * spacing[0] <= 25.0) & (by > mid_y)
        if sel.sum() >= 10:
            out[z] = by[sel].mean()
    return out


def _centroid_y(mask: np.ndarray) -> np.ndarray:
    counts = mask.sum(axis=(1, 2))
    ys = (mask * np.arange(mask.shape[1])[None, :, None]).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, ys / np.maximum(counts, 1), np.nan)


def measure(
    hu: np.ndarray,
    labels: np.ndarray,
    spacing: tuple[float, float, float],
    airway: Airway,
    lung: np.ndarray,
    spine_y: np.ndarray,
) -> dict[str, dict[str, float | int | None]]:
    """Per organ: volume_ml, in_range, pieces, outside_largest, in_lungs, in_lungs_lcc; trachea: air_share,
    lumen_coverage, lumen_coverage_lcc; and a 'positions' entry."""
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    out: dict[str, dict[str, float | int | None]] = {}
    masks = {}
    for organ in ORGANS:
        mask = labels == organ.label
        masks[organ.key] = mask
        n_vox = int(mask.sum())
        lcc, pieces = largest_piece(mask)
        lo, hi = ADULT_ML[organ.key]
        volume = n_vox * voxel_ml
        row: dict[str, float | int | None] = {
            "volume_ml": round(volume, 1),
            "in_range": int(lo <= volume <= hi),
            "pieces": pieces,
            "outside_largest": round(1.0 - lcc.sum() / n_vox, 3) if n_vox else None,
            "in_lungs": round(float((mask & lung).sum()) / n_vox, 3) if n_vox else None,
            "in_lungs_lcc": round(float((lcc & lung).sum()) / max(1, int(lcc.sum())), 3) if n_vox else None,
        }
        if organ.key == "trachea":
            ref = airway.above_carina
            ref_n = int(ref.sum())
            row["air_share"] = round(float((mask & (hu < AIR_HU)).sum()) / n_vox, 3) if n_vox else None
            row["lumen_coverage"] = round(float((mask & ref).sum()) / ref_n, 3) if ref_n else None
            row["lumen_coverage_lcc"] = round(float((lcc & ref).sum()) / ref_n, 3) if ref_n else None
        out[organ.key] = row
    sy, sz = spacing[1], spacing[2]
    positions: dict[str, float | int | None] = {}
    tr, es = masks["trachea"], masks["esophagus"]
    if airway.carina_z is not None:
        tr = tr.copy()
        tr[: airway.carina_z + 1] = False  # above the carina only
    both = tr.any(axis=(1, 2)) & es.any(axis=(1, 2))
    dy = _centroid_y(es)[both] - _centroid_y(tr)[both]
    positions["trachea_anterior_to_esophagus"] = round(float((dy > 0).mean()), 3) if both.any() else None
    az = np.flatnonzero(masks["aorta"].any(axis=(1, 2)))
    hz = np.flatnonzero(masks["heart"].any(axis=(1, 2)))
    positions["aorta_top_above_heart_top_mm"] = (
        round(float(az.max() - hz.max()) * sz, 1) if az.size and hz.size else None
    )
    ey = _centroid_y(es)
    ok = ~np.isnan(ey) & ~np.isnan(spine_y)
    positions["esophagus_anterior_to_spine"] = round(float((ey[ok] < spine_y[ok]).mean()), 3) if ok.any() else None
    positions["esophagus_spine_gap_mm"] = round(float(np.median(spine_y[ok] - ey[ok])) * sy, 1) if ok.any() else None
    out["positions"] = positions
    return out


# The acceptance where it is stated (one piece: <= 5 % outside the largest; trachea lumen coverage
# >= 85 %; none in the lungs, read here as <= 2 % of the voxels), and plain anatomy for the rest.
MAX_OUTSIDE_LARGEST = 0.05
MAX_IN_LUNGS = 0.02
MIN_LUMEN_COVERAGE = 0.85
MIN_AIR_SHARE = 0.5
MIN_POSITION_SHARE = 0.9


def checks(figures: dict[str, dict[str, float | int | None]], lumen_present: bool) -> dict[str, bool]:
    """Pass/fail of each plausibility check for one segmentation of a CT that shows the whole thorax (an organ
    that is absent fails its checks; trachea lumen checks only when the lumen reference exists)."""
    out: dict[str, bool] = {}
    for organ in ORGANS:
        row = figures[organ.key]
        present = row["outside_largest"] is not None
        out[f"{organ.key}_one_piece"] = present and row["outside_largest"] <= MAX_OUTSIDE_LARGEST
        out[f"{organ.key}_not_in_lungs"] = present and row["in_lungs"] <= MAX_IN_LUNGS
        out[f"{organ.key}_adult_volume"] = bool(row["in_range"])
    if lumen_present:
        tr = figures["trachea"]
        out["trachea_is_air"] = tr["air_share"] is not None and tr["air_share"] >= MIN_AIR_SHARE
        out["trachea_covers_lumen"] = (tr["lumen_coverage"] or 0.0) >= MIN_LUMEN_COVERAGE
    pos = figures["positions"]
    out["trachea_anterior_to_esophagus"] = (pos["trachea_anterior_to_esophagus"] or 0.0) >= MIN_POSITION_SHARE
    out["aortic_arch_above_heart"] = (pos["aorta_top_above_heart_top_mm"] or 0.0) > 0
    out["esophagus_anterior_to_spine"] = (pos["esophagus_anterior_to_spine"] or 0.0) >= MIN_POSITION_SHARE
    return {k: bool(v) for k, v in out.items()}
