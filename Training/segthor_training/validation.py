"""Validation: loss on the held-out patients' organ slices (or volumes) and 3D Dice per organ, the labels
scored coming from the same inferer that runs the exported package."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from segthor.metrics.overlap import dice_3d
from segthor.organs import ORGANS
from segthor.preprocessing.slice_context import CENTRE_ONLY, slice_stack
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


def as_input(batch: np.ndarray, device: torch.device, channels_last: bool, has_channels: bool = False) -> torch.Tensor:
    """(N, ...) float array -> (N, 1, ...) tensor on `device` ((N, C, y, x) as it is with `has_channels`: a 2.5D
    net's stacks), channels_last for 2D nets when asked."""
    x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
    x = (x if has_channels else x.unsqueeze(1)).to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


@torch.no_grad()
def validation_loss(
    net: torch.nn.Module,
    case: Case,
    loss_fn: Any,
    device: torch.device,
    batch_size: int,
    channels_last: bool,
    autocast: Any,
) -> list[tuple[float, int]]:
    """(loss, weight) pairs of one case, computed as training computes its loss: a 2D net on the case's organ
    slices in batches of `batch_size` (weight: slices), a 3D net on the whole volume through `forward_train`
    (weight 1). Not through the inferer: the 3D loss needs `forward_train`'s outputs, which the inferer's class
    scores are not, so the loss keeps its own pass (and for a 3D net the whole volume, unlike inference's windows)."""
    losses: list[tuple[float, int]] = []
    if getattr(net, "spatial_dims", 2) == 3:
        x = as_input(case.image[None], device, False)
        y = torch.from_numpy(case.labels[None].astype(np.int64)).to(device)
        with autocast:
            losses.append((float(loss_fn(net.forward_train(x, y))), 1))
        return losses
    has_organ = case.labels.reshape(case.labels.shape[0], -1).any(axis=1)
    offsets = tuple(getattr(net, "slice_offsets_mm", CENTRE_ONLY))
    for start in range(0, case.image.shape[0], batch_size):
        stop = min(start + batch_size, case.image.shape[0])
        keep = has_organ[start:stop]
        if keep.any():
            zs = np.arange(start, stop)[keep]
            if offsets == CENTRE_ONLY:
                x = as_input(case.image[zs], device, channels_last)
            else:
                x = as_input(slice_stack(case.image, zs, offsets, float(case.spacing[2])), device, channels_last, True)
            with autocast:
                logits = net(x)
            y = torch.from_numpy(case.labels[start:stop][keep].astype(np.int64)).to(device)
            losses.append((float(loss_fn(logits.float(), y)), int(keep.sum())))
    return losses


@torch.no_grad()
def validate(
    net: torch.nn.Module,
    cases: list[Case],
    loss_fn: Any,
    device: torch.device,
    batch_size: int = 16,
    channels_last: bool = False,
    amp: bool = False,
) -> tuple[float, dict[str, float]]:
    """(mean validation loss, mean 3D Dice per organ over `cases`).

    The labels whose Dice is scored come from the inferer that runs the exported package at inference
    (`segthor.inference.prediction.inferer_for`: model.json's `inferer` entry, which a trained package leaves
    at the default of its network kind), so validation Dice is measured as inference runs the net; the loss
    comes from `validation_loss`."""
    from segthor.inference.prediction import inferer_for

    was_training = net.training
    net.eval()
    losses: list[tuple[float, int]] = []
    dices = []
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=amp and device.type == "cuda")
    inferer = inferer_for(net)
    try:
        for case in cases:
            losses += validation_loss(net, case, loss_fn, device, batch_size, channels_last, autocast)
            image = np.ascontiguousarray(case.image, dtype=np.float32)
            pred, _ = inferer.run(net, image, device, batch_size, tune_threads=False, spacing=case.spacing)
            dices.append(dice_per_organ(pred, case.labels))
    finally:
        net.train(was_training)
    total = sum(n for _, n in losses)
    loss = sum(v * n for v, n in losses) / total if total else math.nan
    return loss, mean_dice(dices)
