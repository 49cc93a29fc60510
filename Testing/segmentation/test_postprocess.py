"""Post-processing: measured defaults, per-organ steps, volumes, and never overwriting another organ."""

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels


def test_parse_specs():
    assert PostprocessOptions.parse(None) == PostprocessOptions.default()
    assert PostprocessOptions.parse(None).source == "default"
    assert not PostprocessOptions.parse(["none"]).enabled
    everything = PostprocessOptions.parse("all")
    assert everything.for_organ("aorta") == ("lungs", "extent", "fat", "bridge", "close", "open", "lcc", "fill")
    assert everything.for_organ("trachea") == ("extent", "lumen", "close", "open", "lcc", "fill")
    one = PostprocessOptions.parse(["lcc,close", "Heart:open"])
    assert one.for_organ("trachea") == ("close", "lcc")  # a fixed order (the paper's), whatever the spec's
    assert one.for_organ("heart") == ("open",)
    with pytest.raises(InputError, match="unknown step"):
        PostprocessOptions.parse("dilate")
    with pytest.raises(InputError, match="unknown organ"):
        PostprocessOptions.parse("lung:lcc")
    drop = PostprocessOptions.parse(["drop=0.5ml", "heart:fill,drop=200mm3", "trachea:none"])
    assert drop.min_piece_mm3 == {"esophagus": 500.0, "heart": 200.0, "aorta": 500.0}
    assert drop.for_organ("heart") == ("drop", "fill") and drop.for_organ("trachea") == ()
    with pytest.raises(InputError, match="needs a volume"):
        PostprocessOptions.parse("drop")
    with pytest.raises(InputError, match="not a volume"):
        PostprocessOptions.parse("drop=lots")


def test_steps_dict_round_trips_through_the_spec_syntax():
    options = PostprocessOptions.parse(["heart:fill,lcc", "aorta:drop=2ml"])
    steps = options.steps_dict()
    assert steps == {"heart": ["lcc", "fill"], "aorta": ["drop=2000mm3"]}
    again = PostprocessOptions.parse([f"{k}:{','.join(v)}" for k, v in steps.items()])
    assert again.steps == options.steps and again.min_piece_mm3 == options.min_piece_mm3
    assert PostprocessOptions.parse("none").steps_dict() == {}


def test_report_records_every_organ_and_the_source():
    record = PostprocessOptions.parse(["heart:fill,lcc", "aorta:drop=2ml"]).to_dict()
    assert record["source"] == "user"
    assert record["organs"]["heart"]["keep_largest_piece"] and record["organs"]["heart"]["fill_holes"]
    assert record["organs"]["aorta"]["drop_pieces_below_ml"] == 2.0
    assert record["organs"]["trachea"] == {
        "steps": [],
        "keep_largest_piece": False,
        "fill_holes": False,
        "closing": False,
        "opening": False,
        "drop_pieces_below_ml": 0.0,
    }


def _labels():
    labels = np.zeros((12, 30, 30), np.uint8)
    labels[2:10, 5:20, 5:20] = 2  # heart block ...
    labels[5, 10, 10] = 0  # ... with a hole
    labels[3, 25, 25] = 2  # and a stray voxel
    labels[2:10, 20:24, 5:20] = 4  # aorta touching the heart
    return labels


def test_disabled_returns_labels_unchanged():
    labels = _labels()
    assert postprocess_labels(labels, PostprocessOptions()) is labels


def test_lcc_and_closing_clean_one_organ_only():
    labels = _labels()
    out = postprocess_labels(labels, PostprocessOptions.parse("heart:close,lcc"))
    assert out[3, 25, 25] == 0  # stray component removed
    assert out[5, 10, 10] == 2  # hole closed
    np.testing.assert_array_equal(out == 4, labels == 4)  # aorta untouched
    assert labels[3, 25, 25] == 2  # input not modified


def test_opening_removes_specks_without_eating_neighbours():
    labels = _labels()
    out = postprocess_labels(labels, PostprocessOptions.parse("open"))
    assert out[3, 25, 25] == 0
    assert (out == 2).sum() > 0.8 * (labels == 2).sum()
    assert not np.any((out == 2) & (labels == 4))


def test_fill_holes_fills_without_growing():
    labels = _labels()
    out = postprocess_labels(labels, PostprocessOptions.parse("heart:fill"))
    assert out[5, 10, 10] == 2
    assert (out == 2).sum() == (labels == 2).sum() + 1  # only the hole


def test_drop_pieces_below_a_volume_in_mm3():
    labels = _labels()
    labels[8, 2:4, 25:27] = 2  # a 4-voxel piece beside the 1-voxel speck
    spacing = (1.0, 1.0, 2.0)  # 2 mm^3 voxels: the speck is 2 mm^3, the piece 8 mm^3
    out = postprocess_labels(labels, PostprocessOptions.parse("heart:drop=5mm3"), spacing)
    assert out[3, 25, 25] == 0 and out[8, 2, 25] == 2
    out = postprocess_labels(labels, PostprocessOptions.parse("heart:drop=0.01ml"), spacing)
    assert out[8, 2, 25] == 0 and (out == 2).sum() > 1000  # the largest piece always stays
