"""Segmenting a cohort: find the cases of a folder, split them across ranks, resume, summarise as CSV.

Layouts understood: the SegTHOR release (`Patient_01/Patient_01.nii.gz` beside `GT.nii.gz`), loose image
files (`case.nii.gz`, `case.nrrd`, ...), and one DICOM series per sub-folder. Under `torchrun` (RANK and
WORLD_SIZE set) every process takes every WORLD_SIZE-th case of the sorted list, so no case runs twice.

Case names never collide: inputs that would share a name (`a.nii.gz` and `a.nrrd`, a folder `a` beside a file
`a.nii.gz`) are named after their kind too (`a_nii`, `a_nrrd`, `a_dicom`), and a case whose outputs in the
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

from segthor.case_layout import case_name_for
from segthor.errors import CancelledError, InputError, OutputError, SegthorError
from segthor.io.atomic import write_text_atomic
from segthor.io.volume import FILE_SUFFIXES
from segthor.io.writable import output_errors
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


def _looks_like_dicom_folder(folder: Path, depth: int = 2) -> bool:
    """DICOM files in the folder or, for patient/study folders, up to `depth` levels below it
    (read_volume then reads the one series below or names the subfolders to choose from)."""
    for child in sorted(folder.iterdir())[:5]:
        if child.is_file():
            if child.suffix.lower() == ".dcm":
                return True
            with open(child, "rb") as f:
                head = f.read(132)
            if head[128:132] == b"DICM":
                return True
        elif depth > 0 and child.is_dir() and _looks_like_dicom_folder(child, depth - 1):
            return True
    return False


def discover_cases(input_dir: str | os.PathLike[str]) -> list[Case]:
    """The CT cases of a folder, sorted by name (the order ranks split on)."""
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give the folder holding the CT cases")
    found: list[tuple[Case, Path]] = []  # each case with the folder entry it came from
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if _is_image(entry) and not _is_label_file(entry):
            found.append((Case(case_name_for(entry), entry), entry))
        elif entry.is_dir():
            images = [p for p in sorted(entry.iterdir()) if _is_image(p) and not _is_label_file(p)]
            named = [p for p in images if case_name_for(p) == entry.name]
            if named or len(images) == 1:
                found.append((Case(entry.name, (named or images)[0]), entry))
            elif not images and _looks_like_dicom_folder(entry):
                found.append((Case(entry.name, entry), entry))
    if not found:
        raise InputError(
            f"no CT cases found in {root}; expected image files ({', '.join(FILE_SUFFIXES)}), "
            "SegTHOR-style Patient_XX/Patient_XX.nii.gz folders, or one DICOM series per sub-folder"
        )
    return sorted(_distinct_names(found), key=lambda c: c.name)


def _kind(path: Path) -> str:
    """'nii' for a.nii.gz, 'nrrd' for a.nrrd, 'dicom' for a folder: what tells same-named inputs apart."""
    if path.is_dir():
        return "dicom" if _looks_like_dicom_folder(path) else "folder"
    lower = path.name.lower()
    suffix = next(s for s in sorted(FILE_SUFFIXES, key=len, reverse=True) if lower.endswith(s))
    return suffix.strip(".").split(".")[0]


def _distinct_names(found: list[tuple[Case, Path]]) -> list[Case]:
    """Cases whose names collide get their input's kind appended (a.nii.gz, a.nrrd -> a_nii, a_nrrd)."""
    by_name: dict[str, list[tuple[Case, Path]]] = {}
    for case, entry in found:
        by_name.setdefault(case.name, []).append((case, entry))
    result = []
    taken = set(by_name)
    for name, group in by_name.items():
        if len(group) == 1:
            result.append(group[0][0])
            continue
        for case, entry in group:
            candidate, i = f"{name}_{_kind(entry)}", 2
            while candidate in taken:  # a_nii is a case of its own: a_nii_2
                candidate, i = f"{name}_{_kind(entry)}_{i}", i + 1
            taken.add(candidate)
            result.append(Case(candidate, case.image))
    return result


def find_reference(case: Case, reference_dir: str | os.PathLike[str] | None) -> Path | None:
    """The case's reference labels in `reference_dir` (SegTHOR GT.nii.gz or <case>_labels/_GT/<case> files).

    A case renamed apart from a same-named input (`a_nii`) is also looked up under its input's own name (`a`).
    """
    if reference_dir is None:
        return None
    root = Path(reference_dir)
    candidates = []
    for name in dict.fromkeys([case.name, case_name_for(case.image)]):
        candidates += [root / name / "GT.nii.gz", root / name / f"{name}_GT.nii.gz"]
        for suffix in FILE_SUFFIXES:
            candidates += [root / f"{name}_labels{suffix}", root / f"{name}_GT{suffix}"]
            if root.resolve() != case.image.parent.resolve():
                candidates.append(root / f"{name}{suffix}")
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
    """The case JSON when a previous run completed this case from this input (it is written last, atomically)."""
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
    return report


CSV_FIELDS = (
    ["case", "status", "needs_review", "seconds", "device", "model"]
    + [f"status_{o.key}" for o in ORGANS]
    + [f"volume_ml_{o.key}" for o in ORGANS]
    + [f"dice_{o.key}" for o in ORGANS]
    + [f"hd95_{o.key}" for o in ORGANS]
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
    row["needs_review"] = "yes" if quality.get("needs_review") else "no"
    flags = []
    for key, organ in (quality.get("organs") or {}).items():
        row[f"status_{key}"] = organ.get("status", "")
        flags += [f"{key}: {reason}" for reason in organ.get("reasons", [])]
    row["input_checks"] = "; ".join(w.get("check", "") for w in quality.get("input", {}).get("warnings", []))
    row["flags"] = "; ".join(flags)
    return row


def summary_row(case: Case, status: str, report: dict[str, Any] | None, seconds: float, message: str = "") -> dict:
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
    and the others still run. Writes summary.csv (summary_rank<N>.csv per rank under torchrun) after every
    case. With `resume`, a case finished earlier from the same input is not run again; its row ("resumed")
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
    bar = tqdm(mine, desc=f"segthor batch (rank {r}/{world})" if world > 1 else "segthor batch",
               unit="case", disable=not show_progress, position=r if world > 1 else None)
    for case in bar:
        bar.set_postfix_str(case.name)
        t0 = time.perf_counter()
        previous = finished_report(out, case) if resume else None
        if previous is not None:
            seconds = float((previous.get("timings_s") or {}).get("total") or 0.0)
            summary.rows.append(summary_row(case, "resumed", previous, seconds, "finished in a previous run"))
        else:
            try:
                report = segment_case(case, find_reference(case, reference_dir))
                summary.rows.append(summary_row(case, "ok", report, time.perf_counter() - t0))
            except CancelledError:
                raise
            except OutputError:
                raise  # the output folder itself failed: every further case would fail the same way
            except (SegthorError, OSError, RuntimeError, ValueError, MemoryError) as exc:
                message = f"{exc.__class__.__name__}: {exc}"
                bar.write(f"segthor batch: {case.name} failed: {message}")
                summary.rows.append(summary_row(case, "error", None, time.perf_counter() - t0, message))
        with output_errors("the batch summary"):
            write_summary_csv(summary.rows, summary.csv_path)
    with output_errors("the batch summary"):
        write_summary_csv(summary.rows, summary.csv_path)  # also when this rank had no case
    if world > 1:
        merged = _merge_rank_summaries(out, world)
        summary.csv_path = merged or summary.csv_path
    return summary
