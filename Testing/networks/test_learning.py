"""Smoke tests that the networks learn: a few optimiser steps on one synthetic example cut the loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segthor.networks import build_network


def _disk_slice(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    heart = ((yy - 18) ** 2 + (xx - 14) ** 2) < 36
    trachea = ((yy - 8) ** 2 + (xx - 22) ** 2) < 6
    label = torch.zeros(size, size, dtype=torch.long)
    label[heart], label[trachea] = 2, 3
    image = torch.where(heart, 1.0, torch.where(trachea, -2.0, 0.0)) + 0.1 * torch.randn(size, size)
    return image[None, None], label[None]


@pytest.mark.parametrize(
    "architecture, arguments", [("enet", {"base_width": 8}), ("sunet", {"features": [8, 16, 16, 16]})]
)
def test_2d_nets_fit_one_slice(architecture, arguments):
    torch.manual_seed(0)
    image, label = _disk_slice()
    net = build_network(architecture, dropout=0.0, **arguments).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = F.cross_entropy(net(image), label)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_coarse_to_fine_net_fits_one_volume():
    torch.manual_seed(0)
    target = torch.zeros(1, 8, 32, 32, dtype=torch.long)
    target[:, 2:7, 8:24, 8:20] = 2
    image = (target == 2).float()[:, None] + 0.1 * torch.randn(1, 1, 8, 32, 32)
    net = build_network("c2f3d", widths=[4, 8, 8, 16]).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)

    def dice_loss(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 1 - 2 * (p * t).sum() / (p.sum() + t.sum() + 1e-6)

    first = last = None
    for _ in range(15):
        out = net.forward_train(image, target)
        loss = dice_loss(out["coarse"], out["coarse_target"])
        loss = loss + dice_loss(out["fine_logits/heart"].sigmoid(), out["fine_target/heart"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        first = loss.item() if first is None else first
        last = loss.item()
    assert last < 0.7 * first
