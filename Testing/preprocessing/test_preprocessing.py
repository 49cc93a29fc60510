"""Preprocessing recipes: geometry round trips (any orientation), crops, normalisation, recipe records."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.preprocessing import (
    RECIPES,
    Recipe,
    get_recipe,
    preprocess,
    restore_labels,
    restore_probabilities,
    transfer_labels,
)


def _ct_and_labels(seed: int = 0) -> tuple[Volume, np.ndarray]:
    """A 30x90x80 'CT' (air around an elliptic body, four box organs), 0.9 x 0.8 x 2.5 mm."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:30, :90, :80]
    body = ((y - 45) / 35.0) ** 2 + ((x - 40) / 30.0) ** 2 < 1
    ct = np.where(body, 30.0, -1000.0) + rng.normal(0, 8, body.shape)
    labels = np.zeros(body.shape, np.uint8)
    labels[4:24, 40:62, 30:55] = 2
    labels[2:28, 28:36, 44:52] = 4
    labels[10:30, 22:28, 36:42] = 3
    labels[0:30, 36:40, 28:32] = 1
    ct[labels == 3] = -900
    ct[labels == 4] = 200
    return Volume(ct.astype(np.float32), (0.9, 0.8, 2.5), (-30.0, 12.0, 100.0)), labels


def _reoriented(volume: Volume, labels: np.ndarray, code: str) -> tuple[Volume, np.ndarray]:
    """The same physical image stored with another axis order / direction (exact, no interpolation)."""
    image = sitk.DICOMOrient(volume.to_sitk(), code)
    lab = sitk.DICOMOrient(volume.with_array(labels).to_sitk(), code)
    return Volume.from_sitk(image), sitk.GetArrayFromImage(lab)


def _dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    p, t = a == label, b == label
    return 2.0 * (p & t).sum() / (p.sum() + t.sum())


def test_named_recipes_carry_the_seed_settings():
    assert set(RECIPES) >= {"zscore", "seed004", "seed001", "seed000", "fast2d"}
    assert RECIPES["seed004"].clip_hu == (-1000.0, 1000.0) and RECIPES["seed004"].spacing == (0.977, 0.977, 2.5)
    assert RECIPES["seed001"].spacing == (1.0, 1.0, 3.0) and RECIPES["seed001"].crop == "otsu_body"
    assert RECIPES["seed000"].crop_size == (304, 304) and RECIPES["seed000"].normalize == "zscore"
    fast = RECIPES["fast2d"]
    assert fast.spacing[2] is None and fast.spacing[0] >= 1.5 and fast.crop == "body"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_json_round_trip(name):
    recipe = RECIPES[name]
    again = Recipe.from_dict(json.loads(json.dumps(recipe.to_dict())))
    assert again == recipe
    assert get_recipe(recipe.to_dict()) == recipe and get_recipe(name) == recipe


def test_bad_recipes_are_refused():
    with pytest.raises(ValueError, match="unknown recipe key"):
        Recipe.from_dict({"name": "x", "resample": [1, 1, 1]})
    with pytest.raises(ValueError, match="crop"):
        Recipe(crop="lungs")
    with pytest.raises(ValueError, match="spacing"):
        Recipe(spacing=(1.0, -1.0, 1.0))
    with pytest.raises(KeyError, match="fast2d"):
        get_recipe("nope")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_labels_survive_the_way_to_the_network_grid_and_back(name):
    volume, labels = _ct_and_labels()
    pre = preprocess(volume, RECIPES[name])
    assert pre.array.dtype == np.float32 and pre.array.shape == pre.context.network_grid.shape_zyx
    net_labels = transfer_labels(labels, pre.context)
    assert net_labels.shape == pre.array.shape
    back = restore_labels(net_labels, pre.context)
    assert back.shape == labels.shape and back.dtype == np.uint8
    for label in (1, 2, 3, 4):
        # Resampling to 2-3 mm and back blurs thin organs by a voxel; identity grids must be exact.
        assert _dice(back, labels, label) > (0.999 if name in ("zscore", "seed000") else 0.6), label


