"""A NIfTI input's own sform and qform, carried to the label file written on its grid.

A NIfTI header holds two voxel-to-world transforms. ITK (so SimpleITK and Slicer) picks one of them by its own
rules, nibabel, FSL and ITK-SNAP prefer the sform. When the two disagree, labels written with only the
transform ITK used would appear shifted in sform-first tools; writing them with the input's own sform and qform
(matrices and codes) keeps them on the CT in every tool. Matrices here are nibabel's: voxel (i, j, k) in storage
order to RAS mm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segthor.io.shear import is_sheared, shear_deg

NIFTI_SUFFIXES = (".nii", ".nii.gz")
# Transforms that agree within this (mm, at every corner of the volume) are the same placement.
AGREE_MM = 0.01


@dataclass(frozen=True)
class NiftiTransforms:
    """sform and qform (4x4, voxel -> RAS mm) with their codes, as stored in the input's header."""

    sform: np.ndarray
    sform_code: int
    qform: np.ndarray
    qform_code: int
    xyz_unit: str | None = "mm"

    def chosen(self, ijk_to_ras: np.ndarray) -> str | None:
        """'sform' or 'qform': the one matching the grid a reader built (`ijk_to_ras`), else None."""
        for name, matrix, code in (("sform", self.sform, self.sform_code), ("qform", self.qform, self.qform_code)):
            if code > 0 and np.allclose(matrix, ijk_to_ras, atol=1e-3):
                return name
        return None


def is_nifti(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def corner_distance_mm(a: np.ndarray, b: np.ndarray, shape_xyz: tuple[int, int, int]) -> float:
    """Largest distance (mm) between where two voxel->world matrices put the volume's 8 corner voxels."""
    corners = np.array(
        [[x, y, z, 1.0] for x in (0, shape_xyz[0] - 1) for y in (0, shape_xyz[1] - 1) for z in (0, shape_xyz[2] - 1)]
    )
    return float(np.linalg.norm((corners @ a.T - corners @ b.T)[:, :3], axis=1).max())


def read_transforms(path: str | os.PathLike[str]) -> NiftiTransforms | None:
    """The header transforms of a NIfTI file (header only), or None when nibabel cannot read it."""
    import nibabel as nib

    try:
        header = nib.load(str(path)).header
        sform, s_code = header.get_sform(coded=True)
        qform, q_code = header.get_qform(coded=True)
    except Exception:  # noqa: BLE001 - SimpleITK read it already; the transforms are an extra, not a must
        return None
    return NiftiTransforms(
        sform=np.asarray(header.get_sform(), float),
        sform_code=int(s_code),
        qform=np.asarray(header.get_qform(), float),
        qform_code=int(q_code),
        xyz_unit=header.get_xyzt_units()[0],
    )


def disagreement_warning(
    path: Path, transforms: NiftiTransforms, ijk_to_ras: np.ndarray, shape_xyz: tuple[int, int, int]
) -> str | None:
    """A one-line warning when both transforms are set and place the volume differently, else None; it names
    a sheared sform (`segthor.io.shear`) as the reason ITK used the qform."""
    if transforms.sform_code <= 0 or transforms.qform_code <= 0:
        return None
    distance = corner_distance_mm(transforms.sform, transforms.qform, shape_xyz)
    if distance <= AGREE_MM:
        return None
    used = transforms.chosen(ijk_to_ras)
    used_text = f"segthor (like ITK and Slicer) used the {used}" if used else "segthor used ITK's reading of them"
    sform_axes = transforms.sform[:3, :3].T
    if used == "qform" and is_sheared(sform_axes):
        # Whatever the codes say, ITK never uses a sheared sform (a gantry tilt): say why the qform was used.
        used_text = (
            f"the sform is not orthogonal (axes {shear_deg(sform_axes):.1f} deg off square: a gantry tilt stored "
            f"as a shear), which ITK cannot use, so {used_text}"
        )
    return (
        f"{path.name}: the NIfTI sform (code {transforms.sform_code}) and qform (code {transforms.qform_code}) "
        f"disagree by up to {distance:.1f} mm; {used_text}; sform-first tools (nibabel, FSL, ITK-SNAP) place the "
        "CT elsewhere; the labels NIfTI keeps both transforms of the input, so it overlays the CT in every tool"
    )


def write_nifti(array_zyx: np.ndarray, transforms: NiftiTransforms, path: Path) -> None:
    """Write [z, y, x] voxels as NIfTI with the given sform and qform (matrices and codes)."""
    import nibabel as nib

    # NIfTI stores x fastest, which is a C-ordered [z, y, x] array's own memory order: nibabel writes the
    # transposed view slice by slice without moving a byte (a C-contiguous copy of it would make nibabel
    # transpose every z slice back, ~0.5 s for a 512x512x200 label image).
    image = nib.Nifti1Image(array_zyx.transpose(2, 1, 0), None)
    image.header.set_sform(transforms.sform, code=transforms.sform_code)
    image.header.set_qform(transforms.qform, code=transforms.qform_code)
    image.header.set_xyzt_units(xyz=transforms.xyz_unit or "mm")
    image.header.set_data_dtype(array_zyx.dtype)
    nib.save(image, str(path))


def missing_data_bytes(path: str | os.PathLike[str], data_bytes: int) -> int:
    """How many bytes of voxel data a NIfTI file lacks (0 when complete); `data_bytes`: voxels x bytes per voxel
    of the image read from it, used only when nibabel cannot read the header.

    ITK reads a truncated NIfTI (a copy or download cut short) without complaint, filling the missing voxels
    with zeros, so the CT would be segmented half empty. Expected size: the header's vox_offset (at least 352)
    plus voxels x bytes per stored voxel. A plain .nii is checked by its size; a
    .nii.gz first by the gzip trailer's ISIZE (uncompressed size mod 2**32, RFC 1952), and only when that
    disagrees (a cut file, or several gzip members) by decompressing it to the end.
    """
    import gzip
    import zlib

    import nibabel as nib

    offset = 352  # the smallest NIfTI-1 offset (348-byte header + 4 extension bytes)
    try:
        header = nib.load(str(path)).header
        offset = max(offset, int(header["vox_offset"]))  # get_data_offset() says 0 once loaded
        # The stored type, not the one read: ITK returns scaled (scl_slope) data as floats.
        data_bytes = int(np.prod(header.get_data_shape())) * header.get_data_dtype().itemsize
    except Exception:  # noqa: BLE001 - a header nibabel cannot read: the image's own size is the best guess
        pass
    expected = offset + int(data_bytes)
    path = Path(path)
    if not str(path).lower().endswith(".gz"):
        return max(0, expected - path.stat().st_size)
    with open(path, "rb") as f:
        f.seek(-min(4, path.stat().st_size), os.SEEK_END)
        if int.from_bytes(f.read(4), "little") == expected % 2**32:
            return 0
    got = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                got += len(chunk)
    except (EOFError, OSError, zlib.error):
        pass  # cut short: `got` is what could be read
    return max(0, expected - got)
