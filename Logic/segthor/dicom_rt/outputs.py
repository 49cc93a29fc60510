"""A case's DICOM outputs (RTSTRUCT, SEG) with the model named and its disclaimer in the descriptions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segthor.dicom_rt.series import SourceSeries
from segthor.io.volume import Volume

_LO = 64  # DICOM LO (Series Description, Content Description): at most 64 characters


def series_description(disclaimer: str | None) -> str:
    """A Series Description of at most 64 characters that keeps the disclaimer's warning readable."""
    if not disclaimer:
        return "SegTHOR organs"
    full = f"SegTHOR - {disclaimer}"
    if len(full) <= _LO:
        return full
    lower = disclaimer.lower()
    if "not for clinical use" in lower:
        return "SegTHOR - demo weights, NOT FOR CLINICAL USE" if "demo" in lower else "SegTHOR - NOT FOR CLINICAL USE"
    return full[: _LO - 3] + "..."


def write_dicom_outputs(
    labels: Volume,
    series: SourceSeries,
    rtstruct_path: Path | None,
    seg_path: Path | None,
    model_info: dict[str, Any],
    software_version: str,
) -> list[Path]:
    """Write the RTSTRUCT and/or SEG of `labels` on `series` (each atomically); the paths written."""
    disclaimer = model_info.get("disclaimer") or ""
    model_id = str(model_info.get("id") or "segthor")
    description = series_description(disclaimer)
    written = []
    if rtstruct_path is not None:
        from segthor.dicom_rt.rtstruct_writer import write_rtstruct

        long_description = f"Automatic contours by segthor {software_version}, model {model_id}"
        if disclaimer:
            long_description += f" ({disclaimer})"
        written.append(
            write_rtstruct(
                labels,
                series,
                rtstruct_path,
                description,
                long_description + ". Review before clinical use.",
                software_version,
            )
        )
    if seg_path is not None:
        from segthor.dicom_rt.seg_writer import write_dicom_seg

        written.append(
            write_dicom_seg(
                labels,
                series,
                seg_path,
                description,
                model_id,
                str(model_info.get("version") or model_id),
                software_version,
            )
        )
    return written
