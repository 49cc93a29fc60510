"""Case and file layout: every rule about which file or folder is which case, in one place.

Layouts understood (the same everywhere: `segthor batch`, `segthor evaluate`, training):

- the SegTHOR release: ``Patient_01/Patient_01.nii.gz`` (CT) beside ``Patient_01/GT.nii.gz`` (labels 0-4);
- loose files: ``case.nii.gz`` (or .nii, .nrrd, .nhdr, .mha, .mhd) CTs; label files named
  ``<case>_labels.nii.gz`` (what ``segthor segment`` writes), ``<case>_GT.nii.gz``, ``<case>_seg``,
  ``<case>_mask`` or ``<case>.seg.nrrd``;
- one DICOM series per sub-folder (files ending .dcm or with the DICM preamble, up to two levels down).

A file that might be labels is never segmented as a CT (`looks_like_labels`); when labels are searched, an
explicitly marked label file wins over a plain one (`split_label_name`). A leaf module: it imports only
``segthor.io`` and ``segthor.errors``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from segthor.errors import InputError
from segthor.io.volume import FILE_SUFFIXES

IMAGE_SUFFIXES = FILE_SUFFIXES
SEG_NRRD_SUFFIX = ".seg.nrrd"
LABEL_SUFFIXES = (SEG_NRRD_SUFFIX, *IMAGE_SUFFIXES)
SEGTHOR_GT_STEM = "GT"  # Patient_01/GT.nii.gz
SEGTHOR_GT_FILE = f"{SEGTHOR_GT_STEM}.nii.gz"  # what `segthor phantom` writes beside Patient_01.nii.gz
LABELS_SUFFIX = "_labels"  # <case>_labels.nii.gz, the label file `segthor segment` writes
# Name endings that mark a file as a label image, most explicit first.
LABEL_MARKERS = (LABELS_SUFFIX, "_label", "_gt", "_seg", "_mask")
LABEL_LAYOUT_HELP = (
    "expected label files (.nii.gz, .nrrd, .seg.nrrd) or a folder in SegTHOR layout (Patient_01/GT.nii.gz) "
    "or of files named <case>.nii.gz, <case>_labels.nii.gz or <case>.seg.nrrd"
)
CT_LAYOUT_HELP = (
    f"expected image files ({', '.join(IMAGE_SUFFIXES)}), SegTHOR-style Patient_XX/Patient_XX.nii.gz folders, "
    "or one DICOM series per sub-folder"
)


def labels_file_name(case: str, suffix: str = ".nii.gz") -> str:
    """The label file `segthor segment` writes for `case` ('Patient_01_labels.nii.gz'), found again by
    `find_reference` and `find_label_files`."""
    return f"{case}{LABELS_SUFFIX}{suffix}"


@dataclass(frozen=True)
class CaseInput:
    """A CT to segment: the case name its outputs are named after, and the image file or DICOM folder."""

    name: str
    image: Path


def _image_suffix(name: str) -> str | None:
    lower = name.lower()
    return next((s for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), None)


def case_name_for(path: str | os.PathLike[str]) -> str:
    """'Patient_01' for Patient_01.nii.gz, Patient_01.seg.nrrd, or a DICOM folder named Patient_01.

    A folder given as '.', './' or '..' is named by what it resolves to (not '', which would give hidden
    outputs '.json', '.seg.nrrd')."""
    name = Path(path).name
    if name in ("", ".", ".."):
        name = Path(path).resolve().name
    suffix = _image_suffix(name)
    return name[: -len(suffix)] if suffix else name


def is_image_file(path: Path) -> bool:
    """A file with one of the image suffixes (CT or labels alike)."""
    return path.is_file() and _image_suffix(path.name) is not None


def split_label_name(name: str) -> tuple[str, int] | None:
    """(case name, rank) of a label file name, lower rank = more surely a label image; None if not an image.

    Rank 0: a marker ending (``Patient_01_labels.nii.gz`` -> Patient_01); 1: a ``.seg.nrrd``; 2: a plain
    image name (``Patient_01.nii.gz``), which is labels only where nothing more explicit names the case.
    """
    lower = name.lower()
    suffix = next((s for s in LABEL_SUFFIXES if lower.endswith(s)), None)
    if suffix is None:
        return None
    stem = name[: -len(suffix)]
    if suffix == SEG_NRRD_SUFFIX:
        return stem, 1
    for marker in LABEL_MARKERS:
        if stem.lower().endswith(marker) and len(stem) > len(marker):
            return stem[: -len(marker)], 0
    return stem, 2


def looks_like_labels(name: str) -> bool:
    """True for names that may hold labels rather than a CT (never segmented as CT inputs): SegTHOR's GT files,
    any name holding a label marker, and .seg.nrrd files. Deliberately broad: a missed CT is reported as
    missing, a label image segmented as a CT would be a silent nonsense result."""
    lower = name.lower()
    return lower.startswith(SEGTHOR_GT_STEM.lower()) or ".seg." in lower or any(m in lower for m in LABEL_MARKERS)


def looks_like_dicom_folder(folder: Path, depth: int = 2) -> bool:
    """DICOM files in the folder or, for patient/study folders, up to `depth` levels below it (the reader then
    takes the one series below or names the sub-folders to choose from). Looks at the first 5 entries."""
    for child in sorted(folder.iterdir())[:5]:
        if child.is_file():
            if child.suffix.lower() == ".dcm":
                return True
            with open(child, "rb") as f:
                head = f.read(132)
            if head[128:132] == b"DICM":
                return True
        elif depth > 0 and child.is_dir() and looks_like_dicom_folder(child, depth - 1):
            return True
    return False


def segthor_case_files(folder: Path) -> tuple[Path, Path] | None:
    """(CT, labels) of a case folder in the SegTHOR release's layout (``<folder>/<folder>.nii.gz`` and
    ``<folder>/GT.nii.gz``, any image suffix), or None when either is missing."""

    def first(stem: str) -> Path | None:
        return next((p for p in (folder / f"{stem}{s}" for s in IMAGE_SUFFIXES) if p.is_file()), None)

    image, labels = first(folder.name), first(SEGTHOR_GT_STEM)
    return (image, labels) if image is not None and labels is not None else None


def input_kind(path: Path) -> str:
    """'nii' for a.nii.gz, 'nrrd' for a.nrrd, 'dicom' for a DICOM folder: what tells same-named inputs apart."""
    if path.is_dir():
        return "dicom" if looks_like_dicom_folder(path) else "folder"
    suffix = _image_suffix(path.name) or path.suffix
    return suffix.strip(".").split(".")[0]


def discover_cases(input_dir: str | os.PathLike[str]) -> list[CaseInput]:
    """The CT cases of a folder, sorted by name (the order `segthor batch` splits across ranks).

    An entry is a case when it is an image file that does not look like labels, a sub-folder holding an image
    named after it (SegTHOR) or exactly one image, or a sub-folder holding a DICOM series. Inputs that would
    share a name (``a.nii.gz`` and ``a.nrrd``, a folder ``a`` beside a file ``a.nii.gz``) are named after their
    kind too (``a_nii``, ``a_nrrd``, ``a_dicom``). Raises `InputError` for a missing or case-less folder.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give the folder holding the CT cases")
    found: list[tuple[CaseInput, Path]] = []  # each case with the folder entry it came from
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue  # hidden and half-written temporary files
        if is_image_file(entry) and not looks_like_labels(entry.name):
            found.append((CaseInput(case_name_for(entry), entry), entry))
        elif entry.is_dir():
            images = [p for p in sorted(entry.iterdir()) if is_image_file(p) and not looks_like_labels(p.name)]
            named = [p for p in images if case_name_for(p) == entry.name]
            if named or len(images) == 1:
                found.append((CaseInput(entry.name, (named or images)[0]), entry))
            elif not images and looks_like_dicom_folder(entry):
                found.append((CaseInput(entry.name, entry), entry))
    if not found:
        raise InputError(f"no CT cases found in {root}; {CT_LAYOUT_HELP}")
    return sorted(_distinct_names(found), key=lambda c: c.name)


