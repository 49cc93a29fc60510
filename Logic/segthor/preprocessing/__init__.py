"""Preprocessing shared by training and inference: recipes, `preprocess`, and the way back to the input grid.

Inference calls `restore_probabilities` (class scores interpolated, then argmax) to bring the network's output back
to the CT's grid; `restore_labels` (nearest neighbour) does the same for labels alone.
"""

from segthor.preprocessing.grid import ImageGrid
from segthor.preprocessing.pipeline import (
    PreprocessContext,
    Preprocessed,
    preprocess,
    restore_labels,
    restore_probabilities,
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
    "restore_probabilities",
    "transfer_labels",
]
