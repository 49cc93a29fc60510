"""Reading .seg.nrrd segmentations (slicerio and SimpleITK paths) and finding cases in folders."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume, write_volume
from segthor.metrics.cases import find_label_files, pair_cases
from segthor.metrics.label_files import read_label_volume
from segthor.organs import organ_by_name

from .conftest import label_pair

READERS = pytest.mark.parametrize("use_slicerio", [True, False], ids=["slicerio", "simpleitk"])


def _multi_layer_seg(path, ref, names_and_codes):
    """A Slicer-style .seg.nrrd with overlapping segments in two layers, written by slicerio."""
    slicerio = pytest.importorskip("slicerio")
    ijk_to_lps = np.diag([1.1, -0.8, 2.5, 1.0])
    ijk_to_lps[:3, 3] = (5.0, 6.0, 7.0)
    seg = slicerio.create_segmentation(ref.shape[::-1], ijk_to_lps)
    for (name, code), label in zip(names_and_codes, (1, 2, 3, 4), strict=True):
        segment = {"name": name}
        if code:
            category = ["SCT", "123037004", "Anatomical Structure"]
            segment["terminology"] = {"contextName": "x", "category": category, "type": ["SCT", code, name]}
        slicerio.add_segment(seg, (ref == label).transpose(2, 1, 0), segment)
    slicerio.add_segment(seg, np.ones(ref.shape[::-1], bool), {"name": "Body"})  # forces a second layer
    slicerio.write_segmentation(str(path), seg)
    return Volume(ref, (1.1, 0.8, 2.5), (5.0, 6.0, 7.0), np.diag([1.0, -1.0, 1.0]))


@READERS
def test_seg_nrrd_segments_map_by_snomed_code_then_name(tmp_path, use_slicerio):
    _, ref = label_pair()
    names = [
        ("Oesophagus (manual)", organ_by_name("esophagus").snomed_code),  # renamed: found by its code
        ("heart", None),  # no terminology: found by name, case-insensitively
        ("Trachea", organ_by_name("trachea").snomed_code),
        ("AORTA", None),
    ]
    expected = _multi_layer_seg(tmp_path / "case.seg.nrrd", ref, names)
    volume = read_label_volume(tmp_path / "case.seg.nrrd", use_slicerio=use_slicerio)
    assert np.array_equal(volume.array, ref)  # the 'Body' segment of the second layer is ignored
    assert volume.same_geometry(expected)


@READERS
def test_seg_nrrd_without_any_organ_is_refused(tmp_path, use_slicerio):
    _, ref = label_pair()
    _multi_layer_seg(tmp_path / "x.seg.nrrd", ref, [("a", None), ("b", None), ("c", None), ("d", None)])
    with pytest.raises(InputError, match="no segment is one of the SegTHOR organs"):
        read_label_volume(tmp_path / "x.seg.nrrd", use_slicerio=use_slicerio)


def test_our_own_seg_nrrd_round_trips(tmp_path):
    from segthor.outputs.seg_nrrd import write_seg_nrrd

    _, ref = label_pair()
    volume = Volume(ref, (0.7, 0.9, 2.0), (1.0, 2.0, 3.0))
    write_seg_nrrd(volume, tmp_path / "p.seg.nrrd")
    for use_slicerio in (True, False):
        back = read_label_volume(tmp_path / "p.seg.nrrd", use_slicerio=use_slicerio)
        assert np.array_equal(back.array, ref) and back.same_geometry(volume)


def test_folder_layouts_and_file_preference(tmp_path):
    labels = Volume(np.zeros((2, 3, 4), np.uint8))
    for name in ("A/GT.nii.gz", "A/A.nii.gz", "B.nii.gz", "B_GT.nii.gz", "C.seg.nrrd", "C_labels.nii.gz", "D.nrrd"):
        write_volume(labels, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    found = find_label_files(tmp_path)
    assert {k: v.relative_to(tmp_path).as_posix() for k, v in found.items()} == {
        "A": "A/GT.nii.gz",  # SegTHOR layout: GT, not the CT beside it
        "B": "B_GT.nii.gz",  # an explicit label file wins over the plain name (the CT)
        "C": "C_labels.nii.gz",
        "D": "D.nrrd",
    }


def test_pairing_reports_missing_and_extra_cases(tmp_path):
    labels = Volume(np.zeros((2, 3, 4), np.uint8))
    for name in ("ref/P1/GT.nii.gz", "ref/P2/GT.nii.gz", "pred/P1.nii.gz", "pred/P2.nii.gz", "pred/P9.nii.gz"):
        write_volume(labels, tmp_path / name)
    pairs, extra = pair_cases(tmp_path / "pred", tmp_path / "ref")
    assert [(p.case, p.pred.name) for p in pairs] == [("P1", "P1.nii.gz"), ("P2", "P2.nii.gz")] and extra == ["P9"]
    single, _ = pair_cases(tmp_path / "pred" / "P9.nii.gz", tmp_path / "ref" / "P1" / "GT.nii.gz")
    assert single[0].case == "P1"  # two files: paired as given, named after the reference's case folder
    (tmp_path / "pred" / "P2.nii.gz").unlink()
    with pytest.raises(InputError, match="1 reference case.*no prediction.*P2"):
        pair_cases(tmp_path / "pred", tmp_path / "ref")
    with pytest.raises(InputError, match="two label files or two folders"):
        pair_cases(tmp_path / "pred" / "P1.nii.gz", tmp_path / "ref")
    with pytest.raises(InputError, match="does not exist"):
        pair_cases(tmp_path / "nothing", tmp_path / "ref")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no label files"):
        pair_cases(tmp_path / "empty", tmp_path / "ref")
