"""Validation: loss on the held-out patients' organ slices (or volumes) and 3D Dice per organ."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from segthor.metrics.overlap import dice_3d
from segthor.organs import ORGANS
from segthor_training.dataset import Case


def dice_per_organ(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """3D Dice of each organ; NaN where the organ is absent from both (nothing to score)."""
    out = {}
    for organ in ORGANS:
        p, t = pred == organ.label, truth == organ.label
        out[organ.key] = dice_3d(p, t) if p.any() or t.any() else math.nan
    return out


def mean_dice(per_case: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for organ in ORGANS:
        values = [d[organ.key] for d in per_case if not math.isnan(d[organ.key])]
        out[organ.key] = float(np.mean(values)) if values else math.nan
    return out


def as_input(batch: np.ndarray, device: torch.device, channels_last: bool) -> torch.Tensor:
    """(N, ...) float array -> (N, 1, ...) tensor on `device`, channels_last for 2D nets when asked."""
    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).unsqueeze(1).to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


@torch.no_grad()
def validate(net: torch.nn.Module, cases: list[Case], loss_fn: Any, device: torch.device, batch_size: int = 16,
             channels_last: bool = False, amp: bool = False) -> tuple[float, dict[str, float]]:
    """(mean validation loss, mean Dice per organ over `cases`)."""
    was_training = net.training
    net.eval()
    losses: list[tuple[float, int]] = []
    dices = []
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=amp and device.type == "cuda")
    try:
        for case in cases:
            if getattr(net, "spatial_dims", 2) == 3:
                x = as_input(case.image[None], device, False)
                y = torch.from_numpy(case.labels[None].astype(np.int64)).to(device)
                with autocast:
                    losses.append((float(loss_fn(net.forward_train(x, y))), 1))
                    pred = net(x).argmax(1)[0].to(torch.uint8).cpu().numpy()
            else:
                pred = np.zeros(case.labels.shape, np.uint8)
                has_organ = case.labels.reshape(case.labels.shape[0], -1).any(axis=1)
                for start in range(0, case.image.shape[0], batch_size):
                    stop = min(start + batch_size, case.image.shape[0])
                    with autocast:
                        logits = net(as_input(case.image[start:stop], device, channels_last))
                    pred[start:stop] = logits.argmax(1).to(torch.uint8).cpu().numpy()
                    keep = torch.from_numpy(has_organ[start:stop]).to(device)
                    if keep.any():
                        y = torch.from_numpy(case.labels[start:stop].astype(np.int64)).to(device)
                        losses.append((float(loss_fn(logits[keep].float(), y[keep])), int(keep.sum())))
            dices.append(dice_per_organ(pred, case.labels))
    finally:
        net.train(was_training)
    total = sum(n for _, n in losses)
    loss = sum(v * n for v, n in losses) / total if total else math.nan
    return loss, mean_dice(dices)
