"""Plain-text tables for the terminal: per-organ mean ± std, and Wilcoxon comparisons."""

from __future__ import annotations

from collections.abc import Sequence

from segthor.metrics import registry
from segthor.metrics.cohort import CohortEvaluation, MetricSummary, status_counts, summarize
from segthor.metrics.wilcoxon import Comparison


def _cell(s: MetricSummary, metric: str) -> str:
    if s.mean is None:
        return "n/a"
    digits = registry.metric(metric).digits
    text = f"{s.mean:.{digits}f}" + ("" if s.std is None else f" ± {s.std:.{digits}f}")
    return text + (f" ({s.n_undefined} n/a)" if s.n_undefined else "")


def _render(header: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [list(header), *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [list(header), *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_table(cohort: CohortEvaluation, metrics: Sequence[str] | None = None) -> str:
    """Organ rows, metric columns (default: the registry's ``table`` view) of mean ± std over cases, then the
    conventions and empty-mask counts."""
    metrics = registry.names("table") if metrics is None else metrics
    summary = summarize(cohort, metrics)
    rows = [[organ, *(_cell(summary[organ][m], m) for m in metrics)] for organ in cohort.organs]
    text = _render(["organ", *(registry.metric(m).heading for m in metrics)], rows)
    scope = "restricted to the reference's axial slices" if cohort.restricted else "all slices"
    text += f"\n{len(cohort.cases)} case(s); mean ± sample std; HD95 convention: {cohort.hd95_convention}; {scope}"
    text += f"; {registry.describe_options(cohort.options)}." if registry.parameters() else "."
    unusual = {organ: {k: v for k, v in counts.items() if k != "ok"} for organ, counts in status_counts(cohort).items()}
    notes = [f"{organ}: " + ", ".join(f"{k} x{v}" for k, v in c.items()) for organ, c in unusual.items() if c]
    if notes:
        text += "\nEmpty masks (distances n/a where one mask is empty): " + "; ".join(notes)
    return text


def comparison_table(comparison: Comparison) -> str:
    rows = []
    for r in comparison.results:
        p = "n/a" if r.p_value is None else f"{r.p_value:.4g}"
        median = f"{r.median_difference:+.4g}" if r.n else "n/a"
        rows.append([r.organ, registry.metric(r.metric).heading, str(r.n), median, p, r.note])
    header = ["organ", "metric", "n", "median diff", "p (Wilcoxon)", "note"]
    return _render(header, rows) + f"\nDifferences are {comparison.label_a} - {comparison.label_b}, paired by case."
