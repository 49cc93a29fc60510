"""Clean-up that reads the CT itself: what none of the four organs can be, whatever the network says.

A network trained on synthetic data makes mistakes on real CT that the CT's own intensities and the organs'
shapes rule out. Six rules, each a post-processing step (`--postprocess`), work in the patient frame (any stored
orientation):

- ``lungs`` (esophagus, heart, aorta): voxels in lung tissue are removed. Lung tissue here is air-density
  tissue (< -400 HU) in a 3D region of at least 50 ml, apart from the outside air (the air joined to the image's
  edge on its own slice, so an airway that opens to the outside at the nose or mouth does not make the lungs
  outside air), averaging at least `GAS_HU` (-950 HU; gas in the stomach or bowel averages -1000): the
  lungs with the airways. Blood and muscle never measure below -400 HU, and an air pocket inside the esophagus
  is closed by its wall, so it is not part of such a region.
- ``extent`` (all four): slices where an organ cannot be, from the lungs' cranio-caudal extent (the lowest and
  highest slices with at least 10 cm^2 of lung tissue). The heart lies on the diaphragm between the lungs, so
  none of it lies more than `HEART_BELOW_LUNGS_MM` (20 mm: where the lung bases are small, the lowest slice
  with 10 cm^2 of lung can lie above the heart's inferior wall) below the lowest; the esophagus ends at the
  gastro-esophageal junction (T11) and SegTHOR's aorta at the aortic hiatus (T12) ([Lambert2020], contouring
  rules), while the posterior costophrenic recesses reach T12-L1, so nothing of either lies more than
  `BELOW_LUNGS_MM` (40 mm, about one and a half vertebrae) below it. SegTHOR's trachea starts below the larynx
  (the cricoid cartilage, C6) and the lung apices rise to the neck of the first rib (C7-T1), so none of it lies
  more than `ABOVE_APEX_MM` (50 mm, about three vertebrae) above the highest: above that the air column is the
  larynx. An end of the lungs that lies on outside air as wide as a lung (lungs cut there by the field of view
  or a padded reconstruction circle) is unknown, and sets no limit.
- ``fat`` (esophagus, aorta): neither organ holds fat. The esophagus is a muscular tube (wall 30-60 HU; its
  lumen collapsed, or air, fluid or oral contrast) and the aorta a wall around blood (30-60 HU, more with
  contrast or calcified plaque), both lying in mediastinal fat, which a network that cannot place the wall's
  outer edge labels with them. On each slice, the organ's outer border voxels of fat density (`FAT_MIN_HU` to
  `FAT_HU`, -190..-30 HU, adipose tissue's range since [Kvist1988]) by the median of their 3x3 in-plane
  neighbourhood (so noise neither makes a wall voxel fat nor stops the peel), and in -190..0 HU (below water)
  by their own value (so the wall's convex corners stay), are removed, again and again inwards, no deeper than
  `FAT_PEEL_MM` in plane. Holes (an air lumen, whose partial-volume rim passes through fat's range) are
  filled before and left as they were after, so only fat reached from outside the organ goes. The organ's
  edge against the lung (partial volumes below -190 HU) is the ``lungs`` rule's, not this one's.
- ``lumen`` (trachea): the trachea is an air column with a wall. On each slice from the trachea's lowest to its
  highest, the air (< -800 HU) regions that touch the predicted trachea are added to it; on a slice the network
  left empty inside a run of at most `MAX_GAP_MM` between predicted slices, those touching the lumen of the
  slice above. A region larger than three times the median lumen area so far (a main bronchus opening into the
  lung) is not added; before any lumen was found, one larger than three times the predicted trachea on that
  slice and larger than `MAX_LUMEN_MM2` (the widest normal adult trachea, [Breatnach1984]) is not added, so a
  prediction that covers only part of the lumen still finds it; nor is one reaching more than `LUMEN_MARGIN_MM`
  past the predicted trachea (a lung beside it). Slices above or below the prediction are left
  alone: where SegTHOR's trachea starts and ends (below the larynx; 2 cm below the carina) is the network's call;
  except that the trachea always reaches above the lung apices (cricoid C6, apices C7-T1), so a prediction that
  stops below the lungs' highest slice is followed up its air column to that slice (same leak guards). First,
  the predicted trachea's in-plane pieces that neither hold nor touch air are removed: a tracheal cross-section
  surrounds its lumen, so such a piece is the esophagus or a vessel beside it. Last, the wall: on CT it is 1-3 mm
  thick ([CentralAirwaysCT]), so trachea voxels more than `TRACHEA_WALL_MM` (3 mm) in plane from the lumen (the
  air below `LUMEN_EDGE_HU`, -500 HU, that the trachea overlaps, that is no larger than its cross-section and
  that the box does not cut) are the tissue around it and are removed. That bound holds where the air fills the
  lumen: where the slice's air is narrower than any normal adult trachea (`MIN_LUMEN_MM2`, [Breatnach1984]; the
  main bronchi counted together), something narrows or fills the lumen (an endotracheal tube with secretions
  around it, a tumour, a thickened wall) and only fat, lung and air are removed beyond 3 mm. A piece of the
  trachea's cross-section without a lumen (a main bronchus whose air the slice joins to the lung) is left as
  it is.
- ``neck`` (heart): the heart is one compact organ whose axial cross-section shrinks steadily from its widest
  slice towards its apex and its base. A waist, a slice whose area is below `NECK_FRACTION` of the widest while
  on both sides the area grows again to more than that fraction and more than `NECK_REGROWTH` times the
  waist's, joins two swellings: one is another structure (the liver dome, the stomach below the diaphragm) that
  a 2D network labelled slice by slice and joined to the heart through a few voxels, which keeping the largest
  piece cannot remove. The organ is cut at its waists and the part with the largest volume kept. Needs the CT's
  geometry only, not its HU.
- ``bridge`` (aorta, esophagus): both are one continuous tube, which a 2D network can leave in pieces when it
  misses a run of slices. Between two pieces one above the other (the end cross-sections, each the widest
  within `BRIDGE_END_MM` of its end, overlapping by at least `BRIDGE_OVERLAP` of the smaller) at most
  `BRIDGE_MAX_MM` apart, the empty slices get the cross-section interpolated between the two ends, unless the CT
  there is mostly air, lung or bone. Pieces side by side that come within `SEAM_MM` (5 mm) of each other on a
  slice are one tube split by a seam (the aortic arch of a noisy CT): on that slice the seam between them is
  filled (`join_seams`). The ascending and descending aorta of a scan that ends below the arch lie 2-4 cm
  apart, so never join.

Each rule only removes an organ's voxels (lungs, extent, fat, neck; lumen its airless pieces and what lies past
the wall) or turns background into it (lumen, bridge); no other organ's voxels change. Measured on held-out
phantoms and the real development CT in docs/quality.md ("Anatomical rules").
"""

