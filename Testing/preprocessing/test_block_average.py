"""Downsampling averages blocks of voxels before interpolating (area interpolation), so a thin-pixel CT's noise
does not alias onto the network's grid, while the geometry and the mean stay what linear resampling gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from segthor.io.volume import Volume
from segthor.preprocessing import RECIPES, preprocess
from segthor.preprocessing.grid import ImageGrid, block_average, respaced_grid
from segthor.preprocessing.recipe import Recipe

FAST2D = RECIPES["fast2d"]  # 2 mm in plane, slice spacing kept
LINEAR_ONLY = FAST2D.with_changes(area_average=False)


def _noise_ct(pixel_mm: float, n: int = 160, slices: int = 6, sd: float = 60.0, seed: int = 0) -> Volume:
    """Soft tissue (40 HU) with white noise of `sd` HU filling the field of view (no body edge to crop)."""
    rng = np.random.default_rng(seed)
    array = 40.0 + rng.normal(0.0, sd, (slices, n, n))
    return Volume(np.rint(array).astype(np.int16), (pixel_mm, pixel_mm, 2.5), (0.0, 0.0, 0.0))


def _hu(pre) -> np.ndarray:
    return pre.array * FAST2D.hu_scale + FAST2D.hu_center


def test_noise_of_a_thin_pixel_ct_is_averaged_not_aliased_onto_the_coarse_grid():
    ct = _noise_ct(0.5)  # 4x4 voxels per 2 mm pixel
    area, linear = _hu(preprocess(ct, FAST2D)), _hu(preprocess(ct, LINEAR_ONLY))
    # Linear interpolation reads 2x2 voxels (SD about 60 / 2 at best, 60 where a grid point hits a voxel
    # centre); averaging 16 voxels first leaves about 60 / 4 before the interpolation smooths a little more.
    assert linear.std() > 25.0
    assert area.std() < 16.0
    assert abs(area.mean() - 40.0) < 1.0 and abs(linear.mean() - 40.0) < 2.0


def test_a_ct_already_near_the_network_spacing_is_left_to_linear_interpolation():
    ct = _noise_ct(1.2)  # 2 / 1.2 < 2: no whole block of voxels per network pixel
    np.testing.assert_array_equal(preprocess(ct, FAST2D).array, preprocess(ct, LINEAR_ONLY).array)


def test_block_averaging_keeps_positions_in_physical_space():
    # A bright 6 mm cube off-centre in a 0.4 mm CT of odd size (not a whole number of 5-voxel blocks): its
    # centre on the network grid, in mm, is where it is in the CT.
    n = 123
    array = np.full((10, n, n), 40.0, np.float32)
    array[:, 60:75, 30:45] = 400.0  # rows 60-74 (y), columns 30-44 (x)
    ct = Volume(array, (0.4, 0.4, 2.5), (-20.0, 7.0, 0.0))
    pre = preprocess(ct, FAST2D.with_changes(crop="none"))
    grid = pre.context.network_grid
    bright = _hu(pre)[5] > 220.0
    ys, xs = np.nonzero(bright)
    centre_x = grid.origin[0] + xs.mean() * grid.spacing[0]
    centre_y = grid.origin[1] + ys.mean() * grid.spacing[1]
    assert centre_x == pytest.approx(-20.0 + 37.0 * 0.4, abs=0.3)
    assert centre_y == pytest.approx(7.0 + 67.0 * 0.4, abs=0.3)
    # The far edge of the field of view is the CT's, not the padding value: the last block repeats the edge.
    assert np.all(_hu(pre)[:, -1, :] > 0.0) and np.all(_hu(pre)[:, :, -1] > 0.0)


def test_block_average_averages_only_the_axes_made_at_least_twice_as_coarse():
    image = sitk.GetImageFromArray(np.arange(4 * 8 * 9, dtype=np.int16).reshape(4, 8, 9))
    image.SetSpacing((0.5, 0.7, 2.5))
    target = respaced_grid(ImageGrid.of(image), (1.0, 1.0, 4.0))  # x: 2x; y: 1.4x; z: 1.6x
    out = block_average(image, target)
    assert out.GetSize() == (5, 8, 4)  # 9 columns -> 5 blocks of 2 (the last repeats the edge)
    assert out.GetPixelID() == sitk.sitkFloat32
    arr = sitk.GetArrayFromImage(out)
    src = sitk.GetArrayFromImage(image).astype(np.float64)
    np.testing.assert_allclose(arr[..., 0], (src[..., 0] + src[..., 1]) / 2)
    np.testing.assert_allclose(arr[..., 4], src[..., 8])  # edge column repeated: its mean is itself
    assert out.GetSpacing() == pytest.approx((1.0, 0.7, 2.5))
    assert out.GetOrigin()[0] == pytest.approx(0.25)  # the first block's centre
    assert block_average(image, respaced_grid(ImageGrid.of(image), (0.9, 1.0, None))) is image


def test_area_average_must_be_a_boolean():
    with pytest.raises(ValueError, match="area_average must be true or false"):
        Recipe.from_dict({"name": "mine", "area_average": "yes"})
    assert Recipe.from_dict({"name": "mine"}).area_average is True  # packages made before the key: averaged


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(field)


def test_block_average_makes_no_float32_copy_of_the_whole_ct():
    # Found by review: Cast to float32 then ZeroFluxNeumannPad then BinShrink held two float32 copies of the
    # whole CT (a thin-pixel 512 x 512 x 300 CT's preprocessing peaked at 1.0 GB instead of 0.45 GB). The
    # averages are summed over slabs of the 16-bit image read in place.
    image = sitk.Image(512, 512, 96, sitk.sitkInt16)  # 48 MB; a float32 copy of it 96 MB
    image.SetSpacing((0.6, 0.6, 2.5))
    try:
        with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark to the resident size (Linux)
            f.write("5")
        before = _rss_mb("VmRSS")
    except OSError:
        pytest.skip("needs Linux's /proc/self peak-memory accounting")
    out = block_average(image, respaced_grid(ImageGrid.of(image), (2.0, 2.0, None)))  # 3 x 3 blocks, padded
    grown = _rss_mb("VmHWM") - before
    assert out.GetSize() == (171, 171, 96)
    # The output (11 MB), its image (11 MB) and a padded slab (8 MB); the copies made 200 MB.
    assert grown < 96.0, f"peak grew by {grown:.0f} MB, more than a float32 copy of the CT"
