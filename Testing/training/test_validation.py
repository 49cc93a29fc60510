"""Validation scores the labels of the inferer that runs the exported package."""

from __future__ import annotations

import math

import numpy as np
import torch

from segthor.inference.prediction import run_network
from segthor.organs import NUM_CLASSES
from segthor_training.dataset import Case
from segthor_training.validation import dice_per_organ, validate


class _TinyNet2D(torch.nn.Module):
    spatial_dims = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, NUM_CLASSES, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_validation_dice_is_the_dice_of_the_inferers_labels():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(6, 16, 16)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=(6, 16, 16)).astype(np.uint8)
    labels[0] = 0  # a slice without organs adds nothing to the loss
    case = Case("p1", image, labels, (1.0, 1.0, 1.0))
    net = _TinyNet2D()
    loss, dice = validate(net, [case], torch.nn.CrossEntropyLoss(), torch.device("cpu"), batch_size=4)
    expected_labels, _ = run_network(net.eval(), image, torch.device("cpu"), 4, tune_threads=False)
    assert dice == dice_per_organ(expected_labels, labels)
    with torch.no_grad():
        logits = net(torch.from_numpy(image[1:, None]))
    expected_loss = float(torch.nn.CrossEntropyLoss()(logits, torch.from_numpy(labels[1:].astype(np.int64))))
    assert math.isclose(loss, expected_loss, rel_tol=1e-5)
