"""Volume geometry: LPS (ITK, files) <-> RAS (Slicer) matrices, and atomic writes keeping normal permissions."""

from __future__ import annotations

import os

import numpy as np

from segthor.io.volume import Volume, read_volume, write_volume


def test_ijk_to_ras_negates_x_and_y_of_lps():
    v = Volume(np.zeros((2, 3, 4), np.int16), spacing=(0.5, 0.7, 2.5), origin=(1.0, 2.0, 3.0))
    m = v.ijk_to_ras()
    np.testing.assert_allclose(m[:3, 3], (-1.0, -2.0, 3.0))
    np.testing.assert_allclose(m @ (1, 1, 1, 1), (-1.5, -2.7, 5.5, 1.0))


def test_ras_round_trip_keeps_any_orientation():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # a random rotation (or reflection)
    v = Volume(np.zeros((2, 3, 4), np.uint8), spacing=(0.9, 1.1, 3.0), origin=(-10.0, 20.5, 7.0), direction=q)
    back = Volume.from_ijk_to_ras(v.array, v.ijk_to_ras())
    assert back.same_geometry(v, tol=1e-9)


def test_written_files_get_normal_permissions_and_round_trip(tmp_path):
    v = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), (0.9, 0.8, 2.5), (1, 2, 3))
    path = write_volume(v, tmp_path / "ct.nii.gz")
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["ct.nii.gz"]  # no temporary left behind
    back = read_volume(path)
    assert back.same_geometry(v)
    np.testing.assert_array_equal(back.array, v.array)


def test_bounding_box_with_margin_is_clipped_and_empty_is_none():
    from segthor.boxes import bounding_box

    mask = np.zeros((5, 6, 7), bool)
    assert bounding_box(mask) is None
    mask[1, 2:4, 6] = True
    assert bounding_box(mask) == (slice(1, 2), slice(2, 4), slice(6, 7))
    assert bounding_box(mask, margin=2) == (slice(0, 4), slice(0, 6), slice(4, 7))
    other = np.zeros_like(mask)
    other[0, 5, 0] = True
    assert bounding_box(mask, other) == (slice(0, 2), slice(2, 6), slice(0, 7))
    assert bounding_box(np.zeros_like(mask), np.zeros_like(mask)) is None
