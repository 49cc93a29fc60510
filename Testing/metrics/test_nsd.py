"""Normalised surface Dice (NSD) against MONAI's and DeepMind's implementations, on anisotropic masks."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.metrics import binary_metrics, registry

from .conftest import SPACING_ZYX, ellipsoid
from .test_oracles import PAIRS

TOLERANCES = (1.0, 2.0, 3.0)
pytestmark = pytest.mark.filterwarnings("ignore:Please import:DeprecationWarning")  # inside surface-distance


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")  # raised inside MONAI itself
@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_nsd_matches_monai_voxel_surfaces(name, pred, ref):
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    onehot = [torch.from_numpy(np.stack([~a, a])[None].astype(np.float32)) for a in (pred, ref)]
    for tol in TOLERANCES:
        m = binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": tol})
        expected = monai_metrics.compute_surface_dice(*onehot, [tol], spacing=SPACING_ZYX).item()
        assert m.nsd == pytest.approx(expected, abs=1e-6), tol
        assert m.options["nsd_tolerance_mm"] == tol


def _deepmind_nsd(pred, ref, tol):
    sd = pytest.importorskip("surface_distance")
    return sd.compute_surface_dice_at_tolerance(sd.compute_surface_distances(ref, pred, SPACING_ZYX), tol)


def test_nsd_agrees_with_deepmind_at_the_limits():
    """Identical masks, masks further apart than the tolerance, and a tolerance beyond every distance."""
    shape = (12, 30, 30)
    a = ellipsoid(shape, (6, 10, 10), (3, 5, 6))
    far = ellipsoid(shape, (6, 22, 22), (3, 4, 4))
    near = ellipsoid(shape, (6, 11, 10), (3, 5, 5))
    assert binary_metrics(a, a, SPACING_ZYX).nsd == 1.0 == _deepmind_nsd(a, a, 2.0)
    assert binary_metrics(far, a, SPACING_ZYX).nsd == 0.0 == _deepmind_nsd(far, a, 2.0)
    big = 1.0 + binary_metrics(near, a, SPACING_ZYX).hd
    assert binary_metrics(near, a, SPACING_ZYX, options={"nsd_tolerance_mm": big}).nsd == 1.0
    assert _deepmind_nsd(near, a, big) == 1.0


@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_nsd_is_the_deepmind_formula_on_voxel_surfaces(name, pred, ref):
    """DeepMind's definition (surface within tolerance over total surface, both directions) computed from the
    voxel-centre distances that DeepMind's ``compute_surface_distances`` would return for unit surfels."""
    from segthor.metrics.distances import surface_distances
    from segthor.metrics.surfaces import surface

    sd = pytest.importorskip("surface_distance")
    pred_to_ref, ref_to_pred = surface_distances(surface(pred), surface(ref), SPACING_ZYX)
    fake = {
        "distances_gt_to_pred": np.sort(ref_to_pred),
        "distances_pred_to_gt": np.sort(pred_to_ref),
        "surfel_areas_gt": np.ones(ref_to_pred.size),
        "surfel_areas_pred": np.ones(pred_to_ref.size),
    }
    for tol in TOLERANCES:
        expected = sd.compute_surface_dice_at_tolerance(fake, tol)
        assert binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": tol}).nsd == pytest.approx(expected)


def test_nsd_grows_with_the_tolerance_and_ignores_the_hd95_convention():
    _, pred, ref = PAIRS[0]
    values = [binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": t}).nsd for t in (0.5, 1, 2, 4)]
    assert values == sorted(values) and 0 < values[0] < values[-1] <= 1
    assert binary_metrics(pred, ref, SPACING_ZYX, hd95="max-directed").nsd == binary_metrics(pred, ref, SPACING_ZYX).nsd


def test_nsd_empty_masks_follow_the_dice_rule():
    empty = np.zeros((4, 5, 6), bool)
    blob = empty.copy()
    blob[1:3, 1:4, 2:5] = True
    assert binary_metrics(empty, empty, SPACING_ZYX).nsd == 1.0
    assert binary_metrics(empty, blob, SPACING_ZYX).nsd == 0.0
    assert binary_metrics(blob, empty, SPACING_ZYX).nsd == 0.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "two"])
def test_a_bad_tolerance_is_a_one_line_error(bad):
    with pytest.raises(InputError, match="nsd_tolerance_mm must be a positive number"):
        binary_metrics(np.ones((2, 2, 2)), np.ones((2, 2, 2)), SPACING_ZYX, options={"nsd_tolerance_mm": bad})
    with pytest.raises(InputError, match="unknown metric option 'nsd_tol'"):
        registry.metric_options({"nsd_tol": 2})


def test_the_tolerance_is_a_command_line_option_with_a_documented_default():
    parser = argparse.ArgumentParser()
    registry.add_parameter_arguments(parser)
    assert registry.options_from_arguments(parser.parse_args(["--nsd-tolerance", "3"])) == {"nsd_tolerance_mm": 3.0}
    assert registry.options_from_arguments(parser.parse_args([])) == {}
    assert registry.metric_options() == {"nsd_tolerance_mm": 2.0}
