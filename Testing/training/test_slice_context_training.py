"""Training a 2.5D ENet: batches of (C, y, x) stacks built as the inferer builds them, augmentation that moves
every channel as one image, a 1-channel package widened to start it, and a tiny run that exports it."""

from __future__ import annotations

import json

import numpy as np
import torch

from segthor.model_packages import load_model_package
from segthor.networks import build_network
from segthor.preprocessing.slice_context import slice_stack
from segthor_training.appearance import AppearanceConfig, apply_appearance, thick_stack
from segthor_training.augment import AugmentConfig, augment
from segthor_training.config import TrainConfig
from segthor_training.dataset import Case
from segthor_training.distributed import DistInfo
from segthor_training.sampling import pad_stack
from segthor_training.trainer import BatchSource, train, widen_input_channels

OFFSETS = (-5.0, 0.0, 5.0)


def _case(shape=(8, 20, 24)) -> Case:
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    labels = np.zeros(shape, np.uint8)
    for z in range(2, 6):
        labels[z, 5:12, 6 : 8 + z] = 2  # a different shape on each slice: a label slice tells its z
    return Case("P", image, labels, (2.0, 2.0, 2.5))


def test_batches_are_the_stacks_the_inferer_builds():
    case = _case()
    config = TrainConfig(batch_size=3, steps_per_epoch=1, augmentation={"affine_probability": 0.0})
    source = BatchSource([case], config, 2, DistInfo(), OFFSETS)
    images, labels = source.batch(0, 0)
    assert images.shape == (3, 3, 24, 24) and labels.shape == (3, 24, 24)
    for image, label in zip(images, labels, strict=True):
        z = next(k for k in range(8) if np.array_equal(case.labels[k], label[:20, :24]))
        expected = slice_stack(case.image, np.array([z]), OFFSETS, 2.5)[0]
        np.testing.assert_allclose(image[:, :20, :24], expected)


def test_geometry_moves_every_channel_with_the_labels():
    # Three identical channels stay identical and keep matching the labels after an affine + elastic warp.
    labels = np.zeros((32, 32), np.uint8)
    labels[10:20, 8:24] = 1
    image = np.repeat((labels * 100.0 - 50.0)[None], 3, axis=0).astype(np.float32)
    on = AugmentConfig(affine_probability=1.0, elastic_probability=1.0, elastic_sigma_px=1.0)
    out, out_labels = augment(image, labels, np.random.default_rng(1), on)
    assert out.shape == (3, 32, 32) and out_labels.shape == (32, 32)
    np.testing.assert_allclose(out[0], out[2], atol=1e-5)
    assert not np.array_equal(out_labels, labels)
    assert (out[1][out_labels == 1] > 0).mean() > 0.9


def test_each_channel_gets_the_organ_shift_of_its_own_labels():
    # Only the per-organ HU shift fires: a channel moves inside its own organ outline and nowhere else.
    labels = np.zeros((3, 16, 16), np.uint8)
    labels[1, 4:8, 4:8] = 1  # the organ lies on the centre slice only
    image = np.zeros((3, 16, 16), np.float32)
    image[:, 0, 0], image[:, 15, 15] = -2.0, 2.0  # the range the clip keeps
    off = dict.fromkeys(("scale", "gamma", "bias", "noise", "blur", "resolution", "thickness"), 0.0)
    cfg = AppearanceConfig.from_dict(
        {"probability": 1.0, "region_probability": 1.0, **{f"{k}_probability": v for k, v in off.items()}}
    )
    out = apply_appearance(image, labels, np.random.default_rng(0), cfg, 500.0, channels=True)
    shift = out[1, 4:8, 4:8] - image[1, 4:8, 4:8]
    assert abs(float(shift.mean())) > 1e-4 and np.allclose(shift, shift.flat[0])
    np.testing.assert_array_equal(out[[0, 2]], image[[0, 2]])  # no organ on the neighbours: untouched
    np.testing.assert_array_equal(out[1, 10:14, 10:14], image[1, 10:14, 10:14])
    thick = thick_stack(_case().image, np.array([3.0, 4.0]), np.random.default_rng(0), AppearanceConfig())
    np.testing.assert_allclose(thick, _case().image[[3, 4]])  # appearance off: the slices themselves


def test_channel_labels_move_with_the_stack():
    labels = np.zeros((32, 32), np.uint8)
    labels[10:20, 8:24] = 1
    image = np.repeat((labels * 100.0 - 50.0)[None], 3, axis=0).astype(np.float32)
    on = AugmentConfig(affine_probability=1.0, elastic_probability=0.0)
    from segthor_training.augment import _geometric

    out, out_labels, per = _geometric(image, labels, np.random.default_rng(2), on, np.stack([labels] * 3))
    assert per.shape == (3, 32, 32) and not np.array_equal(out_labels, labels)
    for c in range(3):
        np.testing.assert_array_equal(per[c], out_labels)


def test_pad_stack_keeps_the_channel_axis():
    x, y = pad_stack([np.ones((3, 10, 12), np.float32)], [np.ones((10, 12), np.uint8)])
    assert x.shape == (1, 3, 16, 16) and y.shape == (1, 16, 16)
    assert x[0, :, 10:].max() == 1.0 and y[0, 10:].max() == 0


def test_a_one_channel_net_widened_to_three_computes_the_same():
    torch.manual_seed(0)
    flat = build_network("enet", base_width=8).eval()
    wide = build_network("enet", base_width=8, slice_offsets_mm=list(OFFSETS)).eval()
    wide.load_state_dict(widen_input_channels(flat.state_dict(), wide.state_dict(), OFFSETS), strict=True)
    x = torch.randn(2, 3, 16, 24)
    with torch.inference_mode():
        torch.testing.assert_close(wide(x), flat(x[:, 1:2]))


def test_a_tiny_run_trains_and_exports_a_two_and_a_half_d_package(tiny_cohort, tmp_path):
    first = train(
        tiny_cohort,
        tmp_path / "flat",
        "enet_fast2d",
        sets=["arguments.base_width=8"],
        epochs=1,
        steps_per_epoch=1,
        batch_size=2,
        progress=False,
    )
    result = train(
        tiny_cohort,
        tmp_path / "wide",
        "enet_fast2d",
        sets=[
            "arguments.base_width=8",
            "arguments.slice_offsets_mm=[-4, 0, 4]",
            f"init_weights={json.dumps(str(first.package_dir))}",
        ],
        epochs=1,
        steps_per_epoch=2,
        batch_size=2,
        progress=False,
    )
    package = load_model_package(result.package_dir)
    assert package.model.slice_offsets_mm == (-4.0, 0.0, 4.0)
    assert package.metadata["arguments"]["in_channels"] == 3
