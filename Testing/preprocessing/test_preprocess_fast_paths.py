"""Speed-ups of preprocessing and restoring give exactly what the code they replaced gave: the network input
when a 16-bit CT is resampled straight to float32 (no float32 copy first), and the restored labels when the
boundary flags are overwritten by the interpolation instead of being subtracted first."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from segthor.io.volume import Volume
from segthor.preprocessing import RECIPES, pipeline, preprocess, restore_probabilities
from segthor.preprocessing.grid import ImageGrid, axis_aligned, resample, respaced_grid


def _ct(dtype, seed: int = 0) -> Volume:
    """A 24x70x64 'CT' (body, organs, noise) of `dtype`, 0.9 x 0.8 x 2.5 mm, values in that type's range."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:24, :70, :64]
    body = ((y - 35) / 28.0) ** 2 + ((x - 32) / 24.0) ** 2 < 1
    ct = np.where(body, 40.0, -1000.0) + rng.normal(0, 30, body.shape)
    ct[4:20, 30:50, 20:40] = 250
    ct[2:22, 20:26, 30:36] = -950
    if dtype in (np.uint8, np.uint16):
        ct = (ct + 1024) / (8 if dtype == np.uint8 else 1)  # stored values of an unsigned CT
    return Volume(np.rint(ct).astype(dtype), (0.9, 0.8, 2.5), (-30.0, 12.0, 100.0))


def _old_network_image(volume: Volume, spacing, fill: float):
    """The network grid's image as first computed: the whole CT cast to float32, then re-oriented and resampled."""
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    image = axis_aligned(image, fill)
    target = respaced_grid(ImageGrid.of(image), spacing)
    if not target.same_as(ImageGrid.of(image)):
        image = resample(image, target, "linear", fill)
    return sitk.GetArrayFromImage(image)


def _stored(volume: Volume, code: str) -> Volume:
    return Volume.from_sitk(sitk.DICOMOrient(volume.to_sitk(), code))


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int32, np.float64])
@pytest.mark.parametrize("code", ["LPS", "RAS", "PIL"])
def test_resampling_the_stored_values_to_float32_matches_casting_first(dtype, code):
    volume = _stored(_ct(dtype), code)
    fill = -1000.0
    old = _old_network_image(volume, (2.0, 2.0, None), fill)
    image = volume.to_sitk()
    if dtype not in (np.int16, np.uint16, np.uint8):
        image = sitk.Cast(image, sitk.sitkFloat32)  # what preprocess does for the other types
    image = axis_aligned(image, fill)
    new = resample(image, respaced_grid(ImageGrid.of(image), (2.0, 2.0, None)), "linear", fill, sitk.sitkFloat32)
    new = sitk.GetArrayFromImage(new)
    assert new.dtype == old.dtype == np.float32
    np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize("dtype", [np.int16, np.float64, np.uint16])
@pytest.mark.parametrize("code", ["LPS", "RAS"])
def test_preprocess_gives_the_network_input_of_casting_first(dtype, code):
    volume = _stored(_ct(dtype), code)
    recipe = RECIPES["fast2d"]
    pre = preprocess(volume, recipe)
    as_float = Volume(volume.array.astype(np.float32), volume.spacing, volume.origin, volume.direction)
    np.testing.assert_array_equal(pre.array, preprocess(as_float, recipe).array)


def test_an_oblique_16_bit_ct_is_cast_before_it_is_resampled():
    volume = _ct(np.int16)
    angle = np.deg2rad(7.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    oblique = Volume(volume.array, volume.spacing, volume.origin, rot)
    as_float = Volume(volume.array.astype(np.float32), volume.spacing, volume.origin, rot)
    for name in ("fast2d", "zscore"):
        expected = preprocess(as_float, RECIPES[name]).array
        np.testing.assert_array_equal(preprocess(oblique, RECIPES[name]).array, expected)


def _old_restore(probabilities: np.ndarray, context) -> np.ndarray:
    """`restore_probabilities` as first written: the flags subtracted from every flagged voxel before the
    interpolation wrote its label."""
    from scipy import ndimage

    net_labels = probabilities.argmax(0).astype(np.uint8)
    if context.network_grid.same_as(context.input_grid):
        return net_labels
    changes = ndimage.maximum_filter(net_labels, size=3) != ndimage.minimum_filter(net_labels, size=3)
    flagged = net_labels + np.uint8(pipeline._BOUNDARY) * changes.astype(np.uint8)
    restored = resample(
        pipeline._image_on(flagged, context.network_grid), context.input_grid, "nearest", 0, sitk.sitkUInt8
    )
    out = sitk.GetArrayFromImage(restored)
    flags = out >= pipeline._BOUNDARY
    todo = np.flatnonzero(flags)
    out[flags] -= pipeline._BOUNDARY
    if todo.size == 0:
        return out
    matrix, offset = pipeline._input_to_network_index(context)  # the geometry is not what changed
    box = tuple(
        slice(max(0, int(a.min()) - 1), min(n, int(a.max()) + 2))
        for a, n in zip(np.nonzero(changes), changes.shape, strict=True)
    )
    foreground = [np.asarray(probabilities[(c, *box)], dtype=np.float32) for c in range(1, probabilities.shape[0])]
    corner = np.array([b.start for b in box], dtype=np.float64)[:, None]
    flat = out.reshape(-1)
    k, j, i = np.unravel_index(todo, out.shape)
    xyz = matrix @ np.stack([i, j, k]).astype(np.float64) + offset[:, None]
    zyx = xyz[::-1] - corner
    scores = np.stack([ndimage.map_coordinates(p, zyx, order=1, mode="nearest") for p in foreground])
    best = scores.argmax(axis=0)
    top = scores[best, np.arange(todo.size)]
    flat[todo] = np.where(top > 1.0 - scores.sum(axis=0), best + 1, 0).astype(np.uint8)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("code", ["LPS", "RAS"])
def test_restored_labels_match_the_first_implementation(seed, code, monkeypatch):
    volume = _stored(_ct(np.int16), code)
    pre = preprocess(volume, RECIPES["fast2d"])
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    logits = 10.0 * ndimage.gaussian_filter(rng.normal(0, 1, (5, *pre.context.network_grid.shape_zyx)), (0, 1, 2, 2))
    logits[0] += 1.0  # mostly background, with organ islands and boundaries
    probabilities = np.exp(logits) / np.exp(logits).sum(0)
    probabilities = probabilities.astype(np.float16)
    monkeypatch.setattr(pipeline, "RESTORE_CHUNK_VOXELS", 997)  # several chunks
    new = restore_probabilities(probabilities, pre.context)
    old = _old_restore(probabilities, pre.context)
    assert (new > 0).any() and (new == 0).any()
    np.testing.assert_array_equal(new, old)
