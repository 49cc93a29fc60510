"""Headless training for SegTHORSlicer: SegTHOR-format data, the seed papers' training configs, DDP, model packages.

    from segthor_training import train
    train("cohort/", "runs/enet", "enet_fast2d", epochs=10)

Depends on `segthor`; `segthor` never imports this package (inference needs only the exported package).
"""

from segthor_training.config import TrainConfig, apply_overrides, available_recipes, load_config

__all__ = ["TrainConfig", "Trainer", "apply_overrides", "available_recipes", "load_config", "train"]


def __getattr__(name: str):
    if name in ("train", "Trainer"):  # torch loads only when training starts
        from segthor_training import trainer

        return getattr(trainer, name)
    raise AttributeError(name)
