"""Finding the label file of each case in a file or folder argument, and pairing predictions with references.

A folder may hold cases in the SegTHOR layout (``Patient_01/GT.nii.gz``) or as loose files
(``Patient_01.nii.gz``, ``Patient_01_labels.nii.gz`` as ``segthor batch`` writes, ``Patient_01_GT.nii.gz``,
``Patient_01.seg.nrrd``). Where several files name the same case, an explicit label file wins over a plain
one (a plain ``Patient_01.nii.gz`` beside ``Patient_01_GT.nii.gz`` is the CT).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from segthor.errors import InputError
from segthor.io.volume import FILE_SUFFIXES
from segthor.metrics.label_files import SEG_NRRD_SUFFIX

LABEL_SUFFIXES = (SEG_NRRD_SUFFIX, *FILE_SUFFIXES)
# Name endings that mark a file as a label image, most explicit first.
_LABEL_MARKERS = ("_labels", "_label", "_gt", "_seg")
_GT_STEM = "gt"
_LAYOUT_HELP = (
    "expected label files (.nii.gz, .nrrd, .seg.nrrd) or a folder in SegTHOR layout (Patient_01/GT.nii.gz) "
    "or of files named <case>.nii.gz, <case>_labels.nii.gz or <case>.seg.nrrd"
)


@dataclass(frozen=True)
class CasePair:
    case: str
    pred: Path
    ref: Path


def split_label_name(name: str) -> tuple[str, int] | None:
    """(case name, rank) of a label file name, lower rank = more surely a label image; None if not an image."""
    lower = name.lower()
    suffix = next((s for s in LABEL_SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        return None
    stem = name[: -len(suffix)]
    if suffix == SEG_NRRD_SUFFIX:
        return stem, 1
    for marker in _LABEL_MARKERS:
        if stem.lower().endswith(marker) and len(stem) > len(marker):
            return stem[: -len(marker)], 0
    return stem, 2


def find_label_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Case name -> label file for every case in ``folder`` (see the module docstring for layouts)."""
    folder = Path(folder)
    found: dict[str, tuple[int, Path]] = {}

    def offer(case: str, rank: int, path: Path) -> None:
        if case not in found or rank < found[case][0]:
            found[case] = (rank, path)

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden and half-written temporary files
        if entry.is_dir():
            for child in sorted(entry.iterdir()):
                parsed = split_label_name(child.name)
                if parsed and parsed[0].lower() == _GT_STEM:
                    offer(entry.name, 0, child)
        elif parsed := split_label_name(entry.name):
            offer(parsed[0], parsed[1], entry)
    if not found:
        raise InputError(f"{folder} holds no label files; {_LAYOUT_HELP}")
    return {case: path for case, (_, path) in sorted(found.items())}


def pair_cases(
    pred: str | os.PathLike[str], ref: str | os.PathLike[str], pred_role: str = "prediction"
) -> tuple[list[CasePair], list[str]]:
    """Matched (case, pred file, ref file) pairs, and the names of predicted cases that have no reference.

    Two files make one pair. Two folders are matched by case name; a reference case without a prediction
    is an error (a missing prediction must not silently drop out of the cohort). ``pred_role`` names `pred`
    in errors (e.g. "second prediction (against)"). Raises InputError.
    """
    pred, ref = Path(pred), Path(ref)
    for path, what in ((pred, pred_role), (ref, "reference")):
        if not path.exists():
            raise InputError(f"{what} {path} does not exist; {_LAYOUT_HELP}")
    if pred.is_file() and ref.is_file():
        parsed = split_label_name(ref.name)
        case = parsed[0] if parsed else ref.name
        if case.lower() == _GT_STEM:  # Patient_01/GT.nii.gz: the case is the folder
            case = ref.parent.name
        return [CasePair(case, pred, ref)], []
    if pred.is_dir() != ref.is_dir():
        raise InputError(
            f"give two label files or two folders; got {pred_role} {pred} "
            f"({'folder' if pred.is_dir() else 'file'}) and reference {ref} ({'folder' if ref.is_dir() else 'file'})"
        )
    preds, refs = find_label_files(pred), find_label_files(ref)
    missing = [case for case in refs if case not in preds]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InputError(
            f"{len(missing)} reference case(s) have no {pred_role} in {pred}: {shown}; "
            "predict them or evaluate a folder holding only the cases you have"
        )
    extra = [case for case in preds if case not in refs]
    return [CasePair(case, preds[case], refs[case]) for case in refs], extra
