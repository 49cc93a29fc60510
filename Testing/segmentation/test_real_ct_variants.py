"""The acquisition variants of benchmarks/bench_real_ct_variants.py keep the patient where it was: storage flips
map back voxel for voxel, resampled and cropped variants map back to the same physical positions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_real_ct_variants import VARIANTS, back_to, dice  # noqa: E402

from segthor.io.volume import Volume  # noqa: E402


def _ct() -> tuple[Volume, np.ndarray]:
    """A 40-slice 'CT' (0.8 x 0.8 x 2.5 mm, oblique-free, origin off zero) with a body and a labelled block."""
    array = np.full((40, 96, 100), -1000.0, np.float32)
    array[:, 15:85, 10:90] = 40.0
    array[6:30, 40:60, 30:50] = 300.0
    labels = np.zeros(array.shape, np.uint8)
    labels[6:30, 40:60, 30:50] = 2
    return Volume(array, (0.8, 0.8, 2.5), (-40.0, 12.0, 300.0)), labels


@pytest.mark.parametrize("name", ["feet_first", "right_to_left"])
def test_storage_variants_map_back_voxel_for_voxel(name):
    ct, labels = _ct()
    variant = VARIANTS[name](ct)
    assert not np.array_equal(variant.array, ct.array)  # stored differently
    moved = variant.with_array(np.flip(labels, axis=0 if name == "feet_first" else 2).copy())
    mapped, covered = back_to(moved.array, moved, ct)
    assert covered.all()
    np.testing.assert_array_equal(mapped, labels)


@pytest.mark.parametrize("name", ["slices_5mm", "slices_1.25mm", "pixels_1mm", "field_350mm", "coverage_middle_70pct"])
def test_resampled_and_cropped_variants_keep_positions(name):
    ct, labels = _ct()
    variant = VARIANTS[name](ct)
    # The block, found by its HU in the variant, lands on the labelled block when mapped back.
    found = (variant.array > 170.0).astype(np.uint8) * 2
    mapped, covered = back_to(found, variant, ct)
    assert dice((mapped == 2) & covered, (labels == 2) & covered) > 0.9


def test_dice_of_two_empty_masks_is_undefined():
    empty = np.zeros((2, 2, 2), bool)
    assert dice(empty, empty) is None
