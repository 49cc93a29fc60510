"""The named preprocessing recipes are JSON files (segthor/preprocessing/recipes/<name>.json) read strictly."""

from __future__ import annotations

import json

import pytest

from segthor.errors import InputError
from segthor.preprocessing import RECIPES, get_recipe
from segthor.preprocessing.recipe import read_recipe_file

# The values the recipes had while they were written in Python (before they moved to JSON); a change to a
# named recipe changes what every package trained with it expects, so it must show up here.
EXPECTED = {
    "zscore": {
        "name": "zscore",
        "clip_hu": None,
        "spacing": None,
        "crop": "none",
        "crop_size": None,
        "body_threshold_hu": -500.0,
        "crop_margin_mm": 10.0,
        "normalize": "zscore",
        "hu_center": 0.0,
        "hu_scale": 500.0,
        "area_average": True,
    },
    "seed004": {
        "name": "seed004",
        "clip_hu": [-1000.0, 1000.0],
        "spacing": [0.977, 0.977, 2.5],
        "crop": "none",
        "crop_size": None,
        "body_threshold_hu": -500.0,
        "crop_margin_mm": 10.0,
        "normalize": "zscore",
        "hu_center": 0.0,
        "hu_scale": 500.0,
        "area_average": True,
    },
    "seed001": {
        "name": "seed001",
        "clip_hu": None,
        "spacing": [1.0, 1.0, 3.0],
        "crop": "otsu_body",
        "crop_size": None,
        "body_threshold_hu": -500.0,
        "crop_margin_mm": 5.0,
        "normalize": "zscore",
        "hu_center": 0.0,
        "hu_scale": 500.0,
        "area_average": True,
    },
    "seed000": {
        "name": "seed000",
        "clip_hu": None,
        "spacing": None,
        "crop": "center",
        "crop_size": [304, 304],
        "body_threshold_hu": -500.0,
        "crop_margin_mm": 10.0,
        "normalize": "zscore",
        "hu_center": 0.0,
        "hu_scale": 500.0,
        "area_average": True,
    },
    "fast2d": {
        "name": "fast2d",
        "clip_hu": [-1000.0, 1000.0],
        "spacing": [2.0, 2.0, None],
        "crop": "body",
        "crop_size": None,
        "body_threshold_hu": -500.0,
        "crop_margin_mm": 10.0,
        "normalize": "fixed",
        "hu_center": 0.0,
        "hu_scale": 500.0,
        "area_average": True,
    },
}


def test_every_named_recipe_loads_with_the_values_it_had_in_python():
    assert set(RECIPES) == set(EXPECTED)
    for name, values in EXPECTED.items():
        assert RECIPES[name].to_dict() == values
        assert get_recipe(name) == RECIPES[name]
    assert RECIPES["seed004"].clip_hu == (-1000.0, 1000.0)  # tuples, as the dataclass holds them
    assert RECIPES["fast2d"].spacing == (2.0, 2.0, None)


def test_a_recipe_file_with_an_unknown_key_is_refused_in_one_line(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "clip_hu": [-1000, 1000], "resample": "linear"}))
    with pytest.raises(InputError, match=r"mine\.json.*unknown recipe key\(s\) resample") as info:
        read_recipe_file(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ("{not json", "not valid JSON"),
        (json.dumps({"name": "other"}), "names recipe 'other'"),
        (json.dumps({"name": "mine", "crop": "square"}), "unknown crop 'square'"),
    ],
)
def test_a_bad_recipe_file_is_refused(tmp_path, content, match):
    path = tmp_path / "mine.json"
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_recipe_file(path)
