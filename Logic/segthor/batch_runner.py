"""Segmenting a cohort: find the cases of a folder, split them across ranks, resume, summarise as CSV.

Layouts understood: the SegTHOR release (`Patient_01/Patient_01.nii.gz` beside `GT.nii.gz`), loose image
files (`case.nii.gz`, `case.nrrd`, ...), and one DICOM series per sub-folder. Under `torchrun` (RANK and
WORLD_SIZE set) every process takes every WORLD_SIZE-th case of the sorted list, so no case runs twice.
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

from segthor.case_layout import case_name_for
from segthor.errors import CancelledError, InputError, SegthorError
from segthor.io.atomic import write_text_atomic
from segthor.io.volume import FILE_SUFFIXES
from segthor.organs import ORGANS

# Files that are labels or our own outputs, never CT inputs: names starting with "gt" (SegTHOR's GT.nii.gz)
# or holding one of the markers.
_LABEL_PREFIX = "gt"
_LABEL_MARKERS = ("_label", "_seg", "_mask", ".seg.")


@dataclass(frozen=True)
class Case:
    name: str
    image: Path


@dataclass
class BatchSummary:
    rows: list[dict[str, Any]] = field(default_factory=list)
    csv_path: Path | None = None
    rank: int = 0
    world_size: int = 1

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "error"]


def _is_image(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and any(name.endswith(s) for s in FILE_SUFFIXES)


def _is_label_file(path: Path) -> bool:
    name = path.name.lower()
    return name.startswith(_LABEL_PREFIX) or any(m in name for m in _LABEL_MARKERS)


def _looks_like_dicom_folder(folder: Path) -> bool:
    for child in sorted(folder.iterdir())[:5]:
        if child.is_file():
            if child.suffix.lower() == ".dcm":
                return True
            with open(child, "rb") as f:
                head = f.read(132)
            if head[128:132] == b"DICM":
                return True
    return False


def discover_cases(input_dir: str | os.PathLike[str]) -> list[Case]:
    """The CT cases of a folder, sorted by name (the order ranks split on)."""
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give the folder holding the CT cases")
    cases: dict[str, Case] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if _is_image(entry) and not _is_label_file(entry):
            name = case_name_for(entry)
            cases.setdefault(name, Case(name, entry))
        elif entry.is_dir():
            images = [p for p in sorted(entry.iterdir()) if _is_image(p) and not _is_label_file(p)]
            named = [p for p in images if case_name_for(p) == entry.name]
            if named or len(images) == 1:
                cases.setdefault(entry.name, Case(entry.name, (named or images)[0]))
            elif not images and _looks_like_dicom_folder(entry):
                cases.setdefault(entry.name, Case(entry.name, entry))
    if not cases:
        raise InputError(
            f"no CT cases found in {root}; expected image files ({', '.join(FILE_SUFFIXES)}), "
            "SegTHOR-style Patient_XX/Patient_XX.nii.gz folders, or one DICOM series per sub-folder"
        )
    return sorted(cases.values(), key=lambda c: c.name)


def find_reference(case: Case, reference_dir: str | os.PathLike[str] | None) -> Path | None:
    """The case's reference labels in `reference_dir` (SegTHOR GT.nii.gz or <case>_labels/_GT/<case> files)."""
    if reference_dir is None:
        return None
    root = Path(reference_dir)
    candidates = [root / case.name / "GT.nii.gz", root / case.name / f"{case.name}_GT.nii.gz"]
    for suffix in FILE_SUFFIXES:
        candidates += [root / f"{case.name}_labels{suffix}", root / f"{case.name}_GT{suffix}"]
        if root.resolve() != case.image.parent.resolve():
            candidates.append(root / f"{case.name}{suffix}")
    return next((p for p in candidates if p.is_file()), None)


