"""One image type for the whole package: a numpy array plus its physical geometry.

Arrays are indexed [z, y, x] (slice, row, column) like SimpleITK's and `slicer.util`'s numpy views.
Geometry is in ITK's LPS convention: spacing and origin in mm as (x, y, z), direction as a 3x3 matrix whose
columns are the image axes. `ijk_to_ras` / `from_ijk_to_ras` convert to and from Slicer's RAS matrices.

A volume read from a file may also carry what reading found (`warnings`, for the user's report) and a NIfTI
input's own header transforms (`nifti`), which label files written on the same grid keep.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segthor.errors import InputError, brief
from segthor.io.nifti_header import (
    NiftiTransforms,
    disagreement_warning,
    is_nifti,
    missing_data_bytes,
    read_transforms,
    write_nifti,
)
from segthor.io.shear import refuse_sheared_file, shear_deg, sheared_file_error

# Suffixes SimpleITK reads as one file; a folder is read as a DICOM series.
FILE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")

# LPS <-> RAS: negate x and y (the matrix is its own inverse).
_LPS_TO_RAS4 = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    # What reading had to leave out, resample or choose, one line each (shown in the CLI summary and case JSON).
    warnings: list[str] = field(default_factory=list, compare=False)
    # A NIfTI input's sform and qform; kept by `with_array` so labels on this grid are written with them.
    nifti: NiftiTransforms | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.spacing = tuple(float(s) for s in self.spacing)
        self.origin = tuple(float(o) for o in self.origin)
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        z, y, x = self.array.shape
        return (x, y, z)

    def with_array(self, array: np.ndarray) -> Volume:
        """The same geometry around another array of the same shape."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} differs from volume shape {self.array.shape}")
        return Volume(array, self.spacing, self.origin, self.direction.copy(), nifti=self.nifti)

    def same_geometry(self, other: Volume, tol: float = 1e-4) -> bool:
        return (
            self.array.shape == other.array.shape
            and np.allclose(self.spacing, other.spacing, rtol=tol, atol=tol)
            and np.allclose(self.origin, other.origin, rtol=tol, atol=tol * 10)
            and np.allclose(self.direction, other.direction, atol=tol)
        )

    def describe_geometry(self) -> str:
        sx, sy, sz = self.spacing
        return (
            f"size {self.shape_xyz}, spacing ({sx:.4g}, {sy:.4g}, {sz:.4g}) mm, "
            f"origin ({self.origin[0]:.4g}, {self.origin[1]:.4g}, {self.origin[2]:.4g})"
        )

    def ijk_to_lps(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) voxel indices (x, y, z order) to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m

    def ijk_to_ras(self) -> np.ndarray:
        """4x4 matrix mapping voxel indices to Slicer's RAS mm (LPS with x and y negated)."""
        return _LPS_TO_RAS4 @ self.ijk_to_lps()

    @classmethod
    def from_ijk_to_ras(cls, array: np.ndarray, ijk_to_ras: np.ndarray) -> Volume:
        """A Volume around `array` from a 4x4 IJK->RAS matrix (what MRML volume nodes hold)."""
        spacing = np.linalg.norm(ijk_to_ras[:3, :3], axis=0)
        return cls(
            array,
            spacing=tuple(spacing),
            origin=tuple(_LPS_TO_RAS4[:3, :3] @ ijk_to_ras[:3, 3]),
            direction=_LPS_TO_RAS4[:3, :3] @ (ijk_to_ras[:3, :3] / spacing),
        )

    def to_sitk(self):
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(self.direction.flatten()))
        return image

    @classmethod
    def from_sitk(cls, image) -> Volume:
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise InputError(
                f"expected a 3D image, got a {image.GetDimension()}D one; "
                "segthor works on CT volumes (several axial slices)"
            )
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise InputError("expected a scalar (grey-level) image, got a multi-component (e.g. RGB) one")
        return cls(
            sitk.GetArrayFromImage(image),
            image.GetSpacing(),
            image.GetOrigin(),
            np.array(image.GetDirection()).reshape(3, 3),
        )


def _is_image_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in FILE_SUFFIXES)


def read_volume(path: str | os.PathLike[str], series: str | None = None) -> Volume:
    """Read a NIfTI, NRRD (also .seg.nrrd as a label image), MHA/MHD file, or a folder holding a DICOM series.

    A DICOM folder is read by `segthor.io.dicom_series.read_dicom_folder` (geometry from the slices' own
    positions; `series` picks one of several series by SeriesNumber or SeriesInstanceUID). A NIfTI file keeps
    its header transforms in `Volume.nifti`, with a warning when its sform and qform disagree. Raises
    InputError (one line) for missing, unsupported or unreadable inputs, and for files whose voxel axes are
    sheared (a gantry tilt; `segthor.io.shear`).
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a NIfTI/NRRD/MHA file or a DICOM series folder")
    if path.is_dir():
        from segthor.io.dicom_series import read_dicom_folder

        return read_dicom_folder(path, series)
    if series is not None:
        raise InputError(f"{path.name} is a file; a series (--series {series}) can only be chosen in a DICOM folder")
    if not _is_image_file(path):
        raise InputError(f"{path.name}: unsupported file type; supported: {', '.join(FILE_SUFFIXES)} or a DICOM folder")
    nifti = read_transforms(path) if is_nifti(path) else None
    refuse_sheared_file(path, nifti)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        if nifti is not None and nifti.qform_code <= 0 and "orthonormal" in str(exc):
            # ITK's own tolerance is tighter than segthor's: a slightly sheared sform, no qform.
            sform_axes = nifti.sform[:3, :3].T
            raise sheared_file_error(path, "sform (with no qform set) is", shear_deg(sform_axes), "nifti") from exc
        raise InputError(f"could not read {path}: the file is corrupt or not an image ({brief(exc)})") from exc
    volume = Volume.from_sitk(image)
    if is_nifti(path) and (missing := missing_data_bytes(path, volume.array.nbytes)):
        raise InputError(
            f"{path} is incomplete: {missing} bytes of its voxel data are missing (a copy or download "
            "cut short?); copy the file again"
        )
    if nifti is not None:
        volume.nifti = nifti
        warning = disagreement_warning(path, nifti, volume.ijk_to_ras(), volume.shape_xyz)
        if warning:
            volume.warnings.append(warning)
    return volume


def write_volume(volume: Volume, path: str | os.PathLike[str], compress: bool = True) -> Path:
    """Write atomically (a half-written file never appears under `path`).

    A NIfTI target gets the header transforms of the NIfTI the volume's grid came from (`volume.nifti`, both
    sform and qform with their codes) when they still describe this grid; otherwise ITK writes the geometry.
    """
    import SimpleITK as sitk

    from segthor.io.atomic import atomic_path

    path = Path(path)
    keep_header = volume.nifti is not None and is_nifti(path) and volume.nifti.chosen(volume.ijk_to_ras()) is not None
    with atomic_path(path) as tmp:
        if keep_header:
            write_nifti(volume.array, volume.nifti, tmp)
        else:
            sitk.WriteImage(volume.to_sitk(), str(tmp), useCompression=compress)
    return path
