"""Appearance augmentation for transfer to real CT: shapes, determinism by seed, labels untouched, each
transform doing what it says on small synthetic images."""

from __future__ import annotations

import numpy as np
import pytest

from segthor_training.appearance import AppearanceConfig, apply_appearance, bias_field, thick_slice
from segthor_training.augment import AugmentConfig, augment
from segthor_training.config import load_config
from segthor_training.trainer import hu_per_unit

HPU = 500.0  # fast2d: (HU - 0) / 500


def _slice(shape=(40, 48)) -> tuple[np.ndarray, np.ndarray]:
    """A body (0 HU) in air (-1000 HU, clipped like fast2d) with a 'heart' (40 HU), a 'trachea' (air), a bone."""
    hu = np.full(shape, -1000.0, np.float32)
    labels = np.zeros(shape, np.uint8)
    hu[5:-5, 5:-5] = 0.0
    hu[15:25, 15:30] = 40.0
    labels[15:25, 15:30] = 2
    hu[8:12, 20:24] = -1000.0
    labels[8:12, 20:24] = 3
    hu[28:32, 20:24] = 700.0  # bone: the image maximum, so organ shifts are not clipped
    return hu / HPU, labels


def _only(**kwargs) -> AppearanceConfig:
    """Everything off except what is named."""
    off = dict(
        scale_probability=0.0,
        region_probability=0.0,
        gamma_probability=0.0,
        bias_probability=0.0,
        noise_probability=0.0,
        blur_probability=0.0,
        resolution_probability=0.0,
        thickness_probability=0.0,
    )
    return AppearanceConfig(probability=1.0, **{**off, **kwargs})


def test_appearance_keeps_shape_range_and_labels_and_is_deterministic_by_seed():
    image, labels = _slice()
    before = labels.copy()
    cfg = AppearanceConfig(
        probability=1.0,
        scale_probability=1.0,
        region_probability=1.0,
        gamma_probability=1.0,
        bias_probability=1.0,
        noise_probability=1.0,
        blur_probability=1.0,
        resolution_probability=1.0,
    )
    a = apply_appearance(image, labels, np.random.default_rng(7), cfg, HPU)
    b = apply_appearance(image, labels, np.random.default_rng(7), cfg, HPU)
    c = apply_appearance(image, labels, np.random.default_rng(8), cfg, HPU)
    assert a.shape == image.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.allclose(a, image)
    assert a.min() >= image.min() and a.max() <= image.max()  # the preprocessing clip range is kept
    np.testing.assert_array_equal(labels, before)
    # 3D crops too
    vol = np.stack([image] * 4)
    out = apply_appearance(vol, np.stack([labels] * 4), np.random.default_rng(1), cfg, HPU)
    assert out.shape == vol.shape


def test_appearance_off_returns_the_input():
    image, labels = _slice()
    assert apply_appearance(image, labels, np.random.default_rng(0), AppearanceConfig(), HPU) is image
    assert AppearanceConfig().active is False and AugmentConfig().active is True


def test_hu_scale_and_shift_act_in_hu():
    image, labels = _slice()
    cfg = _only(scale_probability=1.0, scale_range=(1.0, 1.0), shift_hu=100.0)
    out = apply_appearance(image, labels, np.random.default_rng(3), cfg, HPU)
    shift_hu = (out[20, 10] - image[20, 10]) * HPU  # soft tissue at 0 HU, away from the clip
    assert 0 < abs(shift_hu) <= 100.0
    soft = image == 0.0
    np.testing.assert_allclose((out - image)[soft], shift_hu / HPU, atol=1e-5)


def test_region_shift_moves_one_organ_only():
    image, labels = _slice()
    out = apply_appearance(
        image, labels, np.random.default_rng(0), _only(region_probability=1.0, region_shift_hu=50.0), HPU
    )
    heart = (out - image)[labels == 2]
    assert np.ptp(heart) < 1e-6 and 0 < abs(heart[0]) * HPU <= 50.0
    body = (labels == 0) & (image > -1.5)
    np.testing.assert_array_equal(out[body], image[body])


