"""Best checkpoint -> model package (safetensors + JSON) that inference loads without this package."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from segthor_training.checkpoint import model_state, read_checkpoint
from segthor_training.config import TrainConfig


def _finite(d: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in d.items() if v is not None and math.isfinite(v)}


def export_package(run_dir: Path, config: TrainConfig, checkpoint: Path, data_dir: Any, summary: str,
                   target: Path | None = None) -> Path:
    """Write RUN/model (or `target`) from `checkpoint`; metadata carries recipe, training and validation."""
    from segthor.model_packages import save_model_package
    from segthor.networks import build_network
    from segthor.preprocessing import get_recipe

    tensors, meta = read_checkpoint(checkpoint)
    info = meta["info"]
    net = build_network(config.architecture, **config.arguments)
    net.load_state_dict(model_state(tensors), strict=True)
    split = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
    metadata = {
        "id": config.model_id or f"{config.architecture}-{Path(run_dir).name}",
        "architecture": config.architecture,
        "arguments": dict(net.arguments),
        "preprocessing": get_recipe(config.preprocessing).to_dict(),
        "description": config.description,
        "training": {
            "data_summary": summary,
            "recipe": config.name,
            "epochs": int(info["epoch"]),
            "best_epoch": int(info["best_epoch"]),
            "steps": int(info["global_step"]),
            "optimizer": config.optimizer,
            "loss": config.loss,
            "train_patients": split["train"],
        },
        "validation": {
            "dice": _finite(info.get("validation_dice", {})),
            "loss": round(float(info["best_loss"]), 5),
            "patients": split["validation"],
        },
        "disclaimer": config.disclaimer,
    }
    return save_model_package(target or run_dir / "model", net.eval(), metadata, dtype=config.model_dtype)
