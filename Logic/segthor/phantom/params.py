"""Drawing one phantom's parameters from its seed: acquisition, body habitus, organ sizes and positions, HU.

Everything that varies between phantoms is a named number in one flat, JSON-able dict, so a case's JSON file
says exactly how it was made and any value can be forced with `generate_case(..., name=value)`. Lengths are
in mm in the anatomical frame of `segthor.phantom.grid` (x to the patient's left, y posterior, z superior,
origin at the body centre on the carina's level).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segthor.errors import InputError

# SegTHOR's acquisition ranges (Lambert et al. 2020): 512x512x(150-284), 0.90-1.37 mm in plane, 2-3.7 mm slices.
SEGTHOR_SIZE = 512
SPACING_XY_RANGE = (0.90, 1.37)
SPACING_Z_RANGE = (2.0, 3.7)
N_SLICES_RANGE = (150, 284)
MIN_SIZE, MAX_SIZE = 32, 1024
MIN_SLICES = 16


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 2) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def draw_params(
    seed: int,
    size: int = SEGTHOR_SIZE,
    n_slices: int | None = None,
    contrast: bool | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """All parameters of one phantom, drawn reproducibly from `seed`; `overrides` replace drawn values."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer (got {seed!r})")
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise InputError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {size})")
    if n_slices is not None and int(n_slices) < MIN_SLICES:
        raise InputError(f"n_slices must be at least {MIN_SLICES} (got {n_slices}) to hold neck-to-abdomen anatomy")
    rng = np.random.default_rng(int(seed))
    scale = SEGTHOR_SIZE / int(size)  # voxels grow when the matrix shrinks; the anatomy keeps its size in mm

    p: dict[str, Any] = {"seed": int(seed), "size": int(size)}
    # Acquisition. Slice spacing is drawn with SegTHOR's mode (2.5 mm) most likely.
    p["spacing_xy"] = round(_u(rng, *SPACING_XY_RANGE, 3) * scale, 4)
    dz = float(np.clip(rng.triangular(SPACING_Z_RANGE[0], 2.5, SPACING_Z_RANGE[1]), *SPACING_Z_RANGE))
    n_drawn = int(rng.integers(N_SLICES_RANGE[0], N_SLICES_RANGE[1] + 1))
    extent = float(np.clip(n_drawn * dz, 380.0, 620.0))  # neck to upper abdomen
    if n_slices is None:
        # Small matrices get fewer, thicker slices too, but less so than in plane (sqrt), to keep z detail.
        n_slices = max(MIN_SLICES, int(round(extent / dz / np.sqrt(scale))))
    p["n_slices"] = int(n_slices)
    p["spacing_z"] = round(extent / int(n_slices), 4)
    p["contrast"] = bool(rng.random() < 0.5) if contrast is None else bool(contrast)
    p["noise_sd_hu"] = _u(rng, 8.0, 22.0, 1)
    p["psf_sigma_mm"] = _u(rng, 0.45, 0.9)
    p["body_x_lps"] = _u(rng, -12.0, 12.0, 1)
    p["body_y_lps"] = _u(rng, -10.0, 35.0, 1)
    p["carina_z_lps"] = _u(rng, -420.0, -120.0, 1)

    # Scan extent: the top lies in the lower neck/shoulders; the bottom below the lowest label.
    p["z_top_mm"] = _u(rng, 115.0, 185.0, 1)

    # Body habitus.
    # Lean half sizes plus subcutaneous fat: a fat patient is bigger, not shallower inside.
    p["fat_mm"] = _u(rng, 6.0, 28.0, 1)
    p["body_half_width_mm"] = round(_u(rng, 130.0, 160.0, 1) + p["fat_mm"], 1)
    p["body_anterior_mm"] = round(_u(rng, 100.0, 122.0, 1) + p["fat_mm"], 1)
    p["body_posterior_mm"] = round(_u(rng, 90.0, 105.0, 1) + 0.5 * p["fat_mm"], 1)
    p["belly_factor"] = _u(rng, 0.0, 0.25)
    p["muscle_mm"] = _u(rng, 8.0, 16.0, 1)
    p["paraspinal_mm"] = _u(rng, 22.0, 34.0, 1)

    # Skeleton.
    p["vertebra_rx_mm"] = _u(rng, 17.0, 21.0, 1)
    p["vertebra_ry_mm"] = _u(rng, 14.0, 17.0, 1)
    p["vertebra_height_mm"] = _u(rng, 22.0, 27.0, 1)
    p["kyphosis_mm"] = _u(rng, 4.0, 18.0, 1)
    p["rib_drop_mm"] = _u(rng, 75.0, 110.0, 1)
    p["rib_radius_mm"] = _u(rng, 3.8, 5.0)

    # Lungs and diaphragm.
    p["lung_apex_z_mm"] = _u(rng, 70.0, 100.0, 1)
    p["dome_right_z_mm"] = _u(rng, -122.0, -88.0, 1)
    p["dome_left_drop_mm"] = _u(rng, 5.0, 25.0, 1)

    # Airways.
    p["trachea_radius_mm"] = _u(rng, 7.5, 9.5)
    p["trachea_wall_mm"] = _u(rng, 1.6, 2.4)
    p["trachea_x_mm"] = _u(rng, -5.0, 1.0, 1)
    p["bronchus_angle_right_deg"] = _u(rng, 20.0, 32.0, 1)
    p["bronchus_angle_left_deg"] = _u(rng, 38.0, 52.0, 1)
    p["larynx_z_mm"] = _u(rng, 100.0, 130.0, 1)

    # Esophagus.
    p["esophagus_rx_mm"] = _u(rng, 6.0, 8.0)
    p["esophagus_ry_mm"] = _u(rng, 4.0, 5.5)
    p["esophagus_x_mm"] = _u(rng, 3.0, 9.0, 1)
    p["esophagus_air"] = bool(rng.random() < 0.35)
    p["gej_depth_mm"] = _u(rng, 15.0, 35.0, 1)
    p["esophagus_top_z_mm"] = _u(rng, 150.0, 180.0, 1)  # C4

    # Aorta.
    p["aorta_radius_asc_mm"] = _u(rng, 12.5, 15.5)
    p["aorta_radius_desc_mm"] = _u(rng, 9.5, 12.0)
    p["arch_top_z_mm"] = _u(rng, 22.0, 45.0, 1)
    p["aorta_desc_x_mm"] = _u(rng, 26.0, 33.0, 1)
    p["aorta_label_below_dome_mm"] = _u(rng, 30.0, 50.0, 1)

    # Heart.
    p["heart_scale"] = _u(rng, 0.9, 1.12, 3)
    p["heart_x_mm"] = _u(rng, 12.0, 28.0, 1)
    p["heart_tilt_deg"] = _u(rng, 25.0, 45.0, 1)
    p["heart_gap_mm"] = _u(rng, 3.0, 7.0, 1)

    # Labels stop short of the volume's top for tubular organs (the radiotherapist stopped contouring).
    p["label_top_gap_mm"] = _u(rng, 6.0, 25.0, 1)
    p["bottom_margin_mm"] = _u(rng, 20.0, 60.0, 1)

    # Tissue values (HU). Contrast enhances blood, myocardium and parenchyma.
    c = p["contrast"]
    p["hu_fat"] = _u(rng, -115.0, -85.0, 1)
    p["hu_muscle"] = _u(rng, 40.0, 60.0, 1)
    p["hu_lung"] = _u(rng, -880.0, -820.0, 1)
    p["lung_gradient_hu"] = _u(rng, 20.0, 60.0, 1)
    p["hu_bone_cortex"] = _u(rng, 800.0, 1200.0, 1)
    p["hu_bone_trabecular"] = _u(rng, 300.0, 420.0, 1)
    p["hu_blood"] = _u(rng, 160.0, 340.0, 1) if c else _u(rng, 35.0, 50.0, 1)
    p["hu_myocardium"] = _u(rng, 90.0, 140.0, 1) if c else _u(rng, 40.0, 55.0, 1)
    p["hu_liver"] = _u(rng, 80.0, 120.0, 1) if c else _u(rng, 50.0, 65.0, 1)
    p["hu_esophagus"] = _u(rng, 30.0, 55.0, 1) if c else _u(rng, 30.0, 50.0, 1)

    # Sub-seeds for the random lung vessel tree and the scanner noise.
    p["vessel_seed"] = int(rng.integers(0, 2**31 - 1))
    p["noise_seed"] = int(rng.integers(0, 2**31 - 1))

    unknown = sorted(set(overrides) - set(p))
    if unknown:
        raise InputError(f"unknown phantom parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(p))}")
    for key, value in overrides.items():
        try:
            p[key] = bool(value) if isinstance(p[key], bool) else type(p[key])(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"phantom parameter {key} must be a number (got {value!r})") from exc
    return p
