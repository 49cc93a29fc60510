"""Outputs that cannot be written, and case names that would collide: checked before the work, one-line errors,
no partial case, and never another input's outputs replaced without --overwrite."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.batch_runner import discover_cases, find_reference, run_batch
from segthor.cli.main import main
from segthor.io.volume import write_volume

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _model_args(tiny_model_dir):
    return ["--model", str(tiny_model_dir), "--device", "cpu", "-q"]


@pytest.fixture
def small_ct(tmp_path):
    return write_volume(make_ct(shape=(6, 30, 30)), tmp_path / "in" / "chest.nii.gz")


@pytest.fixture
def no_inference(monkeypatch):
    """Fail the test if the network runs: the output checks must come first."""
    import segthor.logic.facade

    def refuse(*args, **kwargs):
        raise AssertionError("inference ran before the output folder was checked")

    monkeypatch.setattr(segthor.logic.facade, "predict", refuse)


def _unwritable(tmp_path):
    """A folder that cannot be created: its parent is a regular file (works as root too, unlike chmod)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    return blocker / "out"


def _one_line_error(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"segthor {command}: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_segment_refuses_an_unwritable_output_folder_before_inference(
    tmp_path, small_ct, tiny_model_dir, no_inference, capsys
):
    out = _unwritable(tmp_path)
    assert main(["segment", str(small_ct), "-o", str(out), *_model_args(tiny_model_dir)]) == 2
    assert "cannot write to the output folder" in _one_line_error(capsys, "segment")


def test_batch_refuses_an_unwritable_output_folder_before_the_model_loads(tmp_path, small_ct, capsys):
    out = _unwritable(tmp_path)
    # A model that does not exist: the output folder is reported first, so no model was loaded.
    assert main(["batch", str(small_ct.parent), "-o", str(out), "--model", "no-such-model", "-q"]) == 2
    assert "cannot write to the output folder" in _one_line_error(capsys, "batch")


def test_evaluate_refuses_unwritable_outputs_before_reading_cases(tmp_path, capsys):
    out = _unwritable(tmp_path)
    # The prediction does not even exist: the write check comes before any case is read.
    assert main(["evaluate", str(tmp_path / "nothing"), str(tmp_path / "nothing"), "--csv", str(out / "m.csv")]) == 2
    assert "cannot write to the output folder" in _one_line_error(capsys, "evaluate")


def test_evaluate_write_failure_leaves_no_half_set(tmp_path, monkeypatch, capsys):
    import segthor.metrics.evaluation as evaluation

    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1:3, 2:6, 2:6] = 2
    from segthor.io.volume import Volume

    write_volume(Volume(labels), tmp_path / "p.nii.gz")
    write_volume(Volume(labels), tmp_path / "r.nii.gz")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluation, "write_json", full_disk)
    code = main(
        [
            "evaluate",
            str(tmp_path / "p.nii.gz"),
            str(tmp_path / "r.nii.gz"),
            "--quiet",
            "--csv",
            str(tmp_path / "out" / "m.csv"),
            "--json",
            str(tmp_path / "out" / "m.json"),
        ]
    )
    assert code == 2 and "no space left on device" in _one_line_error(capsys, "evaluate")
    assert list((tmp_path / "out").iterdir()) == []  # the CSV written before the failure is gone too


