"""Preprocessing recipes: what turns a CT into the array a network sees, as a JSON-able record.

A recipe is stored verbatim in every model package (`metadata["preprocessing"]`), so inference prepares a CT
exactly as the network's training data was prepared. The named recipes are JSON files in `recipes/<name>.json`
(package data, read by `read_recipe_file`); they follow the seed papers:

- "zscore":  z-score per image, native grid ([Lambert2020] and [Liu2020] normalisation).
- "seed004": HU clip [-1000, 1000], resample to 0.977 x 0.977 x 2.5 mm, z-score ([deReus], ENet).
- "seed001": resample to 1 x 1 x 3 mm, Otsu body crop, z-score ([Zhang2019], coarse-to-fine 3D).
- "seed000": 304 x 304 in-plane centre crop, z-score ([Lambert2020], sU-Net).
- "fast2d":  the default for the demo ENet: HU clip, cheap body crop (threshold + largest component), in-plane
             resample to 2 mm (slice spacing kept; a thin-pixel CT block-averaged first), fixed HU scaling. A
             512-px CT becomes ~200 px in-plane, so a 2D net runs ~6x fewer pixels, which is what meets the 15 s
             CPU budget for a 512x512x200 CT.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from segthor.errors import InputError
from segthor.io.json_file import read_json_object

CROPS = ("none", "body", "otsu_body", "center")
NORMALISATIONS = ("zscore", "fixed", "none")


@dataclass(frozen=True)
class Recipe:
    """How to prepare a CT for a network. All lengths in mm, spacings as (x, y, z); None keeps the input's."""

    name: str = "custom"
    clip_hu: tuple[float, float] | None = None
    spacing: tuple[float | None, float | None, float | None] | None = None
    crop: str = "none"
    crop_size: tuple[int, int] | None = None  # (rows, columns) for crop="center"
    body_threshold_hu: float = -500.0  # crop="body": voxels above this are "body"
    crop_margin_mm: float = 10.0  # kept around the body bounding box
    normalize: str = "zscore"
    hu_center: float = 0.0  # normalize="fixed": (hu - center) / scale
    hu_scale: float = 500.0
    # Downsampling by at least 2x first averages whole blocks of voxels (`preprocessing.grid.block_average`);
    # false interpolates linearly from the nearest voxels alone, as every package ran before this key existed
    # (a package without the key now gets the averaging: measured on enet-realct, docs/benchmarks.md).
    area_average: bool = True

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"unknown crop {self.crop!r}; choose one of {', '.join(CROPS)}")
        if self.normalize not in NORMALISATIONS:
            raise ValueError(f"unknown normalize {self.normalize!r}; choose one of {', '.join(NORMALISATIONS)}")
        if self.crop == "center" and (not self.crop_size or len(self.crop_size) != 2):
            raise ValueError("crop='center' needs crop_size = [rows, columns]")
        if self.clip_hu is not None and (len(self.clip_hu) != 2 or self.clip_hu[0] >= self.clip_hu[1]):
            raise ValueError(f"clip_hu must be [low, high] with low < high, got {self.clip_hu}")
        if self.spacing is not None:
            if len(self.spacing) != 3:
                raise ValueError(f"spacing must be [x, y, z] (mm, null keeps the input's), got {self.spacing}")
            for s in self.spacing:
                if s is not None and not (math.isfinite(s) and s > 0):
                    raise ValueError(f"spacing entries must be positive mm or null, got {self.spacing}")
        if not self.hu_scale > 0:
            raise ValueError("hu_scale must be positive")
        if not isinstance(self.area_average, bool):
            raise ValueError(f"area_average must be true or false, got {self.area_average!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("clip_hu", "spacing", "crop_size"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        """Inverse of to_dict; unknown keys are an error (a recipe we cannot honour must not run silently)."""
        if not isinstance(d, dict):
            raise TypeError(f"a recipe is a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown recipe key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        kwargs = dict(d)
        for key in ("clip_hu", "spacing", "crop_size"):
            if kwargs.get(key) is not None:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)

    def with_changes(self, **changes: Any) -> Recipe:
        return replace(self, **changes)


# The named recipes are JSON files in recipes/ (package data), one per name, read at import like any other
# recipe file: data rather than code, so adding or reviewing one needs no Python.
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


def read_recipe_file(path: str | Path) -> Recipe:
    """The recipe in a JSON file (`Recipe.to_dict`'s form; keys left out take the dataclass defaults).

    Raises `InputError` naming the file when it is not a JSON object, has an unknown key or a bad value
    (`Recipe.from_dict`), or a "name" other than the file's stem.
    """
    path = Path(path)
    data = read_json_object(path, InputError, "recipe file ")
    try:
        recipe = Recipe.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise InputError(f"recipe file {path}: {exc}") from exc
    if recipe.name != path.stem:
        raise InputError(f"recipe file {path} names recipe {recipe.name!r}; name it {path.stem!r} or rename the file")
    return recipe


def load_recipes(folder: Path = RECIPES_DIR) -> dict[str, Recipe]:
    """name -> Recipe of every `*.json` in `folder`, by name (`read_recipe_file` raises on a bad one)."""
    return {path.stem: read_recipe_file(path) for path in sorted(folder.glob("*.json"))}


RECIPES: dict[str, Recipe] = load_recipes()


def get_recipe(name_or_dict: str | dict[str, Any] | Recipe) -> Recipe:
    """A recipe from its name in RECIPES, a dict (model metadata / config file) or a Recipe."""
    if isinstance(name_or_dict, Recipe):
        return name_or_dict
    if isinstance(name_or_dict, dict):
        return Recipe.from_dict(name_or_dict)
    recipe = RECIPES.get(str(name_or_dict))
    if recipe is None:
        raise KeyError(f"unknown preprocessing recipe {name_or_dict!r}; known: {', '.join(RECIPES)}")
    return recipe
