"""Plain-text tables for the terminal: per-organ mean ± std, and Wilcoxon comparisons."""

from __future__ import annotations

from collections.abc import Sequence

from segthor.metrics.cohort import CohortEvaluation, MetricSummary, status_counts, summarize
from segthor.metrics.compare import Comparison

TABLE_METRICS = ("dice", "dice_2d", "hd95", "assd", "ahd", "hd", "volume_diff_ml")
_HEADINGS = {
    "dice": "Dice",
    "dice_2d": "Dice 2D",
    "hd": "HD mm",
    "hd95": "HD95 mm",
    "assd": "ASSD mm",
    "ahd": "AHD mm",
    "volume_ref_ml": "Vol ref ml",
    "volume_pred_ml": "Vol pred ml",
    "volume_diff_ml": "dVol ml",
}


def _cell(s: MetricSummary, metric: str) -> str:
    if s.mean is None:
        return "n/a"
    digits = 3 if metric.startswith("dice") else 2
    text = f"{s.mean:.{digits}f}" + ("" if s.std is None else f" ± {s.std:.{digits}f}")
    return text + (f" ({s.n_undefined} n/a)" if s.n_undefined else "")


def _render(header: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [list(header), *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [list(header), *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_table(cohort: CohortEvaluation, metrics: Sequence[str] = TABLE_METRICS) -> str:
    """Organ rows, metric columns of mean ± std over cases, then the conventions and empty-mask counts."""
    summary = summarize(cohort, metrics)
    rows = [[organ, *(_cell(summary[organ][m], m) for m in metrics)] for organ in cohort.organs]
    text = _render(["organ", *(_HEADINGS[m] for m in metrics)], rows)
    scope = "restricted to the reference's axial slices" if cohort.restricted else "all slices"
    text += f"\n{len(cohort.cases)} case(s); mean ± sample std; HD95 convention: {cohort.hd95_convention}; {scope}."
    unusual = {organ: {k: v for k, v in counts.items() if k != "ok"} for organ, counts in status_counts(cohort).items()}
    notes = [f"{organ}: " + ", ".join(f"{k} x{v}" for k, v in c.items()) for organ, c in unusual.items() if c]
    if notes:
        text += "\nEmpty masks (distances n/a where one mask is empty): " + "; ".join(notes)
    return text


def comparison_table(comparison: Comparison) -> str:
    rows = []
    for r in comparison.results:
        p = "n/a" if r.p_value is None else f"{r.p_value:.4g}"
        rows.append(
            [r.organ, _HEADINGS[r.metric], str(r.n), f"{r.median_difference:+.4g}" if r.n else "n/a", p, r.note]
        )
    header = ["organ", "metric", "n", "median diff", "p (Wilcoxon)", "note"]
    return _render(header, rows) + f"\nDifferences are {comparison.label_a} - {comparison.label_b}, paired by case."
