"""Refuse image files whose voxel axes are not perpendicular: a gantry tilt stored as a shear.

A CT acquired with a tilted gantry has slices that are not perpendicular to the table's motion. A file can keep
that geometry as a shear: NRRD space directions, a MetaImage (MHA/MHD) TransformMatrix, or a NIfTI sform whose
axes are not perpendicular. ITK, and with it segthor, cannot write outputs on such a grid, and reads it in ways
that move voxels, by up to tens of mm at the far end of a tilted scan (SimpleITK 2.5.7, checked in
`Testing/io/test_sheared_files.py`):
- NRRD and MetaImage: read with the sheared direction, but the labels NIfTI is written with ITK's orthogonal
  replacement of it ("Non-orthogonal direction matrix coerced to orthogonal"), so it would not overlay the CT;
- NIfTI: the sform is never used; ITK falls back to the qform when one is set (then segthor's sform/qform
  warning says so, and the labels NIfTI keeps both transforms), otherwise it stops with "ITK only supports
  orthonormal direction cosines".
So such files are refused in one line with the angle, before their voxels are read. The headers are read here
(NRRD and MetaImage headers are text; NIfTI through nibabel, in `nifti_header`), not through ITK, so the check
does not depend on what one ITK version does with them. DICOM series are not affected: their tilt is
regularised on purpose (`dicom_geometry`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segthor.errors import InputError

if TYPE_CHECKING:
    from segthor.io.nifti_header import NiftiTransforms

# Largest |cosine| between two voxel axes still taken as perpendicular (0.06 deg; 0.3 mm over 300 mm).
PERPENDICULAR_COS = 1e-3
HEADER_BYTES = 65536

# MetaImage keys that hold the direction cosines (synonyms in MetaIO); each triple is one voxel axis.
_METAIO_DIRECTION_KEYS = ("transformmatrix", "rotation", "orientation")

_RESAMPLE = {
    "nifti": "e.g. with nibabel.processing.resample_to_output",
    "other": "e.g. in 3D Slicer",
}


def shear_deg(axes: np.ndarray) -> float:
    """How far (degrees) the most oblique pair of voxel axes is from perpendicular; `axes`: 3x3, one axis
    vector per row (any length). 0 for zero-length axes, which ITK reports itself."""
    m = np.asarray(axes, dtype=float).reshape(3, 3)
    norms = np.linalg.norm(m, axis=1)
    if np.any(norms == 0):
        return 0.0
    unit = m / norms[:, None]
    cosine = float(np.abs(unit @ unit.T - np.eye(3)).max())
    return float(np.degrees(np.arcsin(min(1.0, cosine))))


def is_sheared(axes: np.ndarray) -> bool:
    """True when two voxel axes (rows of `axes`) are further from perpendicular than `PERPENDICULAR_COS`."""
    return np.sin(np.radians(shear_deg(axes))) > PERPENDICULAR_COS


def sheared_file_error(path: Path, what: str, angle: float, fmt: str = "other") -> InputError:
    """The one-line InputError for a sheared file: `what` names the header field, `angle` is `shear_deg`."""
    angle_text = f"{angle:.1f}" if angle >= 0.1 else f"{angle:.2g}"
    return InputError(
        f"{path.name}: its {what} not orthogonal (axes {angle_text} deg off square: a gantry tilt stored as a "
        f"shear), which would move the outputs off the CT; resample it onto an orthogonal grid first "
        f"({_RESAMPLE[fmt]}), or give the DICOM series, whose tilt segthor regularises"
    )


def refuse_sheared_file(path: Path, nifti: NiftiTransforms | None = None) -> None:
    """Raise `sheared_file_error` when the header of an NRRD (.nrrd/.nhdr), MetaImage (.mha/.mhd) or NIfTI
    file (its transforms from `nifti_header.read_transforms`, passed as `nifti`) puts the voxel axes off
    perpendicular in a way ITK would not keep (NIfTI: an sform in use, code > 0, with no qform to fall back
    on). Headers it cannot parse are left to ITK."""
    name = path.name.lower()
    if nifti is not None:
        if nifti.sform_code > 0 and nifti.qform_code <= 0 and is_sheared(nifti.sform[:3, :3].T):
            raise sheared_file_error(
                path, "sform (with no qform set) is", shear_deg(nifti.sform[:3, :3].T), fmt="nifti"
            )
        return
    if name.endswith((".nrrd", ".nhdr")):
        axes, what = _nrrd_axes(path), "space directions are"
    elif name.endswith((".mha", ".mhd")):
        axes, what = _metaio_axes(path), "TransformMatrix is"
    else:
        return
    if axes is not None and is_sheared(axes):
        raise sheared_file_error(path, what, shear_deg(axes))


def _header_text(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(HEADER_BYTES).decode("latin-1")


def _nrrd_axes(path: Path) -> np.ndarray | None:
    """NRRD `space directions`: one vector per axis, "(x,y,z) (x,y,z) (x,y,z)"; None when absent or not 3D."""
    header = _header_text(path).split("\n\n", 1)[0]
    line = next((ln for ln in header.splitlines() if ln.lower().startswith("space directions:")), None)
    if line is None:
        return None
    try:
        vectors = [[float(v) for v in group.split(",")] for group in re.findall(r"\(([^)]*)\)", line)]
    except ValueError:
        return None  # unusual syntax: ITK reports what it cannot read
    if len(vectors) != 3 or any(len(v) != 3 for v in vectors):
        return None
    return np.asarray(vectors, dtype=float)


def _metaio_axes(path: Path) -> np.ndarray | None:
    """MetaImage `TransformMatrix` (or its synonyms `Rotation`, `Orientation`): nine numbers, one voxel axis
    per triple (ITK's direction columns); None when absent or not nine numbers. The header is `Key = value`
    lines up to `ElementDataFile` (the last key; voxel data follows it in an .mha)."""
    for line in _header_text(path).splitlines():
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep:
            continue
        if key == "elementdatafile":
            return None
        if key in _METAIO_DIRECTION_KEYS:
            try:
                numbers = [float(v) for v in value.split()]
            except ValueError:
                return None
            return np.asarray(numbers, dtype=float).reshape(3, 3) if len(numbers) == 9 else None
    return None
