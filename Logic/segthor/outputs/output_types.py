"""Which files `segment` and `batch` write for a case (`--output-types`).

The case JSON is always written (last; `batch --resume` relies on it). DICOM types need a DICOM series as
input, because RTSTRUCT and SEG must refer to the CT's own slices.
"""

from __future__ import annotations

from collections.abc import Sequence

from segthor.errors import InputError

SEG_NRRD = "seg-nrrd"
NIFTI = "nifti"
PREVIEW = "preview"
RTSTRUCT = "rtstruct"
DICOM_SEG = "dicom-seg"
OUTPUT_TYPES = (SEG_NRRD, NIFTI, PREVIEW, RTSTRUCT, DICOM_SEG)
DEFAULT_OUTPUT_TYPES = (SEG_NRRD, NIFTI, PREVIEW)
DICOM_OUTPUT_TYPES = (RTSTRUCT, DICOM_SEG)


def parse_output_types(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Output types from "seg-nrrd,nifti,rtstruct" or a list of names (None: the default), in canonical order.

    Raises InputError naming an unknown type and the known ones.
    """
    if value is None:
        return DEFAULT_OUTPUT_TYPES
    items = [value] if isinstance(value, str) else list(value)
    names = {part.strip().lower() for item in items for part in str(item).split(",") if part.strip()}
    unknown = sorted(names - set(OUTPUT_TYPES))
    if unknown:
        raise InputError(f"unknown output type(s) {', '.join(unknown)}; choose from {','.join(OUTPUT_TYPES)}")
    if not names:
        raise InputError(f"no output type given; choose from {','.join(OUTPUT_TYPES)}")
    return tuple(t for t in OUTPUT_TYPES if t in names)


def wants_dicom(output_types: Sequence[str]) -> bool:
    return any(t in DICOM_OUTPUT_TYPES for t in output_types)


def dicom_input_error(input_name: str, output_types: Sequence[str]) -> InputError:
    asked = ", ".join(t for t in output_types if t in DICOM_OUTPUT_TYPES)
    return InputError(
        f"{input_name} is not a DICOM series folder, so {asked} cannot refer to its slices; "
        "give the CT as a DICOM folder or drop these output types"
    )