def _distinct_names(found: list[tuple[CaseInput, Path]]) -> list[CaseInput]:
    """Cases whose names collide get their input's kind appended (a.nii.gz, a.nrrd -> a_nii, a_nrrd)."""
    by_name: dict[str, list[tuple[CaseInput, Path]]] = {}
    for case, entry in found:
        by_name.setdefault(case.name, []).append((case, entry))
    result = []
    taken = set(by_name)
    for name, group in by_name.items():
        if len(group) == 1:
            result.append(group[0][0])
            continue
        for case, entry in group:
            candidate, i = f"{name}_{input_kind(entry)}", 2
            while candidate in taken:  # a_nii is a case of its own: a_nii_2
                candidate, i = f"{name}_{input_kind(entry)}_{i}", i + 1
            taken.add(candidate)
            result.append(CaseInput(candidate, case.image))
    return result


def find_reference(case: CaseInput, reference_dir: str | os.PathLike[str] | None) -> Path | None:
    """The case's reference labels in `reference_dir`: SegTHOR's ``<case>/GT.nii.gz`` or ``<case>/<case>_GT``,
    then ``<case>_labels``, ``<case>_GT`` and (when the folder is not the CTs' own) ``<case>`` files, any image
    suffix. A case renamed apart from a same-named input (``a_nii``) is also looked up under its input's own
    name (``a``). None when `reference_dir` is None or holds nothing for the case."""
    if reference_dir is None:
        return None
    root = Path(reference_dir)
    candidates = []
    for name in dict.fromkeys([case.name, case_name_for(case.image)]):
        candidates += [root / name / SEGTHOR_GT_FILE, root / name / f"{name}_GT.nii.gz"]
        for suffix in IMAGE_SUFFIXES:
            candidates += [root / labels_file_name(name, suffix), root / f"{name}_GT{suffix}"]
            if root.resolve() != case.image.parent.resolve():
                candidates.append(root / f"{name}{suffix}")
    return next((p for p in candidates if p.is_file()), None)


def find_label_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Case name -> label file for every case in ``folder`` (SegTHOR folders or loose label files; where several
    files name one case the most explicit wins, see `split_label_name`). Raises `InputError` when none."""
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
                if parsed and parsed[0].lower() == SEGTHOR_GT_STEM.lower():
                    offer(entry.name, 0, child)
        elif parsed := split_label_name(entry.name):
            offer(parsed[0], parsed[1], entry)
    if not found:
        raise InputError(f"{folder} holds no label files; {LABEL_LAYOUT_HELP}")
    return {case: path for case, (_, path) in sorted(found.items())}


def label_file_case(path: Path) -> str:
    """The case a single label file belongs to: its name without marker and suffix, or its folder's name for
    SegTHOR's ``Patient_01/GT.nii.gz``."""
    parsed = split_label_name(path.name)
    case = parsed[0] if parsed else path.name
    return path.parent.name if case.lower() == SEGTHOR_GT_STEM.lower() else case


def segthor_cases(data_dir: Path) -> Iterable[tuple[str, Path, Path]]:
    """(patient, CT, labels) of every SegTHOR-layout case folder in `data_dir`, sorted by folder name."""
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        files = segthor_case_files(folder)
        if files is not None:
            yield folder.name, files[0], files[1]
