"""ENet (Paszke et al., as in [deReus]), the registry and Xavier initialisation."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from segthor.errors import ModelError
from segthor.networks import ARCHITECTURES, build_network
from segthor.networks.blocks import count_parameters, init_weights
from segthor.networks.enet import Bottleneck, DownsamplingBottleneck, UpsamplingBottleneck


@pytest.mark.parametrize("base_width", [16, 32, 64])
def test_enet_widths_and_parameter_counts(base_width):
    net = build_network("enet", base_width=base_width)
    params = count_parameters(net)
    # Paszke et al. report 0.37 M for K = 16 (3 input channels); the count grows ~K^2.
    expected = 359_180 * (base_width / 16) ** 2
    assert 0.97 * expected < params < 1.03 * expected
    widths = {m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)}
    assert {base_width, 4 * base_width, 8 * base_width} <= widths


def test_enet_layout_follows_paszke():
    net = build_network("enet")
    bottlenecks = [m for m in net.modules() if isinstance(m, Bottleneck)]
    assert len(bottlenecks) == 4 + 16 + 2 + 1
    assert sum(isinstance(m, DownsamplingBottleneck) for m in net.modules()) == 2
    assert sum(isinstance(m, UpsamplingBottleneck) for m in net.modules()) == 2
    dilations = [m.dilation[0] for m in net.stage23.modules() if isinstance(m, nn.Conv2d) and m.dilation[0] > 1]
    assert dilations == [2, 4, 8, 16, 2, 4, 8, 16]
    asym = [m.kernel_size for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size in ((5, 1), (1, 5))]
    assert len(asym) == 8
    assert sum(isinstance(m, nn.PReLU) for m in net.modules()) > 60
    assert net.initial.conv.out_channels == 15  # + the max-pooled input channel = 16


@pytest.mark.parametrize("size", [(64, 64), (61, 50), (8, 8)])
def test_enet_any_size(size):
    net = build_network("enet", base_width=16).eval()
    with torch.inference_mode():
        out = net(torch.randn(3, 1, *size))
    assert out.shape == (3, 5, *size) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("architecture", "arguments", "shape"),
    [("enet", {}, (2, 1, 64, 48)), ("sunet", {"features": [16, 32, 64, 64]}, (2, 1, 48, 40))],
)
def test_channels_last_gives_the_same_logits_and_trains(architecture, arguments, shape):
    torch.manual_seed(0)
    net = build_network(architecture, **arguments).eval()
    x = torch.randn(*shape)
    with torch.inference_mode():
        reference = net(x)
    net = net.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        fast = net(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(reference, fast, atol=1e-4)
    net.train()
    net(x).logsumexp(dim=1).mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_registry_lists_every_architecture_with_its_dimensionality():
    assert set(ARCHITECTURES) == {"unet", "sunet", "sunet_se_ca", "enet", "c2f3d"}
    for name in ("enet", "sunet"):
        net = build_network(name)
        assert net.architecture == name and net.spatial_dims == ARCHITECTURES[name].spatial_dims == 2
    assert ARCHITECTURES["c2f3d"].spatial_dims == 3


def test_registry_errors_name_the_problem():
    with pytest.raises(ModelError, match="unknown network architecture 'vnet'.*enet"):
        build_network("vnet")
    with pytest.raises(ModelError, match="does not take argument.*kernel"):
        build_network("enet", kernel=3)
    with pytest.raises(ModelError, match="upsampling"):
        build_network("sunet", upsampling="nearest")


def test_xavier_init_is_applied_in_constructors():
    net = build_network("enet", base_width=32)
    conv = net.stage23[0].branch[0]
    fan_in = conv.in_channels * math.prod(conv.kernel_size)
    fan_out = conv.out_channels * math.prod(conv.kernel_size)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w = conv.weight.detach()
    assert w.abs().max() <= bound
    assert abs(w.std().item() - bound / math.sqrt(3)) < 0.15 * bound  # uniform(-b, b) has std b/sqrt(3)
    net.fullconv.weight.data.zero_()
    init_weights(net)
    assert net.fullconv.weight.abs().sum() > 0 and net.fullconv.bias.abs().sum() == 0


def test_importing_networks_and_packages_does_not_import_torch():
    code = "import sys, segthor.networks, segthor.model_packages; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("architecture", ["enet", "sunet_se_ca", "c2f3d"])
def test_fusing_batch_norms_keeps_the_outputs(architecture):
    import copy

    from segthor.networks import fuse_batch_norms

    small = {"enet": {}, "sunet_se_ca": {"features": [8, 16, 32, 32]}, "c2f3d": {"widths": [4, 8, 8, 16]}}
    net = build_network(architecture, **small[architecture]).eval()
    torch.manual_seed(0)
    for name, buffer in net.named_buffers():
        if name.endswith("running_var"):
            buffer.uniform_(0.5, 2.0)
        elif name.endswith("running_mean"):
            buffer.normal_(0.0, 0.3)
    fused = fuse_batch_norms(copy.deepcopy(net))
    norms = (nn.BatchNorm2d, nn.BatchNorm3d)
    assert sum(isinstance(m, norms) for m in fused.modules()) < sum(isinstance(m, norms) for m in net.modules())
    x = torch.randn(2, 1, 16, 24, 24) if architecture == "c2f3d" else torch.randn(2, 1, 40, 40)
    with torch.inference_mode():
        assert torch.allclose(net(x), fused(x), atol=1e-4)
    with pytest.raises(ValueError, match="eval"):
        fuse_batch_norms(net.train())


@pytest.mark.parametrize("architecture, arguments", [("enet", {}), ("sunet", {"features": [8, 16, 32, 32]})])
def test_optimize_for_inference_keeps_outputs(architecture, arguments):
    import copy

    from segthor.networks import optimize_for_inference

    net = build_network(architecture, **arguments).eval()
    fast = optimize_for_inference(copy.deepcopy(net).train())
    assert not fast.training
    if architecture == "sunet":
        assert fast.encoders[1][0][0].weight.is_contiguous(memory_format=torch.channels_last)
    else:
        assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.stage23.modules())
        assert fast.stage23[0].branch[0].weight.is_contiguous()  # ENet stays NCHW
    x = torch.randn(2, 1, 36, 44)
    with torch.inference_mode():
        assert torch.allclose(net(x), fast(x), atol=1e-4)
