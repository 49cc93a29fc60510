"""Image grids (size, spacing, origin, direction) and the SimpleITK resampling between them.

Networks see an axis-aligned grid (identity direction in LPS: x to the patient's left, y posterior, z superior),
whatever the input's orientation; labels go back to the input's exact grid by one nearest-neighbour resample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ImageGrid:
    """A SimpleITK image grid (named apart from ``segthor.phantom``'s anatomical grid)."""

    size: tuple[int, int, int]  # (x, y, z) voxels, SimpleITK order
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] = field(default=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))

    @classmethod
    def of(cls, image: Any) -> ImageGrid:
        return cls(
            tuple(int(s) for s in image.GetSize()),
            tuple(float(s) for s in image.GetSpacing()),
            tuple(float(o) for o in image.GetOrigin()),
            tuple(float(d) for d in image.GetDirection()),
        )

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return (self.size[2], self.size[1], self.size[0])

    def same_as(self, other: ImageGrid, tol: float = 1e-5) -> bool:
        return (
            self.size == other.size
            and np.allclose(self.spacing, other.spacing, atol=tol)
            and np.allclose(self.origin, other.origin, atol=tol * 10)
            and np.allclose(self.direction, other.direction, atol=tol)
        )


IDENTITY = ImageGrid((1, 1, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)).direction


def is_signed_permutation(direction: Any, tol: float = 1e-4) -> bool:
    """True when the axes are the LPS axes in some order and sign (no obliquity): re-orienting is exact."""
    m = np.abs(np.asarray(direction, dtype=float).reshape(3, 3))
    return bool(np.all((m < tol) | (np.abs(m - 1) < tol)) and np.allclose(m.sum(0), 1) and np.allclose(m.sum(1), 1))


def resample(image: Any, grid: ImageGrid, interpolator: str = "linear", default: float = 0.0, pixel: Any = None) -> Any:
    """Resample `image` onto `grid` (physical space is shared; no transform)."""
    import SimpleITK as sitk

    modes = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}
    return sitk.Resample(
        image,
        [int(s) for s in grid.size],
        sitk.Transform(),
        modes[interpolator],
        [float(o) for o in grid.origin],
        [float(s) for s in grid.spacing],
        [float(d) for d in grid.direction],
        float(default),
        image.GetPixelID() if pixel is None else pixel,
    )


# Voxels of the input read per step of `block_average` (a slab of whole blocks of slices): bounds its working
# memory to the output plus about 16 MB, whatever the CT's size.
BLOCK_SLAB_VOXELS = 1 << 22


def block_factor(input_mm: float, target_mm: float) -> int:
    """How many voxels of `input_mm` along an axis `block_average` averages into one before resampling to
    `target_mm`: floor(target / input), at least 1 (1: the axis is left to linear interpolation)."""
    return max(1, int(np.floor(target_mm / input_mm + 1e-6)))


