"""Best checkpoint -> model package (safetensors + JSON) that inference loads without this package."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from segthor_training.checkpoint import model_state, read_checkpoint
from segthor_training.config import DEFAULT_DISCLAIMER, RECIPES_DIR, TrainConfig
from segthor_training.dataset import SPLIT_FILE, CaseFiles, is_phantom
from segthor_training.validation import dice_per_organ, mean_dice


def _finite(d: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in d.items() if v is not None and math.isfinite(v)}


def _predict(net: Any, array: np.ndarray, spacing: tuple[float, float, float], batch: int = 16) -> np.ndarray:
    """The inference pipeline's own network loop, so validation Dice is measured as `segthor segment` runs."""
    from segthor.inference.prediction import run_network

    device = next(net.parameters()).device
    return run_network(net, array, device, batch, tune_threads=False, spacing=spacing)[0]


def input_grid_dice(net: Any, recipe: Any, cases: list[CaseFiles]) -> dict[str, float]:
    """Mean 3D Dice per organ of `net` on `cases`, in each CT's own grid: preprocess, predict, restore_labels
    (what `segthor segment` does, without post-processing), against the original GT."""
    from segthor.io.volume import read_volume
    from segthor.preprocessing import preprocess, restore_labels

    net.eval()
    scores = []
    for files in cases:
        pre = preprocess(read_volume(files.image), recipe)
        labels = restore_labels(_predict(net, pre.array, pre.context.network_grid.spacing), pre.context)
        scores.append(dice_per_organ(labels, read_volume(files.labels).array))
    return mean_dice(scores)


def _recipe_description(name: str) -> str | None:
    """The description a bundled training config ships with (None for a config that is not one of them)."""
    path = RECIPES_DIR / f"{name}.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("description", ""))
    except (OSError, ValueError, AttributeError):
        return None


def describe_package(config: TrainConfig, summary: str, synthetic: bool) -> tuple[str, str]:
    """(description, disclaimer) for the exported model.json.

    A training config's description and the demo disclaimer speak of the bundled demo weights ("the demo ENet",
    "synthetic training data"); they are kept only when the training data were segthor phantoms (how the
    bundled weights are made). A model trained on the user's own data is described from its run instead:
    architecture, recipe and data summary, or the user's own description (``--set description=...``), with
    the research-use disclaimer unless the user gave another.
    """
    generated = f"{config.architecture} trained with `segthor train` (recipe {config.name}) on {summary}"
    if synthetic:
        return config.description or generated, config.disclaimer
    user_description = config.description and config.description != _recipe_description(config.name)
    description = config.description if user_description else generated
    claims_demo = any(w in config.disclaimer.lower() for w in ("demo", "synthetic"))
    return description, DEFAULT_DISCLAIMER if claims_demo else config.disclaimer


def export_package(
    run_dir: Path,
    config: TrainConfig,
    checkpoint: Path,
    data_dir: Any,
    summary: str,
    target: Path | None = None,
    validation_files: list[CaseFiles] | None = None,
) -> Path:
    """Write RUN/model (or `target`) from `checkpoint`; metadata carries the preprocessing recipe,
    training and validation.

    With `validation_files`, the package's validation Dice is measured in the CTs' own grids (what a user
    gets); the Dice on the network grid from training is kept as `dice_network_grid`."""
    from segthor.inference.postprocess import PostprocessOptions
    from segthor.model_packages import save_model_package
    from segthor.networks import build_network
    from segthor.preprocessing import get_recipe

    tensors, meta = read_checkpoint(checkpoint)
    info = meta["info"]
    net = build_network(config.architecture, **config.arguments)
    net.load_state_dict(model_state(tensors), strict=True)
    if config.model_dtype == "float16":
        net.half().float()  # measure what ships: weights rounded as the package stores them
    split = json.loads((run_dir / SPLIT_FILE).read_text(encoding="utf-8"))
    recipe = get_recipe(config.preprocessing)
    network_dice = _finite(info.get("validation_dice", {}))
    dice = _finite(input_grid_dice(net, recipe, validation_files)) if validation_files else network_dice
    patients = split["train"] + split["validation"]
    synthetic = bool(patients) and data_dir is not None and all(is_phantom(Path(data_dir), p) for p in patients)
    description, disclaimer = describe_package(config, summary, synthetic)
    metadata = {
        "id": config.model_id or f"{config.architecture}-{Path(run_dir).name}",
        "architecture": config.architecture,
        "arguments": dict(net.arguments),
        "preprocessing": recipe.to_dict(),
        "description": description,
        "training": {
            "data_summary": summary,
            "recipe": config.name,
            "recipe_description": config.description,
            "epochs": int(info["epoch"]),
            "best_epoch": int(info["best_epoch"]),
            "steps": int(info["global_step"]),
            "optimizer": config.optimizer,
            "loss": config.loss,
            "sampling": config.sampling,
            "train_patients": split["train"],
        },
        "validation": {
            "dice": dice,
            "dice_network_grid": network_dice,
            "measured_on": "input grid (preprocess, network, restore_labels)" if validation_files else "network grid",
            "loss": round(float(info["best_loss"]), 5),
            "patients": split["validation"],
        },
        "disclaimer": disclaimer,
        # Clean-up recommended for this model, organ -> steps as `--postprocess` takes them; {} = none. Advisory:
        # inference applies the user's steps, else the measured defaults (docs/quality.md), never this entry.
        "postprocess_recommended": PostprocessOptions.parse(
            getattr(config, "postprocess", None) or "none"
        ).steps_dict(),
    }
    return save_model_package(target or run_dir / "model", net.eval(), metadata, dtype=config.model_dtype)
