"""Segmenting a cohort: find the cases of a folder, split them across ranks, resume, summarise as CSV.

Which entries of a folder are cases, their names and their references follow `segthor.case_layout`
(`discover_cases`, `find_reference`, re-exported here). Under `torchrun` (RANK and WORLD_SIZE set) every
process takes every WORLD_SIZE-th case of the sorted list, so no case runs twice. A case whose outputs in the
output folder belong to another input is refused unless `overwrite` (see `outputs.case_files`). summary.csv
is rewritten (atomically) after every case, so it is there while a long batch runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segthor.case_layout import CaseInput, discover_cases, find_reference
from segthor.errors import CancelledError, InputError, OutputError
from segthor.io.atomic import write_text_atomic
from segthor.io.writable import output_errors
from segthor.metrics.registry import names as metric_names
from segthor.organs import ORGANS

__all__ = ["BatchSummary", "CaseInput", "discover_cases", "find_reference", "run_batch", "split_for_rank"]


@dataclass
class BatchSummary:
    rows: list[dict[str, Any]] = field(default_factory=list)
    csv_path: Path | None = None
    rank: int = 0
    world_size: int = 1

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "error"]


def rank_and_world_size(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit values, else torchrun's RANK/WORLD_SIZE environment, else a single process."""
    world = int(world_size if world_size is not None else os.environ.get("WORLD_SIZE", 1))
    r = int(rank if rank is not None else os.environ.get("RANK", 0))
    if world < 1 or not 0 <= r < world:
        raise InputError(f"invalid rank {r} for world size {world}; RANK must be in 0..WORLD_SIZE-1")
    return r, world


def split_for_rank(cases: Sequence[CaseInput], rank: int, world_size: int) -> list[CaseInput]:
    """This rank's share: every world_size-th case, starting at `rank` (disjoint, and together complete)."""
    return list(cases[rank::world_size])


def finished_report(
    output_dir: Path, case: CaseInput, model_sha256: str | None = None, reference: Path | None = None
) -> dict[str, Any] | None:
    """The case JSON when a previous run completed this case from this input (it is written last, atomically).

    With `model_sha256` (the weights' sha256 of this run), results of another model are not finished work;
    with `reference`, results computed without this reference (no metrics, or another file's) are not either.
    """
    from segthor.outputs.case_files import input_key

    path = output_dir / f"{case.name}.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("status") != "ok":
        return None
    recorded = report.get("input_resolved")
    if isinstance(recorded, str) and recorded != input_key(case.image):
        return None  # another input's results under this name: not this case's
    if model_sha256 and (report.get("model") or {}).get("sha256") != model_sha256:
        return None  # another model's segmentation: --resume must not pass it off as this run's
    if reference is not None:
        previous = report.get("reference")
        if not previous or Path(previous).resolve() != reference.resolve():
            return None  # the metrics asked for now are not in the old report
    return report


CSV_FIELDS = (
    ["case", "status", "needs_review", "seconds", "device", "model"]
    + [f"status_{o.key}" for o in ORGANS]
    + [f"volume_ml_{o.key}" for o in ORGANS]
    + [f"{metric}_{o.key}" for metric in metric_names("brief") for o in ORGANS]  # the registry's brief view
    + ["input_checks", "flags", "message"]
)


def quality_cells(report: dict[str, Any]) -> dict[str, Any]:
    """CSV cells from a case report: needs_review (yes/no), status_<organ>, volume_ml_<organ>, the input
    warnings and the flagged organs' reasons (short, ';'-separated)."""
    row: dict[str, Any] = {}
    for key, ml in (report.get("organ_volumes_ml") or {}).items():
        row[f"volume_ml_{key}"] = round(float(ml), 1)
    quality = report.get("quality")
    if not quality:
        return row
    row["needs_review"] = "yes" if report.get("needs_review", quality.get("needs_review")) else "no"
    flags = []
    for key, organ in (quality.get("organs") or {}).items():
        row[f"status_{key}"] = organ.get("status", "")
        flags += [f"{key}: {reason}" for reason in organ.get("reasons", [])]
    row["input_checks"] = "; ".join(w.get("check", "") for w in quality.get("input", {}).get("warnings", []))
    row["flags"] = "; ".join(flags)
    return row


