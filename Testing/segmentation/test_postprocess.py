"""Post-processing: off by default, per-organ steps, and never overwriting another organ."""

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels


def test_parse_specs():
    assert not PostprocessOptions.parse(None).enabled
    assert not PostprocessOptions.parse(["none"]).enabled
    everything = PostprocessOptions.parse("all")
    assert everything.for_organ("aorta") == ("close", "open", "lcc")
    one = PostprocessOptions.parse(["lcc,close", "Heart:open"])
    assert one.for_organ("trachea") == ("close", "lcc")  # the paper's order, whatever the spec's order
    assert one.for_organ("heart") == ("open",)
    with pytest.raises(InputError, match="unknown step"):
        PostprocessOptions.parse("dilate")
    with pytest.raises(InputError, match="unknown organ"):
        PostprocessOptions.parse("lung:lcc")


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
