"""Registries of the training parts a training config names: losses, optimisers, learning-rate schedulers, trainers.

One style for all of them, like the networks' `segthor.networks.registry`: an entry is a name, a one-line
description and a target ("module:callable", imported only when something is built, so reading the tables
needs no torch). A training config names an entry and gives its keyword arguments in the same JSON object:

    "loss": {"name": "dice_ce", "ce_weight": 0.5}
    "optimizer": {"name": "adamw", "lr": 0.002}
    "scheduler": {"name": "plateau", "factor": 0.5, "patience": 3}

An unknown name, or an argument the target does not take, is a `ValueError` of one line that lists what is
known (the trainer turns it into an `InputError` naming the training config before the run folder is written).
Add an entry to a table below, or at run time with `LOSSES.add(Entry(...))` (a target may also be a callable).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    target: str | Callable[..., Any]  # "module:callable", or the callable itself (plug-ins)

    def constructor(self) -> Callable[..., Any]:
        if callable(self.target):
            return self.target
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class Registry:
    """Named builders of one kind ("loss", "optimizer", ...); `build(spec, *positional)` calls one."""

    def __init__(self, kind: str, default: str, entries: tuple[Entry, ...] = ()):
        self.kind, self.default = kind, default
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> Entry:
        """Register `entry` (names are case-insensitive); a name already taken is a ValueError."""
        key = entry.name.lower()
        if key in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is already registered")
        self._entries[key] = entry
        return entry

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def get(self, name: str) -> Entry:
        """The entry called `name`; ValueError listing the known names otherwise."""
        entry = self._entries.get(str(name).lower())
        if entry is None:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}")
        return entry

    def build(self, spec: dict[str, Any] | None, *positional: Any) -> Any:
        """Call the entry named `spec["name"]` (this registry's default when absent) with `positional` and the
        rest of `spec` as keyword arguments. ValueError (one line) for an unknown name or argument."""
        arguments = dict(spec or {})
        name = str(arguments.pop("name", self.default))
        constructor = self.get(name).constructor()
        parameters = inspect.signature(constructor).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        named = [p for p in parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        accepted = [p.name for p in named[len(positional) :]]
        unknown = sorted(set(arguments) - set(accepted))
        if unknown and not takes_any:
            raise ValueError(
                f"{self.kind} {name!r} does not take argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(accepted) or 'none'}"
            )
        try:
            return constructor(*positional, **arguments)
        except TypeError as exc:  # an argument the wrapped torch class refuses, or a value of the wrong type
            raise ValueError(f"{self.kind} {name!r}: {exc}") from exc


LOSSES = Registry(
    "loss",
    "dice",
    (
        Entry(
            "dice",
            "1 - mean soft Dice of the organ classes ([Lambert2020])",
            "segthor_training.losses:MultiClassDiceLoss",
        ),
        Entry(
            "wce",
            "cross-entropy with fixed per-class weights ([Liu2020])",
            "segthor_training.losses:WeightedCrossEntropyLoss",
        ),
        Entry("dice_ce", "multi-class Dice + weighted cross-entropy", "segthor_training.losses:DiceCELoss"),
        Entry(
            "hard_dice",
            "Dice with hard-voxel weighting per organ class ([Zhang2019], 2D form)",
            "segthor_training.losses:HardVoxelDiceLoss",
        ),
        Entry(
            "c2f",
            "coarse Dice + hard-voxel fine Dice of the coarse-to-fine 3D network ([Zhang2019])",
            "segthor_training.losses:CoarseToFineLoss",
        ),
    ),
)

OPTIMIZERS = Registry(
    "optimizer",
    "adam",
    (
        Entry("sgd", "SGD, momentum 0.9, weight decay 5e-4 by default ([Lambert2020])", "segthor_training.optim:sgd"),
        Entry("adam", "Adam, no weight decay by default ([Liu2020])", "segthor_training.optim:adam"),
        Entry("adamw", "AdamW, weight decay 1e-4 by default ([deReus])", "segthor_training.optim:adamw"),
    ),
)

SCHEDULERS = Registry(
    "scheduler",
    "plateau",
    (
        Entry(
            "plateau",
            "learning rate x factor when the validation loss stalls for `patience` epochs",
            "segthor_training.optim:plateau",
        ),
        Entry("none", "a constant learning rate", "segthor_training.optim:no_scheduler"),
    ),
)

TRAINERS = Registry(
    "trainer",
    "default",
    (
        Entry(
            "default",
            "one stage: every epoch trains the whole network on the training config's loss",
            "segthor_training.trainer:Trainer",
        ),
        Entry(
            "coarse_to_fine",
            "[Zhang2019]'s two stages: encoder + coarse decoder for `coarse_epochs`, then all together",
            "segthor_training.coarse_to_fine:CoarseToFineTrainer",
        ),
    ),
)
