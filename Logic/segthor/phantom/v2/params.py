"""Generator v2's parameters: v1's (acquisition, habitus, skeleton, HU) plus the template's per-case variation.

The v2 values are drawn from their own stream (seed, 2), so v1's draw for a seed is unchanged. Lengths in mm,
angles in degrees; every value lands in the case JSON and can be forced with overrides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segthor.errors import InputError
from segthor.phantom.params import draw_params

PHASES = ("non_contrast", "arterial", "venous")
ESOPHAGUS_STATES = ("collapsed", "air", "oral_contrast")


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def draw_params_v2(
    seed: int,
    size: int = 512,
    n_slices: int | None = None,
    contrast: bool | None = None,
    domain_random: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """All parameters of one v2 phantom (see `segthor.phantom.params.draw_params` for the v1 part)."""
    v1_keys = set(draw_params(0, 64, 16, False))
    p = draw_params(seed, size, n_slices, contrast, **{k: v for k, v in overrides.items() if k in v1_keys})
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    v: dict[str, Any] = {"generator": "v2"}
    v["v2_carina_x_mm"] = float(p["trachea_x_mm"])
    v["v2_carina_y_mm"] = _u(rng, -28.0, -8.0, 1)
    v["v2_scale_x"] = _u(rng, 0.9, 1.12)
    v["v2_scale_y"] = _u(rng, 0.88, 1.12)
    v["v2_scale_z"] = _u(rng, 0.9, 1.12)
    for axis in "xyz":
        v[f"v2_rot_{axis}_deg"] = _u(rng, -4.0, 4.0, 2)
    v["v2_warp_mm"] = _u(rng, 1.5, 6.0, 2)
    v["v2_heart_scale"] = _u(rng, 0.88, 1.15)
    v["v2_heart_rot_deg"] = _u(rng, -12.0, 12.0, 2)
    v["v2_arch_unfold"] = _u(rng, 0.9, 1.35)
    v["v2_trachea_scale"] = _u(rng, 0.8, 1.2)
    v["v2_dome_above_heart_mm"] = _u(rng, 8.0, 28.0, 1)
    v["v2_esophagus_gap_mm"] = _u(rng, 1.5, 5.0, 2)
    if p["contrast"]:
        v["phase"] = PHASES[1 + int(rng.random() < 0.5)]
    else:
        v["phase"] = PHASES[0]
    if "phase" in overrides:  # a forced phase decides the blood values drawn next
        v["phase"] = str(overrides["phase"])
        if v["phase"] not in PHASES:
            raise InputError(f"phase must be one of {', '.join(PHASES)} (got {v['phase']!r})")
    v["esophagus_state"] = ESOPHAGUS_STATES[int(rng.choice(3, p=[0.55, 0.35, 0.10]))]
    # Blood by phase: arterial = bright left heart and aorta, mixing in the right heart; venous = all alike.
    if v["phase"] == "arterial":
        v["hu_blood_v2"] = _u(rng, 230.0, 420.0, 1)
        v["hu_right_blood"] = _u(rng, 120.0, 320.0, 1)
    elif v["phase"] == "venous":
        v["hu_blood_v2"] = _u(rng, 120.0, 190.0, 1)
        v["hu_right_blood"] = round(v["hu_blood_v2"] + _u(rng, -15.0, 15.0, 1), 1)
    else:
        v["hu_blood_v2"] = _u(rng, 32.0, 50.0, 1)
        v["hu_right_blood"] = v["hu_blood_v2"]
    v["hu_thymus"] = _u(rng, -90.0, 20.0, 1)
    v["hu_oral_contrast"] = _u(rng, 300.0, 900.0, 1)
    # Closer to real chest CT than v1's table (LIDC-IDRI-0314: median fat -85 HU, soft tissue 43 HU), and lungs
    # that widen faster below the apex. v1 keys: a user's override still wins (applied in draw_params above).
    for key, lo, hi in (("hu_fat", -112.0, -72.0), ("hu_muscle", 32.0, 58.0)):
        value = _u(rng, lo, hi, 1)
        if key not in overrides:
            p[key] = value
    v["apex_cap_mm"] = _u(rng, 50.0, 90.0, 1)
    # Wider acquisition ranges than SegTHOR's (real scanners and hospitals): pixels 0.68-1.4 mm at 512 (the
    # smallest fields of view cut the body's sides, as small reconstructions do), slices 1.25-5 mm (mode
    # 2.5 mm) over the same neck-to-abdomen extent, at most 320 slices.
    scale = 512 / int(size)
    pixel = round(float(rng.uniform(0.68, 1.4)) * scale, 4)
    dz = float(rng.triangular(1.25, 2.5, 5.0))
    if "spacing_xy" not in overrides:
        p["spacing_xy"] = pixel
    if n_slices is None and "spacing_z" not in overrides and "n_slices" not in overrides:
        extent = float(np.clip(p["n_slices"] * p["spacing_z"], 380.0, 620.0))
        n = int(min(320, max(16, round(extent / dz / np.sqrt(scale)))))
        p["n_slices"] = n
        p["spacing_z"] = round(extent / n, 4)
    v["pectoralis_mm"] = _u(rng, 6.0, 22.0, 1)
    v["latissimus_mm"] = _u(rng, 5.0, 16.0, 1)
    v["peripheral_vessels"] = int(rng.integers(300, 1200))
    v["texture_lung_hu"] = _u(rng, 10.0, 35.0, 1)
    v["texture_soft_hu"] = _u(rng, 3.0, 10.0, 1)
    # Context and pathology (segthor.phantom.v2.extras).
    v["arms"] = ("up", "down", "none")[int(rng.choice(3, p=[0.6, 0.3, 0.1]))]
    v["arm_radius_mm"] = _u(rng, 38.0, 52.0, 1)
    v["breast_radius_mm"] = _u(rng, 40.0, 80.0, 1) if rng.random() < 0.45 else 0.0
    v["breast_gland_fraction"] = _u(rng, 0.3, 0.75, 2)
    v["hu_gland"] = _u(rng, -60.0, 30.0, 1)
    v["table_gap_mm"] = _u(rng, 0.0, 6.0, 1)
    v["table_radius_mm"] = _u(rng, 500.0, 1200.0, 0)
    v["table_half_width_mm"] = _u(rng, 200.0, 240.0, 0)
    v["lymph_nodes"] = int(rng.integers(0, 7))
    v["tumour_mm"] = _u(rng, 8.0, 45.0, 1) if rng.random() < 0.3 else 0.0
    v["effusion"] = ("none", "right", "left")[int(rng.choice(3, p=[0.8, 0.1, 0.1]))]
    v["effusion_depth_mm"] = _u(rng, 10.0, 45.0, 1)
    v["atelectasis_mm"] = _u(rng, 3.0, 15.0, 1)
    v["plaques"] = int(rng.integers(0, 9)) if rng.random() < 0.4 else 0
    v["hu_plaque"] = _u(rng, 400.0, 1200.0, 0)
    v["pacemaker"] = bool(rng.random() < 0.1)
    v["clips"] = int(rng.integers(1, 4)) if rng.random() < 0.15 else 0
    v["streak_hu"] = _u(rng, 60.0, 250.0, 0)
    v["beam_hardening_hu"] = _u(rng, 0.0, 60.0, 0)
    v["extras_seed"] = int(rng.integers(0, 2**31 - 1))
    v["domain_random"] = bool(domain_random)
    v["v2_warp_seed"] = int(rng.integers(0, 2**31 - 1))
    v["appearance_seed"] = int(rng.integers(0, 2**31 - 1))
    # Drawn last so that every earlier draw of a seed is unchanged. The descending aorta against the vertebral
    # bodies, its centre 0-30 mm left of the midline (segthor.phantom.v2.aorta), the esophagus on the spine.
    # 20-30 mm is the textbook adult position; older patients' ectatic, tortuous aortas often lie on the midline
    # in front of the vertebral bodies, the esophagus then right of and in front of them (a real non-contrast CT
    # whose midline aorta the weights trained on 20-30 mm alone called esophagus, docs/phantoms.md).
    v["v2_aorta_desc_x_mm"] = _u(rng, 0.0, 30.0, 1)
    v["v2_aorta_spine_gap_mm"] = _u(rng, 0.3, 3.0, 2)
    v["v2_spine_gap_mm"] = _u(rng, 1.5, 5.0, 2)
    # SegTHOR's esophagus label includes the wall: collapsed, about 15-22 mm wide and 8-14 mm deep in adults
    # (150-250 mm2). v1 keys: a user's override still wins.
    for key, lo, hi in (("esophagus_rx_mm", 7.5, 10.0), ("esophagus_ry_mm", 5.0, 6.2)):
        value = _u(rng, lo, hi)
        if key not in overrides:
            p[key] = value
    # Drawn after everything above (earlier draws of a seed unchanged): the posterior mediastinum's fat (the
    # closing radius that decides how much of the gaps between heart, esophagus, aorta and spine it fills) and the
    # azygos vein (3-5.5 mm, 8-16 mm right of the midline, arching 12-30 mm above the carina).
    v["v2_mediastinum_close_mm"] = _u(rng, 6.0, 20.0, 1)
    v["azygos_radius_mm"] = _u(rng, 3.0, 5.5, 2)
    v["azygos_x_mm"] = _u(rng, 8.0, 16.0, 1)
    v["azygos_arch_mm"] = _u(rng, 12.0, 30.0, 1)
    # Drawn after everything above: below the diaphragm, the retroperitoneal fat around the aorta and the
    # diaphragmatic crura beside it (segthor.phantom.v2.extras.paint_retroperitoneum).
    v["retro_fat_mm"] = _u(rng, 1.5, 6.0, 1)
    v["crus_mm"] = _u(rng, 3.0, 8.0, 1)
    # Drawn after everything above: in 30 % of cases a reconstruction circle of 320-420 mm, off the body's centre
    # by up to 15 mm, that cuts the body's sides and arms, with a scanner's padding value outside it
    # (segthor.phantom.v2.appearance.field_of_view_outside). All four are drawn whether or not it is used.
    use_circle = bool(rng.random() < 0.3)
    circle = _u(rng, 320.0, 420.0, 0)
    v["fov_circle_mm"] = circle if use_circle else 0.0
    v["fov_offset_x_mm"] = _u(rng, -15.0, 15.0, 1)
    v["fov_offset_y_mm"] = _u(rng, -15.0, 15.0, 1)
    v["fov_pad_hu"] = (-3024.0, -2048.0, -1024.0)[int(rng.integers(0, 3))]
    unknown = sorted(set(overrides) - v1_keys - set(v))
    if unknown:
        raise InputError(
            f"unknown phantom parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(v1_keys | set(v)))}"
        )
    for key, value in overrides.items():
        if key in v:
            try:
                v[key] = type(v[key])(value) if not isinstance(v[key], str) else str(value)
            except (TypeError, ValueError) as exc:
                raise InputError(f"phantom parameter {key} must be a {type(v[key]).__name__} (got {value!r})") from exc
    if v["phase"] not in PHASES:
        raise InputError(f"phase must be one of {', '.join(PHASES)} (got {v['phase']!r})")
    for key, lo, hi, what in (
        ("retro_fat_mm", 0.0, 30.0, "mm"),
        ("crus_mm", 0.0, 30.0, "mm"),
        ("fov_offset_x_mm", -200.0, 200.0, "mm"),
        ("fov_offset_y_mm", -200.0, 200.0, "mm"),
        ("fov_pad_hu", -32768.0, -1024.0, "HU (a padding value below air)"),
    ):
        if not lo <= v[key] <= hi:  # also refuses nan
            raise InputError(f"{key} must be between {lo:g} and {hi:g} {what} (got {v[key]!r})")
    if not (v["fov_circle_mm"] == 0.0 or 100.0 <= v["fov_circle_mm"] <= 2000.0):
        raise InputError(f"fov_circle_mm must be 0 (no circle) or 100-2000 mm (got {v['fov_circle_mm']!r})")
    for key, allowed in (("arms", ("up", "down", "none")), ("effusion", ("none", "right", "left"))):
        if v[key] not in allowed:
            raise InputError(f"{key} must be one of {', '.join(allowed)} (got {v[key]!r})")
    if v["esophagus_state"] not in ESOPHAGUS_STATES:
        raise InputError(f"esophagus_state must be one of {', '.join(ESOPHAGUS_STATES)} (got {v['esophagus_state']!r})")
    p.update(v)
    p["contrast"] = p["phase"] != "non_contrast"
    p["hu_blood"] = p["hu_blood_v2"]
    p["esophagus_air"] = p["esophagus_state"] == "air"
    return p
