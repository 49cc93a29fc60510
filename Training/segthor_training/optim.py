"""Optimisers and schedules of the seeds: SGD momentum 0.9 / wd 5e-4 / lr 1e-3, divided by 10 on plateau
([Lambert2020]); AdamW lr 1e-3 wd 1e-4, plateau factor 0.5 patience 5 ([deReus]); Adam lr 1e-3 ([Liu2020]).

Training configs name them through `segthor_training.registry.OPTIMIZERS` / `SCHEDULERS`; extra keyword arguments
go to the torch class (e.g. `"betas": [0.9, 0.99]`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from segthor_training.registry import OPTIMIZERS, SCHEDULERS

Params = Iterable[torch.nn.Parameter]


def sgd(
    params: Params, lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 5e-4, **options: Any
) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=float(lr), momentum=float(momentum), weight_decay=float(weight_decay), **options)


def adam(params: Params, lr: float = 1e-3, weight_decay: float = 0.0, **options: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=float(lr), weight_decay=float(weight_decay), **options)


def adamw(params: Params, lr: float = 1e-3, weight_decay: float = 1e-4, **options: Any) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=float(lr), weight_decay=float(weight_decay), **options)


def plateau(
    optimizer: torch.optim.Optimizer, factor: float = 0.1, patience: int = 5, **options: Any
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """ReduceLROnPlateau on the validation loss (the trainer steps it once per epoch with that loss)."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=float(factor), patience=int(patience), **options
    )


def no_scheduler(optimizer: torch.optim.Optimizer) -> None:
    return None


def build_optimizer(params: Params, spec: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimiser `spec` names (`{"name": "sgd", "lr": 0.01, ...}`; Adam when unnamed); ValueError when the
    name or an argument is unknown."""
    return OPTIMIZERS.build(spec, params)


def build_scheduler(optimizer: torch.optim.Optimizer, spec: dict[str, Any] | None) -> Any:
    """The learning-rate scheduler `spec` names (plateau when unnamed), or None for "none"."""
    return SCHEDULERS.build(spec, optimizer)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
