"""Tissue classes of the phantom and their CT numbers (HU).

Anatomy is painted as a uint8 map of tissue classes; one table lookup turns it into HU. Values follow usual
CT numbers: air -1000, lung about -850, fat about -100, soft tissue 30-60, trabecular bone 300-420, cortical
bone 800-1200; with contrast, blood 160-340 and enhanced myocardium and liver.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    AIR = 0
    SKIN = 1
    FAT = 2
    MUSCLE = 3
    LUNG = 4
    ABDOMEN = 5  # bowel and mesentery, a soft-tissue/fat mixture
    BONE_CORTEX = 6
    BONE_TRABECULAR = 7
    RIB = 8
    CARTILAGE = 9
    DISC = 10
    CORD = 11
    BLOOD = 12
    MYOCARDIUM = 13
    ESOPHAGUS = 14
    AIRWAY_WALL = 15
    AIRWAY = 16
    LIVER = 17
    SPLEEN = 18
    KIDNEY = 19
    STOMACH_WALL = 20
    STOMACH_CONTENT = 21
    LUNG_VESSEL = 22
    # Generator v2 only (v1 never paints them).
    RIGHT_BLOOD = 23  # right heart, pulmonary arteries, venae cavae: later/less enhanced than the left heart
    THYMUS = 24
    ORAL_CONTRAST = 25
    TABLE = 26  # carbon-fibre skin of the patient table
    TABLE_FOAM = 27
    METAL = 28  # pacemaker, leads, clips
    PLAQUE = 29  # calcified plaque
    TUMOUR = 30
    FLUID = 31  # pleural effusion
    ATELECTASIS = 32
    GLAND = 33  # breast glandular tissue
    LYMPH_NODE = 34


def hu_lut(p: dict) -> np.ndarray:
    """A 256-entry float32 table from tissue class to HU, for the phantom parameters `p`."""
    c = bool(p["contrast"])
    soft = float(p["hu_muscle"])
    values = {
        Tissue.AIR: -1000.0,
        Tissue.SKIN: 25.0,
        Tissue.FAT: p["hu_fat"],
        Tissue.MUSCLE: soft,
        Tissue.LUNG: p["hu_lung"],
        Tissue.ABDOMEN: 15.0,
        Tissue.BONE_CORTEX: p["hu_bone_cortex"],
        Tissue.BONE_TRABECULAR: p["hu_bone_trabecular"],
        Tissue.RIB: 0.5 * (p["hu_bone_cortex"] + p["hu_bone_trabecular"]),
        Tissue.CARTILAGE: 110.0,
        Tissue.DISC: 80.0,
        Tissue.CORD: 30.0,
        Tissue.BLOOD: p["hu_blood"],
        Tissue.MYOCARDIUM: p["hu_myocardium"],
        Tissue.ESOPHAGUS: p["hu_esophagus"],
        Tissue.AIRWAY_WALL: 70.0,
        Tissue.AIRWAY: -1000.0,
        Tissue.LIVER: p["hu_liver"],
        Tissue.SPLEEN: p["hu_liver"] + (15.0 if c else -8.0),
        Tissue.KIDNEY: 190.0 if c else 32.0,
        Tissue.STOMACH_WALL: 75.0 if c else 40.0,
        Tissue.STOMACH_CONTENT: 12.0,
        Tissue.LUNG_VESSEL: p["hu_blood"],
        Tissue.RIGHT_BLOOD: p.get("hu_right_blood", p["hu_blood"]),
        Tissue.THYMUS: p.get("hu_thymus", -40.0),
        Tissue.ORAL_CONTRAST: p.get("hu_oral_contrast", 600.0),
        Tissue.TABLE: 250.0,
        Tissue.TABLE_FOAM: -920.0,
        Tissue.METAL: 3071.0,
        Tissue.PLAQUE: p.get("hu_plaque", 700.0),
        Tissue.TUMOUR: 35.0 + (25.0 if c else 0.0),
        Tissue.FLUID: 12.0,
        Tissue.ATELECTASIS: 35.0 + (40.0 if c else 0.0),
        Tissue.GLAND: p.get("hu_gland", -20.0),
        Tissue.LYMPH_NODE: 38.0 + (30.0 if c else 0.0),
    }
    lut = np.full(256, -1000.0, dtype=np.float32)
    for tissue, hu in values.items():
        lut[int(tissue)] = float(hu)
    return lut
