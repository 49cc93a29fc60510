"""Paired comparison of two methods on the same cases: Wilcoxon signed-rank test per organ and metric.

As the SegTHOR paper does (on Dice and AHD), with ``scipy.stats.wilcoxon`` (two-sided; exact p-value for
small samples). Only cases where both methods have a defined value enter a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from segthor.errors import InputError
from segthor.metrics import registry
from segthor.metrics.cohort import CohortEvaluation


@dataclass(frozen=True)
class WilcoxonResult:
    organ: str
    metric: str
    n: int
    median_difference: float | None
    statistic: float | None
    p_value: float | None
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    label_a: str
    label_b: str
    results: list[WilcoxonResult]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.label_a, "b": self.label_b, "tests": [asdict(r) for r in self.results]}


def wilcoxon_paired(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, float | None, str]:
    """(statistic, two-sided p, note) of the Wilcoxon signed-rank test of paired samples."""
    from scipy import stats

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return None, None, "no case with values from both methods"
    if np.all(diff == 0):
        return None, None, "identical values in every case"
    result = stats.wilcoxon(a, b, alternative="two-sided")
    return float(result.statistic), float(result.pvalue), "n < 6: cannot reach p < 0.05" if diff.size < 6 else ""


def compare_cohorts(
    a: CohortEvaluation,
    b: CohortEvaluation,
    metrics: Sequence[str] | None = None,
    labels: tuple[str, str] = ("pred", "against"),
) -> Comparison:
    """Wilcoxon signed-rank tests between two methods' evaluations of the same reference cases, for each organ
    and metric (default: the registry's ``compare`` view)."""
    metrics = registry.names("compare") if metrics is None else metrics
    if a.hd95_convention != b.hd95_convention or a.restricted != b.restricted:
        raise InputError("compare evaluations made with the same HD95 convention and restriction")
    if a.options != b.options:
        raise InputError(f"compare evaluations made with the same metric options ({a.options} vs {b.options})")
    results = []
    for organ in a.organs:
        if organ not in b.organs:
            continue
        for metric in metrics:
            va, vb = a.values(organ, metric), b.values(organ, metric)
            cases = [c for c in va if c in vb and va[c] is not None and vb[c] is not None]
            xa, xb = [va[c] for c in cases], [vb[c] for c in cases]
            stat, p, note = wilcoxon_paired(xa, xb)
            median = float(np.median(np.subtract(xa, xb))) if cases else None
            results.append(WilcoxonResult(organ, metric, len(cases), median, stat, p, note))
    return Comparison(labels[0], labels[1], results)
