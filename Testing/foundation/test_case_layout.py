"""One layout rule for every reader: batch discovery, reference lookup, evaluate's pairing and the training
dataset agree on which file of a folder is which case."""

from __future__ import annotations

from pathlib import Path

from segthor.case_layout import (
    discover_cases,
    find_label_files,
    find_reference,
    looks_like_labels,
    segthor_cases,
    split_label_name,
)


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_segthor_release_layout_reads_the_same_everywhere(tmp_path):
    _touch(
        tmp_path,
        "Patient_01/Patient_01.nii.gz",
        "Patient_01/GT.nii.gz",
        "Patient_02/Patient_02.nrrd",
        "Patient_02/GT.nrrd",
        "Patient_03/Patient_03.nii.gz",
    )  # Patient_03 has no labels
    assert [(c.name, c.image.name) for c in discover_cases(tmp_path)] == [
        ("Patient_01", "Patient_01.nii.gz"),
        ("Patient_02", "Patient_02.nrrd"),
        ("Patient_03", "Patient_03.nii.gz"),
    ]
    assert {k: p.relative_to(tmp_path).as_posix() for k, p in find_label_files(tmp_path).items()} == {
        "Patient_01": "Patient_01/GT.nii.gz",
        "Patient_02": "Patient_02/GT.nrrd",
    }
    assert [(p, i.name, g.name) for p, i, g in segthor_cases(tmp_path)] == [
        ("Patient_01", "Patient_01.nii.gz", "GT.nii.gz"),
        ("Patient_02", "Patient_02.nrrd", "GT.nrrd"),
    ]
    first = discover_cases(tmp_path)[0]
    assert find_reference(first, tmp_path) == tmp_path / "Patient_01" / "GT.nii.gz"


def test_loose_files_label_markers_are_never_ct_inputs(tmp_path):
    _touch(tmp_path, "a.nii.gz", "a_GT.nii.gz", "a_labels.nii.gz", "b.mha", "b_mask.mha", "c.seg.nrrd", "d_seg.nrrd")
    # The batch never segments a label file as a CT (a `_GT` file used to be taken for a case of its own).
    assert [c.name for c in discover_cases(tmp_path)] == ["a", "b"]
    assert all(
        looks_like_labels(n)
        for n in ("a_GT.nii.gz", "a_labels.nii.gz", "b_mask.mha", "c.seg.nrrd", "GT.nii.gz", "d_seg.nrrd")
    )
    assert not looks_like_labels("Patient_01.nii.gz")
    # Pairing takes the explicit label file of each case, and the plain image only where nothing else names it.
    found = {k: p.name for k, p in find_label_files(tmp_path).items()}
    assert found == {"a": "a_GT.nii.gz", "b": "b_mask.mha", "c": "c.seg.nrrd", "d": "d_seg.nrrd"}
    assert split_label_name("a.nii.gz") == ("a", 2) and split_label_name("notes.txt") is None


def test_training_dataset_uses_the_layout(tmp_path):
    from segthor_training.dataset import find_cases

    _touch(tmp_path, "Patient_01/Patient_01.mha", "Patient_01/GT.mha", "Patient_02/Patient_02.nii.gz")
    assert [(c.patient, c.image.name, c.labels.name) for c in find_cases(tmp_path)] == [
        ("Patient_01", "Patient_01.mha", "GT.mha")
    ]