def block_average(image: Any, target: ImageGrid) -> Any:
    """`image` averaged over blocks of floor(target / input spacing) voxels along each axis that `target` makes at
    least twice as coarse (what SimpleITK BinShrink gives after repeating the far edge to fill the last block),
    or `image` itself when no axis is. `image` and `target` share their axes (an axis-aligned image and its
    respaced grid); the result is float32 (the mean of integers is not rounded), each voxel at its block's
    centre.

    Linear interpolation onto a grid 2.5x coarser reads only the 2x2 voxels nearest each output point, so a
    thin-pixel CT's noise and a sharp kernel's overshoot at edges reach the coarse grid at full strength
    (aliasing). Averaging whole blocks first is area interpolation (OpenCV's INTER_AREA; a box low-pass before
    subsampling), and the linear resample that follows moves the blocks' centres onto the target grid.

    The sums run over slabs of `BLOCK_SLAB_VOXELS` of the image read in place: a float32 copy of the whole CT
    (and a padded second one), as Cast + ZeroFluxNeumannPad + BinShrink made, doubled to tripled the
    preprocessing's peak memory on a thin-pixel CT and undid its 16-bit fast path.
    """
    import SimpleITK as sitk

    spacing = image.GetSpacing()
    factors = [block_factor(s, t) for s, t in zip(spacing, target.spacing, strict=True)]
    if max(factors) == 1:
        return image
    fx, fy, fz = factors
    array = sitk.GetArrayViewFromImage(image)  # [z, y, x], no copy; `image` outlives it here
    nz, ny, nx = array.shape
    oz, oy, ox = -(-nz // fz), -(-ny // fy), -(-nx // fx)
    out = np.empty((oz, oy, ox), np.float32)
    step = max(1, BLOCK_SLAB_VOXELS // (fz * ny * nx))  # output slices per slab
    for b in range(0, oz, step):
        slab = array[b * fz : (b + step) * fz]
        pad = ((0, (-slab.shape[0]) % fz), (0, oy * fy - ny), (0, ox * fx - nx))
        if any(after for _, after in pad):
            slab = np.pad(slab, pad, mode="edge")  # the far edge repeated fills the last block
        acc = out[b : b + slab.shape[0] // fz]
        acc[...] = 0.0
        for i in range(fz):
            for j in range(fy):
                for k in range(fx):
                    acc += slab[i::fz, j::fy, k::fx]
        acc *= np.float32(1.0 / (fx * fy * fz))
    result = sitk.GetImageFromArray(out)
    result.SetSpacing([s * f for s, f in zip(spacing, factors, strict=True)])
    result.SetDirection(image.GetDirection())
    result.SetOrigin(image.TransformContinuousIndexToPhysicalPoint([(f - 1) / 2.0 for f in factors]))
    return result


def axis_aligned(image: Any, default: float) -> Any:
    """The image on an identity-direction grid covering it: exact re-indexing for a permuted or flipped
    direction, linear resampling for an oblique one (rare in CT: gantry tilt)."""
    import SimpleITK as sitk

    if np.allclose(image.GetDirection(), IDENTITY, atol=1e-6):
        return image
    if is_signed_permutation(image.GetDirection()):
        return sitk.DICOMOrient(image, "LPS")
    size = np.array(image.GetSize())
    corners = np.array([[i, j, k] for i in (0, size[0] - 1) for j in (0, size[1] - 1) for k in (0, size[2] - 1)])
    points = np.array([image.TransformContinuousIndexToPhysicalPoint(c.astype(float).tolist()) for c in corners])
    # Each output axis takes the spacing of the input axis most aligned with it.
    d = np.abs(np.array(image.GetDirection()).reshape(3, 3))
    spacing = np.array(image.GetSpacing())[np.argmax(d, axis=1)]
    low, high = points.min(0), points.max(0)
    out_size = np.maximum(1, np.round((high - low) / spacing).astype(int) + 1)
    return resample(
        image, ImageGrid(tuple(out_size.tolist()), tuple(spacing.tolist()), tuple(low.tolist())), "linear", default
    )


def respaced_grid(grid: ImageGrid, spacing: tuple[float | None, float | None, float | None]) -> ImageGrid:
    """The identity-direction grid over the same field of view with new spacing (None keeps an axis's)."""
    new_spacing = tuple(float(s) if s is not None else grid.spacing[i] for i, s in enumerate(spacing))
    size = tuple(max(1, round(n * old / new)) for n, old, new in zip(grid.size, grid.spacing, new_spacing, strict=True))
    # Keep the field of view's outer edge, not the first voxel centre, fixed.
    origin = tuple(o + (new - old) / 2 for o, old, new in zip(grid.origin, grid.spacing, new_spacing, strict=True))
    return ImageGrid(size, new_spacing, origin, grid.direction)


def sub_grid(grid: ImageGrid, start_xyz: tuple[int, int, int], size_xyz: tuple[int, int, int]) -> ImageGrid:
    """A window of an identity-direction grid (start may be negative or the window larger: padding)."""
    origin = tuple(o + s * sp for o, s, sp in zip(grid.origin, start_xyz, grid.spacing, strict=True))
    return ImageGrid(tuple(int(s) for s in size_xyz), grid.spacing, origin, grid.direction)
