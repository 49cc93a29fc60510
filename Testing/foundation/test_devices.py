"""Device choice: CUDA when present (one GPU per torchrun process), CPU otherwise, clear error when forced."""

from __future__ import annotations

import pytest
import torch

from segthor.devices import resolve_device
from segthor.errors import InputError


def test_auto_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("").type == "cpu"


def test_auto_takes_the_local_rank_gpu_under_torchrun(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("auto") == torch.device("cuda:1")


def test_forcing_cuda_without_it_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="--device cpu"):
        resolve_device("cuda")


def test_unknown_device_is_refused():
    with pytest.raises(InputError, match="auto, cpu, cuda"):
        resolve_device("tpu")