from __future__ import annotations

import numpy as np

from segthor.boxes import bounding_box, label_boxes
from segthor.hounsfield import GAS_HU, LUNG_HU
from segthor.io.patient_frame import PatientFrame
from segthor.io.volume import Volume
from segthor.organs import organ_by_label

LUMEN_HU = -800.0  # the tracheal lumen (air, -1000 HU) without the partial-volume rim of its wall
# The lumen's edge for the wall's reach: halfway between air (-1000 HU) and the wall (~0 HU), a voxel half air.
LUMEN_EDGE_HU = -500.0
# On CT the normal tracheal wall is 1-3 mm thick, between the luminal air and the mediastinal fat or the lungs
# ([CentralAirwaysCT]); a trachea voxel farther than this from its lumen is the tissue around it.
TRACHEA_WALL_MM = 3.0
MIN_LUNG_ML = 50.0
CELL_MM = 1.6  # in-plane cell of the lung search
# 4-connectivity within each slice, none across slices (ndimage.label's structure).
_IN_PLANE = np.pad(np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], bool), ((1, 1), (0, 0), (0, 0)))
EDGE_REACH_CELLS = 2  # how far (in cells) `in_lungs` follows air from the lungs' edge into an organ
MIN_LUNG_SLICE_MM2 = 1000.0
BELOW_LUNGS_MM = 40.0
HEART_BELOW_LUNGS_MM = 20.0
ABOVE_APEX_MM = 50.0
LUMEN_LEAK_FACTOR = 3.0
# The widest normal adult tracheal lumen: coronal 25 mm x sagittal 27 mm (men's upper limits, [Breatnach1984]),
# an ellipse of ~530 mm^2; a lung seen through a bronchus is thousands.
MAX_LUMEN_MM2 = 600.0
# The narrowest normal adult tracheal lumen: 10 mm coronal and sagittal (women's lower limits, [Breatnach1984]),
# a circle of ~79 mm^2. A narrower air column is a lumen narrowed or partly filled (an endotracheal tube with
# secretions around it, a tumour, a thickened wall), whose wall can lie farther than TRACHEA_WALL_MM from the air.
MIN_LUMEN_MM2 = 79.0
LUMEN_MARGIN_MM = 15.0  # in-plane reach of the lumen past the predicted trachea
MAX_GAP_MM = 10.0  # longest run of empty slices the lumen bridges (longer: two pieces, left to "lcc")
BRIDGE_MAX_MM = 30.0  # longest run of empty slices bridged between two pieces of a tube
BRIDGE_END_MM = 10.0  # a piece's end cross-section: its widest within this distance of the end
BRIDGE_OVERLAP = 0.3  # the two ends must overlap by this share of the smaller end's area (the same tube)
BRIDGE_AIR_HU = -300.0  # a bridge whose voxels are more than BRIDGE_BAD_SHARE air/lung or bone is not made
BRIDGE_BONE_HU = 600.0  # above blood with dense iodine contrast (300-500 HU), below cortical bone
BRIDGE_BAD_SHARE = 0.2
# Pieces smaller than this take no part in a bridge: specks that the default "drop" (2 ml for the aorta) removes
# after the rules would otherwise be joined to the tube and kept (a new-user test found one voxel 26 mm below the
# aorta grown into a 545-voxel cone).
BRIDGE_MIN_PIECE_ML = 2.0
SEAM_MM = 5.0  # two pieces of a tube closer than this in plane on one slice are one tube split by a seam
# Adipose tissue measures -190..-30 HU ([Kvist1988]); the esophageal wall and blood 30-60 HU, so a voxel half
# fat and half wall (partial volume at the organ's true edge) measures about -30 (FAT_HU, and FAT_MIN_HU below).
FAT_HU = -30.0
FAT_MIN_HU = -190.0
WATER_HU = 0.0
FAT_PEEL_MM = 10.0  # deepest in-plane peel of fat from an organ's outside
NECK_FRACTION = 0.15
NECK_REGROWTH = 2.0
# The rules that need the CT (its HU, or for "neck" its patient frame); they run before the other steps.
HU_RULES = ("lungs", "extent", "fat", "lumen", "neck", "bridge")


def label_counts(labels: np.ndarray, count: int, chunk: int = 1 << 20) -> np.ndarray:
    """Voxels per label of an integer label array (any shape; labels 0..`count`): int64 [count + 1], what
    ``np.bincount(labels.ravel(), minlength=count + 1)`` returns, counted `chunk` voxels at a time.

    np.bincount converts its whole input to int64 first: for a 512x512x300 int32 label array a 630 MB temporary,
    whose allocation and first touch cost more than the counting; a chunk of 1 Mi voxels stays in cache.
    """
    flat = labels.reshape(-1)
    counts = np.zeros(count + 1, np.int64)
    for start in range(0, flat.size, chunk):
        counts += np.bincount(flat[start : start + chunk], minlength=count + 1)
    return counts


