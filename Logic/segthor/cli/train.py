"""`segthor train`: the headless training package's command (installed with the project, not inside Slicer)."""

from __future__ import annotations

import argparse

from segthor.errors import SegthorError

HELP = "train a segmentation network on a SegTHOR-format folder and export a model package"

MISSING_TRAINING_PACKAGE = (
    "the training package segthor_training is not installed; install the project from a source checkout "
    "(pip install -e .) to train networks"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from segthor_training.cli import add_arguments as training_arguments
    except ImportError:
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.description = f"{HELP} (unavailable: {MISSING_TRAINING_PACKAGE})"
        return
    training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        from segthor_training.cli import run as training_run
    except ImportError as exc:
        raise SegthorError(MISSING_TRAINING_PACKAGE) from exc
    return training_run(args)
