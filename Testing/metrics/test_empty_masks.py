"""Every empty-mask case gives its documented result and status, and nothing non-finite leaks out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segthor.metrics import STATUSES, binary_metrics

from .conftest import SPACING_ZYX, ellipsoid

BLOB = ellipsoid((10, 12, 12), (5, 6, 6), (3, 4, 4))
EMPTY = np.zeros_like(BLOB)
DISTANCES = ("hd", "hd95", "assd", "ahd")


@pytest.mark.parametrize("hd95", ["pooled", "max-directed"])
@pytest.mark.parametrize(
    ("pred", "ref", "status", "dice", "distance"),
    [
        (EMPTY, EMPTY, "both_empty", 1.0, 0.0),
        (EMPTY, BLOB, "pred_empty", 0.0, None),
        (BLOB, EMPTY, "ref_empty", 0.0, None),
    ],
    ids=["both_empty", "pred_empty", "ref_empty"],
)
def test_empty_mask_table(pred, ref, status, dice, distance, hd95):
    m = binary_metrics(pred, ref, SPACING_ZYX, hd95=hd95)
    assert m.status == status and status in STATUSES
    assert m.dice == dice and m.dice_2d == dice
    assert all(getattr(m, d) == distance for d in DISTANCES)
    assert m.hd95_convention == hd95
    voxel_ml = np.prod(SPACING_ZYX) / 1000
    assert m.volume_pred_ml == pytest.approx(pred.sum() * voxel_ml)
    assert m.volume_ref_ml == pytest.approx(ref.sum() * voxel_ml)
    assert m.volume_diff_ml == pytest.approx((pred.sum() - ref.sum()) * voxel_ml)
    text = json.dumps(m.to_dict(), allow_nan=False)  # raises on NaN/inf
    assert json.loads(text)["status"] == status


def test_restricted_with_an_absent_reference_is_both_empty():
    """No reference slice means nothing is evaluated: the false positive cannot count (documented)."""
    m = binary_metrics(BLOB, EMPTY, SPACING_ZYX, restricted=True)
    assert m.status == "both_empty" and m.volume_pred_ml == 0.0
    assert binary_metrics(BLOB, EMPTY, SPACING_ZYX).status == "ref_empty"


def test_to_dict_turns_non_finite_values_into_none():
    m = binary_metrics(BLOB, BLOB, SPACING_ZYX)
    bad = type(m)({**m.values, "hd": float("inf"), "hd95": float("nan")}, m.status, m.hd95_convention, m.options)
    d = bad.to_dict()
    assert d["hd"] is None and d["hd95"] is None and d["dice"] == 1.0
    json.dumps(d, allow_nan=False)
