"""U-Net family of [Lambert2020]/[Liu2020]: parameter counts, shapes for any H, W, block composition."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segthor.networks import build_network
from segthor.networks.blocks import ContextAggregation2d, SqueezeExcitation2d, count_parameters


def test_sunet_parameter_counts_match_the_paper():
    bilinear = count_parameters(build_network("sunet"))
    transposed = count_parameters(build_network("sunet", upsampling="transposed"))
    # [Lambert2020]: "4.8 million trainable parameters compared to 7.2 million ... with the transposed convolution"
    assert bilinear == 4_836_997
    assert transposed == 7_196_933
    assert round(bilinear / 1e6, 1) == 4.8
    assert round(transposed / 1e6, 1) == 7.2


def test_sunet_structure_is_seven_blocks_with_dropout_and_at_most_256_maps():
    net = build_network("sunet")
    assert len(net.encoders) + len(net.decoders) == 7
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert max(c.out_channels for c in convs) == 256
    assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules()) == 14
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 14 and all(d.p == 0.2 for d in dropouts)
    assert net.head.kernel_size == (1, 1) and net.head.out_channels == 5
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in net.modules())
    transposed = build_network("sunet", upsampling="transposed", dropout=0.0)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in transposed.modules()) == 3
    assert not any(isinstance(m, nn.Dropout) for m in transposed.modules())


def test_plain_unet_is_deeper_and_wider_than_sunet():
    net = build_network("unet")
    assert net.stride == 16
    assert max(m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)) == 1024
    assert count_parameters(net) > 10 * count_parameters(build_network("sunet"))


def test_se_ca_variant_has_context_aggregation_and_squeeze_excitation():
    net = build_network("sunet_se_ca")
    cas = [m for m in net.modules() if isinstance(m, ContextAggregation2d)]
    ses = [m for m in net.modules() if isinstance(m, SqueezeExcitation2d)]
    assert len(cas) == len(ses) == 7
    dilations = {m.dilation for m in cas[0].modules() if isinstance(m, nn.Conv2d)}
    kernels = {m.kernel_size for m in cas[0].modules() if isinstance(m, nn.Conv2d)}
    assert dilations == {(1, 1), (2, 2), (3, 3)} and (5, 5) in kernels
    assert 4.8e6 < count_parameters(net) < 7.5e6


def test_squeeze_excitation_rescales_each_channel_by_a_factor_in_0_1():
    se = SqueezeExcitation2d(16)
    x = torch.rand(2, 16, 8, 8) + 0.5
    y = se(x)
    ratio = y / x
    per_channel = ratio.flatten(2)
    assert torch.allclose(per_channel, per_channel[..., :1].expand_as(per_channel), atol=1e-6)
    assert bool((ratio > 0).all() and (ratio < 1).all())


@pytest.mark.parametrize(
    "architecture, arguments",
    [
        ("sunet", {"features": [16, 32, 64, 64]}),
        ("sunet", {"features": [16, 32, 64, 64], "upsampling": "transposed"}),
        ("sunet_se_ca", {"features": [16, 32, 64, 64]}),
        ("unet", {"features": [8, 16, 32, 64, 128]}),
    ],
)
@pytest.mark.parametrize("size", [(64, 64), (37, 45)])
def test_any_input_size_gives_logits_of_the_same_size(architecture, arguments, size):
    net = build_network(architecture, in_channels=1, num_classes=5, **arguments).eval()
    assert net.spatial_dims == 2 and net.architecture == architecture
    with torch.inference_mode():
        out = net(torch.randn(2, 1, *size))
    assert out.shape == (2, 5, *size)
    assert torch.isfinite(out).all()


def test_rebuilding_from_arguments_gives_the_same_architecture():
    net = build_network("sunet", upsampling="transposed", dropout=0.1)
    again = build_network(net.architecture, **net.arguments)
    assert again.arguments == net.arguments
    assert [tuple(p.shape) for p in again.parameters()] == [tuple(p.shape) for p in net.parameters()]


def test_training_step_reaches_every_parameter():
    net = build_network("sunet", features=[8, 16, 32, 32]).train()
    out = net(torch.randn(2, 1, 32, 32))
    out.logsumexp(dim=1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
