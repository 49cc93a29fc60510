"""Preprocessing shared by training and inference: recipes, `preprocess`, and the way back to the input grid.

Inference should call `restore_labels` (fast, nearest neighbour); `restore_scores` gives smoother boundaries
from resampled class probabilities at ~5x the restore cost, for when time allows.
"""

from segthor.preprocessing.grid import Grid
from segthor.preprocessing.pipeline import (
    PreprocessContext,
    Preprocessed,
    preprocess,
    restore_labels,
    restore_scores,
    transfer_labels,
)
from segthor.preprocessing.recipe import RECIPES, Recipe, get_recipe

__all__ = [
    "RECIPES",
    "Grid",
    "PreprocessContext",
    "Preprocessed",
    "Recipe",
    "get_recipe",
    "preprocess",
    "restore_labels",
    "restore_scores",
    "transfer_labels",
]
