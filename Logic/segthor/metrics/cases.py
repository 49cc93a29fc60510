"""Pairing predictions with references for `segthor evaluate`: two label files, or two folders matched by case.

Which file is which case (SegTHOR folders, ``_labels``/``_GT`` files, ``.seg.nrrd``) is `segthor.case_layout`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from segthor.case_layout import LABEL_LAYOUT_HELP, find_label_files, label_file_case, split_label_name
from segthor.errors import InputError

__all__ = ["CasePair", "find_label_files", "pair_cases", "split_label_name"]


@dataclass(frozen=True)
class CasePair:
    case: str
    pred: Path
    ref: Path


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
            raise InputError(f"{what} {path} does not exist; {LABEL_LAYOUT_HELP}")
    if pred.is_file() and ref.is_file():
        return [CasePair(label_file_case(ref), pred, ref)], []
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
