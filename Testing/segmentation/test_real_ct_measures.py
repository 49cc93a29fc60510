"""The real-CT plausibility figures of benchmarks/real_ct_measures.py on a small synthetic chest whose answers
are known: a tracheal air tube that splits at a carina, two lungs, a spine, and labels placed on purpose."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from real_ct_measures import airway_reference, body_interior, checks, lungs, measure, spine_centre_y  # noqa: E402

SPACING = (2.0, 2.0, 2.0)  # (sx, sy, sz) mm
CARINA_Z = 20


def _chest() -> np.ndarray:
    """[z, y, x] HU, LPS-canonical (z up, y posterior, x left): 48 slices of 64 x 64 voxels of 2 mm."""
    hu = np.full((48, 64, 64), -1000.0, np.float32)
    hu[:, 6:58, 6:58] = 0.0  # the body (a square prism), air outside
    hu[4:40, 14:44, 10:28] = -850.0  # right lung (x small = patient's right)
    hu[4:40, 14:44, 36:54] = -850.0  # left lung
    hu[:, 48:54, 29:35] = 400.0  # vertebral bodies, posterior midline
    hu[CARINA_Z + 1 :, 20:25, 30:34] = -1000.0  # trachea above the carina: 5 x 4 voxels = 80 mm^2
    hu[CARINA_Z - 8 : CARINA_Z + 1, 20:25, 29:31] = -1000.0  # two main bronchi
    hu[CARINA_Z - 8 : CARINA_Z + 1, 20:25, 33:35] = -1000.0
    return hu


@pytest.fixture(scope="module")
def chest():
    hu = _chest()
    body = body_interior(hu)
    airway = airway_reference(hu, body, SPACING)
    lung = lungs(hu, body, airway, SPACING)
    return hu, body, airway, lung


def test_airway_reference_grows_the_trachea_to_the_carina_and_follows_the_bronchi(chest):
    hu, body, airway, lung = chest
    assert airway.seed_z == 47 and airway.carina_z == CARINA_Z
    expected = np.zeros(hu.shape, bool)
    expected[CARINA_Z + 1 :, 20:25, 30:34] = True
    np.testing.assert_array_equal(airway.above_carina, expected)
    # 20 mm of bronchi = 10 slices, but the bronchi end 8 slices below the carina (z 12..20).
    assert airway.with_bronchi[CARINA_Z - 8].any() and not airway.with_bronchi[CARINA_Z - 9].any()
    assert body[0, 30, 30] and not body[0, 2, 2]
    assert lung[20, 30, 15] and lung[20, 30, 45] and not lung[30, 22, 31]  # lungs, not the trachea


def test_no_seed_in_an_abdomen_like_scan():
    hu = np.full((20, 64, 64), -1000.0, np.float32)
    hu[:, 6:58, 6:58] = 30.0
    hu[:, 30:34, 30:34] = -1000.0  # a gas column of 32 mm (slices 4-19): shorter than a trachea
    hu[:4] = 30.0
    body = body_interior(hu)
    airway = airway_reference(hu, body, SPACING)
    assert airway.seed_z is None and not airway.above_carina.any()


def test_measure_scores_a_plausible_and_an_implausible_segmentation(chest):
    hu, body, airway, lung = chest
    spine_y = spine_centre_y(hu, body, SPACING)
    labels = np.zeros(hu.shape, np.uint8)
    labels[airway.with_bronchi] = 3  # trachea = the lumen: all air, full coverage
    labels[CARINA_Z + 1 : 44, 30:34, 30:34] = 1  # esophagus: behind the trachea, in front of the spine
    labels[8:18, 20:44, 28:36] = 2  # heart (too small for an adult, but one piece, not in the lungs)
    labels[8:46, 40:44, 36:40] = 4  # aorta: a column reaching above the heart
    figures = measure(hu, labels, SPACING, airway, lung, spine_y)
    tr = figures["trachea"]
    assert tr["air_share"] == 1.0 and tr["lumen_coverage"] == 1.0 and tr["pieces"] == 1
    assert figures["esophagus"]["in_lungs"] == 0.0
    assert figures["positions"]["trachea_anterior_to_esophagus"] == 1.0
    assert figures["positions"]["esophagus_anterior_to_spine"] == 1.0
    assert figures["positions"]["aorta_top_above_heart_top_mm"] == pytest.approx((45 - 17) * 2.0)
    assert figures["heart"]["in_range"] == 0  # 10 x 24 x 8 voxels of 8 mm^3 = 15 ml
    passed = checks(figures, lumen_present=True)
    assert passed["trachea_covers_lumen"] and passed["trachea_one_piece"] and not passed["heart_adult_volume"]

    # A trachea in two pieces, half of it in a lung; a heart missing.
    bad = labels.copy()
    bad[bad == 2] = 0
    bad[30:36, 20:30, 12:20] = 3
    figures = measure(hu, bad, SPACING, airway, lung, spine_y)
    tr = figures["trachea"]
    assert tr["pieces"] == 2 and tr["outside_largest"] > 0.05 and tr["in_lungs"] > 0.2
    assert figures["heart"]["pieces"] == 0 and figures["heart"]["outside_largest"] is None
    passed = checks(figures, lumen_present=True)
    assert not passed["trachea_one_piece"] and not passed["trachea_not_in_lungs"] and not passed["heart_one_piece"]
