"""Per-organ plausibility: each check fires on labels made to break it, and stays quiet on good labels."""

import numpy as np
import pytest
from thorax_helpers import METADATA, make_thorax

from segthor.quality import assess


def _verdict(ct, labels, confidence=None):
    report = assess(ct, labels, METADATA, confidence)
    return {k: (q.status, {f.check for f in q.findings}) for k, q in report.organs.items()}, report


def _only(verdict, organ, status, check):
    """`organ` has `status` from `check` (among possibly others); every other organ is ok unless listed."""
    got_status, checks = verdict[organ]
    assert got_status == status, verdict
    assert check in checks, verdict


def test_good_labels_are_ok():
    verdict, report = _verdict(
        *make_thorax(), confidence={"esophagus": 0.95, "heart": 0.99, "trachea": 0.97, "aorta": 0.96}
    )
    assert all(status == "ok" for status, _ in verdict.values()), verdict
    assert not report.needs_review
    assert report.organs["heart"].measures["confidence"] == 0.99


def test_empty_organ_is_implausible():
    ct, labels = make_thorax()
    labels.array[labels.array == 3] = 0
    verdict, report = _verdict(ct, labels)
    assert verdict["trachea"] == ("implausible", {"empty"})
    assert report.needs_review


def test_volume_outside_adult_range():
    ct, labels = make_thorax(heart_scale=0.6)  # ~120 ml: small, not impossible
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "heart", "check", "volume")
    ct, labels = make_thorax(heart_scale=0.35)  # ~24 ml
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "heart", "implausible", "volume")


def test_pieces_outside_the_largest():
    ct, labels = make_thorax()
    eso = labels.array == 1
    labels.array[eso & (np.arange(40)[:, None, None] % 4 == 0)] = 0  # cut the tube into ten pieces
    verdict, report = _verdict(ct, labels)
    _only(verdict, "esophagus", "implausible", "pieces")
    assert report.organs["esophagus"].measures["pieces"] == 10


def test_specks_beside_the_organ():
    ct, labels = make_thorax()
    for k in range(0, 40, 5):  # 8 single-voxel specks of "heart" in the fat, far from the heart
        labels.array[k, 60, 30] = 2
    verdict, _ = _verdict(ct, labels)
    assert verdict["heart"] == ("check", {"pieces"})


def test_trachea_without_air_is_implausible():
    ct, labels = make_thorax(trachea_hu=30.0)
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "trachea", "implausible", "hu")


def test_heart_on_bone_is_implausible():
    ct, labels = make_thorax(blood_hu=1200.0)
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "heart", "implausible", "hu")
    _only(verdict, "aorta", "implausible", "hu")


def test_trachea_behind_the_esophagus():
    ct, labels = make_thorax(trachea_y_mm=45.0, esophagus_y_mm=15.0)
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "trachea", "implausible", "position")
    _only(verdict, "esophagus", "implausible", "position")


def test_trachea_below_the_esophagus():
    ct, labels = make_thorax(trachea_z=(0, 12))  # the esophagus runs over all 40 slices
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "trachea", "implausible", "position")
    assert "lower than the esophagus" in " ".join(assess(ct, labels, METADATA).organs["trachea"].reasons)


def test_aortic_arch_below_the_top_of_the_heart():
    ct, labels = make_thorax(aorta_top=17, heart_z_centre_mm=100.0)
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "aorta", "implausible", "position")
    _only(verdict, "heart", "implausible", "position")


def test_esophagus_behind_the_spine():
    ct, labels = make_thorax()
    eso = labels.array == 1
    labels.array[eso] = 0
    moved = np.roll(eso, 10, axis=1)  # 50 mm further back: behind the spine's centre
    labels.array[moved & (labels.array == 0)] = 1
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "esophagus", "implausible", "position")


def test_heart_cut_by_the_scan_and_below_the_lungs():
    ct, labels = make_thorax(heart_z_centre_mm=10.0)  # reaches the first slice
    verdict, _ = _verdict(ct, labels)
    assert verdict["heart"][1] >= {"coverage"}
    ct, labels = make_thorax(lungs=(30, 39), heart_z_centre_mm=60.0)  # centre 90 mm below the lungs
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "heart", "implausible", "position")


def test_esophagus_covering_too_little_of_the_thorax():
    ct, labels = make_thorax()
    upper = labels.array[16:]
    upper[upper == 1] = 0  # esophagus left only on slices 0-15: 8 of the lungs' 28 slices (8-35)
    verdict, report = _verdict(ct, labels)
    assert verdict["esophagus"] == ("check", {"coverage"})
    assert report.organs["esophagus"].measures["lung_extent_covered"] == pytest.approx(8 / 28, abs=1e-3)


def test_organ_longer_than_anatomy_allows():
    ct, labels = make_thorax()
    labels.array[labels.array == 3] = 0
    labels.array[:, 31:33, 31:33] = 3  # a 200 mm "trachea"... within the esophagus' 350 mm limit but not its own
    ct.array[:, 31:33, 31:33] = -1000
    verdict, _ = _verdict(ct, labels)
    assert "extent" not in verdict["trachea"][1]  # 200 mm is at the limit, not over it
    labels.array[labels.array == 2] = 0
    labels.array[0:40, 20:30, 30:40] = 2  # a 200 mm heart column
    ct.array[0:40, 20:30, 30:40] = 40
    verdict, _ = _verdict(ct, labels)
    _only(verdict, "heart", "implausible", "extent")


@pytest.mark.parametrize(("confidence", "status"), [(0.7, "check"), (0.4, "implausible")])
def test_low_network_confidence(confidence, status):
    verdict, _ = _verdict(*make_thorax(), confidence={"aorta": confidence})
    assert verdict["aorta"] == (status, {"confidence"})
