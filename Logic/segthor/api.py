"""Python API mirroring the CLI (`segthor segment`, `segthor batch`) option for option.

    from segthor.api import segment, batch
    result = segment("ct.nii.gz", "out/", model=None, device="auto", reference="gt.nii.gz")
    summary = batch("cases/", "out/", reference_dir="cases/", resume=True)

`model=None` takes the default model (`segthor models` lists what is installed). Bundled models are
demo weights, synthetic training data, not for clinical use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segthor.batch_runner import BatchSummary, Case, discover_cases, run_batch
from segthor.inference.progress import ProgressCallback
from segthor.logic import CaseResult, SegmentationLogic


def segment(
    input: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    device: str = "auto",
    reference: str | os.PathLike[str] | None = None,
    postprocess: str | Sequence[str] | None = None,
    batch_size: int | None = None,
    case_name: str | None = None,
    progress: ProgressCallback | None = None,
    output_types: str | Sequence[str] | None = None,
) -> CaseResult:
    """Segment one CT (NIfTI/NRRD/MHA file or DICOM folder) into OUTDIR/<case>.seg.nrrd, <case>_labels.nii.gz,
    <case>_preview.png and <case>.json (model, device, stage timings, metrics when `reference` is given).

    `output_types`: "seg-nrrd,nifti,preview" by default; "rtstruct" and "dicom-seg" add <case>_rtstruct.dcm
    and <case>_seg.dcm (DICOM series input only, else InputError). `reference` may be a label file, a
    .seg.nrrd, an RTSTRUCT or a DICOM SEG drawn on this CT."""
    logic = SegmentationLogic(model, device, postprocess, batch_size, progress)
    return logic.segment_file(input, output_dir, reference, case_name, output_types)


def batch(
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    device: str = "auto",
    reference_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    postprocess: str | Sequence[str] | None = None,
    batch_size: int | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    show_progress: bool = True,
    output_types: str | Sequence[str] | None = None,
) -> BatchSummary:
    """Segment every case of `input_dir` (see `segthor.batch_runner`); one failing case does not stop the rest.
    Under torchrun, cases are split across ranks (RANK/WORLD_SIZE) with none done twice.
    `output_types` as for `segment`; DICOM types need every case to be a DICOM series folder."""
    from segthor.outputs.output_types import dicom_input_error, parse_output_types, wants_dicom

    types = parse_output_types(output_types)
    cases = discover_cases(input_dir)  # a wrong folder is reported before the model loads
    if wants_dicom(types):
        not_dicom = [c.name for c in cases if not c.image.is_dir()]
        if not_dicom:
            shown = ", ".join(not_dicom[:3]) + (" ..." if len(not_dicom) > 3 else "")
            raise dicom_input_error(f"case(s) {shown}", types)
    logic = SegmentationLogic(model, device, postprocess, batch_size)
    logic.load_model()  # a missing model is one error up front, not one per case

    def segment_case(case: Case, reference: Path | None) -> dict[str, Any]:
        return logic.segment_file(case.image, output_dir, reference, case.name, types).report

    return run_batch(segment_case, input_dir, output_dir, reference_dir, resume, rank, world_size, show_progress)
