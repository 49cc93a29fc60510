"""The files one segmented case leaves in the output folder, each written atomically.

Order matters: the case JSON is written last, so its presence means every other file of the case is
complete (what `batch --resume` relies on).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segthor.io.volume import Volume, write_volume
from segthor.outputs.output_types import DICOM_SEG, NIFTI, PREVIEW, RTSTRUCT, SEG_NRRD, parse_output_types
from segthor.outputs.seg_nrrd import write_seg_nrrd


@dataclass(frozen=True)
class CasePaths:
    """Where each file of a case goes; None for output types not asked for (the report is always written)."""

    seg_nrrd: Path | None
    labels: Path | None
    preview: Path | None
    report: Path
    rtstruct: Path | None = None
    dicom_seg: Path | None = None

    @classmethod
    def for_case(
        cls, output_dir: str | os.PathLike[str], case: str, output_types: Sequence[str] | None = None
    ) -> CasePaths:
        out = Path(output_dir)
        types = parse_output_types(output_types)
        return cls(
            seg_nrrd=out / f"{case}.seg.nrrd" if SEG_NRRD in types else None,
            labels=out / f"{case}_labels.nii.gz" if NIFTI in types else None,
            preview=out / f"{case}_preview.png" if PREVIEW in types else None,
            report=out / f"{case}.json",
            rtstruct=out / f"{case}_rtstruct.dcm" if RTSTRUCT in types else None,
            dicom_seg=out / f"{case}_seg.dcm" if DICOM_SEG in types else None,
        )

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


def write_preview(ct: Volume, labels: Volume, path: Path, title: str) -> Path:
    from segthor.render import write_overlay_png

    write_overlay_png(ct, labels.array, path, title)
    return path


def write_image_outputs(ct: Volume, labels: Volume, paths: CasePaths, title: str) -> None:
    """Labels NIfTI, Slicer .seg.nrrd and the preview PNG, those of them asked for (not the report)."""
    if paths.labels is not None:
        write_volume(labels, paths.labels)
    if paths.seg_nrrd is not None:
        write_seg_nrrd(labels, paths.seg_nrrd)
    if paths.preview is not None:
        write_preview(ct, labels, paths.preview, title)


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the case JSON (strict JSON: NaN/inf, e.g. HD95 of an empty organ, become null)."""
    from segthor.metrics.writers import write_json

    write_json(report, path)
    return path
