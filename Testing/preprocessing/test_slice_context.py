"""2.5D input: neighbouring slices at fixed mm offsets, interpolated along z and clamped at the ends."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.preprocessing.slice_context import check_offsets, sample_slices, slice_positions, slice_stack


def _ramp(n: int = 6) -> np.ndarray:
    """Slice k holds the value 10 k everywhere: an interpolated slice's value tells its position."""
    return np.broadcast_to(10.0 * np.arange(n, dtype=np.float32)[:, None, None], (n, 3, 4)).copy()


def test_offsets_become_channels_interpolated_between_slices():
    volume = _ramp()
    # 2.5 mm slices: -5 mm is two slices up, +4 mm lies 1.6 slices down (60 % of the way from slice 3 to 4).
    stack = slice_stack(volume, np.array([2]), (-5.0, 0.0, 4.0), 2.5)
    assert stack.shape == (1, 3, 3, 4) and stack.dtype == np.float32
    np.testing.assert_allclose(stack[0, :, 0, 0], [0.0, 20.0, 36.0], atol=1e-5)


def test_positions_beyond_the_volume_take_its_end_slices():
    volume = _ramp()
    stack = slice_stack(volume, np.array([0, 5]), (-8.0, 0.0, 8.0), 2.0)
    np.testing.assert_allclose(stack[:, :, 0, 0], [[0.0, 0.0, 40.0], [10.0, 50.0, 50.0]], atol=1e-5)


def test_centre_only_is_the_slice_itself():
    volume = _ramp()
    np.testing.assert_array_equal(slice_stack(volume, np.array([1, 4]), (0.0,), 3.0)[:, 0], volume[[1, 4]])
    np.testing.assert_allclose(sample_slices(volume, np.array([[0.5]])), np.full((1, 1, 3, 4), 5.0))
    np.testing.assert_allclose(slice_positions(np.array([3]), (-6.0, 0.0), 3.0), [[1.0, 3.0]])


@pytest.mark.parametrize(
    "offsets, message",
    [((-4.0, 4.0), "including 0"), ((4.0, 0.0, -4.0), "ascending"), ((0.0, float("nan")), "finite"), ("ab", "numbers")],
)
def test_bad_offsets_are_refused(offsets, message):
    with pytest.raises(ValueError, match=message):
        check_offsets(offsets)


def test_a_spacing_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="spacing"):
        slice_positions(np.array([0]), (-4.0, 0.0), 0.0)
