"""Enhanced (multi-frame) CT: one file, one frame per slice, read as the 3D volume it is."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import axial_positions, volume_values, write_enhanced, write_series

from segthor.io.volume import read_volume


@pytest.mark.parametrize("frame_order", ["ascending", "reversed", "shuffled"])
def test_enhanced_ct_reads_like_the_same_classic_series(tmp_path, frame_order):
    positions = axial_positions(8, 2.0)
    order = {"ascending": range(8), "reversed": range(7, -1, -1), "shuffled": [3, 0, 7, 1, 6, 2, 5, 4]}[frame_order]
    write_enhanced(tmp_path / "enhanced" / "ct.dcm", positions, frame_order=list(order))
    write_series(tmp_path / "classic", positions)
    enhanced, classic = read_volume(tmp_path / "enhanced"), read_volume(tmp_path / "classic")
    assert enhanced.array.ndim == 3 and enhanced.array.shape == (8, 16, 16)
    assert enhanced.same_geometry(classic)
    np.testing.assert_allclose(enhanced.spacing, (1.0, 1.0, 2.0))
    np.testing.assert_array_equal(enhanced.array, volume_values(enhanced).round())
    np.testing.assert_array_equal(enhanced.array, classic.array)
    assert enhanced.warnings == []


def test_enhanced_ct_with_a_missing_frame_is_regularised_like_a_classic_series(tmp_path):
    positions = axial_positions(9, 2.0)
    del positions[3]
    write_enhanced(tmp_path / "enhanced" / "ct.dcm", positions)
    write_series(tmp_path / "classic", positions)
    enhanced, classic = read_volume(tmp_path / "enhanced"), read_volume(tmp_path / "classic")
    assert enhanced.array.shape == (9, 16, 16) and enhanced.same_geometry(classic)
    np.testing.assert_array_equal(enhanced.array, classic.array)
    assert "uneven slice spacing" in enhanced.warnings[0]
