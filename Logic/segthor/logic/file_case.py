"""File-level segmentation: a CT file or DICOM folder in, the case's output files and its report out.

Order of work: everything that can be refused is checked first (output types against the input, the output
folder, the case name), then read, segment, score against a reference, write the outputs, and the case JSON
last (its presence marks the case complete; `batch --resume` relies on it). A failure while writing the
report removes the case's outputs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segthor._version import __version__
from segthor.case_layout import case_name_for
from segthor.errors import InputError
from segthor.inference.checks import check_ct_volume
from segthor.inference.memory import check_file_fits
from segthor.inference.progress import StageTimer
from segthor.io.volume import Volume
from segthor.logic.case_report import build_case_report

if TYPE_CHECKING:
    from segthor.logic.facade import SegmentationLogic


@dataclass
class CaseResult:
    """What `segment_file` produced: the outputs on disk and the report written beside them."""

    case: str
    paths: Any
    report: dict[str, Any]
    labels: Volume | None = None


def metric_records(labels: Volume, reference: Any) -> dict[str, Any]:
    """organ -> metric record (plain dicts, as the report stores them) of `labels` against `reference` (a Volume
    or `LabelImage` on the same grid); see `segthor.metrics.evaluate_volumes`."""
    from segthor.metrics import evaluate_volumes

    return {key: m.to_dict() for key, m in evaluate_volumes(labels, reference).items()}


def segment_file(
    logic: SegmentationLogic,
    input_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None = None,
    case_name: str | None = None,
    overwrite: bool = False,
    segment_map: Any = None,
    series: str | None = None,
    output_types: str | list[str] | tuple[str, ...] | None = None,
) -> CaseResult:
    """`SegmentationLogic.segment_file` (documented there), with `logic`'s model, device and clean-up."""
    from segthor.io.volume import read_volume
    from segthor.io.writable import check_writable_dir
    from segthor.metrics.reference_image import read_reference_image
    from segthor.outputs import CasePaths, write_image_outputs, write_report
    from segthor.outputs.case_files import (
        check_outputs_spare,
        choose_case_name,
        input_key,
        write_dicom_case_outputs,
    )
    from segthor.outputs.output_types import dicom_input_error, parse_output_types, wants_dicom
    from segthor.segment_mapping import read_user_map

    t_start = time.perf_counter()
    logic.cancel_token.reset()
    progress = logic.new_progress()
    timer = StageTimer()
    user_map = read_user_map(segment_map)
    types = parse_output_types(output_types)
    source_series = None
    if wants_dicom(types):  # before any work: RTSTRUCT and SEG need the CT's own slices
        if not Path(input_path).is_dir():
            raise dicom_input_error(Path(input_path).name, types)
        from segthor.dicom_rt.deps import require_dicom_packages
        from segthor.dicom_rt.series import read_input_series, require_referable

        require_dicom_packages()
        source_series = read_input_series(input_path, series)
        require_referable(source_series)
    check_writable_dir(output_dir)
    case = choose_case_name(
        output_dir, input_path, case_name or case_name_for(input_path), case_name is not None, overwrite
    )
    paths = CasePaths.for_case(output_dir, case, types)
    check_outputs_spare(paths, input_path, reference)  # never write over the user's CT or reference
    if reference and not Path(reference).exists():  # before the CT is read and segmented
        raise InputError(f"reference {reference} does not exist; give a label image, .seg.nrrd, RTSTRUCT or SEG")
    with timer.stage("read"):
        progress.report(0.0, f"reading {Path(input_path).name}")
        check_file_fits(input_path)
        volume = read_volume(input_path, series)
        check_ct_volume(volume, name=Path(input_path).name)
        reference_volume = None
        if reference:
            reference_volume = read_reference_image(
                reference, volume, user_map, dicom_series=source_series, input_path=input_path, series=series
            )
    prediction = logic.segment(volume, progress.sub(0.05, 0.85), timer, name=Path(input_path).name)
    metrics = None
    if reference_volume is not None:
        with timer.stage("metrics"):
            progress.report(0.86, "computing metrics against the reference")
            metrics = metric_records(prediction.labels, reference_volume)
    model = logic.model_info()
    with timer.stage("write"):
        progress.report(0.9, "writing outputs")
        write_image_outputs(
            volume, prediction.labels, paths, title=f"{case} - {model['id']}", quality=prediction.quality
        )
        if source_series is not None:
            write_dicom_case_outputs(prediction.labels, source_series, paths, model, __version__)
    timings = timer.rounded()
    timings["total"] = round(time.perf_counter() - t_start, 3)
    report = build_case_report(
        case=case,
        input_path=str(input_path),
        input_resolved=input_key(input_path),
        volume=volume,
        prediction=prediction,
        model=model,
        device=str(logic.device),
        timings=timings,
        outputs=paths.as_dict(),
        postprocess={**logic.postprocess.to_dict(), **prediction.postprocess_applied},
        reference=str(reference) if reference else None,
        reference_unused_segments=reference_volume.unused_segments if reference_volume is not None else [],
        metrics=metrics,
    )
    logic.cancel_token.check()  # no report means the case counts as unfinished
    try:
        write_report(report, paths.report)
    except BaseException:
        paths.remove()
        raise
    progress.report(1.0, f"{case} done")
    return CaseResult(case, paths, report, prediction.labels)