def rank_and_world_size(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit values, else torchrun's RANK/WORLD_SIZE environment, else a single process."""
    world = int(world_size if world_size is not None else os.environ.get("WORLD_SIZE", 1))
    r = int(rank if rank is not None else os.environ.get("RANK", 0))
    if world < 1 or not 0 <= r < world:
        raise InputError(f"invalid rank {r} for world size {world}; RANK must be in 0..WORLD_SIZE-1")
    return r, world


def split_for_rank(cases: Sequence[Case], rank: int, world_size: int) -> list[Case]:
    """This rank's share: every world_size-th case, starting at `rank` (disjoint, and together complete)."""
    return list(cases[rank::world_size])


def finished_report(output_dir: Path, case: Case) -> dict[str, Any] | None:
    """The case JSON when a previous run completed the case (it is written last, atomically)."""
    path = output_dir / f"{case.name}.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("status") == "ok" else None


CSV_FIELDS = (
    ["case", "status", "seconds", "device", "model"]
    + [f"dice_{o.key}" for o in ORGANS]
    + [f"hd95_{o.key}" for o in ORGANS]
    + ["message"]
)


def summary_row(case: Case, status: str, report: dict[str, Any] | None, seconds: float, message: str = "") -> dict:
    row: dict[str, Any] = {"case": case.name, "status": status, "seconds": round(seconds, 2), "message": message}
    if report:
        row["device"] = report.get("device", "")
        row["model"] = (report.get("model") or {}).get("id", "")
        for key, m in (report.get("metrics") or {}).items():
            for metric in ("dice", "hd95"):
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


def _merge_rank_summaries(output_dir: Path, world_size: int) -> Path | None:
    """After a barrier, rank 0 merges the per-rank CSVs into summary.csv (only when torch.distributed is set up)."""
    if "MASTER_ADDR" not in os.environ:
        return None
    import datetime

    import torch.distributed as dist

    initialised_here = not dist.is_initialized()
    if initialised_here:
        dist.init_process_group("gloo", timeout=datetime.timedelta(hours=48))
    try:
        dist.barrier()
        if dist.get_rank() != 0:
            return None
        rows: list[dict[str, Any]] = []
        for r in range(world_size):
            part = output_dir / f"summary_rank{r}.csv"
            if part.is_file():
                with open(part, newline="", encoding="utf-8") as f:
                    rows += list(csv.DictReader(f))
        return write_summary_csv(rows, output_dir / "summary.csv")
    finally:
        if initialised_here:
            dist.destroy_process_group()


def run_batch(
    segment_case: Callable[[Case, Path | None], dict[str, Any]],
    input_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    reference_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    rank: int | None = None,
    world_size: int | None = None,
    show_progress: bool = True,
) -> BatchSummary:
    """Run `segment_case(case, reference) -> report` over this rank's cases; a failing case is recorded
    and the others still run. Writes summary.csv (summary_rank<N>.csv per rank under torchrun)."""
    from tqdm import tqdm

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    r, world = rank_and_world_size(rank, world_size)
    mine = split_for_rank(discover_cases(input_dir), r, world)
    summary = BatchSummary(rank=r, world_size=world)
    bar = tqdm(mine, desc=f"segthor batch (rank {r}/{world})" if world > 1 else "segthor batch",
               unit="case", disable=not show_progress, position=r if world > 1 else None)
    for case in bar:
        bar.set_postfix_str(case.name)
        t0 = time.perf_counter()
        previous = finished_report(out, case) if resume else None
        if previous is not None:
            summary.rows.append(summary_row(case, "skipped", previous, 0.0, "finished in a previous run"))
            continue
        try:
            report = segment_case(case, find_reference(case, reference_dir))
            summary.rows.append(summary_row(case, "ok", report, time.perf_counter() - t0))
        except CancelledError:
            raise
        except (SegthorError, OSError, RuntimeError, ValueError, MemoryError) as exc:
            message = f"{exc.__class__.__name__}: {exc}"
            bar.write(f"segthor batch: {case.name} failed: {message}")
            summary.rows.append(summary_row(case, "error", None, time.perf_counter() - t0, message))
    name = "summary.csv" if world == 1 else f"summary_rank{r}.csv"
    summary.csv_path = write_summary_csv(summary.rows, out / name)
    if world > 1:
        merged = _merge_rank_summaries(out, world)
        summary.csv_path = merged or summary.csv_path
    return summary