def test_noise_level_blur_and_resolution():
    image, labels = _slice((64, 64))
    noisy = apply_appearance(
        image, labels, np.random.default_rng(0), _only(noise_probability=1.0, noise_hu=(30.0, 30.0)), HPU
    )
    std_hu = float(np.std((noisy - image)[20:40, 35:60])) * HPU  # inside the body, no clip
    assert 25 < std_hu < 35
    blurred = apply_appearance(
        image, labels, np.random.default_rng(0), _only(blur_probability=1.0, blur_sigma_px=(1.0, 1.0)), HPU
    )
    assert np.abs(np.diff(blurred, axis=1)).max() < np.abs(np.diff(image, axis=1)).max()
    low = apply_appearance(
        image, labels, np.random.default_rng(0), _only(resolution_probability=1.0, resolution_factor=(2.0, 2.0)), HPU
    )
    assert low.shape == image.shape and not np.allclose(low, image)
    assert abs(float(low[30:34, 40:44].mean()) - float(image[30:34, 40:44].mean())) < 0.01  # flat areas kept


def test_bias_field_is_smooth_positive_and_seeded():
    f = bias_field((32, 40), np.random.default_rng(0), 4, 0.1)
    assert f.shape == (32, 40) and f.min() > 0.5 and f.max() < 2.0
    assert np.abs(np.diff(f, axis=0)).max() < 0.05  # smooth
    np.testing.assert_array_equal(f, bias_field((32, 40), np.random.default_rng(0), 4, 0.1))


def test_thick_slice_averages_neighbours_with_triangle_weights():
    vol = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 3, 3), np.float32)
    cfg = _only(thickness_probability=1.0, thickness_max_slices=1)
    np.testing.assert_allclose(thick_slice(vol, 2, np.random.default_rng(0), cfg), 2.0)
    np.testing.assert_allclose(thick_slice(vol, 0, np.random.default_rng(0), cfg), 0.25)  # edge clamps: (0+0+1)/4
    off = _only(thickness_probability=0.0)
    assert thick_slice(vol, 2, np.random.default_rng(0), off) is not None
    np.testing.assert_array_equal(thick_slice(vol, 2, np.random.default_rng(0), off), vol[2])


def test_augment_with_appearance_and_aspect_keeps_labels_valid():
    image, labels = _slice()
    cfg = AugmentConfig.from_dict(
        {"affine_probability": 1.0, "aspect_range": [0.8, 1.25], "appearance": {"probability": 1.0}}
    )
    a_img, a_lab = augment(image, labels, np.random.default_rng(5), cfg, HPU)
    b_img, b_lab = augment(image, labels, np.random.default_rng(5), cfg, HPU)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)
    assert a_img.shape == image.shape and set(np.unique(a_lab)) <= {0, 2, 3}
    # Appearance alone leaves the labels as they were.
    only = AugmentConfig.from_dict({"affine_probability": 0.0, "appearance": {"probability": 1.0}})
    img, lab = augment(image, labels, np.random.default_rng(5), only, HPU)
    assert lab is labels and not np.allclose(img, image)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"spin": 1}, "unknown appearance key"),
        ({"noise_hu": [40, 10]}, "low <= high"),
        ({"resolution_factor": [0.5, 1]}, ">= 1"),
        ({"hu_per_unit": 0}, "positive"),
    ],
)
def test_appearance_config_names_bad_entries(bad, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig.from_dict({"appearance": bad})


def test_realct_recipe_turns_appearance_on_with_fast2d_units():
    config = load_config("enet_realct")
    cfg = AugmentConfig.from_dict(config.augmentation)
    assert cfg.appearance.active and cfg.aspect_range != (1.0, 1.0)
    assert hu_per_unit(config.preprocessing) == 500.0
    assert hu_per_unit("zscore") == 500.0