def summary_row(case: CaseInput, status: str, report: dict[str, Any] | None, seconds: float, message: str = "") -> dict:
    if report and not message:
        message = "; ".join(report.get("input_warnings") or [])  # what reading the input left out or resampled
    row: dict[str, Any] = {"case": case.name, "status": status, "seconds": round(seconds, 2), "message": message}
    if status == "error":
        row["needs_review"] = "yes"  # a failed case always needs a look
    if report:
        row.update(quality_cells(report))
        row["device"] = report.get("device", "")
        row["model"] = (report.get("model") or {}).get("id", "")
        for key, m in (report.get("metrics") or {}).items():
            for metric in metric_names("brief"):
                value = (m or {}).get(metric)
                row[f"{metric}_{key}"] = "" if value is None else round(float(value), 4)
    return row


def write_summary_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["case"]):
        writer.writerow(row)
    write_text_atomic(path, buffer.getvalue())
    return path


def _rank_done_marker(output_dir: Path, rank: int) -> Path:
    return output_dir / f".summary_rank{rank}.done"


def _merge_rank_summaries(output_dir: Path, world_size: int) -> Path | None:
    """Merge the per-rank CSVs into summary.csv once every rank has marked its own as final.

    Files alone, no process group: each rank calls this after marking its summary done, and the last one to
    finish finds every marker and writes the merged table (two ranks finishing together write the same table,
    each atomically). Returns summary.csv's path, or None while other ranks still run."""
    if not all(_rank_done_marker(output_dir, r).is_file() for r in range(world_size)):
        return None
    rows: list[dict[str, Any]] = []
    for r in range(world_size):
        part = output_dir / f"summary_rank{r}.csv"
        if part.is_file():
            with open(part, newline="", encoding="utf-8") as f:
                rows += list(csv.DictReader(f))
    return write_summary_csv(rows, output_dir / "summary.csv")


def run_batch(
    segment_case: Callable[[CaseInput, Path | None], dict[str, Any]],
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    reference_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
    show_progress: bool = True,
    model_sha256: str | None = None,
) -> BatchSummary:
    """Run `segment_case(case, reference) -> report` over this rank's cases; a failing case is recorded
    and the others still run. Writes summary.csv (summary_rank<N>.csv per rank under torchrun) after every
    case. With `resume`, a case finished earlier from the same input (by the model whose weights have
    `model_sha256`, when given, and with the same reference) is not run again; its row ("resumed")
    carries the results and time of its case JSON. An output folder that cannot be written is an
    ``OutputError`` before any case runs."""
    from tqdm import tqdm

    from segthor.io.writable import check_writable_dir

    out = check_writable_dir(output_dir)
    with output_errors("the output folder"):
        out.mkdir(parents=True, exist_ok=True)  # a batch always leaves its summary there
    r, world = rank_and_world_size(rank, world_size)
    mine = split_for_rank(discover_cases(input_dir), r, world)
    summary = BatchSummary(rank=r, world_size=world)
    name = "summary.csv" if world == 1 else f"summary_rank{r}.csv"
    summary.csv_path = out / name
    _rank_done_marker(out, r).unlink(missing_ok=True)  # a marker from an earlier run must not count as this one's
    bar = tqdm(
        mine,
        desc=f"segthor batch (rank {r}/{world})" if world > 1 else "segthor batch",
        unit="case",
        disable=not show_progress,
        position=r if world > 1 else None,
    )
    for case in bar:
        bar.set_postfix_str(case.name)
        t0 = time.perf_counter()
        reference = find_reference(case, reference_dir)
        previous = finished_report(out, case, model_sha256, reference) if resume else None
        if previous is not None:
            seconds = float((previous.get("timings_s") or {}).get("total") or 0.0)
            summary.rows.append(summary_row(case, "resumed", previous, seconds, "finished in a previous run"))
        else:
            try:
                report = segment_case(case, reference)
                summary.rows.append(summary_row(case, "ok", report, time.perf_counter() - t0))
            except CancelledError:
                raise
            except OutputError:
                raise  # the output folder itself failed: every further case would fail the same way
            except Exception as exc:  # any one case's failure, even a library's own bug, must not stop the batch
                first_line = (str(exc).strip().splitlines() or [""])[0]
                message = f"{exc.__class__.__name__}: {first_line}"
                bar.write(f"segthor batch: {case.name} failed: {message}")
                summary.rows.append(summary_row(case, "error", None, time.perf_counter() - t0, message))
        with output_errors("the batch summary"):
            write_summary_csv(summary.rows, summary.csv_path)
    with output_errors("the batch summary"):
        write_summary_csv(summary.rows, summary.csv_path)  # also when this rank had no case
    if world > 1:
        with output_errors("the batch summary"):
            _rank_done_marker(out, r).write_text("done\n", encoding="utf-8")
            merged = _merge_rank_summaries(out, world)
        summary.csv_path = merged or summary.csv_path
    return summary
