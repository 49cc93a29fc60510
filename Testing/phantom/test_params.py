"""Acquisition ranges, size scaling and parameter overrides."""

from __future__ import annotations

import pytest

from segthor.errors import InputError
from segthor.phantom.generator import phantom_grid
from segthor.phantom.params import draw_params


def test_full_size_phantoms_use_segthors_acquisition_ranges():
    for seed in range(60):
        p = draw_params(seed)
        assert 0.90 <= p["spacing_xy"] <= 1.37
        assert 2.0 <= p["spacing_z"] <= 3.7 + 1e-6
        assert 150 <= p["n_slices"] <= 284
        assert p["size"] == 512


def test_contrast_is_drawn_or_forced():
    drawn = {draw_params(seed)["contrast"] for seed in range(20)}
    assert drawn == {True, False}
    assert all(draw_params(seed, contrast=False)["contrast"] is False for seed in range(5))


def test_smaller_matrix_keeps_the_field_of_view():
    big, small = draw_params(7, size=512), draw_params(7, size=128)
    assert small["spacing_xy"] == pytest.approx(4 * big["spacing_xy"], rel=1e-3)
    assert small["n_slices"] < big["n_slices"]
    extent_big = big["n_slices"] * big["spacing_z"]
    extent_small = small["n_slices"] * small["spacing_z"]
    assert extent_small == pytest.approx(extent_big, rel=0.02)
    # The anatomy is the same in mm: the same landmarks.
    assert phantom_grid(big)[1].carina.tolist() == pytest.approx(phantom_grid(small)[1].carina.tolist())


def test_explicit_slice_count_and_overrides():
    p = draw_params(3, size=96, n_slices=40, noise_sd_hu=0.0, heart_scale=1.05)
    assert p["n_slices"] == 40 and p["noise_sd_hu"] == 0.0 and p["heart_scale"] == 1.05


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"size": 8}, "size"),
        ({"n_slices": 3}, "n_slices"),
        ({"seed": -1}, "seed"),
        ({"hearts": 2}, "unknown phantom parameter"),
        ({"spacing_xy": "wide"}, "spacing_xy"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs, words):
    args = {"seed": 1, **kwargs}
    with pytest.raises(InputError, match=words):
        draw_params(**args)
