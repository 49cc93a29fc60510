"""Checks of a CT before inference: does the scan suit the model? Each a warning with its reason, or a refusal.

Warnings (recorded in the case JSON, shown by every front door): the scan lies (mostly) outside the thorax,
the field of view cuts the body, spacing outside what the model was trained on, oblique or non-axial
acquisition, and an unexpected contrast phase. Refusals (`InputError`): voxels so coarse that no model can
draw the organs. Thresholds and their sources: `segthor.quality.thresholds` and docs/quality.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segthor.errors import InputError
from segthor.io.patient_frame import PatientFrame, slice_normal_angle_deg
from segthor.io.volume import Volume
from segthor.quality import thresholds as T
from segthor.quality.findings import InputQuality
from segthor.quality.landmarks import Landmarks, find_landmarks

TRAINING_SPACING_KEY = "training_spacing_range_mm"
TRAINING_PHASES_KEY = "training_contrast_phases"


def training_spacing_range(metadata: Mapping[str, Any] | None) -> tuple[dict[str, tuple[float, float]], bool]:
    """The model's trained spacing range {"in_plane": (lo, hi), "slice": (lo, hi)} in mm, and whether the
    package recorded it (False: SegTHOR's acquisition range is assumed). Raises nothing: a malformed entry
    counts as absent."""
    entry = (metadata or {}).get(TRAINING_SPACING_KEY)
    try:
        ranges = {k: (float(entry[k][0]), float(entry[k][1])) for k in ("in_plane", "slice")}  # type: ignore[index]
        return ranges, True
    except (TypeError, KeyError, IndexError, ValueError):
        return dict(T.DEFAULT_TRAINING_SPACING_MM), False


def contrast_phase(blood_pool_hu: float | None) -> str:
    """ "non-contrast", "venous" or "arterial" from the mediastinal blood pool's upper-quartile HU (None: "unknown")."""
    if blood_pool_hu is None:
        return "unknown"
    if blood_pool_hu < T.NON_CONTRAST_MAX_HU:
        return "non-contrast"
    return "venous" if blood_pool_hu < T.VENOUS_MAX_HU else "arterial"


def _refuse_coarse(frame: PatientFrame, name: str) -> None:
    pixel = max(frame.spacing_zyx[1], frame.spacing_zyx[2])
    if pixel > T.REFUSE_PIXEL_MM:
        raise InputError(
            f"{name} has {pixel:.1f} mm pixels: the esophagus would be under two pixels wide and no model can draw "
            f"it; give a CT with pixels of at most {T.REFUSE_PIXEL_MM:g} mm (a diagnostic reconstruction, not a scout)"
        )
    if frame.spacing_zyx[0] > T.REFUSE_SLICE_MM:
        raise InputError(
            f"{name} has {frame.spacing_zyx[0]:.1f} mm between slices: the organs span too few slices to be drawn; "
            f"give a CT with slices at most {T.REFUSE_SLICE_MM:g} mm apart"
        )


def check_input(
    ct: Volume, metadata: Mapping[str, Any] | None = None, name: str = "input", landmarks: Landmarks | None = None
) -> tuple[InputQuality, Landmarks]:
    """Run every input check on `ct` (HU, any orientation) for a model with `metadata` (its model.json).

    Returns the findings and the landmarks they were drawn from (the organ checks reuse them). Raises
    `InputError` (one line) where no model can work on the CT.
    """
    frame = PatientFrame.of(ct)
    _refuse_coarse(frame, name)
    result = InputQuality()
    marks = landmarks or find_landmarks(ct)
    _check_body_region(marks, result)
    _check_field_of_view(marks, result)
    _check_spacing(frame, metadata, result)
    _check_orientation(ct, result)
    _check_contrast(marks, metadata, result)
    return result, marks


def _check_body_region(marks: Landmarks, out: InputQuality) -> None:
    n = marks.n_slices
    n_lung = int(marks.lung_slices.sum())
    extent = marks.lung_extent_mm()
    lung_range = marks.lung_range()
    scan_mm = n * marks.frame.spacing_zyx[0]
    out.facts["body_region"] = {
        "lungs_present": n_lung > 0,
        "lung_slices": n_lung,
        "slices": n,
        "lung_extent_mm": round(extent, 1),
        # Slice indices counted from the most inferior slice (the scan's feet end).
        "lung_slice_range_from_inferior": list(lung_range) if lung_range else None,
        "scan_extent_mm": round(scan_mm, 1),
    }
    n_body = max(1, int(marks.body_slices.sum()))
    tight = max(marks.fov_cut_sides.values(), default=0) > 0.5 * n_body
    if n_lung == 0 and tight:
        # Lungs are found as air enclosed by the body; a body cut open by the image edge encloses nothing.
        out.warn(
            "outside_thorax",
            f"no lungs found on any of the {n} slices: the scan lies outside the thorax, or "
            "its field of view is cut so tightly that lungs cannot be told from outside air; "
            "expect missing or wrong organs",
        )
    elif n_lung == 0:
        out.warn(
            "outside_thorax",
            f"no lungs on any of the {n} slices: the scan lies outside the thorax, so the "
            "four organs will be missing or wrong",
        )
    elif extent < T.MIN_LUNG_EXTENT_MM or n_lung < T.MIN_LUNG_SLICE_FRACTION * n:
        lo, hi = lung_range  # type: ignore[misc]
        out.warn(
            "outside_thorax",
            f"lungs on only {n_lung} of {n} slices ({extent:.0f} mm, slices {lo}-{hi} from the "
            "inferior end): the scan lies mostly outside the thorax; expect missing or partial "
            "organs",
        )


def _check_field_of_view(marks: Landmarks, out: InputQuality) -> None:
    n_body = int(marks.body_slices.sum())
    out.facts["field_of_view"] = {"slices_cut_by_edge": dict(marks.fov_cut_sides), "body_slices": n_body}
    cut = {side: c for side, c in marks.fov_cut_sides.items() if n_body and c > T.FOV_CUT_SLICE_FRACTION * n_body}
    if cut:
        sides = ", ".join(f"{side} on {c} slices" for side, c in cut.items())
        out.warn(
            "fov_cuts_body",
            f"the field of view cuts the body ({sides} of {n_body}): organs near the cut edge "
            "may be missing; reconstruct with a larger field of view if you can",
        )


def averaged_pixel_mm(pixel_mm: float, metadata: Mapping[str, Any] | None, axis: int = 0) -> float:
    """The pixel size (mm) along in-plane `axis` (0: x, left-right; 1: y, anterior-posterior) that the network's
    input is made from: a CT pixel that the model's preprocessing recipe downsamples by 2x or more is averaged
    in blocks of floor(target / pixel) first (`preprocessing.grid.block_average`), so the network sees pixel x
    that factor; otherwise the pixel itself (no recipe, no target spacing on that axis, or `area_average` off).
    Raises nothing: an unreadable recipe counts as none."""
    from segthor.preprocessing.grid import block_factor
    from segthor.preprocessing.recipe import get_recipe

    try:
        recipe = get_recipe((metadata or {})["preprocessing"])
    except (KeyError, TypeError, ValueError):
        return pixel_mm
    target = recipe.spacing[axis] if recipe.spacing is not None else None
    if not recipe.area_average or target is None or pixel_mm <= 0:
        return pixel_mm
    return pixel_mm * block_factor(pixel_mm, target)


def _check_spacing(frame: PatientFrame, metadata: Mapping[str, Any] | None, out: InputQuality) -> None:
    ranges, recorded = training_spacing_range(metadata)
    pixel = (frame.spacing_zyx[1], frame.spacing_zyx[2])
    # Finer pixels than the model was trained on are averaged into its range before the network sees them.
    seen = (averaged_pixel_mm(pixel[0], metadata, axis=1), averaged_pixel_mm(pixel[1], metadata, axis=0))
    slice_mm = frame.spacing_zyx[0]
    out.facts["spacing"] = {
        "pixel_mm": [round(p, 3) for p in pixel],
        "averaged_pixel_mm": [round(p, 3) for p in seen],
        "slice_mm": round(slice_mm, 3),
        "trained_range_mm": {k: list(v) for k, v in ranges.items()},
        "trained_range_source": "model package" if recorded else "assumed (SegTHOR acquisition range)",
    }
    tol = T.SPACING_TOLERANCE
    # Say where the range comes from: a package without one gets SegTHOR's, which its training data may not match.
    whose = "the model's trained range" if recorded else "SegTHOR's acquisition range (the model records none)"
    lo, hi = ranges["in_plane"]
    if any(p < lo * (1 - tol) or p > hi * (1 + tol) for p in seen):
        out.warn(
            "pixel_size",
            f"pixel size {pixel[0]:.2f} x {pixel[1]:.2f} mm is outside {whose} "
            f"({lo:g}-{hi:g} mm); results may be less accurate",
        )
    lo, hi = ranges["slice"]
    if slice_mm < lo * (1 - tol) or slice_mm > hi * (1 + tol):
        out.warn(
            "slice_spacing",
            f"slice spacing {slice_mm:.2f} mm is outside {whose} ({lo:g}-{hi:g} mm); results may be less accurate",
        )


def _check_orientation(ct: Volume, out: InputQuality) -> None:
    angle = slice_normal_angle_deg(ct)
    out.facts["slice_normal_angle_deg"] = round(angle, 2)
    if angle > T.NON_AXIAL_DEGREES:
        out.warn(
            "non_axial",
            f"the slices are not axial (their normal is {angle:.0f} degrees from the head-feet "
            "axis, a sagittal or coronal acquisition): the CT is resampled to axial slices, "
            "which blurs thin organs",
        )
    elif angle > T.OBLIQUE_DEGREES:
        out.warn(
            "oblique",
            f"the slices are tilted {angle:.0f} degrees from axial (gantry tilt or an oblique "
            "reformat): the CT is resampled to axial slices, which blurs thin organs",
        )


def _check_contrast(marks: Landmarks, metadata: Mapping[str, Any] | None, out: InputQuality) -> None:
    phase = contrast_phase(marks.mediastinum_hu)
    out.facts["contrast"] = {
        "phase_estimate": phase,
        "mediastinum_p75_hu": None if marks.mediastinum_hu is None else round(marks.mediastinum_hu, 1),
    }
    trained = (metadata or {}).get(TRAINING_PHASES_KEY)
    if phase != "unknown" and isinstance(trained, list) and trained and phase not in trained:
        out.warn(
            "contrast_phase",
            f"the scan looks {phase} (mediastinal blood pool "
            f"{marks.mediastinum_hu:.0f} HU) but the model was trained on "
            f"{', '.join(map(str, trained))} scans only",
        )
