"""Losses of the seeds: multi-class Dice ([Lambert2020]), class-weighted cross-entropy ([Liu2020]), Dice with hard-voxel
weighting ([Zhang2019]), Dice + cross-entropy (a common, stable combination used for the demo ENet)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segthor.organs import NUM_CLASSES
from segthor_training.registry import LOSSES

EPS = 1.0


def soft_dice(probs: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """Per-class soft Dice over the batch and all voxels: (C,)."""
    dims = [0, *range(2, probs.ndim)]
    intersection = (probs * onehot).sum(dims)
    return (2 * intersection + EPS) / (probs.sum(dims) + onehot.sum(dims) + EPS)


def one_hot(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, ...) int labels -> (N, C, ...) float one-hot."""
    return F.one_hot(target.long(), num_classes).movedim(-1, 1).float()


class MultiClassDiceLoss(nn.Module):
    """1 - mean soft Dice of the organ classes (background optional), on softmax probabilities."""

    def __init__(self, include_background: bool = False):
        super().__init__()
        self.first = 0 if include_background else 1

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.float().softmax(1)
        dice = soft_dice(probs, one_hot(target, logits.shape[1]))
        return 1 - dice[self.first :].mean()


class WeightedCrossEntropyLoss(nn.Module):
    """Cross-entropy with fixed per-class weights set by organ size ([Liu2020])."""

    def __init__(self, class_weights: list[float] | None = None):
        super().__init__()
        w = torch.tensor(class_weights if class_weights is not None else [1.0] * NUM_CLASSES, dtype=torch.float32)
        self.register_buffer("weight", w)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target.long(), weight=self.weight)


class DiceCELoss(nn.Module):
    def __init__(self, class_weights: list[float] | None = None, ce_weight: float = 1.0):
        super().__init__()
        self.dice = MultiClassDiceLoss()
        self.ce = WeightedCrossEntropyLoss(class_weights)
        self.ce_weight = ce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.dice(logits, target) + self.ce_weight * self.ce(logits, target)


def hard_voxel_dice_loss(
    probs: torch.Tensor, target: torch.Tensor, hard_weight: float = 2.0, threshold: float = 0.5
) -> torch.Tensor:
    """Binary Dice loss with error-prone voxels (|p - t| > threshold) weighted 1 + hard_weight ([Zhang2019])."""
    target = target.float()
    with torch.no_grad():
        weights = 1.0 + hard_weight * ((probs - target).abs() > threshold).float()
    intersection = (weights * probs * target).sum()
    return 1 - (2 * intersection + EPS) / ((weights * probs).sum() + (weights * target).sum() + EPS)


class HardVoxelDiceLoss(nn.Module):
    """Multi-class version for 2D nets: softmax, then the hard-voxel Dice per organ class, averaged."""

    def __init__(self, hard_weight: float = 2.0, hard_threshold: float = 0.5):
        super().__init__()
        self.hard_weight, self.threshold = hard_weight, hard_threshold

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.float().softmax(1)
        onehot = one_hot(target, logits.shape[1])
        losses = [
            hard_voxel_dice_loss(probs[:, c], onehot[:, c], self.hard_weight, self.threshold)
            for c in range(1, logits.shape[1])
        ]
        return torch.stack(losses).mean()


class CoarseToFineLoss(nn.Module):
    """[Zhang2019]: Dice between the averaged coarse sigmoid maps and the pooled target (all classes), plus the
    hard-voxel Dice of each organ's fine decoder on its ROI (skipped in the coarse-only stage)."""

    def __init__(self, hard_weight: float = 2.0, hard_threshold: float = 0.5):
        super().__init__()
        self.hard_weight, self.threshold = hard_weight, hard_threshold
        self.fine_enabled = True

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor | None = None) -> torch.Tensor:
        coarse, coarse_target = outputs["coarse"].float(), outputs["coarse_target"].float()
        loss = 1 - soft_dice(coarse, coarse_target).mean()
        if self.fine_enabled:
            fine = [
                hard_voxel_dice_loss(
                    torch.sigmoid(outputs[k].float()),
                    outputs["fine_target/" + k[12:]],
                    self.hard_weight,
                    self.threshold,
                )
                for k in outputs
                if k.startswith("fine_logits/")
            ]
            if fine:
                loss = loss + torch.stack(fine).mean()
        return loss


def build_loss(spec: dict[str, Any]) -> nn.Module:
    """The loss `spec` names in `segthor_training.registry.LOSSES` (`{"name": "dice_ce", "ce_weight": 0.5}`;
    Dice when unnamed); ValueError when the name or an argument is unknown."""
    return LOSSES.build(spec)
