"""Python API mirroring the CLI option for option: one function per `segthor` subcommand.

    from segthor.api import segment, batch, evaluate, phantom, models, train
    result = segment("ct.nii.gz", "out/", model=None, device="auto", reference="gt.nii.gz")
    summary = batch("cases/", "out/", reference_dir="cases/", resume=True)
    report = evaluate("out/", "cases/", restricted=True, csv="metrics.csv")
    phantom("phantoms/", cases=3, seed=0, size=128)
    models()  # the catalogue, as `segthor models --json` prints it
    train("phantoms/", "runs/enet", recipe="enet_fast2d", epochs=2)

`model=None` takes the default model (`segthor models` lists what is installed). Bundled models are
demo weights, synthetic training data, not for clinical use. Errors a user can fix are `SegthorError`s
(the CLI prints them as one line); refusing to replace outputs is `OverwriteRefusedError` (``overwrite=True``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from segthor.batch_runner import BatchSummary, CaseInput, discover_cases, run_batch
from segthor.errors import InputError
from segthor.inference.progress import ProgressCallback
from segthor.logic import CaseResult, SegmentationLogic
from segthor.metrics.evaluation import EvaluationReport
from segthor.metrics.evaluation import evaluate as _evaluate

PathLike = str | os.PathLike[str]
SegmentMap = Mapping[str, str] | Sequence[str] | None


def segment(
    input: PathLike,
    output_dir: PathLike,
    model: PathLike | None = None,
    device: str = "auto",
    reference: PathLike | None = None,
    postprocess: str | Sequence[str] | None = None,
    batch_size: int | None = None,
    case_name: str | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    segment_map: SegmentMap = None,
    series: str | None = None,
    output_types: str | Sequence[str] | None = None,
) -> CaseResult:
    """Segment one CT (NIfTI/NRRD/MHA file or DICOM folder) into OUTDIR/<case>.seg.nrrd, <case>_labels.nii.gz,
    <case>_preview.png and <case>.json (model, device, stage timings, clean-up applied, input warnings and
    per-organ plausibility under "quality", metrics when `reference` is given, `input_warnings` for what
    reading the input left out or resampled). `postprocess` None (or []) takes the measured defaults, "none" turns
    clean-up off (spec syntax: `PostprocessOptions.parse`, docs/quality.md).

    The case name is `case_name` or the input's name; a derived name already used by another input's outputs
    becomes `<parent>_<name>` (see `outputs.case_files.choose_case_name`); `overwrite` replaces them instead.
    `segment_map`: reference segment name -> organ (`--map`). `series`: SeriesNumber or SeriesInstanceUID of the
    series to read from a folder holding several. The output folder is checked before any work.
    `output_types`: "seg-nrrd,nifti,preview" by default; "rtstruct" and "dicom-seg" add <case>_rtstruct.dcm and
    <case>_seg.dcm (DICOM series input only, else InputError). `reference` may also be an RTSTRUCT or a DICOM
    SEG drawn on this CT (docs/dicom.md)."""
    logic = SegmentationLogic(model, device, postprocess, batch_size, progress)
    return logic.segment_file(
        input,
        output_dir,
        reference,
        case_name,
        overwrite=overwrite,
        segment_map=segment_map,
        series=series,
        output_types=output_types,
    )


def batch(
    input_dir: PathLike,
    output_dir: PathLike,
    model: PathLike | None = None,
    device: str = "auto",
    reference_dir: PathLike | None = None,
    resume: bool = False,
    postprocess: str | Sequence[str] | None = None,
    batch_size: int | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
    segment_map: SegmentMap = None,
    output_types: str | Sequence[str] | None = None,
) -> BatchSummary:
    """Segment every case of `input_dir` (see `segthor.batch_runner`); one failing case does not stop the rest.
    Under torchrun, cases are split across ranks (RANK/WORLD_SIZE) with none done twice. A case whose
    outputs in `output_dir` belong to another input fails unless `overwrite`. `output_types` as for `segment`;
    DICOM types need every case to be a DICOM series folder."""
    from segthor.io.writable import check_writable_dir
    from segthor.outputs.output_types import dicom_input_error, parse_output_types, wants_dicom

    types = parse_output_types(output_types)
    cases = discover_cases(input_dir)  # a wrong folder is reported before the model loads
    if reference_dir is not None and not Path(reference_dir).is_dir():  # else every case silently lacks metrics
        raise InputError(f"reference folder {reference_dir} is not a folder; give the folder of the reference labels")
    if wants_dicom(types):
        not_dicom = [c.name for c in cases if not c.image.is_dir()]
        if not_dicom:
            shown = ", ".join(not_dicom[:3]) + (" ..." if len(not_dicom) > 3 else "")
            raise dicom_input_error(f"case(s) {shown}", types)
    check_writable_dir(output_dir)  # and so is an output folder that cannot be written
    logic = SegmentationLogic(model, device, postprocess, batch_size)
    package = logic.load_model()  # a missing model is one error up front, not one per case

    def segment_case(case: CaseInput, reference: Path | None) -> dict[str, Any]:
        result = logic.segment_file(
            case.image,
            output_dir,
            reference,
            case.name,
            overwrite=overwrite,
            segment_map=segment_map,
            output_types=types,
        )
        return result.report

    return run_batch(
        segment_case,
        input_dir,
        output_dir,
        reference_dir,
        resume,
        rank,
        world_size,
        show_progress,
        model_sha256=package.metadata.get("sha256"),
    )


def evaluate(
    pred: PathLike,
    ref: PathLike,
    organs: Iterable[str] | None = None,
    restricted: bool = False,
    hd95: str = "pooled",
    csv: PathLike | None = None,
    json: PathLike | None = None,
    plot: PathLike | None = None,
    against: PathLike | None = None,
    resample_to_reference: bool = False,
    segment_map: SegmentMap = None,
    on_case: Callable[[int, int, str], None] | None = None,
    metric_options: dict[str, float] | None = None,
    reference_ct: PathLike | None = None,
) -> EvaluationReport:
    """`segthor evaluate`: metrics of predicted label files/folders against references (see
    `segthor.metrics.evaluation.evaluate`); `report.table()` is what the CLI prints. `metric_options`: metric
    parameters by name (the CLI's `--nsd-tolerance 3` is ``{"nsd_tolerance_mm": 3.0}``)."""
    return _evaluate(
        pred,
        ref,
        organs=organs,
        restricted=restricted,
        hd95=hd95,
        csv=csv,
        json=json,
        plot=plot,
        against=against,
        resample_to_reference=resample_to_reference,
        on_case=on_case,
        segment_map=segment_map,
        metric_options=metric_options,
        reference_ct=reference_ct,
    )


def phantom(
    outdir: PathLike,
    cases: int = 1,
    seed: int = 0,
    size: int = 512,
    slices: int | None = None,
    contrast: bool | None = None,
    first_index: int = 1,
    preview: bool = False,
    overwrite: bool = False,
    generator: str = "v1",
    domain_random: bool = False,
) -> list[Path]:
    """`segthor phantom`: write synthetic CT phantoms with SegTHOR labels as OUTDIR/Patient_XX/; their folders.

    `generator` "v2" takes organ shapes from the HRA reference meshes (segthor.phantom.v2); `domain_random`
    (v2 only) draws random tissue intensities and a bias field. Raises InputError for bad options.
    """
    from segthor.phantom import write_cohort

    return write_cohort(
        outdir,
        cases=cases,
        seed=seed,
        size=size,
        n_slices=slices,
        contrast=contrast,
        preview=preview,
        first_index=first_index,
        overwrite=overwrite,
        generator=generator,
        domain_random=domain_random,
    )


def models() -> list[dict[str, Any]]:
    """`segthor models --json`: the installed model packages (id, architecture, size, validation Dice, ...)."""
    from segthor.model_packages import list_models

    return list_models()


def train(
    data_dir: PathLike,
    output: PathLike,
    recipe: str = "enet_fast2d",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    steps_per_epoch: int | None = None,
    max_cases: int | None = None,
    model_id: str | None = None,
    set: Sequence[str] | None = None,  # noqa: A002 - the CLI's --set
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> Any:
    """`segthor train`: train on a SegTHOR-format folder and export OUTPUT/model (a `TrainResult`).

    Needs the training package (`segthor_training`, installed from a source checkout); raises `SegthorError`
    saying so when it is missing."""
    from segthor.errors import SegthorError

    try:
        from segthor_training.trainer import train as _train
    except ImportError as exc:
        from segthor.cli.train import MISSING_TRAINING_PACKAGE

        raise SegthorError(MISSING_TRAINING_PACKAGE) from exc
    return _train(
        data_dir,
        output,
        recipe,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        steps_per_epoch=steps_per_epoch,
        max_cases=max_cases,
        model_id=model_id,
        sets=list(set or []),
        resume=resume,
        device=device,
        progress=progress,
    )
