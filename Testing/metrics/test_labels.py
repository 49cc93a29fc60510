"""Label images: per-organ evaluation of arrays and Volumes, geometry checks, bad label values."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.metrics import binary_metrics, evaluate_labels, evaluate_volumes
from segthor.organs import ORGANS

from .conftest import SPACING_ZYX


def test_each_organ_equals_binary_metrics_on_its_masks(labels_pair):
    pred, ref = labels_pair
    results = evaluate_labels(pred, ref, SPACING_ZYX, hd95="max-directed", restricted=True)
    assert list(results) == [o.key for o in ORGANS]
    for organ in ORGANS:
        expected = binary_metrics(pred == organ.label, ref == organ.label, SPACING_ZYX, "max-directed", True)
        assert results[organ.key] == expected
        assert results[organ.key].status == "ok"


def test_organ_selection_by_name_or_label(labels_pair):
    pred, ref = labels_pair
    assert list(evaluate_labels(pred, ref, SPACING_ZYX, organs=["Heart", 3])) == ["heart", "trachea"]
    with pytest.raises(InputError, match="known organs"):
        evaluate_labels(pred, ref, SPACING_ZYX, organs=["lung"])


def test_absent_organs_get_their_status(labels_pair):
    pred, ref = labels_pair
    pred = np.where(pred == 1, 0, pred)
    ref = np.where(ref == 3, 0, ref)
    results = evaluate_labels(pred, ref, SPACING_ZYX)
    assert results["esophagus"].status == "pred_empty"
    assert results["trachea"].status == "ref_empty"
    none = evaluate_labels(np.zeros_like(pred), np.zeros_like(ref), SPACING_ZYX)
    assert {m.status for m in none.values()} == {"both_empty"}


def test_a_ct_given_as_labels_is_refused(labels_pair):
    pred, ref = labels_pair
    ct = ref.astype(np.int16) * 300 - 1000
    with pytest.raises(InputError, match="SegTHOR labels are 0-4"):
        evaluate_labels(ct, ref, SPACING_ZYX)
    with pytest.raises(InputError, match="non-integer"):
        evaluate_labels(pred + 0.5, ref, SPACING_ZYX)
    # Float arrays of whole numbers (nibabel's get_fdata) are fine.
    assert evaluate_labels(pred.astype(float), ref, SPACING_ZYX) == evaluate_labels(pred, ref, SPACING_ZYX)


def test_volumes_take_spacing_from_their_geometry(labels_pair):
    pred, ref = labels_pair
    spacing_xyz = SPACING_ZYX[::-1]
    results = evaluate_volumes(Volume(pred, spacing_xyz), Volume(ref, spacing_xyz), organs=["heart"])
    assert results["heart"] == binary_metrics(pred == 2, ref == 2, SPACING_ZYX)
    # Reading the spacing the wrong way round would give another answer: the test can fail.
    assert results["heart"] != binary_metrics(pred == 2, ref == 2, spacing_xyz)


def test_geometry_mismatch_names_both_geometries_or_resamples(labels_pair):
    pred, ref = labels_pair
    ref_volume = Volume(ref, SPACING_ZYX[::-1], origin=(0, 0, 0))
    shifted = Volume(pred, SPACING_ZYX[::-1], origin=(0, 0, 2.5))  # one slice lower
    with pytest.raises(InputError) as info:
        evaluate_volumes(shifted, ref_volume)
    message = str(info.value)
    assert "origin (0, 0, 2.5)" in message and "origin (0, 0, 0)" in message and "--resample-to-reference" in message
    resampled = evaluate_volumes(shifted, ref_volume, resample_to_reference=True)
    # On the reference's lattice grown by one slice to hold the prediction's last one (never cropped away):
    grown_pred, grown_ref = np.zeros((25, *pred.shape[1:]), pred.dtype), np.zeros((25, *ref.shape[1:]), ref.dtype)
    grown_pred[1:], grown_ref[:-1] = pred, ref
    assert resampled == evaluate_labels(grown_pred, grown_ref, SPACING_ZYX)
