"""Preprocessing shared by training and inference: recipes, `preprocess`, and the way back to the input grid.

Inference calls `restore_labels` (nearest neighbour) to bring the network's labels back to the CT's grid.
"""

from segthor.preprocessing.grid import ImageGrid
from segthor.preprocessing.pipeline import (
    PreprocessContext,
    Preprocessed,
    preprocess,
    restore_labels,
    transfer_labels,
)
from segthor.preprocessing.recipe import RECIPES, Recipe, get_recipe

__all__ = [
    "RECIPES",
    "ImageGrid",
    "PreprocessContext",
    "Preprocessed",
    "Recipe",
    "get_recipe",
    "preprocess",
    "restore_labels",
    "transfer_labels",
]
