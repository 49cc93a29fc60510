"""Every consumer of per-organ metrics lists exactly the registry's metrics, and a metric added to the
registry alone reaches all of them (the OrganMetrics record, CSV/JSON, summary, table, plot, Wilcoxon)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from segthor.metrics import evaluate, evaluate_paths, registry
from segthor.metrics.tables import summary_table
from segthor.metrics.wilcoxon import compare_cohorts

# Columns of a per-case row that are not metrics: identity, status, conventions and options.
ROW_EXTRAS = {
    "method",
    "case",
    "organ",
    "status",
    "hd95_convention",
    "restricted",
    "pred_file",
    "ref_file",
    "unused_segments",
}


def _metric_columns(row: dict) -> list[str]:
    known = set(registry.names())
    extras = set(row) - known - ROW_EXTRAS - {p.name for p in registry.parameters()}
    assert not extras, f"row columns that are neither metrics nor known extras: {extras}"
    return [k for k in row if k in known]


def _check_consumers(pred, other, ref, tmp_path, monkeypatch):
    report = evaluate(pred, ref, against=other, json=tmp_path / "m.json", csv=tmp_path / "m.csv")
    cohort = report.cohort
    some = next(iter(cohort.cases[0].organs.values()))
    assert tuple(some.values) == registry.names()
    assert _metric_columns(cohort.rows()[0]) == list(registry.names())
    data = report.to_dict()
    assert [m["name"] for m in data["metrics"]] == list(registry.names())
    assert tuple(data["pred"]["summary"]["heart"]) == registry.names()
    assert {r["metric"] for r in data["wilcoxon"]["tests"]} == set(registry.names("compare"))
    assert [r.metric for r in compare_cohorts(cohort, report.against).results[: len(registry.names("compare"))]] == (
        list(registry.names("compare"))
    )
    header = summary_table(cohort).splitlines()[0].split("  ")
    headings = [registry.metric(m).heading for m in registry.names("table")]
    assert [h.strip() for h in header if h.strip()] == ["organ", *headings]
    from segthor.mrml.compare import table_columns

    assert table_columns()[1:-1] == tuple(registry.metric(m).title for m in registry.names("mrml"))
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    from segthor.metrics.plots import plot_boxes

    plot_boxes([("pred", cohort)], tmp_path / "m.png")
    titles = [ax.get_title() for ax in figures[0].axes]
    assert titles == [registry.metric(m).title for m in registry.names("plot")]
    figures[0].clf()


def test_every_consumer_lists_the_registry_metrics(case_folders, tmp_path, monkeypatch):
    _check_consumers(*case_folders, tmp_path, monkeypatch)


def test_a_metric_added_to_the_registry_alone_reaches_every_consumer(case_folders, tmp_path, monkeypatch):
    """What adding NSD took: one Metric entry (and its function), nothing else."""

    def surface_voxels(p):  # a made-up metric: number of reference surface voxels within 1 mm of the prediction
        return float(np.count_nonzero(p.distances[1] <= 1.0))

    extra = registry.Metric(
        "close_voxels",
        "Close",
        "vox",
        registry.HIGHER,
        surface_voxels,
        (0.0, None),
        0,
        frozenset(registry.VIEWS),
        "test metric",
    )
    monkeypatch.setattr(registry, "METRICS", (*registry.METRICS, extra))
    assert registry.names()[-1] == "close_voxels"
    _check_consumers(*case_folders, tmp_path, monkeypatch)
    pred, _, ref = case_folders
    assert all(c.organs["heart"].close_voxels > 0 for c in evaluate_paths(pred, ref).cases)


def test_registry_entries_are_complete():
    assert len(set(registry.names())) == len(registry.METRICS)
    for m in registry.METRICS:
        assert m.better in registry.DIRECTIONS and m.views <= set(registry.VIEWS) and m.definition
        assert m.empty is None or len(m.empty) == 2
    assert dataclasses.is_dataclass(registry.Metric)
    with pytest.raises(KeyError, match="unknown metric 'jaccard'"):
        registry.metric("jaccard")
