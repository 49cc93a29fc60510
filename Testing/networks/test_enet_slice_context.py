"""ENet as a 2.5D net: its channels are the slices at `slice_offsets_mm`, it pools only the centre one, and the
slice inferer, a package round trip and the prediction pipeline feed it the neighbouring slices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segthor.errors import ModelError
from segthor.inference.inferers import SliceInferer
from segthor.model_packages import load_model_package, save_model_package
from segthor.networks import build_network

OFFSETS = [-6.0, 0.0, 6.0]


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network("enet", base_width=8, slice_offsets_mm=OFFSETS).eval()


def test_the_offsets_set_the_input_channels_and_the_centre_is_pooled():
    net = _net()
    assert net.arguments["in_channels"] == 3 and net.arguments["slice_offsets_mm"] == OFFSETS
    assert net.slice_offsets_mm == tuple(OFFSETS)
    # 8 maps: 7 from the convolution over 3 channels, 1 pooled from the centre channel only.
    assert tuple(net.initial.conv.weight.shape) == (7, 3, 3, 3)
    x = torch.zeros(1, 3, 16, 16)
    x[:, 0] = 100.0  # a bright slice above: the pooled map must not see it
    pooled = torch.nn.functional.max_pool2d(x[:, net.initial.pooled], 2)
    assert float(pooled.max()) == 0.0
    assert net(x).shape == (1, 5, 16, 16)
    with pytest.raises(ModelError, match="in_channels"):
        build_network("enet", base_width=8, in_channels=2, slice_offsets_mm=OFFSETS)
    with pytest.raises(ModelError, match="including 0"):
        build_network("enet", base_width=8, slice_offsets_mm=[-4.0, 4.0])


def test_the_slice_inferer_feeds_each_slice_with_its_neighbours():
    net = _net()
    rng = np.random.default_rng(0)
    array = rng.normal(size=(7, 24, 32)).astype(np.float32)
    labels, _ = SliceInferer().run(net, array, torch.device("cpu"), 3, tune_threads=False, spacing=(2.0, 2.0, 3.0))
    # 6 mm at 3 mm slices is two slices; the ends repeat the end slice.
    z = np.arange(7)
    stacks = np.stack([array[np.clip(z - 2, 0, 6)], array, array[np.clip(z + 2, 0, 6)]], axis=1)
    with torch.inference_mode():
        expected = net(torch.from_numpy(stacks)).argmax(1).numpy()
    np.testing.assert_array_equal(labels, expected)
    with pytest.raises(ModelError, match="slice spacing"):
        SliceInferer().run(net, array, torch.device("cpu"), 3, tune_threads=False)


def test_a_package_keeps_the_offsets(tmp_path):
    net = _net()
    path = save_model_package(tmp_path / "p", net, {"id": "ctx", "architecture": "enet", "arguments": net.arguments})
    loaded = load_model_package(path).model
    assert loaded.slice_offsets_mm == tuple(OFFSETS) and loaded.arguments["in_channels"] == 3


def test_segmenting_a_ct_passes_its_slice_spacing_to_a_two_and_a_half_d_package(tmp_path):
    from segthor.inference.prediction import predict
    from segthor.io.volume import Volume

    net = _net()
    metadata = {
        "id": "ctx",
        "architecture": "enet",
        "arguments": net.arguments,
        "preprocessing": {"name": "t", "clip_hu": [-1000.0, 1000.0], "normalize": "fixed"},
    }
    package = load_model_package(save_model_package(tmp_path / "p", net, metadata))
    ct = np.random.default_rng(0).integers(-1000, 1000, size=(6, 24, 24)).astype(np.int16)
    volume = Volume(ct, (1.5, 1.5, 3.0), (0.0, 0.0, 0.0), tuple(np.eye(3).flatten()))
    labels = predict(volume, package, torch.device("cpu")).labels.array
    array = np.clip(ct.astype(np.float32), -1000, 1000) / 500.0
    z = np.arange(6)
    stacks = np.stack([array[np.clip(z - 2, 0, 5)], array, array[np.clip(z + 2, 0, 5)]], axis=1)
    with torch.inference_mode():
        expected = package.model(torch.from_numpy(stacks)).argmax(1).numpy()
        centre_only = package.model(torch.from_numpy(array[:, None].repeat(3, axis=1))).argmax(1).numpy()
    # The pipeline takes its argmax of float16 probabilities interpolated to the CT's grid, so near-ties may
    # flip; the neighbours it fed are the ones 6 mm away (2 slices), not the slice repeated.
    assert (labels == expected).mean() > 0.97
    assert (labels == expected).mean() > (labels == centre_only).mean() + 0.1
