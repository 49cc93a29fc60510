"""Command-line options of `segthor train` and `python -m segthor_training` / torchrun (the same parser)."""

from __future__ import annotations

import argparse

from segthor.devices import DEVICE_CHOICES
from segthor_training.config import available_recipes

HELP = "train a segmentation network on a SegTHOR-format folder and export a model package"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        help="SegTHOR-format folder: Patient_XX/Patient_XX.nii.gz + Patient_XX/GT.nii.gz",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="run folder: config, split, log.csv, checkpoints/, model/ (the exported package)",
    )
    parser.add_argument(
        "--recipe",
        default="enet_fast2d",
        help=f"training config name (segthor_training/recipes: {', '.join(available_recipes())}) "
        "or a config .json path",
    )
    parser.add_argument("--epochs", type=int, help="number of epochs (overrides the training config's)")
    parser.add_argument("--batch-size", type=int, help="samples per optimiser step (overrides the training config's)")
    parser.add_argument("--lr", type=float, help="learning rate (overrides the training config's optimizer.lr)")
    parser.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass over the data)")
    parser.add_argument("--max-cases", type=int, help="use only the first N patients")
    parser.add_argument("--model-id", help="id of the exported model package")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config entry, e.g. --set arguments.base_width=32 --set optimizer.name=sgd",
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT from its last checkpoint")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-epoch lines")


def run(args: argparse.Namespace) -> int:
    from segthor_training.trainer import train

    result = train(
        args.data_dir,
        args.output,
        args.recipe,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        steps_per_epoch=args.steps_per_epoch,
        max_cases=args.max_cases,
        model_id=args.model_id,
        sets=args.set,
        resume=args.resume,
        device=args.device,
        progress=not args.no_progress,
    )
    if result.package_dir is not None:
        dice = ", ".join(f"{k} {v:.3f}" for k, v in result.validation_dice.items())
        print(f"model package: {result.package_dir} (best epoch {result.best_epoch}; validation Dice {dice})")
    return 0
