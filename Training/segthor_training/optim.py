"""Optimisers and schedules of the seeds: SGD momentum 0.9 / wd 5e-4 / lr 1e-3, divided by 10 on plateau (000_);
AdamW lr 1e-3 wd 1e-4, plateau factor 0.5 patience 5 (004_); Adam lr 1e-3 (002_)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


def build_optimizer(params: Iterable[torch.nn.Parameter], spec: dict[str, Any]) -> torch.optim.Optimizer:
    spec = dict(spec)
    name = spec.pop("name", "adam").lower()
    lr = float(spec.pop("lr", 1e-3))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.pop("momentum", 0.9)),
                               weight_decay=float(spec.pop("weight_decay", 5e-4)), **spec)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=float(spec.pop("weight_decay", 0.0)), **spec)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=float(spec.pop("weight_decay", 1e-4)), **spec)
    raise ValueError(f"unknown optimizer {name!r}; known: sgd, adam, adamw")


def build_scheduler(optimizer: torch.optim.Optimizer, spec: dict[str, Any]
                    ) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """ReduceLROnPlateau on the validation loss ("plateau"), or None ("none")."""
    spec = dict(spec or {})
    name = spec.pop("name", "plateau").lower()
    if name == "none":
        return None
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=float(spec.pop("factor", 0.1)), patience=int(spec.pop("patience", 5)),
            **spec)
    raise ValueError(f"unknown scheduler {name!r}; known: plateau, none")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
