"""Coarse-to-fine 3D network of [Zhang2019]: encoder geometry, training outputs, ROI inference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segthor.networks import build_network
from segthor.networks.coarse_to_fine3d import STRIDE, _box_of, _crop, _grow

SMALL = {"widths": [4, 8, 8, 16]}


def _target(shape=(1, 16, 40, 48)) -> torch.Tensor:
    t = torch.zeros(shape, dtype=torch.long)
    t[:, 4:12, 10:26, 12:30] = 2  # heart
    t[:, 1:15, 28:32, 33:37] = 1  # esophagus
    return t


def test_encoder_output_is_x8_y8_z2_with_256_channels_and_dilations_3_and_6():
    net = build_network("c2f3d").eval()
    assert net.spatial_dims == 3 and net.architecture == "c2f3d"
    with torch.inference_mode():
        levels, coarse = net.encode(torch.randn(1, 1, 32, 32, 32))
    assert levels[0].shape == (1, 256, 16, 4, 4)  # (D/2, H/8, W/8) = (Z/2, Y/8, X/8)
    assert coarse.shape == (1, 5, 16, 4, 4)
    assert [f.shape[1] for f in levels] == [256, 128, 64, 32]
    assert net.res3.conv1.dilation == (3, 3, 3) and net.res4.conv1.dilation == (6, 6, 6)
    assert net.res4.conv2.dilation == (6, 6, 6) and net.res2.conv1.dilation == (1, 1, 1)
    assert len(net.fine) == 4 and all(isinstance(c, nn.Conv3d) for c in net.coarse_heads)
    kernels = {m.kernel_size for m in net.modules() if isinstance(m, nn.Conv3d)}
    assert kernels == {(3, 3, 3), (1, 1, 1)}  # [Zhang2019]: 3x3x3 convs (1x1x1 only for heads and projections)


def test_forward_train_returns_what_the_paper_losses_need():
    torch.manual_seed(0)
    net = build_network("c2f3d", **SMALL).train()
    target = _target()
    out = net.forward_train(torch.randn(1, 1, 16, 40, 48), target)
    assert out["coarse"].shape == out["coarse_target"].shape == (1, 5, 8, 5, 6)
    assert torch.allclose(out["coarse_target"].sum(dim=1), torch.ones(1, 8, 5, 6))
    assert bool(((out["coarse"] > 0) & (out["coarse"] < 1)).all())
    organs = {k.split("/")[1] for k in out if k.startswith("fine_logits/")}
    assert organs == {"heart", "esophagus"}  # absent organs get no decoder pass
    for organ, label in (("heart", 2), ("esophagus", 1)):
        logits, crop, box = out[f"fine_logits/{organ}"], out[f"fine_target/{organ}"], out[f"fine_box/{organ}"]
        assert logits.shape == crop.shape and logits.shape[:2] == (1, 1)
        z0, z1, y0, y1, x0, x1 = box.tolist()
        assert (z0 % 2, y0 % 8, x0 % 8) == (0, 0, 0)
        assert logits.shape[2:] == (z1 - z0, y1 - y0, x1 - x0)
        assert crop.sum() == (target == label).sum()  # the ROI holds the whole organ
    loss = sum((1 - v).mean() for k, v in out.items() if k == "coarse")
    loss = loss + sum(v.sigmoid().mean() for k, v in out.items() if k.startswith("fine_logits/"))
    loss.backward()
    assert net.stem[0].weight.grad.abs().sum() > 0
    assert net.fine[1].head.weight.grad is not None  # heart decoder trained
    assert net.fine[2].head.weight.grad is None  # trachea absent: untouched


def test_forward_train_with_coarse_rois_and_channel_dim_target():
    net = build_network("c2f3d", **SMALL).train()
    out = net.forward_train(torch.randn(2, 1, 15, 37, 41), _target((2, 1, 15, 37, 41)), roi_from="coarse")
    assert out["coarse"].shape == (2, 5, 8, 5, 6)
    assert "fine_logits/heart" in out and out["fine_logits/heart"].shape[0] == 2
    coarse_stage = net.forward_train(torch.randn(1, 1, 8, 16, 16), _target((1, 8, 16, 16)), with_fine=False)
    assert set(coarse_stage) == {"coarse", "coarse_target"}


@pytest.mark.parametrize("size", [(16, 32, 32), (13, 37, 29)])
def test_inference_scores_have_the_input_size(size):
    net = build_network("c2f3d", **SMALL).eval()
    with torch.inference_mode():
        scores = net(torch.randn(1, 1, *size))
    assert scores.shape == (1, 5, *size)
    assert bool(((scores >= 0) & (scores <= 1)).all())
    assert torch.allclose(scores[:, 0], 1 - scores[:, 1:].amax(dim=1))


def test_inference_uses_fine_decoders_only_inside_detected_rois():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 8, 32, 32)
    net = build_network("c2f3d", threshold=1.0, **SMALL).eval()  # sigmoid averages never reach 1
    for decoder in net.fine:
        decoder.forward = lambda crops: (_ for _ in ()).throw(AssertionError("fine decoder ran"))
    with torch.inference_mode():
        coarse_only = net(x)
        _, coarse = net.encode(x)
    upsampled = torch.nn.functional.interpolate(coarse[:, 1:], size=x.shape[2:], mode="trilinear")
    assert torch.allclose(coarse_only[:, 1:], upsampled)

    everywhere = build_network("c2f3d", threshold=0.0, **SMALL).eval()  # every organ's ROI = whole volume
    with torch.inference_mode():
        scores = everywhere(x)
        levels, coarse = everywhere.encode(x)
        heart = torch.sigmoid(everywhere._fine(2, levels, (0, 4, 0, 4, 0, 4)))
    assert torch.allclose(scores[0, 2], heart[0, 0], atol=1e-6)


def test_box_helpers():
    mask = torch.zeros(4, 6, 8, dtype=torch.bool)
    assert _box_of(mask) is None
    mask[1:3, 2, 5:7] = True
    assert _box_of(mask) == (1, 3, 2, 3, 5, 7)
    assert _grow((1, 3, 2, 3, 5, 7), 1, (4, 6, 8)) == (0, 4, 1, 4, 4, 8)
    assert STRIDE == (2, 8, 8)


def test_memory_saving_inference_paths_are_exact():
    torch.manual_seed(0)
    net = build_network("c2f3d", **SMALL).eval()
    for name, buffer in net.named_buffers():
        if name.endswith("running_mean"):
            buffer.normal_(0, 0.2)
    x = torch.randn(1, 1, 40, 16, 24)
    net.slab_voxels = 1  # slabs of 16 slices: three of them, with halos
    with torch.inference_mode():
        full_f0 = net.stem(x)
        assert torch.allclose(net._res1_in_slabs(x), net.res1(full_f0), atol=1e-5)
        for box in [(0, 20, 0, 2, 0, 3), (3, 7, 1, 2, 1, 2), (5, 20, 1, 2, 0, 2)]:  # whole, interior, edges
            assert torch.allclose(net._stem_crop(x, box), _crop(full_f0, box, STRIDE), atol=1e-6)
