"""SegTHOR-format data: find the cases, split them by patient (fixed seed, saved), load them preprocessed.

Layout (the rule is `segthor.case_layout`'s): DATA_DIR/Patient_XX/Patient_XX.nii.gz (CT) and
DATA_DIR/Patient_XX/GT.nii.gz (labels 0-4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segthor.case_layout import segthor_cases
from segthor.errors import InputError
from segthor.io.atomic import write_text_atomic
from segthor.organs import NUM_CLASSES

SPLIT_FILE = "split.json"


@dataclass
class CaseFiles:
    patient: str
    image: Path
    labels: Path


@dataclass
class Case:
    """One patient on the network grid: float32 image and uint8 labels, both [z, y, x]."""

    patient: str
    image: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float, float]


def find_cases(data_dir: str | Path) -> list[CaseFiles]:
    """The SegTHOR-layout cases of `data_dir` (`segthor.case_layout.segthor_cases`), sorted by patient."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"training data folder {data_dir} does not exist")
    cases = [CaseFiles(patient, image, labels) for patient, image, labels in segthor_cases(data_dir)]
    if not cases:
        raise InputError(
            f"{data_dir} holds no SegTHOR-format cases; expected Patient_XX/Patient_XX.nii.gz with "
            "Patient_XX/GT.nii.gz (make a synthetic cohort with `segthor phantom`)"
        )
    return cases


def split_patients(patients: list[str], validation_fraction: float, seed: int) -> dict[str, list[str]]:
    """Shuffle patients with `seed` and hold out a fraction (at least one when there are two or more)."""
    if not 0 <= validation_fraction < 1:
        raise InputError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    order = sorted(patients)
    np.random.default_rng(seed).shuffle(order)
    n_val = round(len(order) * validation_fraction)
    if validation_fraction > 0 and len(order) >= 2:
        n_val = min(max(1, n_val), len(order) - 1)
    return {"train": sorted(order[n_val:]), "validation": sorted(order[:n_val]), "seed": seed}


def load_or_make_split(out_dir: Path, patients: list[str], validation_fraction: float, seed: int) -> dict[str, Any]:
    """The saved split of a run (resume keeps it), or a new one written to OUT/split.json."""
    path = out_dir / SPLIT_FILE
    if path.is_file():
        split = json.loads(path.read_text(encoding="utf-8"))
        missing = sorted(set(split["train"] + split["validation"]) - set(patients))
        if missing:
            raise InputError(f"{path} names patients missing from the data folder: {', '.join(missing)}")
        return split
    split = split_patients(patients, validation_fraction, seed)
    write_text_atomic(path, json.dumps(split, indent=2) + "\n")
    return split


def load_case(files: CaseFiles, recipe: Any) -> Case:
    from segthor.io.volume import read_volume
    from segthor.preprocessing import preprocess, transfer_labels

    volume = read_volume(files.image)
    labels = read_volume(files.labels)
    if labels.array.shape != volume.array.shape:
        raise InputError(
            f"{files.labels} ({labels.describe_geometry()}) does not match its CT {files.image} "
            f"({volume.describe_geometry()}); each GT.nii.gz must lie on its CT's voxel grid"
        )
    # Check the range before the uint8 cast, which would wrap e.g. 256 to 0 silently.
    low, high = int(labels.array.min(initial=0)), int(labels.array.max(initial=0))
    if low < 0 or high >= NUM_CLASSES:
        raise InputError(f"{files.labels} holds labels {low}..{high}; SegTHOR labels are 0-{NUM_CLASSES - 1}")
    pre = preprocess(volume, recipe)
    net_labels = transfer_labels(labels.array.astype(np.uint8), pre.context)
    return Case(files.patient, pre.array, net_labels, pre.context.network_grid.spacing)


def load_cases(files: list[CaseFiles], recipe: Any) -> list[Case]:
    return [load_case(f, recipe) for f in files]


def is_phantom(data_dir: Path, patient: str) -> bool:
    """segthor.phantom writes Patient_XX/Patient_XX.json naming itself as the generator ("segthor.phantom", or
    "segthor.phantom v2" for the mesh-based generator)."""
    try:
        meta = json.loads((data_dir / patient / f"{patient}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    generator = meta.get("generator") if isinstance(meta, dict) else None
    return isinstance(generator, str) and generator.split()[:1] == ["segthor.phantom"]


def data_summary(data_dir: Path, split: dict[str, Any], cases: list[Case]) -> str:
    """One line for the model catalogue: how many patients, what kind, what grid."""
    sample = cases[0].image.shape if cases else ()
    patients = split["train"] + split["validation"]
    kind = (
        "synthetic segthor.phantom cases"
        if patients and all(is_phantom(data_dir, p) for p in patients)
        else f"patients from {data_dir.name}"
    )
    return (
        f"{len(split['train'])} training + {len(split['validation'])} validation {kind} "
        f"(network grid e.g. {sample[1] if sample else '?'}x{sample[2] if sample else '?'} px per slice)"
    )
