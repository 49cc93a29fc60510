"""The two training stages of the coarse-to-fine 3D network ([Zhang2019]): the encoder and the coarse
decoder alone for `coarse_epochs` epochs, then the whole network (coarse + fine decoders) together.

Registered as the "coarse_to_fine" trainer (`segthor_training.registry.TRAINERS`), the one `train` picks for
the `c2f3d` architecture.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from segthor_training.trainer import Trainer, TrainForward


class CoarseToFineForward(TrainForward):
    """What DDP wraps for the coarse-to-fine net: the dict of `forward_train(x, target)` outputs (coarse maps
    and, per organ present, the fine decoder's logits and target on its ROI)."""

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> Any:
        return self.net.forward_train(x, target)


class CoarseToFineTrainer(Trainer):
    """Stage "coarse" (epochs 0 .. coarse_epochs - 1): the loss leaves out the fine decoders, so only the
    encoder and the coarse decoder learn. Stage "full" afterwards: the whole loss, a fresh scheduler (its
    plateau was measured on the other loss), and the best checkpoint chosen among full-stage epochs only."""

    # The fine decoders get no gradient in the coarse stage, nor a decoder whose organ a batch lacks.
    find_unused_parameters = True

    def forward_module(self, net: nn.Module) -> nn.Module:
        return CoarseToFineForward(net)

    def compute_loss(self, outputs: Any, labels: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(outputs, labels)  # the c2f loss takes the outputs dict; it casts to float itself

    def stage(self, epoch: int) -> str:
        return "coarse" if epoch < self.config.coarse_epochs else "full"

    def on_epoch_start(self, epoch: int, first_step: int) -> None:
        super().on_epoch_start(epoch, first_step)
        self.loss_fn.fine_enabled = self.stage(epoch) == "full"
        if epoch == self.config.coarse_epochs and first_step == 0 and self.scheduler is not None:
            self.scheduler = self.make_scheduler()  # a fresh plateau for the new loss
