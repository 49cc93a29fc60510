"""The files one segmented case leaves in the output folder, each written atomically.

Order matters: the case JSON is written last, so its presence means every other file of the case is
complete (what `batch --resume` relies on). A write that fails part-way removes the case's files (no partial
case is left behind), and the error is one line (``OutputError``).

Case names never make two inputs share files: the case JSON records its input (``input_resolved``), and a
name whose outputs belong to another input is not reused (``choose_case_name``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segthor.case_layout import labels_file_name
from segthor.errors import InputError, OverwriteRefusedError
from segthor.io.volume import Volume, write_volume
from segthor.io.writable import output_errors
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
            labels=out / labels_file_name(case) if NIFTI in types else None,
            preview=out / f"{case}_preview.png" if PREVIEW in types else None,
            report=out / f"{case}.json",
            rtstruct=out / f"{case}_rtstruct.dcm" if RTSTRUCT in types else None,
            dicom_seg=out / f"{case}_seg.dcm" if DICOM_SEG in types else None,
        )

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}

    def all(self) -> list[Path]:
        paths = [self.seg_nrrd, self.labels, self.preview, self.rtstruct, self.dicom_seg, self.report]
        return [p for p in paths if p is not None]

    def remove(self) -> None:
        """Delete every file of the case (after a failed write: no partial case stays behind)."""
        for path in self.all():
            with contextlib.suppress(OSError):  # the folder became unwritable: the error already says why
                path.unlink(missing_ok=True)


def check_outputs_spare(
    paths: CasePaths, input_path: str | os.PathLike[str], reference: str | os.PathLike[str] | None = None
) -> None:
    """Raise ``InputError`` when an output file of the case would replace its own input or reference.

    A folder of loose files ``a.nii.gz`` + ``a_labels.nii.gz`` (the reference) segmented into itself would
    otherwise overwrite the user's labels with the prediction, and score the prediction against itself.
    """
    protected = {Path(p).resolve(): what for p, what in ((input_path, "input"), (reference, "reference")) if p}
    for path in paths.all():
        what = protected.get(path.resolve())
        if what is not None:
            raise InputError(
                f"the output {path} is this case's {what}: writing it would replace your file; choose another "
                "output folder or case name"
            )


def input_key(input_path: str | os.PathLike[str]) -> str:
    """How a case JSON records its input: the absolute path with links resolved."""
    return str(Path(input_path).resolve())


def recorded_input(report_path: Path) -> str | None:
    """The input a finished case JSON was made from (None: no JSON, unreadable, or written by an old version)."""
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict):
        return None
    value = report.get("input_resolved") or report.get("input")
    return input_key(value) if isinstance(value, str) and value else None


def other_input(paths: CasePaths, input_path: str | os.PathLike[str]) -> str | None:
    """The other input whose finished outputs sit under these paths, or None (free, or this input's own)."""
    recorded = recorded_input(paths.report)
    return recorded if recorded is not None and recorded != input_key(input_path) else None


def check_case_name(name: str) -> str:
    """``name`` when it is a plain file name prefix; ``InputError`` for '', '.', '..', a leading '.' (hidden
    files) or a folder separator (outputs would land outside the output folder, e.g. '../x')."""
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name or os.sep in name:
        raise InputError(
            f"case name {name!r} is not a plain file name (no '/', '\\', leading '.', or empty); give e.g. "
            "--case-name patient01"
        )
    return name


def choose_case_name(
    output_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    default_name: str,
    explicit: bool,
    overwrite: bool,
) -> str:
    """The case name under which ``input_path``'s outputs go, never taking another input's outputs.

    ``default_name`` is used when free, or when it holds this input's own earlier outputs (re-running
    replaces them), or with ``overwrite``. Otherwise an explicit name (``--case-name``, or a batch case) is
    refused with ``InputError``; a derived name (the input's file or folder name) becomes
    ``<parent folder>_<name>``, then ``<name>_<8 hex digits of the input path's SHA-1>``: two DICOM folders both
    named ``image`` give ``image`` and ``patient2_image``. Outputs without a case JSON are an unfinished case
    and count as free.
    """
    if explicit:
        check_case_name(default_name)
    out = Path(output_dir)
    taken_by = other_input(CasePaths.for_case(out, default_name), input_path)
    if taken_by is None or overwrite:
        return default_name
    if explicit:
        raise OverwriteRefusedError(
            f"{out / default_name}.* hold the results of another input ({taken_by})",
            "choose another case name or output folder",
        )
    parent = Path(input_key(input_path)).parent.name
    digest = hashlib.sha1(input_key(input_path).encode("utf-8")).hexdigest()[:8]
    for candidate in ([f"{parent}_{default_name}"] if parent else []) + [f"{default_name}_{digest}"]:
        if other_input(CasePaths.for_case(out, candidate), input_path) is None:
            return candidate
    raise InputError(
        f"{out} already holds results named {default_name} of other inputs; give --case-name or another folder"
    )


def write_preview(ct: Volume, labels: Volume, path: Path, title: str) -> Path:
    from segthor.render import write_overlay_png

    write_overlay_png(ct, labels.array, path, title)
    return path


def write_image_outputs(ct: Volume, labels: Volume, paths: CasePaths, title: str, quality: Any = None) -> None:
    """Labels NIfTI, Slicer .seg.nrrd (with each organ's plausibility in its segment tags when `quality`, a
    `segthor.quality.QualityReport`, is given) and the preview PNG, those of them asked for (not the report).

    Any write error removes the case's files and raises ``OutputError`` (one line naming the file and reason).
    """
    try:
        with output_errors(f"the outputs of {paths.report.stem}"):
            if paths.labels is not None:
                write_volume(labels, paths.labels)
            if paths.seg_nrrd is not None:
                write_seg_nrrd(labels, paths.seg_nrrd, quality)
            if paths.preview is not None:
                write_preview(ct, labels, paths.preview, title)
    except BaseException:
        paths.remove()
        raise


def write_dicom_case_outputs(
    labels: Volume, series: Any, paths: CasePaths, model_info: dict[str, Any], software_version: str
) -> None:
    """The case's RTSTRUCT and DICOM SEG on its source series (`segthor.dicom_rt`), those asked for; like
    ``write_image_outputs``, a write error removes the case's files and raises ``OutputError``."""
    if paths.rtstruct is None and paths.dicom_seg is None:
        return
    from segthor.dicom_rt.outputs import write_dicom_outputs

    try:
        with output_errors(f"the DICOM outputs of {paths.report.stem}"):
            write_dicom_outputs(labels, series, paths.rtstruct, paths.dicom_seg, model_info, software_version)
    except BaseException:
        paths.remove()
        raise


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the case JSON (strict JSON: NaN/inf, e.g. HD95 of an empty organ, become null)."""
    from segthor.metrics.writers import write_json

    with output_errors(f"the report {path.name}"):
        write_json(report, path)
    return path
