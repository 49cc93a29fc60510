"""Headless training for SegTHORSlicer: SegTHOR-format data, the seed papers' recipes, DDP, model packages.

    from segthor_training import train
    train("cohort/", "runs/enet", "enet_fast2d", epochs=10)

Depends on `segthor`; `segthor` never imports this package (inference needs only the exported package).
"""

from segthor_training.config import TrainConfig, apply_overrides, available_recipes, load_config

__all__ = ["TrainConfig", "apply_overrides", "available_recipes", "load_config", "train"]


def __getattr__(name: str):
    if name == "train":  # torch loads only when training starts
        from segthor_training.trainer import train

        return train
    raise AttributeError(name)