class AirRegions:
    """Lung tissue of one CT in the patient frame [S, P, L] (computed once, shared by the rules).

    Found on a grid of ~1.6 mm cells in plane (a cell is air only when all its voxels are: a wall one voxel thin
    still separates two regions), which keeps it well under a second for a 512x512x300 CT.
    """

    def __init__(self, hu_spl: np.ndarray, spacing_zyx: tuple[float, float, float]) -> None:
        self.spacing_zyx = spacing_zyx
        self._hu_spl: np.ndarray | None = hu_spl  # read again only at the lungs' edge (`in_lungs`)
        self.factors = tuple(max(1, int(round(CELL_MM / max(s, 1e-6)))) for s in spacing_zyx[1:])
        fp, fl = self.factors
        n_s, n_p, n_l = hu_spl.shape
        cp, cl = -(-n_p // fp), -(-n_l // fl)
        if fp == fl == 1:  # pixels of ~1.6 mm or more: every voxel is its own cell
            air = hu_spl < LUNG_HU
        else:
            # Pads repeat the last row/column: a cell on the far edge is air when its own voxels are, so outside
            # air that reaches only the far edges of an odd-sized image still touches the grid's edge.
            air_full = np.pad(hu_spl < LUNG_HU, ((0, 0), (0, cp * fp - n_p), (0, cl * fl - n_l)), mode="edge")
            air = air_full[:, ::fp, ::fl].copy()
            for i in range(fp):
                for j in range(fl):
                    if i or j:
                        air &= air_full[:, i::fp, j::fl]
            del air_full
        lung = np.zeros(air.shape, bool)
        lung_box = outside_box = None  # the lungs and the outside air in the box below (none next to lung beyond)
        # Every cell outside the in-plane box of the cells that are not air (on any slice) is air, and joined
        # along its row or column to the field of view's edge: a region reaching past the box, or touching its
        # sides, is outside air. So labelling the box alone finds the same lungs (a quarter to three quarters of
        # the work on the phantoms' wide fields of view; about the same on a CT whose table fills the width).
        box = bounding_box(~air.all(axis=0))
        if box is not None:
            cells = (slice(None), *box)
            lung_box, outside_box = self._lungs_in_box(air[cells], hu_spl[:, ::fp, ::fl][cells], spacing_zyx)
            lung[cells] = lung_box
        del air
        self.lung_cells = lung
        cell_mm2 = spacing_zyx[1] * fp * spacing_zyx[2] * fl
        area_mm2 = lung.sum(axis=(1, 2)) * cell_mm2
        ks = np.flatnonzero(area_mm2 >= MIN_LUNG_SLICE_MM2)
        self.lungs_found = bool(ks.size)
        self.lowest_lung_slice: int | None = int(ks[0]) if ks.size else None
        self.highest_lung_slice: int | None = int(ks[-1]) if ks.size else None
        # Lungs that the field of view (or a padded reconstruction circle) cuts on their lowest or highest slices
        # are outside air there, on their own slices: the lung tissue found then ends where the cut begins, not
        # where the lungs do, and `extent` would cut the organs by a wrong end (a heart on slices the cut lungs
        # span). Such an end sits on outside air as wide as a lung's cross-section (`MIN_LUNG_SLICE_MM2`); an
        # airway open at the nose or an empty slice above the trachea touches it only over the airway's width.
        # That end is then unknown (None), as before outside air was found slice by slice.
        if ks.size and lung_box is not None and outside_box is not None:
            lo, hi = int(ks[0]), int(ks[-1])  # only the slices beyond each end are read
            down = (lung_box[1 : lo + 1] & outside_box[:lo]).sum(axis=(1, 2)) * cell_mm2  # slice k + 1 on k's
            up = (lung_box[hi:-1] & outside_box[hi + 1 :]).sum(axis=(1, 2)) * cell_mm2  # slice k on k + 1's
            if (down >= MIN_LUNG_SLICE_MM2).any():
                self.lowest_lung_slice = None
            if (up >= MIN_LUNG_SLICE_MM2).any():
                self.highest_lung_slice = None

    def _lungs_in_box(
        self, air: np.ndarray, cell_hu_spl: np.ndarray, spacing_zyx: tuple[float, float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lung cells, outside air cells) of a box of air cells [S, P', L'] (every region touching its P or L
        sides on its own slice is outside air); `cell_hu_spl`: one voxel's HU per cell, the same shape."""
        from scipy import ndimage

        fp, fl = self.factors
        # Outside air reaches the field of view's edge on its own slice. Air that reaches it only through other
        # slices is not outside: the airway of a scan that takes in the nose or mouth, or an empty slice at a
        # scan's end, would otherwise join the lungs (through the trachea) to the outside air.
        flat, n_flat = ndimage.label(air, structure=_IN_PLANE)
        edge = np.unique(np.concatenate([flat[:, [0, -1], :].ravel(), flat[:, :, [0, -1]].ravel()]))
        outside = np.zeros(n_flat + 1, bool)
        outside[edge[edge > 0]] = True
        outside_air = outside[flat]  # label 0 (not air) maps to False
        del flat
        air = air & ~outside_air
        labels, count = ndimage.label(air)  # 6-connected: a thin wall separates regions
        lung = np.zeros(labels.shape, bool)
        if not count:
            return lung, outside_air
        counts = label_counts(labels, count)
        sizes = counts.astype(np.float64)
        sizes[0] = 0
        cell_ml = spacing_zyx[0] * spacing_zyx[1] * fp * spacing_zyx[2] * fl / 1000.0
        keep = sizes * cell_ml >= MIN_LUNG_ML
        keep[0] = False
        if keep.any():
            lung = keep[labels]
            # Gas is not lung: a stomach bubble taken for the lungs (when the lungs reach the field of view's
            # edge) would set their extent at the diaphragm and the extent rule would delete the trachea.
            cell_hu = cell_hu_spl[lung].astype(np.float64)
            hu_sums = np.bincount(labels[lung], weights=cell_hu, minlength=count + 1)
            gas = keep & (hu_sums < GAS_HU * np.maximum(counts, 1))
            if gas.any():
                keep &= ~gas
                lung = keep[labels]
        return lung, outside_air

    def in_lungs(self, mask: np.ndarray, hu_spl: np.ndarray, origin: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
        """Which voxels of `mask` lie in lung tissue (a bool array of `mask`'s shape). `mask` and `hu_spl` are
        [S, P, L] boxes of the CT starting at voxel `origin`.

        A voxel below `LUNG_HU` in a lung cell is lung; so is one in a cell only partly air (the lungs' edge,
        where an organ the network drew a voxel too wide meets them) when air voxels join it to a lung cell
        (6-connected, within `EDGE_REACH_CELLS` cells): an air pocket closed by an organ's wall is not joined."""
        out = np.zeros(mask.shape, bool)
        ks, ps, ls = np.nonzero(mask)
        fp, fl = self.factors
        cells = self.lung_cells[ks + origin[0], (ps + origin[1]) // fp, (ls + origin[2]) // fl]
        air = hu_spl[ks, ps, ls] < LUNG_HU
        out[ks, ps, ls] = air & cells
        edge = air & ~cells
        if self._hu_spl is not None and (fp > 1 or fl > 1) and edge.any():
            out[ks[edge], ps[edge], ls[edge]] = self._joined_to_lung(
                ks[edge] + origin[0], ps[edge] + origin[1], ls[edge] + origin[2]
            )
        return out

    def _joined_to_lung(self, ks: np.ndarray, ps: np.ndarray, ls: np.ndarray) -> np.ndarray:
        """For air voxels (CT indices) in cells that are not lung: whether air voxels join each to a lung cell."""
        from scipy import ndimage

        hu = self._hu_spl
        fp, fl = self.factors
        reach = (1, EDGE_REACH_CELLS * fp, EDGE_REACH_CELLS * fl)
        box = tuple(
            slice(max(0, int(c.min()) - r), min(n, int(c.max()) + r + 1))
            for c, r, n in zip((ks, ps, ls), reach, hu.shape, strict=True)
        )
        air = hu[box] < LUNG_HU
        k0, p0, l0 = (b.start for b in box)
        kk, pp, ll = np.ogrid[box[0], box[1], box[2]]
        lung_voxels = air & self.lung_cells[kk, pp // fp, ll // fl]
        regions, _ = ndimage.label(air)  # 6-connected, as the lung cells are
        lung_regions = np.unique(regions[lung_voxels])
        return np.isin(regions[ks - k0, ps - p0, ls - l0], lung_regions[lung_regions > 0])


def remove_lung_tissue(
    mask: np.ndarray, air: AirRegions, hu_spl: np.ndarray, origin: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """`mask` [S, P, L] (a box of the CT starting at voxel `origin`) without its voxels in lung tissue."""
    return mask & ~air.in_lungs(mask, hu_spl, origin)


def limit_extent(
    mask: np.ndarray,
    air: AirRegions,
    below_lungs_mm: float | None,
    above_apex_mm: float | None = None,
    first_slice: int = 0,
) -> np.ndarray:
    """`mask` [S, P, L] (its slice 0 is the CT's slice `first_slice`) without the slices more than `below_lungs_mm`
    below the lungs' lowest slice and more than `above_apex_mm` above their highest (None: no limit that way;
    no limit either way whose end of the lungs is unknown: none found, or cut by the field of view there)."""
    out = mask
    step = air.spacing_zyx[0]
    if below_lungs_mm is not None and air.lowest_lung_slice is not None:
        cut = air.lowest_lung_slice - int(np.floor(below_lungs_mm / step + 1e-6)) - first_slice
        if cut > 0 and out[:cut].any():
            out = out.copy()
            out[:cut] = False
    if above_apex_mm is not None and air.highest_lung_slice is not None:
        cut = air.highest_lung_slice + int(np.floor(above_apex_mm / step + 1e-6)) + 1 - first_slice
        cut = max(cut, 0)
        if cut < out.shape[0] and out[cut:].any():
            out = out.copy()
            out[cut:] = False
    return out


def peel_fat(mask: np.ndarray, hu_spl: np.ndarray, pixel_mm: tuple[float, float]) -> np.ndarray:
    """`mask` [S, P, L] without the fat reached from outside it on each slice (the ``fat`` rule in the module
    docstring). `hu_spl`: the CT's HU on the same box; `pixel_mm`: the in-plane spacing (P, L) in mm."""
    from scipy import ndimage

    depth = max(1, int(np.ceil(FAT_PEEL_MM / max(min(pixel_mm), 1e-6))))  # passes; the reach is capped in mm
    out = mask
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        ps, ls = np.nonzero(mask[k])
        # One voxel of margin, so the box's edge is outside the organ; one more for the median's window.
        box = (slice(max(ps.min() - 2, 0), ps.max() + 3), slice(max(ls.min() - 2, 0), ls.max() + 3))
        section = mask[k][box]
        own = hu_spl[k][box]
        # Fat by the median of its 3x3 neighbourhood (noise of ~25 HU neither makes a wall voxel fat nor a fat
        # voxel a wall that stops the peel) and by its own value below water's: the median alone would call the
        # wall's convex corners fat.
        median = ndimage.median_filter(own, size=3, mode="nearest")
        fat = (median >= FAT_MIN_HU) & (median < FAT_HU) & (own >= FAT_MIN_HU) & (own < WATER_HU)
        kept = ndimage.binary_fill_holes(section)
        # Only within FAT_PEEL_MM (in-plane, in mm: pixels may be anisotropic) of the organ's outside.
        fat &= ndimage.distance_transform_edt(kept, sampling=pixel_mm) <= FAT_PEEL_MM
        for _ in range(depth):
            peel = kept & ~ndimage.binary_erosion(kept) & fat  # outer border voxels of fat density
            if not peel.any():
                break
            kept &= ~peel
        kept &= section
        if not np.array_equal(kept, section):
            if out is mask:
                out = mask.copy()
            out[k][box] = kept
    return out


def _inside_box(regions: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The region ids among `ids` (> 0) of the labelled 2D `regions` that do not reach the array's in-plane edge:
    a region the caller's box cuts is larger than it looks there."""
    edge = np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])
    return ids[(ids > 0) & ~np.isin(ids, edge)]


def _drop_airless_sections(mask: np.ndarray, hu_spl: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """`mask` [S, P, L] without its in-plane pieces that neither hold nor touch air (< `LUMEN_HU`): a trachea's
    cross-section always surrounds its lumen, so a piece without any is another structure (the esophagus or a
    vessel beside the trachea, which a network trained on phantoms can call trachea on a run of slices)."""
    from scipy import ndimage

    out = mask
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        pieces, count = ndimage.label(mask[k], structure=cross)
        air = ndimage.binary_dilation(hu_spl[k] < LUMEN_HU, structure=cross)
        with_air = np.unique(pieces[air & mask[k]])
        airless = np.setdiff1d(np.arange(1, count + 1), with_air)
        if airless.size:
            if out is mask:
                out = mask.copy()
            out[k][np.isin(pieces, airless)] = False
    return out


def complete_lumen(
    mask: np.ndarray,
    hu_spl: np.ndarray,
    free: np.ndarray,
    spacing_s_mm: float,
    pixel_mm2: float | None = None,
    up_to: int | None = None,
    pixel_mm: tuple[float, float] | None = None,
) -> np.ndarray:
    """The trachea `mask` [S, P, L] with the tracheal air lumen added on the slices it spans (see the module
    docstring). Only voxels where `free` is True (background) are added; an air region that reaches the
    array's in-plane edge is never added (the caller's box holds the lumen with a margin: such a region is cut).
    `spacing_s_mm`: slice step in mm; `pixel_mm2`: in-plane voxel area in mm^2 (None: no `MAX_LUMEN_MM2`
    allowance before the first lumen). `up_to`: a slice (the lungs' highest) that the trachea must reach: when
    the prediction stops below it, the lumen is followed up from the prediction's top slice by slice (the air
    region overlapping the lumen below, with the same leak guards) until that slice or until it ends.
    `pixel_mm`: the in-plane spacing (P, L) in mm; when given, the wall is then trimmed (`trim_wall`)."""
    from scipy import ndimage

    cross = ndimage.generate_binary_structure(2, 1)
    mask = _drop_airless_sections(mask, hu_spl, cross)
    ks = np.flatnonzero(mask.any(axis=(1, 2)))
    if ks.size == 0:
        return mask
    out = mask.copy()
    areas: list[int] = []
    previous: np.ndarray | None = None
    top_lumen: np.ndarray | None = None
    # Empty slices are bridged only inside a short run of them between two predicted slices.
    max_gap = int(np.floor(MAX_GAP_MM / max(spacing_s_mm, 1e-6) + 1e-6))
    bridged = np.zeros(mask.shape[0], bool)
    for upper, lower in zip(ks[1:][::-1], ks[:-1][::-1], strict=True):
        if 1 < upper - lower <= max_gap + 1:
            bridged[lower + 1 : upper] = True
    for k in range(int(ks[-1]), int(ks[0]) - 1, -1):  # from the top down, as the airway branches
        air = hu_spl[k] < LUMEN_HU
        seed = mask[k] if mask[k].any() else (previous if bridged[k] else None)
        lumen = None
        if seed is not None and seed.any():
            labels, count = ndimage.label(air, structure=cross)
            if count:
                hits = np.unique(labels[ndimage.binary_dilation(seed, structure=cross)])
                # A region reaching the box's edge was cut by it (the box is the prediction plus
                # LUMEN_MARGIN_MM): it reaches farther than a lumen does, and its area here understates it (a
                # lung beside the trachea, cut to a sliver, would pass the size limits).
                hits = _inside_box(labels, hits)
                if hits.size:
                    candidate = np.isin(labels, hits)
                    if areas:
                        limit = LUMEN_LEAK_FACTOR * float(np.median(areas))
                    else:
                        limit = LUMEN_LEAK_FACTOR * max(int(seed.sum()), 1)
                        if pixel_mm2:
                            limit = max(limit, MAX_LUMEN_MM2 / pixel_mm2)
                    if candidate.sum() <= limit:
                        lumen = candidate
        if lumen is not None:
            out[k] |= lumen & free[k]
            areas.append(int(lumen.sum()))
            previous = lumen | mask[k]
        else:
            previous = mask[k] if mask[k].any() else None
        if k == int(ks[-1]):
            top_lumen = previous
    if up_to is not None and up_to > int(ks[-1]) and top_lumen is not None and areas:
        # The trachea reaches above the lung apices (cricoid C6, apices C7-T1): a prediction that stops below
        # the lungs' highest slice missed its upper part, which is followed up its air column.
        limit = LUMEN_LEAK_FACTOR * float(np.median(areas))
        below = top_lumen
        for k in range(int(ks[-1]) + 1, min(up_to, mask.shape[0] - 1) + 1):
            labels, count = ndimage.label(hu_spl[k] < LUMEN_HU, structure=cross)
            if not count:
                break
            hits = np.unique(labels[ndimage.binary_dilation(below, structure=cross)])
            hits = _inside_box(labels, hits)
            candidate = np.isin(labels, hits) if hits.size else None
            if candidate is None or candidate.sum() > limit:
                break
            out[k] |= candidate & free[k]
            below = candidate
    return trim_wall(out, hu_spl, pixel_mm) if pixel_mm is not None else out


def trim_wall(mask: np.ndarray, hu_spl: np.ndarray, pixel_mm: tuple[float, float]) -> np.ndarray:
    """The trachea `mask` [S, P, L] without what lies farther than `TRACHEA_WALL_MM` in plane from its lumen.

    On each slice the lumen is the air (< `LUMEN_EDGE_HU`) regions that overlap the mask, are no larger than the
    mask's cross-section (a lumen lies inside its wall; a lung, or a bronchus opening into it, the mask only
    touches is not the lumen) and do not reach the array's in-plane edge (a region the caller's box cuts is
    larger than it looks there). Distances run from voxel centre to voxel centre (`pixel_mm`: the in-plane
    spacing (P, L) in mm). Of each in-plane piece of the mask that holds such a lumen, the voxels farther than
    `TRACHEA_WALL_MM` from it are removed when the slice's lumen is at least `MIN_LUMEN_MM2` (an air column of
    normal adult size, the two main bronchi counted together: the wall's bound holds); around a narrower one (a
    tube, secretions, a tumour or a thick wall narrowing or filling the lumen: the air is not the whole lumen)
    only those of fat, lung or air density (the ``fat`` rule's test without its lower bound: the median of the
    3x3 in-plane neighbourhood below `FAT_HU` and the own value below `WATER_HU`). A piece without a lumen (a
    main bronchus whose air the slice joins to the lung) and a slice without one are left as they are."""
    from scipy import ndimage

    out = mask
    cross = ndimage.generate_binary_structure(2, 1)
    pixel_mm2 = float(pixel_mm[0]) * float(pixel_mm[1])
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        air, count = ndimage.label(hu_spl[k] < LUMEN_EDGE_HU, structure=cross)
        if count == 0:
            continue
        sizes = np.bincount(air.ravel(), minlength=count + 1)
        inside = _inside_box(air, np.unique(air[mask[k]]))
        inside = inside[sizes[inside] <= np.count_nonzero(mask[k])]
        if inside.size == 0:
            continue
        lumen = np.isin(air, inside)
        far = mask[k] & (ndimage.distance_transform_edt(~lumen, sampling=pixel_mm) > TRACHEA_WALL_MM)
        if not far.any():
            continue
        pieces, _ = ndimage.label(mask[k], structure=cross)
        far &= np.isin(pieces, np.unique(pieces[lumen & mask[k]]))  # pieces without a lumen are left alone
        if far.any() and sizes[inside].sum() * pixel_mm2 < MIN_LUMEN_MM2:
            # Narrower than any normal trachea (below the carina: the two main bronchi together, whose summed
            # cross-section is no smaller than the trachea's): only fat, lung and air go.
            own = hu_spl[k]
            median = ndimage.median_filter(own, size=3, mode="nearest")
            far &= (median < FAT_HU) & (own < WATER_HU)
        if far.any():
            if out is mask:
                out = mask.copy()
            out[k] &= ~far
    return out


def _signed_distance(mask: np.ndarray, sampling: tuple[float, float]) -> np.ndarray:
    """2D signed distance in mm to the mask's boundary: negative inside, positive outside."""
    from scipy import ndimage

    if not mask.any():
        return np.full(mask.shape, np.inf)
    return ndimage.distance_transform_edt(~mask, sampling=sampling) - ndimage.distance_transform_edt(
        mask, sampling=sampling
    )


def bridge_gaps(
    mask: np.ndarray, hu_spl: np.ndarray, free: np.ndarray, spacing_zyx: tuple[float, float, float]
) -> np.ndarray:
    """`mask` [S, P, L] of a tube (aorta, esophagus) with the gaps between its pieces bridged (the ``bridge``
    rule in the module docstring).

    From each end of each piece (its widest cross-section within `BRIDGE_END_MM` of the end: a network's
    label fades out over the last slices), the next `BRIDGE_MAX_MM` of slices beyond the end are searched for
    another piece overlapping that cross-section, whose own cross-section is the one overlapping it most within
    `BRIDGE_END_MM` of where it first does (its end fades too); they must overlap by at least `BRIDGE_OVERLAP`
    (of the smaller of the two; pieces below `BRIDGE_MIN_PIECE_ML` take no part); the
    slices between get the cross-section interpolated between the two (the zero level of their linearly
    blended signed distances), unless more than `BRIDGE_BAD_SHARE` of its voxels are air or lung
    (< `BRIDGE_AIR_HU`) or bone (> `BRIDGE_BONE_HU`). Only voxels where `free` is True (background) are added.
    Pieces side by side (the ascending and descending aorta below the arch) never overlap, so never join.
    """
    from scipy import ndimage

    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count < 2:
        return mask
    boxes = ndimage.find_objects(pieces)
    sizes = label_counts(pieces, count) * float(np.prod(spacing_zyx)) / 1000.0  # ml per piece (index 0: none)
    large = sizes >= BRIDGE_MIN_PIECE_ML
    large[0] = False
    if large.sum() < 2:
        return mask
    step = max(spacing_zyx[0], 1e-6)
    max_gap = int(np.floor(BRIDGE_MAX_MM / step + 1e-6))
    band = max(1, int(np.floor(BRIDGE_END_MM / step + 1e-6)))
    sampling = (spacing_zyx[1], spacing_zyx[2])
    n = mask.shape[0]
    out = mask.copy()
    for a in np.flatnonzero(large):
        box = boxes[a - 1]
        lo, hi = box[0].start, box[0].stop - 1
        areas = (pieces[box] == a).sum(axis=(1, 2))  # the piece's area on each of its slices, from `lo`
        for direction, end, near_end in (
            (1, hi, range(max(lo, hi - band + 1), hi + 1)),
            (-1, lo, range(lo, min(hi, lo + band - 1) + 1)),
        ):
            k_a = max(near_end, key=lambda k: areas[k - lo])  # the widest cross-section near this end
            section_a = pieces[k_a] == a
            for k in range(end + direction, end + direction * (max_gap + 2), direction):
                if not 0 <= k < n:
                    break
                others = large[pieces[k]] & (pieces[k] != a)
                hit = others & section_a
                if not hit.any():
                    continue
                b = int(np.bincount(pieces[k][hit]).argmax())
                # The other piece's label fades out towards its end as well: its cross-section is the one that
                # overlaps this end most within `BRIDGE_END_MM` of the slice where it first appears.
                reach = [j for j in range(k, k + direction * band, direction) if 0 <= j < n]
                k = max(reach, key=lambda j: int(((pieces[j] == b) & section_a).sum()))
                section_b = pieces[k] == b
                hit = section_b & section_a
                if hit.sum() < BRIDGE_OVERLAP * min(section_a.sum(), section_b.sum()):
                    break
                first, last = sorted((k_a, k))
                gap = last - first - 1
                if gap >= 1:
                    lower, upper = (section_a, section_b) if first == k_a else (section_b, section_a)
                    d_lo, d_up = _signed_distance(lower, sampling), _signed_distance(upper, sampling)
                    t = (np.arange(1, gap + 1) / (gap + 1))[:, None, None]
                    bridge = (1.0 - t) * d_lo[None] + t * d_up[None] <= 0.0
                    hu = hu_spl[first + 1 : last][bridge]
                    bad = ((hu < BRIDGE_AIR_HU) | (hu > BRIDGE_BONE_HU)).mean() if hu.size else 1.0
                    if bad <= BRIDGE_BAD_SHARE:
                        out[first + 1 : last] |= bridge & free[first + 1 : last]
                break
    return out | join_seams(out, hu_spl, free, spacing_zyx)


def join_seams(
    mask: np.ndarray, hu_spl: np.ndarray, free: np.ndarray, spacing_zyx: tuple[float, float, float]
) -> np.ndarray:
    """The voxels that join pieces of a tube lying side by side where a seam splits them (bool, `mask`'s shape
    [S, P, L]; the ``bridge`` rule's second part).

    For two pieces of at least `BRIDGE_MIN_PIECE_ML` that share slices and come within `SEAM_MM` in plane of
    each other, on the slice where they come closest: the seam between them (the voxels whose in-plane
    distances to the two cross-sections sum to at most their gap plus one and a half pixels), where `free`
    (background) and neither air or lung (< `BRIDGE_AIR_HU`) nor bone (> `BRIDGE_BONE_HU`), when what is left
    of it joins the two. The aortic arch,
    which a 2D network sees obliquely, is where a noisy CT splits the aorta this way, into an ascending and a
    descending piece a few mm apart. Below the arch the two lie 2-4 cm apart (the trachea, the esophagus and
    the aortopulmonary window between them), so they are never joined.
    """
    from scipy import ndimage

    out = np.zeros(mask.shape, bool)
    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count < 2:
        return out
    sizes = label_counts(pieces, count) * float(np.prod(spacing_zyx)) / 1000.0
    large = [int(i) for i in np.flatnonzero(sizes >= BRIDGE_MIN_PIECE_ML) if i > 0]
    if len(large) < 2:
        return out
    sampling = (spacing_zyx[1], spacing_zyx[2])
    tolerance = 1.5 * max(sampling)
    # Each piece's in-plane box on each slice: two pieces whose boxes lie farther apart than SEAM_MM on a slice
    # are farther apart than that too, so only the slices where the boxes come that close are measured, each
    # in a window around the two boxes (grown by the seam's reach; the distances there are exact since each
    # piece lies in it whole). A 512 x 512 x 300 CT whose aorta's box a false piece widened measured every
    # slice's full box for every pair of pieces: 2.4 s.
    boxes = {i: _slice_boxes(pieces == i) for i in large}
    grow = [int(np.ceil((SEAM_MM + tolerance) / max(s, 1e-6))) + 1 for s in sampling]
    for n, a in enumerate(large):
        for b in large[n + 1 :]:
            (on_a, lo_a, hi_a), (on_b, lo_b, hi_b) = boxes[a], boxes[b]
            apart = np.maximum(0, np.maximum(lo_b - hi_a, lo_a - hi_b)) * np.asarray(sampling)  # [S, 2] mm
            near = np.flatnonzero(on_a & on_b & (np.hypot(apart[:, 0], apart[:, 1]) <= SEAM_MM + 1e-6))
            best: tuple[float, int, tuple[slice, slice], np.ndarray] | None = None
            for k in near:
                window = tuple(
                    slice(
                        max(0, int(min(lo_a[k, i], lo_b[k, i])) - grow[i]),
                        int(max(hi_a[k, i], hi_b[k, i])) + grow[i] + 1,
                    )
                    for i in range(2)
                )
                section = pieces[k][window]
                to_a = ndimage.distance_transform_edt(section != a, sampling=sampling)
                gap = float(to_a[section == b].min())
                if gap <= SEAM_MM and (best is None or gap < best[0]):
                    best = (gap, int(k), window, to_a)
            if best is None:
                continue
            gap, k, window, to_a = best
            section = pieces[k][window]
            to_b = ndimage.distance_transform_edt(section != b, sampling=sampling)
            hu = hu_spl[k][window]
            seam = (to_a + to_b <= gap + tolerance) & free[k][window] & (hu >= BRIDGE_AIR_HU) & (hu <= BRIDGE_BONE_HU)
            section_a, section_b = section == a, section == b
            joined, _ = ndimage.label(section_a | section_b | seam, structure=np.ones((3, 3), bool))
            if np.intersect1d(joined[section_a], joined[section_b]).size:  # only a seam that joins them
                out[k][window] |= seam
    return out


def _slice_boxes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice of `mask` [S, P, L]: whether it holds any voxel ([S] bool), and the lowest and highest (P, L)
    index of its voxels there ([S, 2] each; meaningless where it holds none)."""
    rows, cols = mask.any(axis=2), mask.any(axis=1)  # [S, P], [S, L]
    lo = np.stack([rows.argmax(axis=1), cols.argmax(axis=1)], axis=1)
    hi = np.stack(
        [rows.shape[1] - 1 - rows[:, ::-1].argmax(axis=1), cols.shape[1] - 1 - cols[:, ::-1].argmax(axis=1)], axis=1
    )
    return rows.any(axis=1), lo, hi


def cut_at_neck(mask: np.ndarray, pixel_mm2: float) -> np.ndarray:
    """`mask` [S, P, L] cut at its waists along S (the ``neck`` rule in the module docstring), keeping the part
    between waists with the largest volume. A waist is a slice whose area is below `NECK_FRACTION` of the
    widest slice's while on both sides the mask grows again to more than that fraction and more than
    `NECK_REGROWTH` times the waist's area. `pixel_mm2`: in-plane voxel area in mm^2. A mask that narrows only
    towards its ends (an apex, a base) has no waist and is returned unchanged."""
    area = mask.sum(axis=(1, 2)).astype(float) * pixel_mm2
    if area.size < 3 or not area.any():
        return mask
    small = NECK_FRACTION * float(area.max())
    # The largest area strictly below and strictly above each slice.
    below = np.concatenate([[0.0], np.maximum.accumulate(area)[:-1]])
    above = np.concatenate([np.maximum.accumulate(area[::-1])[:-1][::-1], [0.0]])
    need = np.maximum(NECK_REGROWTH * area, small)
    waist = (area < small) & (below > need) & (above > need)
    if not waist.any():
        return mask
    # Runs of slices between waists; keep the run with the largest volume.
    run = np.cumsum(waist)  # the run index of each non-waist slice
    volumes = np.bincount(run[~waist], weights=area[~waist])
    keep = ~waist & (run == int(np.argmax(volumes)))
    out = mask.copy()
    out[~keep] = False
    return out


def apply_hu_rules(
    labels: np.ndarray, volume: Volume, rules: dict[int, tuple[str, ...]], record: dict | None = None
) -> np.ndarray:
    """Apply the rules to a copy of `labels` [z, y, x] (the grid of `volume`, whose array is in HU).

    `rules`: organ label -> the HU rules to apply to it (`HU_RULES`). `record`, when given,
    receives what they did (for the case report): ``lungs_found`` (None when no rule needed the lungs; False:
    ``lungs`` and ``extent`` changed nothing) and, per organ key, ``removed_voxels`` and ``added_voxels`` (the
    net change) and ``by_rule``: for each rule that ran, the voxels it removed from and added to what the rules
    before it left (in `HU_RULES` order).
    """
    if not any(rules.values()):
        return labels

    frame = PatientFrame.of(volume)
    hu = frame.view(volume.array)
    out = labels.copy()
    view = frame.view(out)  # a view: writing into it writes into `out`
    air = AirRegions(hu, frame.spacing_zyx) if any({"lungs", "extent"} & set(r) for r in rules.values()) else None
    changes: dict[str, dict] = {}
    boxes = label_boxes(view, max(rules))
    # The lumen may reach past the predicted trachea in plane: its box grows by this margin.
    margin = [int(np.ceil(LUMEN_MARGIN_MM / max(s, 1e-6))) for s in frame.spacing_zyx[1:]]
    for label, steps in rules.items():
        box = boxes[label - 1] if 0 < label <= len(boxes) else None
        if not steps or box is None:
            continue
        apex = air.highest_lung_slice if air is not None else None
        if "lumen" in steps:
            top = max(box[0].stop, apex + 1) if apex is not None else box[0].stop
            box = (
                slice(box[0].start, min(view.shape[0], top)),
                *(
                    slice(max(0, b.start - m), min(n, b.stop + m))
                    for b, m, n in zip(box[1:], margin, view.shape[1:], strict=True)
                ),
            )
        origin = (box[0].start, box[1].start, box[2].start)
        region = view[box]  # a view of `out` as well
        hu_box = hu[box]
        mask = region == label
        cleaned = mask
        by_rule: dict[str, dict[str, int]] = {}
        for rule in HU_RULES:  # in this order, whatever the order of `steps`
            if rule not in steps or (rule in ("lungs", "extent") and air is None):
                continue
            before = cleaned
            if rule == "lungs":
                cleaned = remove_lung_tissue(cleaned, air, hu_box, origin)
            elif rule == "extent":
                cleaned = limit_extent(cleaned, air, *_EXTENT_MM[organ_by_label(label).key], first_slice=origin[0])
            elif rule == "fat":
                cleaned = peel_fat(cleaned, hu_box, frame.spacing_zyx[1:])
            elif rule == "lumen":
                cleaned = complete_lumen(
                    cleaned,
                    hu_box,
                    region == 0,
                    frame.spacing_zyx[0],
                    frame.spacing_zyx[1] * frame.spacing_zyx[2],
                    up_to=None if apex is None else apex - origin[0],
                    pixel_mm=frame.spacing_zyx[1:],
                )
            elif rule == "neck":
                cleaned = cut_at_neck(cleaned, frame.spacing_zyx[1] * frame.spacing_zyx[2])
            elif rule == "bridge":
                cleaned = cleaned | bridge_gaps(cleaned, hu_box, region == 0, frame.spacing_zyx)
            by_rule[rule] = {
                "removed_voxels": int(np.count_nonzero(before & ~cleaned)),
                "added_voxels": int(np.count_nonzero(cleaned & ~before)),
            }
        removed, added = mask & ~cleaned, cleaned & ~mask
        region[removed] = 0
        region[added] = label
        changes[organ_by_label(label).key] = {
            "removed_voxels": int(removed.sum()),
            "added_voxels": int(added.sum()),
            "by_rule": by_rule,
        }
    if record is not None:
        record["lungs_found"] = None if air is None else air.lungs_found
        record["organs"] = changes
    return out


# organ -> (most mm below the lungs' lowest slice, most mm above their highest); None: no limit.
_EXTENT_MM: dict[str, tuple[float | None, float | None]] = {
    "heart": (HEART_BELOW_LUNGS_MM, None),  # the heart rests on the diaphragm
    "esophagus": (BELOW_LUNGS_MM, None),
    "aorta": (BELOW_LUNGS_MM, None),
    "trachea": (None, ABOVE_APEX_MM),
}
