"""The definitions themselves, on masks small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.metrics import binary_metrics
from segthor.metrics.surfaces import surface

from .conftest import SPACING_ZYX, ellipsoid


def test_surface_is_6_connected_and_the_image_border_is_outside():
    cube = np.zeros((5, 5, 5), bool)
    cube[1:4, 1:4, 1:4] = True
    s = surface(cube)
    assert s.sum() == 26 and not s[2, 2, 2]  # only the centre has all 6 neighbours inside
    full = np.ones((3, 4, 5), bool)
    s = surface(full)
    assert not s[1, 1, 1] and not s[1, 2, 3] and s.sum() == full.size - 1 * 2 * 3  # the border counts as outside


def test_shifted_slab_distances_by_hand():
    """Two 1-voxel-thick slabs, one axial slice (2.5 mm) apart: every distance is exactly 2.5 mm."""
    ref = np.zeros((6, 5, 5), bool)
    pred = np.zeros_like(ref)
    ref[2] = True
    pred[3] = True
    m = binary_metrics(pred, ref, (2.5, 0.8, 1.1))
    assert (m.hd, m.hd95, m.assd, m.ahd) == pytest.approx((2.5, 2.5, 2.5, 2.5))
    assert m.dice == 0.0 and m.dice_2d == 0.0
    assert m.volume_ref_ml == pytest.approx(25 * 2.5 * 0.8 * 1.1 / 1000)


def test_assd_pools_and_ahd_takes_the_larger_directed_mean():
    """Pred: one voxel; ref: a 1x1x3 row. Directed pred->ref: [0]; ref->pred: [0, d, d] with d = 1.1 mm."""
    pred = np.zeros((3, 3, 5), bool)
    ref = np.zeros_like(pred)
    pred[1, 1, 1] = True
    ref[1, 1, 0:3] = True
    m = binary_metrics(pred, ref, SPACING_ZYX)
    assert m.hd == pytest.approx(1.1)
    assert m.assd == pytest.approx((0 + 0 + 1.1 + 1.1) / 4)  # pooled mean of 4 distances
    assert m.ahd == pytest.approx(max(0.0, 2.2 / 3))  # max of the directed means
    assert m.dice == pytest.approx(2 * 1 / (1 + 3))


def test_hd95_pooled_vs_max_directed_by_hand():
    pred = np.zeros((3, 3, 5), bool)
    ref = np.zeros_like(pred)
    pred[1, 1, 1] = True
    ref[1, 1, 0:3] = True
    pooled = binary_metrics(pred, ref, SPACING_ZYX).hd95
    max_directed = binary_metrics(pred, ref, SPACING_ZYX, hd95="max-directed").hd95
    assert pooled == pytest.approx(np.percentile([0, 0, 1.1, 1.1], 95))
    assert max_directed == pytest.approx(max(np.percentile([0.0], 95), np.percentile([0, 1.1, 1.1], 95)))
    with pytest.raises(InputError, match="max-directed"):
        binary_metrics(pred, ref, SPACING_ZYX, hd95="mean")


def test_dice_2d_is_the_mean_over_slices_where_either_mask_has_voxels():
    ref = np.zeros((5, 4, 4), bool)
    pred = np.zeros_like(ref)
    ref[1, :2, :2] = True  # slice 1: perfect
    pred[1, :2, :2] = True
    ref[2, :2, :2] = True  # slice 2: half overlap -> 2*2/(4+4) = 0.5
    pred[2, :2, 0] = True
    pred[2, 2:, 0] = True
    pred[3, 0, 0] = True  # slice 3: false positive only -> 0
    m = binary_metrics(pred, ref, SPACING_ZYX)  # slices 0 and 4 are empty in both: not counted
    assert m.dice_2d == pytest.approx((1.0 + 0.5 + 0.0) / 3)


def test_restricted_ignores_prediction_outside_the_reference_slices():
    disc = ellipsoid((1, 30, 30), (0, 15, 15), (1, 8, 8))
    ref, pred = np.zeros((20, 30, 30), bool), np.zeros((20, 30, 30), bool)
    ref[6:15] = disc
    pred[2:19] = disc  # the same tube, running 4 slices past each end of the reference
    full = binary_metrics(pred, ref, SPACING_ZYX)
    restricted = binary_metrics(pred, ref, SPACING_ZYX, restricted=True)
    assert restricted.dice == pytest.approx(1.0) and restricted.hd == 0.0
    assert full.dice < 0.9 and full.hd >= 4 * 2.5
    assert restricted.volume_pred_ml == pytest.approx(restricted.volume_ref_ml)
    assert full.volume_diff_ml > 0


def test_cropping_changes_nothing():
    """Masks touching their image's border, placed in a larger image (corner or inside): identical metrics."""
    pred = ellipsoid((12, 20, 20), (6, 10, 9), (5, 8, 9))
    ref = ellipsoid((12, 20, 20), (6, 9, 10), (6, 9, 8))
    small = binary_metrics(pred, ref, SPACING_ZYX)
    for offset in ((0, 0, 0), (5, 7, 3)):
        big_pred, big_ref = np.zeros((30, 40, 40), bool), np.zeros((30, 40, 40), bool)
        box = tuple(slice(o, o + n) for o, n in zip(offset, pred.shape, strict=True))
        big_pred[box], big_ref[box] = pred, ref
        big = binary_metrics(big_pred, big_ref, SPACING_ZYX)
        assert big.status == small.status == "ok"
        for name in ("dice", "dice_2d", "hd", "hd95", "assd", "ahd", "volume_ref_ml", "volume_pred_ml"):
            assert getattr(big, name) == pytest.approx(getattr(small, name), rel=1e-12), name


def test_spacing_follows_the_array_axes():
    ref = np.zeros((6, 6, 6), bool)
    pred = np.zeros_like(ref)
    ref[2, 2, 2] = pred[3, 2, 2] = True  # one step along the first axis
    assert binary_metrics(pred, ref, (3.0, 1.0, 2.0)).hd == pytest.approx(3.0)
    assert binary_metrics(pred, ref, (1.0, 1.0, 3.0)).hd == pytest.approx(1.0)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (1.0, 0.0, 1.0), (1.0, float("nan"), 1.0)])
def test_bad_spacing_is_an_input_error(spacing):
    with pytest.raises(InputError, match="spacing"):
        binary_metrics(np.ones((2, 2, 2)), np.ones((2, 2, 2)), spacing)


def test_shape_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="same shape"):
        binary_metrics(np.ones((2, 2, 2)), np.ones((2, 2, 3)), (1, 1, 1))
