"""ENet's unpooling calls torch's max-unpooling kernel directly (its Python wrapper's size check imports sympy,
~0.5 s of a CLI run): the same values and gradients as `F.max_unpool2d(x, indices, 2)`."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from segthor.networks import enet  # noqa: E402


@pytest.mark.parametrize("shape", [(2, 3, 6, 8), (1, 4, 10, 14)])  # even: ENet pads to a multiple of 8
@pytest.mark.parametrize("channels_last", [False, True])
def test_unpool_matches_torch_functional(shape, channels_last):
    torch.manual_seed(0)
    x = torch.randn(shape)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    if channels_last:
        pooled = pooled.contiguous(memory_format=torch.channels_last)
    a = pooled.clone().requires_grad_(True)
    b = pooled.clone().requires_grad_(True)
    fast = enet.max_unpool2x2(a, indices)
    plain = F.max_unpool2d(b, indices, 2)
    assert fast.shape == plain.shape and torch.equal(fast, plain)
    weights = torch.randn(plain.shape)
    (fast * weights).sum().backward()
    (plain * weights).sum().backward()
    assert torch.equal(a.grad, b.grad)


def test_enet_logits_match_the_functional_unpooling(monkeypatch):
    torch.manual_seed(1)
    model = enet.ENet(in_channels=1, num_classes=5, base_width=16).eval()
    x = torch.randn(2, 1, 40, 48)
    with torch.inference_mode():
        fast = model(x)
        monkeypatch.setattr(enet, "max_unpool2x2", lambda y, indices: F.max_unpool2d(y, indices, 2))
        plain = model(x)
    assert torch.equal(fast, plain)
