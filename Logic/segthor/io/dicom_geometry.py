"""Where DICOM slices really are: keep the ones that form the volume, order them, and plan a regular grid.

Pure geometry (numpy only): the reader gives one `SlicePlane` per image (a classic file or one frame of an
enhanced multi-frame file) and gets back the slices that belong together, sorted along the slice normal, and a
`GridPlan` that says whether the stack is already a regular grid or must be resampled onto one.

Conventions are DICOM's (and ITK's) patient LPS, in mm. `row_cosine` is the first triplet of
ImageOrientationPatient (the direction of increasing column index), `col_cosine` the second; PixelSpacing is
(between rows, between columns). The normal is row x column, so slice index k grows along it, as in ITK.

The regularisation follows 3D Slicer's acquisition geometry regularisation (DICOMScalarVolumePlugin): the
grid starts at the first slice, keeps its in-plane axes and extent, and its third axis is the true slice
normal; a tilted (sheared) or unevenly spaced stack is resampled onto it by linear interpolation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from segthor.errors import InputError

# Slicer's spacing epsilon (mm): position differences below it are rounding in the header, not geometry.
SPACING_EPS_MM = 0.01
# Direction cosines that differ by less than this are the same orientation (headers round to ~6 digits).
ORIENTATION_EPS = 1e-4
# A stack whose smallest gap would need this many times more slices than it has is not resampled.
MAX_UPSAMPLING = 4.0
# A gap this many times the typical spacing means two separate stacks, not missing slices.
MAX_GAP_RATIO = 10.0


@dataclass(frozen=True)
class SlicePlane:
    """One 2D image of a series, as its header places it."""

    source: str  # a name for messages: the file name, with the frame number for multi-frame files
    position: tuple[float, float, float]  # ImagePositionPatient: centre of the first pixel, LPS mm
    row_cosine: tuple[float, float, float]
    col_cosine: tuple[float, float, float]
    pixel_spacing: tuple[float, float]  # (between rows, between columns) mm
    rows: int
    columns: int
    localizer: bool = False  # ImageType / FrameType says LOCALIZER
    gantry_tilt_deg: float = 0.0  # GantryDetectorTilt, only quoted in messages (positions decide)

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_cosine, self.col_cosine)

    def layout_key(self) -> tuple:
        """What must agree for slices to stack: orientation, matrix size and pixel spacing."""
        return (
            tuple(np.round(np.asarray(self.row_cosine) / ORIENTATION_EPS).astype(int)),
            tuple(np.round(np.asarray(self.col_cosine) / ORIENTATION_EPS).astype(int)),
            self.rows,
            self.columns,
            tuple(np.round(np.asarray(self.pixel_spacing) / 1e-4).astype(int)),
        )


def select_slices(slices: list[SlicePlane], label: str) -> tuple[list[int], list[str]]:
    """Indices of the slices that form the volume, and warnings naming the ones left out.

    Left out: localizers (ImageType/FrameType LOCALIZER) and images whose orientation, matrix size or pixel
    spacing differ from the largest group (scouts stored in the same series). Raises InputError when fewer
    than two slices remain.
    """
    candidates = [i for i, s in enumerate(slices) if not s.localizer]
    if not candidates:
        raise InputError(f"{label}: every image is a localizer (scout); give the folder of the CT series itself")
    keys = Counter(slices[i].layout_key() for i in candidates)
    main_key, _ = keys.most_common(1)[0]
    kept = [i for i in candidates if slices[i].layout_key() == main_key]
    dropped = [slices[i].source for i in range(len(slices)) if i not in set(kept)]
    warnings = []
    if dropped:
        shown = ", ".join(dropped[:4]) + (f" and {len(dropped) - 4} more" if len(dropped) > 4 else "")
        warnings.append(
            f"{label}: left out {len(dropped)} image(s) that do not belong to the volume (localizer/scout, or "
            f"another orientation, matrix size or pixel spacing): {shown}"
        )
    if len(kept) < 2:
        raise InputError(
            f"{label}: only {len(kept)} CT slice(s) in the series; segthor needs a volume of several axial slices"
        )
    return kept, warnings


def sort_along_normal(slices: list[SlicePlane]) -> tuple[list[int], np.ndarray]:
    """Order (indices) of the slices along the normal of the first one, and their sorted distances (mm)."""
    normal = slices[0].normal
    distances = np.array([np.dot(s.position, normal) for s in slices])
    order = np.argsort(distances, kind="stable")
    return [int(i) for i in order], distances[order]


def coincident_pairs(distances: np.ndarray) -> list[tuple[int, int]]:
    """Neighbouring positions (indices into the sorted stack) closer than SPACING_EPS_MM: the same plane."""
    return [(i, i + 1) for i in np.flatnonzero(np.diff(distances) < SPACING_EPS_MM).tolist()]


@dataclass
class GridPlan:
    """The regular grid a sorted stack goes onto, and how each target slice is made from the stack."""

    origin: tuple[float, float, float]  # LPS mm
    direction: np.ndarray  # 3x3, columns: row cosine, column cosine, normal
    spacing: tuple[float, float, float]  # (x, y, z) mm
    slice_distances: np.ndarray  # (n_in,) sorted distances of the stack along the normal, mm
    target_distances: np.ndarray  # (n_out,) distances of the grid's slices along the normal, mm
    inplane_offsets: np.ndarray  # (n_in, 2) each slice's shift (along row cosine, along column cosine), mm
    warnings: list[str] = field(default_factory=list)

    @property
    def needs_resampling(self) -> bool:
        return bool(
            len(self.target_distances) != len(self.slice_distances)
            or not np.allclose(self.target_distances, self.slice_distances, atol=SPACING_EPS_MM)
            or np.abs(self.inplane_offsets).max() > 0
        )


def plan_grid(slices: list[SlicePlane], label: str) -> GridPlan:
    """The regular grid for slices already sorted along their normal (no two in one plane).

    Tilt: slice positions that move within the slice plane (a sheared stack, as a tilted gantry acquires)
    beyond a tenth of a pixel. Uneven spacing: a gap, or a slice's distance from its place on the evenly
    spaced grid, off by more than max(0.01 mm, 1% of the typical gap) (a missing slice is one such gap).
    Either way the grid gets the smallest gap as its spacing and a warning says what was done.

    Raises InputError for stacks that cannot be made regular honestly: gaps over MAX_GAP_RATIO times the
    typical one (two stacks in one series), or a smallest gap so small that the grid would need over
    MAX_UPSAMPLING times as many slices.
    """
    first = slices[0]
    row, col = np.asarray(first.row_cosine, float), np.asarray(first.col_cosine, float)
    normal = first.normal
    positions = np.array([s.position for s in slices], dtype=float)
    distances = positions @ normal
    relative = positions - positions[0]
    offsets = np.stack([relative @ row, relative @ col], axis=1)
    pixel = min(first.pixel_spacing)
    tilted = bool(np.abs(offsets).max() > 0.1 * pixel)
    if not tilted:
        offsets = np.zeros_like(offsets)
    gaps = np.diff(distances)
    typical = float(np.median(gaps))
    length = float(distances[-1] - distances[0])
    tolerance = max(SPACING_EPS_MM, 0.01 * typical)
    # uneven: a gap off the typical one, or small deviations adding up to a slice off its regular place
    off_grid = distances - (distances[0] + np.arange(len(distances)) * length / (len(distances) - 1))
    uneven = bool(np.abs(gaps - typical).max() > tolerance or np.abs(off_grid).max() > tolerance)
    warnings: list[str] = []
    if uneven:
        smallest = float(gaps.min())
        if gaps.max() > MAX_GAP_RATIO * typical:
            at = int(np.argmax(gaps))
            raise InputError(
                f"{label}: a {gaps.max():.1f} mm gap between slices {slices[at].source} and "
                f"{slices[at + 1].source} ({typical:.2f} mm elsewhere): the series holds separate stacks; "
                "export each stack as its own series"
            )
        n_out = int(round(length / smallest)) + 1
        if n_out > MAX_UPSAMPLING * len(slices):
            raise InputError(
                f"{label}: slice spacing varies from {smallest:.3g} to {gaps.max():.3g} mm; a regular grid at the "
                f"smallest spacing would need {n_out} slices for {len(slices)}; export the series with even spacing"
            )
        step = length / (n_out - 1)
        targets = distances[0] + step * np.arange(n_out)
        missing = int(np.clip(np.round(gaps / typical) - 1, 0, None).sum())
        why = f", probably {missing} missing slice(s)" if missing else ""
        warnings.append(
            f"{label}: uneven slice spacing ({smallest:.3g} to {gaps.max():.3g} mm{why}); resampled by linear "
            f"interpolation onto a regular {step:.4g} mm grid of {n_out} slices (from {len(slices)})"
        )
    else:
        step = length / (len(slices) - 1)
        targets = distances.copy()
    if tilted:
        shift = float(np.linalg.norm(offsets[-1]))
        angle = float(np.degrees(np.arctan2(shift, length))) if length > 0 else 0.0
        header = [s.gantry_tilt_deg for s in slices if s.gantry_tilt_deg]
        quoted = f" (GantryDetectorTilt {header[0]:.3g} deg)" if header else ""
        warnings.append(
            f"{label}: gantry tilt{quoted}: slices shift {shift:.1f} mm within their plane from first to last "
            f"({angle:.1f} deg); resampled onto a grid whose third axis is the true slice normal (as Slicer's "
            "acquisition geometry regularisation does); voxels that fall outside the slices hold the lowest value"
        )
    return GridPlan(
        origin=tuple(positions[0]),
        direction=np.stack([row, col, normal], axis=1),
        spacing=(float(first.pixel_spacing[1]), float(first.pixel_spacing[0]), float(step)),
        slice_distances=distances,
        target_distances=targets,
        inplane_offsets=offsets,
        warnings=warnings,
    )


def _inside(shape: tuple[int, int], dy: float, dx: float) -> np.ndarray:
    """Pixels (a, b) whose source (a - dy, b - dx) lies within a plane of `shape`."""
    rows, cols = shape
    a = np.arange(rows)[:, None] - dy
    b = np.arange(cols)[None, :] - dx
    return (a >= -1e-6) & (a <= rows - 1 + 1e-6) & (b >= -1e-6) & (b <= cols - 1 + 1e-6)


def shift_bilinear(plane: np.ndarray, dy: float, dx: float, fill: float) -> np.ndarray:
    """out[a, b] = plane at (a - dy, b - dx) by bilinear interpolation (float32); `fill` outside the plane.

    Like scipy.ndimage.shift(order=1, mode="constant") but with four slice-wise blends, ~10x faster on 512x512.
    """
    plane = plane.astype(np.float32, copy=False)
    rows, cols = plane.shape
    if abs(dy) >= rows or abs(dx) >= cols:
        return np.full_like(plane, fill)
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    # out[a, b] = plane[a - sy, b - sx] is a view into the plane padded with `fill` (one copy, four views)
    py, px = max(abs(iy), abs(iy + 1)), max(abs(ix), abs(ix + 1))
    padded = np.pad(plane, ((py, py), (px, px)), constant_values=fill)
    out = np.zeros_like(plane)
    for wy, sy in ((1.0 - fy, iy), (fy, iy + 1)):
        for wx, sx in ((1.0 - fx, ix), (fx, ix + 1)):
            if wy * wx > 1e-9:
                view = padded[py - sy : py - sy + rows, px - sx : px - sx + cols]
                out += np.float32(wy * wx) * view
    out[~_inside(plane.shape, dy, dx)] = fill
    return out


def resample_stack(stack: np.ndarray, plan: GridPlan, pixel_spacing: tuple[float, float]) -> np.ndarray:
    """The stack [slice, row, column] on the plan's regular grid, same dtype (integers rounded).

    Each target slice blends its two neighbours along the normal linearly; a slice shifted within its plane
    (tilt) is first moved back by bilinear interpolation. Voxels no slice covers take the stack's minimum.
    Works slice by slice: no float copy of the whole volume.
    """
    if not plan.needs_resampling:
        return stack
    fill = float(stack.min())
    out = np.empty((len(plan.target_distances), *stack.shape[1:]), dtype=stack.dtype)
    # A slice moved by o within its plane holds at pixel (a, b) what the grid has at (a + o_col/dy, b + o_row/dx).
    shifts = plan.inplane_offsets[:, ::-1] / np.asarray(pixel_spacing, dtype=float)
    cache: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def aligned(i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Slice i moved onto the grid's in-plane lattice, and where it covers the grid (None: everywhere)."""
        if i not in cache:
            for old in [key for key in cache if key < i - 1]:
                del cache[old]  # targets go forward: keep only the two neighbours in memory
            dy, dx = shifts[i]
            if abs(dy) > 1e-6 or abs(dx) > 1e-6:
                cache[i] = (shift_bilinear(stack[i], dy, dx, fill), _inside(stack.shape[1:], dy, dx))
            else:
                cache[i] = (stack[i], None)
        return cache[i]

    integer = np.issubdtype(stack.dtype, np.integer)
    low, high = (np.iinfo(stack.dtype).min, np.iinfo(stack.dtype).max) if integer else (None, None)
    d = plan.slice_distances
    for k, t in enumerate(plan.target_distances):
        i = int(np.clip(np.searchsorted(d, t, side="right") - 1, 0, len(d) - 2))
        w = float(np.clip((t - d[i]) / (d[i + 1] - d[i]), 0.0, 1.0))
        if w < 1e-6:
            value = aligned(i)[0]
        elif w > 1 - 1e-6:
            value = aligned(i + 1)[0]
        else:
            (below, covered_below), (above, covered_above) = aligned(i), aligned(i + 1)
            value = np.float32(1.0 - w) * below + np.float32(w) * above
            for covered in (covered_below, covered_above):
                if covered is not None:
                    value[~covered] = fill  # only where both neighbours cover the voxel is a blend honest
        if integer and value.dtype != stack.dtype:
            value = np.rint(value, out=np.asarray(value, dtype=np.float32))
            np.clip(value, low, high, out=value)
        out[k] = value
    return out
