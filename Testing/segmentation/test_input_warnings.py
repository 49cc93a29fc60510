"""What reading the input had to fix reaches the user: the CLI summary and the case JSON's `input_warnings`."""

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from segthor.cli.main import main

sys.path.insert(0, str(Path(__file__).parents[1] / "io"))
from dicom_factory import axial_positions, write_series  # noqa: E402


def test_dicom_gap_is_reported_and_labels_are_on_the_regular_grid(tmp_path, tiny_model_dir, capsys):
    positions = axial_positions(9, 2.0)
    del positions[5]
    write_series(tmp_path / "patient" / "CT", positions)
    out = tmp_path / "out"
    code = main(
        ["segment", str(tmp_path / "patient"), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu"]
    )
    assert code == 0
    report = json.loads((out / "patient.json").read_text())
    warnings = report["input_warnings"]
    assert len(warnings) == 2 and "subfolder CT" in warnings[0] and "1 missing slice" in warnings[1]
    assert report["geometry"]["size_xyz"] == [16, 16, 9]
    printed = capsys.readouterr().out
    assert "input warning: " in printed and "1 missing slice" in printed
    # a regularised input is flagged for review, and the verdict line counts the reading warnings
    assert report["needs_review"] is True
    assert "2 input warning(s)" in printed and "NEEDS REVIEW" in printed
    labels = nib.load(str(out / "patient_labels.nii.gz"))
    assert labels.shape == (16, 16, 9)
    np.testing.assert_allclose(labels.header.get_zooms(), (1.0, 1.0, 2.0))


def test_several_series_are_chosen_with_the_series_option(tmp_path, tiny_model_dir, capsys):
    write_series(tmp_path / "study", axial_positions(8, 2.0), series_number=2, prefix="a")
    write_series(tmp_path / "study", axial_positions(6, 3.0), series_number=7, prefix="b")
    base = [
        "segment",
        str(tmp_path / "study"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
    ]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "2 DICOM series" in err and "--series" in err and "Traceback" not in err
    assert main([*base, "--series", "7"]) == 0
    report = json.loads((tmp_path / "out" / "study.json").read_text())
    assert report["geometry"]["size_xyz"] == [16, 16, 6] and report["input_warnings"] == []
    assert report["needs_review"] == report["quality"]["needs_review"]  # nothing from reading adds a flag


def test_nifti_sform_qform_disagreement_is_reported_and_labels_keep_both(tmp_path, tiny_model_dir):
    data = np.full((20, 18, 6), -1000, np.int16)
    data[5:15, 4:14, 1:5] = 300
    qform = np.diag([0.9, 0.9, 2.5, 1.0])
    sform = qform.copy()
    sform[:3, 3] = (40.0, 0.0, 0.0)  # the sform 40 mm from the qform
    image = nib.Nifti1Image(data, None)
    image.header.set_qform(qform, code=1)
    image.header.set_sform(sform, code=2)
    nib.save(image, str(tmp_path / "ct.nii.gz"))
    out = tmp_path / "out"
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "-o",
                str(out),
                "--model",
                str(tiny_model_dir),
                "--device",
                "cpu",
                "-q",
            ]
        )
        == 0
    )
    report = json.loads((out / "ct.json").read_text())
    assert len(report["input_warnings"]) == 1 and "40.0 mm" in report["input_warnings"][0]
    labels = nib.load(str(out / "ct_labels.nii.gz"))
    np.testing.assert_allclose(labels.header.get_sform(), sform, atol=1e-5)
    np.testing.assert_allclose(labels.header.get_qform(), qform, atol=1e-5)
    assert (int(labels.header["sform_code"]), int(labels.header["qform_code"])) == (2, 1)
    np.testing.assert_allclose(labels.affine, nib.load(str(tmp_path / "ct.nii.gz")).affine)  # sform-first tools


def test_batch_finds_patient_folders_with_the_series_below_and_reports_the_warnings(tmp_path, tiny_model_dir, capsys):
    import csv

    write_series(tmp_path / "cases" / "patientA" / "study" / "CT", axial_positions(8, 2.0))
    positions = axial_positions(9, 2.0)
    del positions[2]
    write_series(tmp_path / "cases" / "patientB", positions)
    out = tmp_path / "out"
    assert (
        main(
            ["batch", str(tmp_path / "cases"), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu", "-q"]
        )
        == 0
    )
    rows = {r["case"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["patientA"]["status"] == "ok" and "subfolder study/CT" in rows["patientA"]["message"]
    assert rows["patientB"]["status"] == "ok" and "1 missing slice" in rows["patientB"]["message"]
    printed = capsys.readouterr().out
    assert "patientB (warning): " in printed
