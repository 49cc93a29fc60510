"""Inferers: the 2D slice inferer keeps today's labels; the 3D sliding window blends Gaussian-weighted windows,
equals one pass where a window covers the volume, and takes volumes larger than its window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segthor.errors import ModelError
from segthor.inference.inferers import (
    ACTIVATION_CHANNELS_3D,
    GRID_BYTES_3D,
    SliceInferer,
    SlidingWindowInferer,
    gaussian_importance,
    window_starts,
)
from segthor.inference.prediction import inferer_for
from segthor.model_packages import ModelPackage, load_model_package, save_model_package
from segthor.model_packages.inferer_spec import (
    SLICES_2D,
    SLIDING_WINDOW_3D,
    InfererSpec,
    default_inferer,
    parse_inferer,
)
from segthor.networks import build_network


def _window_spec(roi, overlap=0.5, sigma_scale=0.125) -> InfererSpec:
    return InfererSpec(SLIDING_WINDOW_3D, roi, overlap, sigma_scale)


class PointwiseNet(torch.nn.Module):
    """A 3D 'network' whose scores at a voxel depend on that voxel alone: any window blending must give back
    the whole-volume scores."""

    spatial_dims = 3

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv3d(1, 5, 1)

    def forward(self, x):
        return self.conv(torch.sin(3 * x))


def _capture():
    seen = []

    def reduce(scores):
        seen.append(scores.clone())
        return scores.argmax(1).to(torch.uint8)

    return seen, reduce


def _c2f_net():
    torch.manual_seed(0)
    return build_network("c2f3d", widths=(4, 8, 8, 8)).eval()


def test_window_covering_the_volume_equals_one_pass():
    net = _c2f_net()
    array = np.random.default_rng(0).normal(size=(10, 24, 32)).astype(np.float32)
    seen, reduce = _capture()
    labels, _ = SlidingWindowInferer(_window_spec((16, 64, 64))).run(net, array, torch.device("cpu"), reduce=reduce)
    with torch.inference_mode():
        whole = net(torch.from_numpy(array)[None, None])
    assert torch.equal(seen[0], whole)
    assert np.array_equal(labels, whole.argmax(1)[0].numpy())


def test_overlapping_windows_reproduce_the_whole_volume_scores():
    net = PointwiseNet().eval()
    array = np.random.default_rng(1).normal(size=(13, 21, 18)).astype(np.float32)
    inferer = SlidingWindowInferer(_window_spec((6, 8, 8), overlap=0.5))
    assert len(inferer.windows(array.shape)) > 8
    seen, reduce = _capture()
    labels, _ = inferer.run(net, array, torch.device("cpu"), reduce=reduce)
    with torch.inference_mode():
        whole = net(torch.from_numpy(array)[None, None])
    np.testing.assert_allclose(seen[0].numpy(), whole.numpy(), rtol=1e-5, atol=1e-5)
    assert np.array_equal(labels, whole.argmax(1)[0].numpy())


def test_gaussian_weights_are_gaussian_and_normalised():
    window = (8, 16, 12)
    w = gaussian_importance(window, 0.125)
    assert w.shape == window and w.dtype == np.float32
    assert w.max() == pytest.approx(1.0) and w.min() > 0
    # Symmetric about the window's centre, separable, and exp(-d^2 / (2 sigma^2)) with sigma = n / 8 per axis.
    assert np.allclose(w, w[::-1, ::-1, ::-1])
    d = np.arange(16) - 7.5
    profile = np.exp(-0.5 * (d / 2.0) ** 2)
    np.testing.assert_allclose(w[3, :, 5] / w[3, 7, 5], profile / profile[7], rtol=1e-5)
    corner_ratio = w[0, 0, 0] / w[4, 8, 6]
    expected = math.prod(
        math.exp(-0.5 * (((n - 1) / 2) / (n / 8)) ** 2) / math.exp(-0.5 * (0.5 / (n / 8)) ** 2) for n in window
    )
    assert corner_ratio == pytest.approx(expected, rel=1e-4)
    assert gaussian_importance(window, 0.02).min() == np.float32(1e-12)  # a narrow Gaussian keeps every weight

    class Constant(torch.nn.Module):
        spatial_dims = 3

        def forward(self, x):
            return torch.arange(5.0).reshape(1, 5, 1, 1, 1).expand(x.shape[0], 5, *x.shape[2:]).clone()

    # Weights normalised: the blend of a constant prediction is that constant everywhere, overlaps included.
    seen, reduce = _capture()
    SlidingWindowInferer(_window_spec((5, 7, 6), overlap=0.6)).run(
        Constant(), np.zeros((11, 17, 15), np.float32), torch.device("cpu"), reduce=reduce
    )
    np.testing.assert_allclose(
        seen[0][0].numpy(), np.arange(5.0).reshape(5, 1, 1, 1) * np.ones((1, 11, 17, 15)), rtol=1e-6
    )


def test_a_volume_larger_than_the_window_is_covered():
    for size, window, overlap in ((100, 32, 0.5), (33, 32, 0.5), (32, 32, 0.5), (20, 32, 0.25), (57, 10, 0.0)):
        starts = window_starts(size, window, overlap)
        span = min(size, window)
        assert starts[0] == 0 and starts[-1] + span == size
        assert all(0 < b - a <= max(1, window * (1 - overlap)) for a, b in zip(starts, starts[1:], strict=False))
    net = _c2f_net()
    array = np.random.default_rng(2).normal(size=(20, 48, 40)).astype(np.float32)
    inferer = SlidingWindowInferer(_window_spec((8, 16, 16)))
    windows = inferer.windows(array.shape)
    covered = np.zeros(array.shape, bool)
    for box in windows:
        covered[box] = True
    assert covered.all() and len(windows) == 4 * 5 * 4
    labels, _ = inferer.run(net, array, torch.device("cpu"))
    assert labels.shape == array.shape and labels.dtype == np.uint8 and labels.max() <= 4
    # Memory grows with the window, not the volume, beyond the per-voxel score sums.
    activations = [inferer.network_bytes(s) - math.prod(s) * GRID_BYTES_3D for s in ((40, 96, 96), (400, 960, 960))]
    assert activations[0] == activations[1] == 8 * 16 * 16 * 4 * ACTIVATION_CHANNELS_3D


def test_slice_inferer_gives_todays_labels_on_a_phantom():
    from segthor.devices import resolve_device
    from segthor.inference.prediction import predict
    from segthor.model_packages import DEFAULT_MODEL_ID
    from segthor.phantom import generate_case
    from segthor.preprocessing import Recipe, preprocess, restore_probabilities
    from segthor.preprocessing.slice_context import slice_stack

    case = generate_case(3, size=64, n_slices=16)
    package = load_model_package(DEFAULT_MODEL_ID, "cpu")
    device = resolve_device("cpu")
    assert isinstance(inferer_for(package), SliceInferer)
    labels = predict(case.ct, package, device, batch_size=4).labels.array
    # A plain loop: batches of 4 slices (each with its neighbours when the model reads them), softmax,
    # probabilities restored to the CT grid, argmax there.
    pre = preprocess(case.ct, Recipe.from_dict(package.metadata["preprocessing"]))
    array = np.asarray(pre.array, np.float32)
    offsets = getattr(package.model, "slice_offsets_mm", (0.0,))
    expected = np.empty((5, *array.shape), np.float16)
    with torch.inference_mode():
        for start in range(0, array.shape[0], 4):
            zs = np.arange(start, min(start + 4, array.shape[0]))
            x = torch.from_numpy(slice_stack(array, zs, offsets, pre.context.network_grid.spacing[2]))
            scores = torch.softmax(package.model(x), 1).to(torch.float16).numpy()
            expected[:, start : start + 4] = np.moveaxis(scores, 1, 0)
    expected = np.asarray(restore_probabilities(expected, pre.context), np.uint8)
    assert np.array_equal(labels, expected)
    assert (labels > 0).sum() > 100  # the demo model finds organs on the phantom: the comparison is not vacuous


def test_inferers_return_class_first_arrays_when_reduce_keeps_the_classes():
    array = np.random.default_rng(2).normal(size=(9, 12, 10)).astype(np.float32)

    def probabilities(scores):
        return torch.softmax(scores, 1)

    torch.manual_seed(0)
    net2d = build_network("enet", base_width=16).eval()
    out, _ = SliceInferer().run(net2d, array, torch.device("cpu"), 4, reduce=probabilities)
    labels, _ = SliceInferer().run(net2d, array, torch.device("cpu"), 4)
    assert out.shape == (5, 9, 12, 10)
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out.argmax(0), labels)
    inferer = SlidingWindowInferer(_window_spec((6, 8, 8), overlap=0.5))
    net3d = PointwiseNet().eval()
    out, _ = inferer.run(net3d, array, torch.device("cpu"), reduce=probabilities)
    labels, _ = inferer.run(net3d, array, torch.device("cpu"))
    assert out.shape == (5, 9, 12, 10)
    np.testing.assert_array_equal(out.argmax(0), labels)


def test_inferer_entry_is_read_checked_and_defaulted(tmp_path):
    assert default_inferer(2).name == SLICES_2D and default_inferer(3).name == SLIDING_WINDOW_3D
    spec = parse_inferer({"name": "sliding_window3d", "roi_size": [32, 64, 64], "overlap": 0.25}, 3)
    assert spec.roi_size == (32, 64, 64) and spec.overlap == 0.25 and spec.sigma_scale == 0.125
    assert parse_inferer("slices2d", 2).to_dict() == {"name": "slices2d"}
    for entry, dims, message in (
        ("tiles", 2, "unknown inferer 'tiles'"),
        ("slices2d", 3, "cannot run a 3D network"),
        ({"name": "sliding_window3d", "roi_size": [32, 64]}, 3, "three positive integers"),
        ({"name": "sliding_window3d", "overlap": 1.0}, 3, r"overlap must be in \[0, 1\)"),
        ({"name": "sliding_window3d", "stride": 2}, 3, "takes no stride"),
        ({"name": "slices2d", "roi_size": [1, 2, 3]}, 2, "takes no roi_size"),
    ):
        with pytest.raises(ModelError, match=message):
            parse_inferer(entry, dims, "model.json")

    # Saved and loaded with the package; a bad entry stops the load with a line naming model.json.
    net = _c2f_net()
    folder = save_model_package(
        tmp_path / "c2f", net, {"id": "c2f", "inferer": {"name": "sliding_window3d", "roi_size": [16, 32, 32]}}
    )
    package = load_model_package(folder)
    assert package.metadata["inferer"]["overlap"] == 0.5
    inferer = inferer_for(package)
    assert isinstance(inferer, SlidingWindowInferer) and inferer.spec.roi_size == (16, 32, 32)
    assert isinstance(inferer_for(ModelPackage(net, {"id": "old"})), SlidingWindowInferer)  # old package: default
    import json

    meta = json.loads((folder / "model.json").read_text())
    meta["inferer"] = "slices2d"
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"model\.json: inferer 'slices2d' cannot run a 3D network"):
        load_model_package(folder)


def test_every_inferer_name_has_an_inferer():
    from segthor.inference.inferers import INFERERS
    from segthor.model_packages.inferer_spec import DEFAULT_BY_SPATIAL_DIMS, INFERER_NAMES

    assert set(INFERERS) == set(INFERER_NAMES) == set(DEFAULT_BY_SPATIAL_DIMS.values())
