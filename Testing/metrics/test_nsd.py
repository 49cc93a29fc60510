"""Normalised surface Dice (NSD) against DeepMind's surface-distance and MONAI, on anisotropic masks."""

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


def _deepmind():
    sd = pytest.importorskip("surface_distance")
    for alias, value in (("bool", bool), ("int", int), ("float", float)):  # surface-distance 0.1 on NumPy 2
        if alias not in np.__dict__:
            setattr(np, alias, value)
    return sd


def _deepmind_nsd(pred, ref, tol, spacing=SPACING_ZYX):
    sd = _deepmind()
    return sd.compute_surface_dice_at_tolerance(sd.compute_surface_distances(ref, pred, spacing), tol)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), SPACING_ZYX, (0.7, 3.0, 1.3)])
def test_surfel_areas_equal_deepminds_table_for_every_cube(spacing):
    from segthor.metrics.surfels import CORNERS, surfel_area_table

    lookup = _deepmind().lookup_tables
    kernel = lookup.ENCODE_NEIGHBOURHOOD_3D_KERNEL
    theirs = lookup.create_table_neighbour_code_to_surface_area(spacing)
    ours = surfel_area_table(spacing)
    for code in range(256):  # the same cube configuration under each package's corner numbering
        their_code = sum(int(kernel[corner]) for bit, corner in enumerate(CORNERS) if code >> bit & 1)
        assert ours[code] == pytest.approx(theirs[their_code], abs=1e-12), code


@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_nsd_equals_deepmind(name, pred, ref):
    for tol in TOLERANCES:
        m = binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": tol})
        assert m.nsd == pytest.approx(_deepmind_nsd(pred, ref, tol), abs=1e-9), tol
        assert m.options["nsd_tolerance_mm"] == tol


def test_both_neighbourhood_searches_are_exact():
    """Shifted copies (small tolerances) and the distance transform (large ones) find the same cubes."""
    from scipy import ndimage

    from segthor.metrics.surfels import _MAX_SHIFTS, _offsets, within_tolerance

    targets = np.random.default_rng(3).random((14, 20, 18)) > 0.97
    for tol in (0.5, 1.0, 2.5, 4.0):
        expected = ndimage.distance_transform_edt(~targets, sampling=SPACING_ZYX) <= tol
        np.testing.assert_array_equal(within_tolerance(targets, tol, SPACING_ZYX), expected)
    assert len(_offsets(20.0, SPACING_ZYX)) > _MAX_SHIFTS  # this one takes the transform
    _, pred, ref = PAIRS[0]
    m = binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": 20.0})
    assert m.nsd == pytest.approx(_deepmind_nsd(pred, ref, 20.0), abs=1e-9)


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")  # raised inside MONAI itself
def test_nsd_equals_monai_with_subvoxels():
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    _, pred, ref = PAIRS[0]
    onehot = [torch.from_numpy(np.stack([~a, a])[None].astype(np.float32)) for a in (pred, ref)]
    for tol in TOLERANCES:
        expected = monai_metrics.compute_surface_dice(*onehot, [tol], spacing=SPACING_ZYX, use_subvoxels=True)
        m = binary_metrics(pred, ref, SPACING_ZYX, options={"nsd_tolerance_mm": tol})
        assert m.nsd == pytest.approx(expected.item(), abs=1e-6)  # MONAI computes in float32


def test_nsd_agrees_with_deepmind_at_the_limits_and_near_the_image_border():
    """Identical masks, masks further apart than the tolerance, a tolerance beyond every distance, and masks
    cut by the image border (the outside counts as background in both)."""
    shape = (12, 30, 30)
    a = ellipsoid(shape, (6, 10, 10), (3, 5, 6))
    far = ellipsoid(shape, (6, 22, 22), (3, 4, 4))
    near = ellipsoid(shape, (6, 11, 10), (3, 5, 5))
    assert binary_metrics(a, a, SPACING_ZYX).nsd == 1.0 == _deepmind_nsd(a, a, 2.0)
    assert binary_metrics(far, a, SPACING_ZYX).nsd == 0.0 == _deepmind_nsd(far, a, 2.0)
    big = 1.0 + binary_metrics(near, a, SPACING_ZYX).hd
    assert binary_metrics(near, a, SPACING_ZYX, options={"nsd_tolerance_mm": big}).nsd == 1.0
    assert _deepmind_nsd(near, a, big) == 1.0
    cut, cut_near = ellipsoid(shape, (1, 2, 3), (4, 6, 7)), ellipsoid(shape, (0, 3, 2), (4, 6, 6))
    assert binary_metrics(cut_near, cut, SPACING_ZYX).nsd == pytest.approx(_deepmind_nsd(cut_near, cut, 2.0))


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
