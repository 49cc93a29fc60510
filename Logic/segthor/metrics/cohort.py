"""Evaluating files or folders of cases, and the per-organ summary (mean ± std over cases)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segthor.errors import InputError
from segthor.metrics import registry
from segthor.metrics.cases import pair_cases
from segthor.metrics.label_files import read_label_image
from segthor.metrics.registry import metric_options
from segthor.metrics.result import HD95_POOLED, OrganMetrics, check_hd95_convention

if TYPE_CHECKING:
    from segthor.metrics.labels import OrganSpec


@dataclass
class CaseEvaluation:
    case: str
    pred: Path
    ref: Path
    organs: dict[str, OrganMetrics]
    unused_segments: dict[str, list[str]] = field(default_factory=dict)  # "pred"/"ref" -> segment names


@dataclass
class CohortEvaluation:
    """Every case's per-organ metrics, with the options they were computed with."""

    cases: list[CaseEvaluation]
    organs: tuple[str, ...]
    hd95_convention: str
    restricted: bool
    unmatched_predictions: list[str] = field(default_factory=list)
    options: dict[str, float] = field(default_factory=metric_options)

    def values(self, organ: str, metric: str) -> dict[str, float | None]:
        """Case name -> value of one metric for one organ (None where undefined)."""
        return {c.case: getattr(c.organs[organ], metric) for c in self.cases}

    def rows(self, method: str | None = None) -> list[dict[str, Any]]:
        """One flat row per case and organ (CSV/JSON); ``method`` adds a column naming the prediction set."""
        rows = []
        for c in self.cases:
            for organ in self.organs:
                row: dict[str, Any] = {"method": method} if method is not None else {}
                row.update({"case": c.case, "organ": organ, **c.organs[organ].to_dict()})
                row.update({"restricted": self.restricted, "pred_file": str(c.pred), "ref_file": str(c.ref)})
                row["unused_segments"] = "; ".join(
                    f"{side}: {', '.join(names)}" for side, names in c.unused_segments.items() if names
                )
                rows.append(row)
        return rows


def evaluate_paths(
    pred: str | os.PathLike[str],
    ref: str | os.PathLike[str],
    organs: Iterable[OrganSpec] | None = None,
    hd95: str = HD95_POOLED,
    restricted: bool = False,
    resample_to_reference: bool = False,
    on_case: Callable[[int, int, str], None] | None = None,
    segment_map: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
) -> CohortEvaluation:
    """Evaluate a predicted label file against a reference one, or every case of two folders.

    ``on_case(index, total, case)`` is called before each case (progress reporting). Geometry mismatches
    raise ``InputError`` naming the case and both geometries unless ``resample_to_reference``.
    ``segment_map``: .seg.nrrd segment name -> organ key or "ignore" (``segment_mapping.read_user_map``);
    segments that map to no organ are listed per case in ``CaseEvaluation.unused_segments``. ``options``:
    metric parameters by name (``segthor.metrics.registry``, e.g. ``{"nsd_tolerance_mm": 3.0}``). DICOM
    RTSTRUCT and SEG files are rasterised on their CT series (``ct_dir``, else the DICOM file's own folder).

    Files are read in two worker threads (SimpleITK releases the GIL while it reads and decompresses): the
    first case's two files while the metric code and scipy are imported, then case i + 1 while case i is
    evaluated. At most two cases are held in memory.
    """
    hd95 = check_hd95_convention(hd95)
    options = metric_options(options)
    pairs, extra = pair_cases(pred, ref)
    cases = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads: list[tuple[Future, Future] | None] = []
        if pairs:
            reads.append(_read_later(pool, pairs[0], segment_map, ct_dir))
        from segthor.metrics.labels import evaluate_volumes, select_organs

        chosen = select_organs(organs)
        for i, pair in enumerate(pairs):
            if i + 1 < len(pairs):
                reads.append(_read_later(pool, pairs[i + 1], segment_map, ct_dir))
            if on_case is not None:
                on_case(i, len(pairs), pair.case)
            pending, reads[i] = reads[i], None  # drop the reference: one case's volumes in memory at a time
            try:
                pred_image, ref_image = pending[0].result(), pending[1].result()
                metrics = evaluate_volumes(
                    pred_image,
                    ref_image,
                    chosen,
                    hd95=hd95,
                    restricted=restricted,
                    resample_to_reference=resample_to_reference,
                    options=options,
                )
            except InputError as exc:
                raise InputError(f"case {pair.case} ({pair.pred.name} vs {pair.ref.name}): {exc}") from exc
            unused = {"pred": pred_image.unused_segments, "ref": ref_image.unused_segments}
            cases.append(
                CaseEvaluation(pair.case, pair.pred, pair.ref, metrics, {k: v for k, v in unused.items() if v})
            )
    return CohortEvaluation(cases, tuple(o.key for o in chosen), hd95, restricted, extra, options)


def _read_later(
    pool: ThreadPoolExecutor, pair: Any, segment_map: Mapping[str, str] | None, ct_dir: Any = None
) -> tuple[Future, Future]:
    return (
        pool.submit(read_label_image, pair.pred, user_map=segment_map, ct_dir=ct_dir),
        pool.submit(read_label_image, pair.ref, user_map=segment_map, ct_dir=ct_dir),
    )


@dataclass(frozen=True)
class MetricSummary:
    """Mean and sample standard deviation (ddof=1; None below two values) over the cases where defined."""

    mean: float | None
    std: float | None
    n: int
    n_undefined: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n, "n_undefined": self.n_undefined}


def summarize_values(values: Sequence[float | None]) -> MetricSummary:
    defined = np.array([v for v in values if v is not None], dtype=float)
    n = int(defined.size)
    mean = float(defined.mean()) if n else None
    std = float(defined.std(ddof=1)) if n > 1 else None
    return MetricSummary(mean, std, n, len(values) - n)


def summarize(cohort: CohortEvaluation, metrics: Sequence[str] | None = None) -> dict[str, dict[str, MetricSummary]]:
    """Organ -> metric -> summary over the cases, like the papers' tables (default: every registry metric)."""
    metrics = registry.names() if metrics is None else metrics
    return {
        organ: {m: summarize_values(list(cohort.values(organ, m).values())) for m in metrics} for organ in cohort.organs
    }


def status_counts(cohort: CohortEvaluation) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {organ: {} for organ in cohort.organs}
    for c in cohort.cases:
        for organ in cohort.organs:
            status = c.organs[organ].status
            counts[organ][status] = counts[organ].get(status, 0) + 1
    return counts