def test_segment_refuses_a_folder_the_os_will_not_write(
    tmp_path, small_ct, tiny_model_dir, no_inference, monkeypatch, capsys
):
    """What a read-only folder does for a normal user, simulated so it also runs as root."""
    import segthor.io.writable as writable

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writable.tempfile, "mkstemp", denied)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["segment", str(small_ct), "-o", str(out), *_model_args(tiny_model_dir)]) == 2
    assert "permission denied" in _one_line_error(capsys, "segment")
    assert list(out.iterdir()) == []


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders; the regular-file case covers root")
def test_segment_refuses_a_read_only_folder(tmp_path, small_ct, tiny_model_dir, no_inference, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(["segment", str(small_ct), "-o", str(out), *_model_args(tiny_model_dir)]) == 2
        assert "permission denied" in _one_line_error(capsys, "segment")
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


# -- case names ------------------------------------------------------------------------------------------


def write_dicom_series(folder, array, patient_id, series_uid, spacing=(1.0, 1.0, 2.5)):
    """A minimal CT series (one file per slice, axial, int16 HU) written with pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study = generate_uid()
    for k, plane in enumerate(array):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName, ds.Modality = patient_id, patient_id, "CT"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series_uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, k * spacing[2]]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.SliceThickness = spacing[2]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(plane, dtype=np.int16).tobytes()
        ds.save_as(folder / f"slice{k:03d}.dcm", enforce_file_format=True)
    return folder


def test_two_dicom_folders_named_image_do_not_share_outputs(tmp_path, tiny_model_dir):
    from pydicom.uid import generate_uid

    ct = make_ct(shape=(6, 30, 30)).array
    first = write_dicom_series(tmp_path / "p1" / "image", ct, "P1", generate_uid())
    second = write_dicom_series(tmp_path / "p2" / "image", ct, "P2", generate_uid())
    out = tmp_path / "out"
    assert main(["segment", str(first), "-o", str(out), *_model_args(tiny_model_dir)]) == 0
    first_report = (out / "image.json").read_text()
    assert main(["segment", str(second), "-o", str(out), *_model_args(tiny_model_dir)]) == 0
    assert (out / "image.json").read_text() == first_report  # the first case's outputs are untouched
    second_report = json.loads((out / "p2_image.json").read_text())
    assert second_report["case"] == "p2_image" and second_report["input_resolved"] == str(second.resolve())
    # Running the first again replaces its own outputs under its own name, without --overwrite.
    assert main(["segment", str(first), "-o", str(out), *_model_args(tiny_model_dir)]) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["image.json", "p2_image.json"]


def test_an_explicit_case_name_of_another_input_needs_overwrite(tmp_path, small_ct, tiny_model_dir, capsys):
    other = write_volume(make_ct(shape=(6, 30, 30)), tmp_path / "other" / "scan.nii.gz")
    out = tmp_path / "out"
    assert main(["segment", str(small_ct), "-o", str(out), "--case-name", "case", *_model_args(tiny_model_dir)]) == 0
    capsys.readouterr()
    args = ["segment", str(other), "-o", str(out), "--case-name", "case", *_model_args(tiny_model_dir)]
    assert main(args) == 2
    err = _one_line_error(capsys, "segment")
    assert "another input" in err and "--overwrite" in err and "overwrite=True" not in err
    assert json.loads((out / "case.json").read_text())["input_resolved"] == str(small_ct.resolve())
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "case.json").read_text())["input_resolved"] == str(other.resolve())


def test_batch_names_same_stem_inputs_apart(tmp_path):
    ct = make_ct(shape=(4, 12, 12))
    write_volume(ct, tmp_path / "in" / "a.nii.gz")
    write_volume(ct, tmp_path / "in" / "a.nrrd")
    write_volume(ct, tmp_path / "in" / "b.nii.gz")
    cases = discover_cases(tmp_path / "in")
    assert [(c.name, c.image.name) for c in cases] == [("a_nii", "a.nii.gz"), ("a_nrrd", "a.nrrd"), ("b", "b.nii.gz")]
    write_volume(ct, tmp_path / "ref" / "a_labels.nii.gz")
    assert find_reference(cases[0], tmp_path / "ref").name == "a_labels.nii.gz"  # found under the input's name


def test_batch_summary_is_written_as_cases_finish(tmp_path):
    ct = make_ct(shape=(4, 12, 12))
    for name in ("a", "b", "c"):
        write_volume(ct, tmp_path / "in" / f"{name}.nii.gz")
    out = tmp_path / "out"
    seen = []

    def segment_case(case, reference):
        summary = out / "summary.csv"
        seen.append(summary.read_text().count("\n") - 1 if summary.is_file() else None)  # rows so far
        return {"status": "ok"}

    run_batch(segment_case, tmp_path / "in", out, show_progress=False)
    assert seen == [None, 1, 2]


def test_batch_does_not_resume_from_another_inputs_report(tmp_path):
    ct = make_ct(shape=(4, 12, 12))
    write_volume(ct, tmp_path / "in" / "a.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text(json.dumps({"status": "ok", "input_resolved": str(tmp_path / "elsewhere" / "a")}))
    ran = []
    run_batch(
        lambda case, ref: ran.append(case.name) or {"status": "ok"},
        tmp_path / "in",
        out,
        resume=True,
        show_progress=False,
    )
    assert ran == ["a"]


def test_batch_never_replaces_another_inputs_case_without_overwrite(tmp_path, tiny_model_dir, capsys):
    write_volume(make_ct(shape=(6, 30, 30)), tmp_path / "in" / "a.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    foreign = {"case": "a", "status": "ok", "input_resolved": str(tmp_path / "elsewhere" / "a.nii.gz")}
    (out / "a.json").write_text(json.dumps(foreign))
    args = ["batch", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu", "-q"]
    assert main(args) == 1
    printed = capsys.readouterr().out
    assert "another input" in printed and "--overwrite" in printed and "overwrite=True" not in printed
    assert json.loads((out / "a.json").read_text()) == foreign  # untouched
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "a.json").read_text())["input_resolved"] == str((tmp_path / "in" / "a.nii.gz").resolve())


@pytest.mark.parametrize("name", ["../escape", "sub/case", ".hidden", "..", "a\\b"])
def test_a_case_name_that_is_not_a_plain_file_name_is_refused(
    tmp_path, small_ct, tiny_model_dir, no_inference, capsys, name
):
    # --case-name ../escape wrote escape.json and escape.seg.nrrd beside the output folder.
    out = tmp_path / "out"
    assert main(["segment", str(small_ct), "-o", str(out), "--case-name", name, *_model_args(tiny_model_dir)]) == 2
    assert "is not a plain file name" in _one_line_error(capsys, "segment")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_dicom_folder_given_as_dot_is_named_after_the_folder(tmp_path, tiny_model_dir, monkeypatch):
    # `cd image && segthor segment . -o out` wrote hidden files '.json' and '.seg.nrrd'.
    from pydicom.uid import generate_uid

    from segthor.case_layout import case_name_for

    folder = write_dicom_series(tmp_path / "p1" / "image", make_ct(shape=(6, 30, 30)).array, "P1", generate_uid())
    monkeypatch.chdir(folder)
    assert case_name_for(".") == case_name_for("./") == "image" and case_name_for("..") == "p1"
    assert main(["segment", ".", "-o", str(tmp_path / "out"), *_model_args(tiny_model_dir)]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:2] == ["image.json", "image.seg.nrrd"]


def test_outputs_never_replace_the_cases_own_reference(tmp_path, small_ct, tiny_model_dir, no_inference, capsys):
    # Loose files chest.nii.gz + chest_labels.nii.gz (the reference) segmented into their own folder: the labels
    # output would have replaced the user's reference (and been scored against itself).
    folder = small_ct.parent
    reference = write_volume(
        make_ct(shape=(6, 30, 30)).with_array(np.ones((6, 30, 30), np.uint8)), folder / "chest_labels.nii.gz"
    )
    before = reference.read_bytes()
    args = ["segment", str(small_ct), "-o", str(folder), "--reference", str(reference), *_model_args(tiny_model_dir)]
    assert main(args) == 2
    assert "is this case's reference" in _one_line_error(capsys, "segment")
    assert reference.read_bytes() == before
    assert (
        main(["batch", str(folder), "-o", str(folder), "--reference-dir", str(folder), *_model_args(tiny_model_dir)])
        == 1
    )  # the case fails, the reference stays
    assert reference.read_bytes() == before


def test_a_missing_reference_or_reference_folder_is_one_line_before_any_work(
    tmp_path, small_ct, tiny_model_dir, no_inference, capsys
):
    # batch --reference-dir with a typo ran every case without metrics and said nothing.
    out = tmp_path / "out"
    args = ["segment", str(small_ct), "-o", str(out), "--reference", str(tmp_path / "typo.nii.gz")]
    assert main([*args, *_model_args(tiny_model_dir)]) == 2
    assert "reference " + str(tmp_path / "typo.nii.gz") + " does not exist" in _one_line_error(capsys, "segment")
    for bad in (tmp_path / "typo", small_ct):
        args = ["batch", str(small_ct.parent), "-o", str(out), "--reference-dir", str(bad)]
        assert main([*args, *_model_args(tiny_model_dir)]) == 2
        assert "is not a folder" in _one_line_error(capsys, "batch")
    assert not out.exists() or not any(out.iterdir())
