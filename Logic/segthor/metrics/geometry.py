"""Making sure a prediction and its reference lie on the same voxel grid (or putting them there)."""

from __future__ import annotations

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume


def describe(volume: Volume) -> str:
    text = volume.describe_geometry()
    if not np.allclose(volume.direction, np.eye(3), atol=1e-6):
        text += ", direction " + " ".join(f"{v:.3g}" for v in volume.direction.flatten())
    return text


def check_same_geometry(pred: Volume, ref: Volume) -> None:
    if not pred.same_geometry(ref):
        raise InputError(
            f"prediction and reference have different geometries: prediction {describe(pred)}; "
            f"reference {describe(ref)}. Give both on the same voxel grid, or resample the prediction onto "
            "the reference (--resample-to-reference, nearest neighbour)"
        )


def resample_to(pred: Volume, ref: Volume) -> Volume:
    """``pred`` label image resampled onto ``ref``'s grid by nearest neighbour (outside -> background 0)."""
    if pred.same_geometry(ref):
        return pred
    import SimpleITK as sitk

    out = sitk.Resample(pred.to_sitk(), ref.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return ref.with_array(sitk.GetArrayFromImage(out))


def axial_array_axis(volume: Volume) -> int:
    """The array axis (0, 1 or 2 of [z, y, x]) that runs most nearly along the patient's S-I axis.

    Dice 2D and restricted evaluation work slice by slice along this axis, so they follow the patient's axial
    direction whatever the storage order (axial, sagittal or coronal slices). ``direction`` columns are the
    image axes x, y, z in LPS, so image axis i is array axis 2 - i.
    """
    image_axis = int(np.argmax(np.abs(np.asarray(volume.direction)[2, :])))
    return 2 - image_axis


def _lattice_box(pred: Volume, ref: Volume) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest voxel index (x, y, z) on ``ref``'s lattice of a grid covering both volumes.

    Raises ``InputError`` when the two do not overlap in space at all (a prediction paired with the wrong
    reference, or one in other patient coordinates).
    """
    to_ref = np.linalg.inv(ref.ijk_to_lps())
    # Voxel edges of the prediction (index -0.5 .. n-0.5), so every prediction voxel finds a grid voxel.
    size = np.array(pred.shape_xyz, dtype=float)
    corners = np.array(
        [[x, y, z, 1.0] for x in (-0.5, size[0] - 0.5) for y in (-0.5, size[1] - 0.5) for z in (-0.5, size[2] - 0.5)]
    )
    in_ref = (to_ref @ pred.ijk_to_lps() @ corners.T)[:3].T
    ref_high = np.array(ref.shape_xyz) - 1
    if np.any(in_ref.max(axis=0) < -0.5) or np.any(in_ref.min(axis=0) > ref_high + 0.5):
        raise InputError(
            f"prediction ({describe(pred)}) and reference ({describe(ref)}) do not overlap in space; give both "
            "in the same patient coordinates (was the right prediction paired with this reference?)"
        )
    low = np.minimum(np.floor(in_ref.min(axis=0) + 0.5 + 1e-3), 0).astype(int)
    high = np.maximum(np.ceil(in_ref.max(axis=0) - 0.5 - 1e-3), ref_high).astype(int)
    return low, high


def paste(array: np.ndarray, offset_xyz: np.ndarray, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """``array`` [z, y, x] placed at voxel ``offset_xyz`` in zeros of ``shape_zyx`` (parts outside are cut)."""
    out = np.zeros(shape_zyx, dtype=array.dtype)
    dst, src = [], []
    for axis, off in zip((0, 1, 2), (int(offset_xyz[2]), int(offset_xyz[1]), int(offset_xyz[0])), strict=True):
        start, stop = max(off, 0), min(off + array.shape[axis], shape_zyx[axis])
        if stop <= start:
            return out
        dst.append(slice(start, stop))
        src.append(slice(start - off, stop - off))
    out[tuple(dst)] = array[tuple(src)]
    return out


def covering_grid(pred: Volume, ref: Volume, max_growth: float = 4.0) -> tuple[Volume, np.ndarray] | None:
    """An empty grid on ``ref``'s lattice (spacing, direction, voxel positions) covering ``pred`` and ``ref``.

    Returns the grid (a zero uint8 Volume) and the voxel offset (x, y, z) of ``ref`` in it, so the reference
    is padded exactly, never resampled. A reference that Slicer saved cropped to its segments is thereby
    padded back out to the prediction's field of view instead of the prediction being cropped to the
    reference's box (which would drop its false positives outside). None when that grid would hold more than
    ``max_growth`` times the voxels of the larger volume (a reference on a much finer lattice): then the
    caller uses the prediction's grid. Raises ``InputError`` when the two do not overlap in space.
    """
    low, high = _lattice_box(pred, ref)
    shape_xyz = high - low + 1
    largest = max(int(np.prod(pred.shape_xyz)), int(np.prod(ref.shape_xyz)))
    if float(np.prod(shape_xyz.astype(float))) > max_growth * largest:
        return None
    origin = np.asarray(ref.ijk_to_lps()[:3, :3] @ low + np.asarray(ref.origin))
    grid = Volume(
        np.zeros(tuple(int(v) for v in shape_xyz[::-1]), np.uint8), ref.spacing, tuple(origin), ref.direction.copy()
    )
    return grid, -low


def onto_grid(volume: Volume, grid: Volume, offset_xyz: np.ndarray | None = None) -> Volume:
    """``volume`` (labels) on ``grid``: pasted at ``offset_xyz`` when it lies on the grid's lattice, else
    resampled by nearest neighbour (outside -> background 0)."""
    if offset_xyz is not None:
        return grid.with_array(paste(np.asarray(volume.array), offset_xyz, grid.array.shape))
    return resample_to(volume, grid)