@pytest.mark.parametrize("code", ["RAS", "PIL", "SLA", "RPI"])
def test_any_orientation_gives_the_same_network_input_and_labels_back_in_its_own_grid(code):
    volume, labels = _ct_and_labels()
    other, other_labels = _reoriented(volume, labels, code)
    assert not np.allclose(other.direction, volume.direction)
    for name in ("zscore", "fast2d"):
        reference = preprocess(volume, RECIPES[name])
        pre = preprocess(other, RECIPES[name])
        np.testing.assert_allclose(pre.array, reference.array, atol=1e-4)  # same axial slices, same order
        net = transfer_labels(other_labels, pre.context)
        # Nearest-neighbour ties (a 2 mm sample exactly between two 0.9 mm voxels) may break the other way
        # when an axis is flipped; anything beyond those boundary voxels would be a geometry error.
        assert (net != transfer_labels(labels, reference.context)).mean() < (1e-9 if name == "zscore" else 0.01)
        back = restore_labels(net, pre.context)
        assert back.shape == other_labels.shape
        if name == "zscore":
            np.testing.assert_array_equal(back, other_labels)


def test_oblique_direction_is_resampled_and_restored():
    volume, labels = _ct_and_labels()
    angle = np.deg2rad(7.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    oblique = Volume(volume.array, volume.spacing, volume.origin, rot)
    pre = preprocess(oblique, RECIPES["zscore"])
    assert np.allclose(np.array(pre.context.network_grid.direction).reshape(3, 3), np.eye(3))
    back = restore_labels(transfer_labels(labels, pre.context), pre.context)
    assert _dice(back, labels, 2) > 0.95


def test_fast2d_crops_the_body_at_2mm_and_scales_hu():
    volume, _ = _ct_and_labels()
    pre = preprocess(volume, RECIPES["fast2d"])
    grid = pre.context.network_grid
    assert grid.spacing[:2] == (2.0, 2.0) and grid.spacing[2] == pytest.approx(2.5)
    assert grid.size[2] == 30
    # The body is 60 x 70 mm-ish wide: the crop (plus 10 mm margins) is far smaller than the 72 x 72 mm input.
    assert grid.size[0] * 2.0 <= 60 * 0.9 + 25 and grid.size[1] * 2.0 <= 70 * 0.8 + 25
    assert pre.array.min() >= -2.0 - 1e-6 and pre.array.max() <= 2.0 + 1e-6  # [-1000, 1000] / 500


def test_fast2d_without_any_body_keeps_the_whole_image():
    air = Volume(np.full((4, 20, 20), -1000.0, np.float32), (2.0, 2.0, 3.0))
    pre = preprocess(air, RECIPES["fast2d"])
    assert pre.array.shape == (4, 20, 20)


def test_centre_crop_pads_small_images_and_zscore_normalises():
    volume, labels = _ct_and_labels()
    pre = preprocess(volume, RECIPES["seed000"])
    assert pre.array.shape == (30, 304, 304)
    assert abs(float(pre.array.mean())) < 1e-3 and abs(float(pre.array.std()) - 1) < 1e-3
    np.testing.assert_array_equal(restore_labels(transfer_labels(labels, pre.context), pre.context), labels)


def test_wrong_inputs_are_clear_errors():
    volume, labels = _ct_and_labels()
    pre = preprocess(volume, RECIPES["zscore"])
    with pytest.raises(ValueError, match="network grid"):
        restore_labels(np.zeros((3, 3, 3), np.uint8), pre.context)
    with pytest.raises(InputError, match="ground truth"):
        transfer_labels(labels[:-1], pre.context)
    with pytest.raises(InputError, match="spacing"):
        preprocess(Volume(volume.array, (0.0, 1.0, 1.0)), RECIPES["zscore"])


@pytest.mark.shared
def test_real_dicom_ct_goes_through_fast2d_and_back(shared_data_dir):
    from segthor.io.volume import read_volume

    volume = read_volume(shared_data_dir / "dicom_ct_abdomen_20slices")
    pre = preprocess(volume, RECIPES["fast2d"])
    grid = pre.context.network_grid
    assert grid.size[2] == volume.array.shape[0] and grid.spacing[0] == 2.0
    assert grid.size[0] < volume.array.shape[2] / 2  # 0.98 mm -> 2 mm, and the body crop removes air
    labels = np.zeros(pre.array.shape, np.uint8)
    labels[:, grid.size[1] // 2, grid.size[0] // 2] = 2
    back = restore_labels(labels, pre.context)
    assert back.shape == volume.array.shape and 0 < int((back == 2).sum()) <= 20 * 9


def _tube_probabilities(pre, radius_mm: float = 6.0, centre_mm: tuple[float, float] = (3.1, 41.3)) -> np.ndarray:
    """Class probabilities [C, z, y, x] on the network grid of a network that is right about a vertical tube
    (class 1, at `centre_mm` = (x, y) in LPS mm) up to a 1 mm soft edge: sigmoid of the signed distance."""
    grid = pre.context.network_grid
    x = grid.origin[0] + np.arange(grid.size[0]) * grid.spacing[0]
    y = grid.origin[1] + np.arange(grid.size[1]) * grid.spacing[1]
    distance = np.hypot(x[None, :] - centre_mm[0], y[:, None] - centre_mm[1]) - radius_mm
    inside = 1.0 / (1.0 + np.exp(distance / 1.0))
    probabilities = np.zeros((5, *grid.shape_zyx), np.float32)
    probabilities[1] = inside[None]
    probabilities[0] = 1.0 - inside[None]
    return probabilities.astype(np.float16)


def _tube_truth(volume: Volume, radius_mm: float = 6.0, centre_mm: tuple[float, float] = (3.1, 41.3)) -> np.ndarray:
    """The tube of `_tube_probabilities` on `volume`'s own grid (any orientation), uint8 [z, y, x]."""
    k, j, i = np.indices(volume.array.shape)
    index_xyz = np.stack([i, j, k], axis=-1) * np.asarray(volume.spacing)
    lps = index_xyz @ np.asarray(volume.direction, dtype=float).reshape(3, 3).T + np.asarray(volume.origin)
    return (np.hypot(lps[..., 0] - centre_mm[0], lps[..., 1] - centre_mm[1]) <= radius_mm).astype(np.uint8)


@pytest.mark.parametrize("code", ["LPS", "RAS", "PIL"])
def test_probabilities_come_back_smooth_where_nearest_labels_come_back_in_steps(code):
    # A 12 mm tube seen by a 2 mm network grid, restored to a 0.9 x 0.8 mm CT: interpolating the probabilities
    # before the argmax follows the circle; the nearest-neighbour labels follow the 2 mm voxels (a staircase).
    volume, _ = _ct_and_labels()
    volume, _ = _reoriented(volume, np.zeros(volume.array.shape, np.uint8), code)
    pre = preprocess(volume, RECIPES["fast2d"])
    probabilities = _tube_probabilities(pre)
    truth = _tube_truth(volume)
    smooth = restore_probabilities(probabilities, pre.context)
    steps = restore_labels(probabilities.argmax(0).astype(np.uint8), pre.context)
    assert smooth.shape == volume.array.shape and smooth.dtype == np.uint8
    assert _dice(smooth, truth, 1) > 0.98
    assert _dice(smooth, truth, 1) > _dice(steps, truth, 1) + 0.02
    assert set(np.unique(smooth)) == {0, 1}


def test_restoring_probabilities_keeps_every_class_and_the_background_outside():
    volume, labels = _ct_and_labels()
    pre = preprocess(volume, RECIPES["fast2d"])
    net = transfer_labels(labels, pre.context)
    one_hot = (np.arange(5)[:, None, None, None] == net[None]).astype(np.float16)
    back = restore_probabilities(one_hot, pre.context)
    for label in (1, 2, 3, 4):
        assert _dice(back, labels, label) > 0.6, label  # as the nearest-neighbour round trip above
    # Nothing labelled where the network saw only background (the crop's outside included).
    far = np.ones(labels.shape, bool)
    far[:, 18:66, 24:60] = False  # every organ's box in _ct_and_labels, grown by more than one 2 mm voxel
    assert not back[far].any()
    # No organ at all: all background, quickly.
    empty = np.zeros_like(one_hot)
    empty[0] = 1
    assert not restore_probabilities(empty, pre.context).any()


def test_restoring_probabilities_on_the_input_grid_is_their_argmax():
    volume, labels = _ct_and_labels()
    pre = preprocess(volume, RECIPES["zscore"])  # native grid, no crop
    one_hot = (np.arange(5)[:, None, None, None] == labels[None]).astype(np.float16)
    np.testing.assert_array_equal(restore_probabilities(one_hot, pre.context), labels)
    with pytest.raises(ValueError, match="probabilities"):
        restore_probabilities(one_hot[:, :-1], pre.context)
    with pytest.raises(ValueError, match="classes"):
        restore_probabilities(labels, pre.context)
