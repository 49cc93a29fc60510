"""The Python API behind ``segthor evaluate``: same options, same outputs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segthor._version import __version__
from segthor.errors import InputError
from segthor.io.writable import check_writable_files, output_errors
from segthor.metrics import registry
from segthor.metrics.cases import pair_cases
from segthor.metrics.cohort import CohortEvaluation, evaluate_paths, status_counts, summarize
from segthor.metrics.result import HD95_POOLED
from segthor.metrics.tables import comparison_table, summary_table
from segthor.metrics.wilcoxon import Comparison, compare_cohorts
from segthor.metrics.writers import write_csv, write_json
from segthor.segment_mapping import read_user_map

if TYPE_CHECKING:
    from segthor.metrics.labels import OrganSpec  # imported for real only when cases are evaluated (scipy)

PathLike = str | os.PathLike[str]


@dataclass
class EvaluationReport:
    cohort: CohortEvaluation
    against: CohortEvaluation | None = None
    comparison: Comparison | None = None
    written: dict[str, Path] = field(default_factory=dict)

    def table(self) -> str:
        """The terminal report: per-organ mean ± std (and the comparison when there is one)."""
        if self.against is None or self.comparison is None:
            return summary_table(self.cohort)
        return "\n\n".join(
            [
                "pred:\n" + summary_table(self.cohort),
                "against:\n" + summary_table(self.against),
                "Wilcoxon signed-rank test, pred vs against:\n" + comparison_table(self.comparison),
            ]
        )

    def rows(self) -> list[dict[str, Any]]:
        if self.against is None:
            return self.cohort.rows()
        return self.cohort.rows("pred") + self.against.rows("against")

    def to_dict(self) -> dict[str, Any]:
        def one(c: CohortEvaluation) -> dict[str, Any]:
            return {
                "summary": {o: {m: s.to_dict() for m, s in ms.items()} for o, ms in summarize(c).items()},
                "status_counts": status_counts(c),
                "cases": c.rows(),
                "unmatched_predictions": c.unmatched_predictions,
                "unused_segments": {e.case: e.unused_segments for e in c.cases if e.unused_segments},
            }

        data: dict[str, Any] = {
            "segthor_version": __version__,
            "hd95_convention": self.cohort.hd95_convention,
            "restricted": self.cohort.restricted,
            "organs": list(self.cohort.organs),
            "units": {"distances": "mm", "volumes": "ml"},
            "metric_options": dict(self.cohort.options),
            "metrics": [
                {"name": m.name, "label": m.label, "unit": m.unit, "better": m.better, "definition": m.definition}
                for m in map(registry.metric, registry.names())
            ],
            "pred": one(self.cohort),
        }
        if self.against is not None and self.comparison is not None:
            data["against"] = one(self.against)
            data["wilcoxon"] = self.comparison.to_dict()
        return data


def evaluate(
    pred: PathLike,
    ref: PathLike,
    organs: Iterable[OrganSpec] | None = None,
    restricted: bool = False,
    hd95: str = HD95_POOLED,
    csv: PathLike | None = None,
    json: PathLike | None = None,
    plot: PathLike | None = None,
    against: PathLike | None = None,
    resample_to_reference: bool = False,
    on_case: Callable[[int, int, str], None] | None = None,
    segment_map: Mapping[str, str] | Sequence[str] | None = None,
    metric_options: Mapping[str, Any] | None = None,
    reference_ct: PathLike | None = None,
) -> EvaluationReport:
    """Evaluate predicted label files/folders against references; optionally write CSV, JSON and a plot.

    ``against``: a second prediction (file or folder) of the same cases, compared with ``pred`` by a
    Wilcoxon signed-rank test per organ and metric. ``segment_map``: how .seg.nrrd segment names map to
    organs, as a mapping or as ``--map`` values (``NAME=ORGAN`` or JSON file paths; see
    ``segment_mapping.read_user_map``). The output files are checked for writing before any case is read.
    ``metric_options``: metric parameters by name, e.g. ``{"nsd_tolerance_mm": 3.0}``
    (``segthor.metrics.registry.parameters()``; the CLI's ``--nsd-tolerance``). ``reference_ct``: the CT series
    folder DICOM RTSTRUCT/SEG files were drawn on (default: each DICOM file's own folder).
    """
    organs = list(organs) if organs is not None else None
    user_map = read_user_map(segment_map)
    _check_outputs_spare_inputs({"CSV": csv, "JSON": json, "plot": plot}, [pred, ref, against])
    check_writable_files([p for p in (csv, json, plot) if p is not None])
    options = {
        "organs": organs,
        "hd95": hd95,
        "restricted": restricted,
        "segment_map": user_map,
        "ct_dir": reference_ct,
    }
    options["options"] = registry.metric_options(metric_options)  # a bad option fails before any file is read
    if against is not None:  # a wrong second prediction fails before the first is evaluated, named as itself
        pair_cases(against, ref, pred_role="second prediction (against)")
    cohort = evaluate_paths(pred, ref, resample_to_reference=resample_to_reference, on_case=on_case, **options)
    report = EvaluationReport(cohort)
    if against is not None:
        report.against = evaluate_paths(
            against, ref, resample_to_reference=resample_to_reference, on_case=on_case, **options
        )
        report.comparison = compare_cohorts(cohort, report.against)
    try:
        with output_errors("the evaluation outputs"):
            _write_outputs(report, csv, json, plot)
    except BaseException:
        for path in report.written.values():  # all outputs or none: no half set of files from this run
            path.unlink(missing_ok=True)
        report.written.clear()
        raise
    return report


def _check_outputs_spare_inputs(outputs: Mapping[str, PathLike | None], inputs: Sequence[PathLike | None]) -> None:
    """InputError when an output file (CSV, JSON, plot) is one of the input files, or is named like an image or
    DICOM file (``--csv ref.nii.gz``: a slip that would overwrite the user's labels with a table)."""
    from segthor.io.volume import FILE_SUFFIXES

    inputs_resolved = {Path(p).resolve() for p in inputs if p is not None}
    for kind, path in outputs.items():
        if path is None:
            continue
        if Path(path).resolve() in inputs_resolved or Path(path).name.lower().endswith((*FILE_SUFFIXES, ".dcm")):
            raise InputError(
                f"the {kind} output {path} would replace an image or label file; give a new file name, "
                f"e.g. metrics{OUTPUT_SUFFIXES[kind]}"
            )


OUTPUT_SUFFIXES = {"CSV": ".csv", "JSON": ".json", "plot": ".png"}


def _write_outputs(report: EvaluationReport, csv: PathLike | None, json: PathLike | None, plot: PathLike | None):
    if csv is not None:
        report.written["csv"] = write_csv(report.rows(), csv)
    if json is not None:
        report.written["json"] = write_json(report.to_dict(), json)
    if plot is not None:
        from segthor.metrics.plots import plot_boxes

        methods = [("pred", report.cohort)] + ([("against", report.against)] if report.against is not None else [])
        report.written["plot"] = plot_boxes(methods, plot)
