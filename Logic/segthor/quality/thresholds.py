"""Every number the quality checks compare against, in one place, each with where it comes from.

docs/quality.md lists the same values with their anatomical and clinical sources; keep both in step. Ranges
are deliberately wide: a flag should mean "look at this", not "this patient is unusual".
"""

from __future__ import annotations

from dataclasses import dataclass

from segthor.hounsfield import GAS_HU, LUNG_HU  # noqa: F401  (re-exported: the checks read T.LUNG_HU, T.GAS_HU)

# -- input checks --------------------------------------------------------------------------------------------

# Body: everything denser than this is patient (or table); the same threshold the body crop uses.
BODY_HU = -500.0
# Air enclosed by the body on an axial slice is lung (or trachea, or bowel gas) when darker than LUNG_HU; a piece
# of air at the reconstruction circle averaging below GAS_HU is outside air (-1000 HU), where lung the circle cuts
# averages about -850 HU with its vessels. Both are the clean-up rules' own values (`segthor.hounsfield`).
# A slice "shows lung" when enclosed air covers at least this share of the body's cross-section. Lung fields
# cover ~30-60 % of a mid-thoracic slice and still ~10 % at the bases; bowel gas rarely reaches 10 %.
LUNG_AREA_FRACTION = 0.10
# Adult lungs are ~24 cm high (apex to the dome of the diaphragm); a scan covering less than this many mm
# of lung holds too little of the thorax for the four organs.
MIN_LUNG_EXTENT_MM = 80.0
# ... and a scan whose slices show lung on fewer than this share is mostly outside the thorax (a SegTHOR
# scan, neck to upper abdomen, shows lung on well over half of its slices).
MIN_LUNG_SLICE_FRACTION = 0.20
# A slice is cut by the field of view when the body covers more than this share of an image edge (left,
# right or anterior; the posterior edge is where the table lies) ...
FOV_EDGE_FRACTION = 0.03
# ... and the warning fires when that happens on more than this share of the slices that hold body.
FOV_CUT_SLICE_FRACTION = 0.10
# A lateral edge cuts the thorax (not just an arm) when lung lies within this many mm of it.
FOV_LUNG_EDGE_MM = 15.0
# Below any air a CT measures (-1000 HU and its noise): the padding value scanners write outside the circle
# they reconstructed (-2048 or -3024 HU), which marks the field of view's edge inside the image.
PADDING_HU = -1500.0
# Angle (degrees) between the slice normal and the patient's superior-inferior axis: above the first the scan
# is oblique (tilted gantry or reformatted), above the second it is not an axial acquisition at all.
OBLIQUE_DEGREES = 5.0
NON_AXIAL_DEGREES = 45.0
# Spacing is "outside the trained range" beyond this relative tolerance (rounding of scanner values).
SPACING_TOLERANCE = 0.05
# Refusals: the esophagus is ~20 mm across, so pixels coarser than 10 mm leave it under two pixels wide; slices
# thicker than 25 mm leave the aortic arch and the carina on one slice. No model can segment that.
REFUSE_PIXEL_MM = 10.0
REFUSE_SLICE_MM = 25.0
# Training ranges assumed for a model package that does not record `training_spacing_range_mm`: SegTHOR's
# acquisition ranges ([Lambert2020], docs/references.md), which the synthetic training phantoms follow.
DEFAULT_TRAINING_SPACING_MM = {"in_plane": (0.90, 1.37), "slice": (2.0, 3.7)}
# Contrast phase from the upper-quartile HU of the mediastinal blood pool: unenhanced blood and myocardium are
# 30-60 HU; portal-venous enhancement brings blood to ~120-200 HU; CT angiography aims at >= 250 HU in the
# aorta, so 180 splits venous from arterial.
NON_CONTRAST_MAX_HU = 70.0
VENOUS_MAX_HU = 180.0
# Voxels counted as blood pool / myocardium in the mediastinum when estimating the phase.
MEDIASTINUM_HU = (-20.0, 600.0)
# Spine: dense bone behind the body's centre, within this many mm of the midline.
BONE_HU = 200.0
SPINE_HALF_WIDTH_MM = 20.0

# -- per-organ plausibility ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganLimits:
    """Plausible values for one organ as SegTHOR labels it (adult; thoracic part only where it is a tube)."""

    volume_ml: tuple[float, float]  # outside: check
    volume_hard_ml: tuple[float, float]  # outside: implausible
    hu_stat: str  # "median" or "p10" (10th percentile)
    hu_range: tuple[float, float]  # outside: check
    hu_hard_range: tuple[float, float]  # outside: implausible
    max_length_mm: float  # superior-inferior extent above which the label cannot be this organ
    expected_pieces: int  # pieces anatomy allows (the aorta below its arch: ascending + descending)


ORGAN_LIMITS: dict[str, OrganLimits] = {
    # Whole heart (chambers + myocardium): ~500-900 ml in healthy adults by CT (Lin et al. 2008 chamber
    # volumes plus myocardial mass); wide margins for cardiomegaly and small women.
    "heart": OrganLimits((250.0, 1400.0), (100.0, 2500.0), "median", (-30.0, 600.0), (-200.0, 1000.0), 180.0, 1),
    # Thoracic aorta: 25-37 mm wide (Hager et al. 2002), ~30 cm from valve to hiatus: ~100-250 ml.
    "aorta": OrganLimits((40.0, 450.0), (10.0, 900.0), "median", (-30.0, 600.0), (-200.0, 1000.0), 450.0, 2),
    # Trachea: 10-13 cm long, 13-25 mm wide (Breatnach et al. 1984): ~20-60 ml of air column.
    "trachea": OrganLimits((10.0, 120.0), (2.0, 250.0), "p10", (-2000.0, -400.0), (-2000.0, -100.0), 200.0, 1),
    # Esophagus: ~25 cm long, collapsed ~2 cm wide, wall 3-5 mm: ~15-50 ml in a chest CT.
    "esophagus": OrganLimits((5.0, 100.0), (1.0, 250.0), "median", (-400.0, 200.0), (-700.0, 600.0), 350.0, 1),
}
# Pieces: more than this share of the organ's volume outside its expected largest piece(s) -> check / implausible.
PIECE_SHARE_CHECK = 0.05
PIECE_SHARE_IMPLAUSIBLE = 0.25
# More separate pieces than this (any size) -> check: specks the clean-up should have removed.
MAX_PIECES = 5
# Relative positions, in mm: how far the wrong way an organ may lie before it is called implausible
# (partial volume, tilt of the patient, and a demo model's ragged edges).
POSITION_MARGIN_MM = 5.0
# Mean max-softmax inside the organ on the network grid: below these the network itself was unsure.
CONFIDENCE_CHECK = 0.80
CONFIDENCE_IMPLAUSIBLE = 0.60
# The esophagus and the (descending) aorta run through the whole thorax: on a scan that shows the lungs, they
# should cover at least this share of the lungs' superior-inferior extent.
TUBE_LUNG_COVERAGE = 0.6
# The heart's centre must lie within this many mm of the lungs' superior-inferior extent.
HEART_OUTSIDE_LUNGS_MM = 30.0
