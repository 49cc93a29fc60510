"""`segthor segment` / `segthor batch` and the Python API: files written, clear errors, exit codes."""

import json

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.cli.main import main
from segthor.io.volume import read_volume, write_volume


@pytest.fixture
def ct_file(tmp_path):
    ct = make_ct()
    path = write_volume(ct, tmp_path / "in" / "chest.nii.gz")
    truth = write_volume(ct.with_array((ct.array > 150).astype(np.uint8) * 2), tmp_path / "in" / "chest_GT.nii.gz")
    return path, truth


def test_segment_writes_all_outputs_in_the_input_geometry(tmp_path, ct_file, tiny_model_dir, capsys):
    ct_path, truth = ct_file
    out = tmp_path / "out"
    code = main(
        [
            "segment",
            str(ct_path),
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--device",
            "cpu",
            "--reference",
            str(truth),
            "--postprocess",
            "heart:lcc",
        ]
    )
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["chest.json", "chest.seg.nrrd", "chest_labels.nii.gz", "chest_preview.png"]
    ct = read_volume(ct_path)
    labels = read_volume(out / "chest_labels.nii.gz")
    assert labels.same_geometry(ct) and labels.array.max() <= 4
    report = json.loads((out / "chest.json").read_text())
    assert report["model"]["id"] == "tiny-enet" and report["device"] == "cpu"
    assert {"read", "preprocess", "inference", "write", "metrics", "total"} <= set(report["timings_s"])
    assert set(report["metrics"]) == {"esophagus", "heart", "trachea", "aorta"}
    assert report["postprocess"]["source"] == "user"
    assert {k: v["steps"] for k, v in report["postprocess"]["organs"].items()} == {
        "esophagus": [],
        "heart": ["lcc"],
        "trachea": [],
        "aorta": [],
    }
    assert set(report["quality"]["organs"]) == {"esophagus", "heart", "trachea", "aorta"}
    assert report["needs_review"] is True  # a random-weight model on a box phantom: flags, not silence
    printed = capsys.readouterr().out
    assert "not for clinical use" in printed and "chest.seg.nrrd" in printed
    assert "plausibility: NEEDS REVIEW" in printed and "trachea    implausible" in printed


def test_api_mirrors_the_cli(tmp_path, ct_file, tiny_model_dir):
    from segthor.api import segment

    result = segment(ct_file[0], tmp_path / "api", model=tiny_model_dir, device="cpu", case_name="custom")
    assert result.paths.report.is_file() and result.report["case"] == "custom"
    assert result.report["metrics"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["segment", "missing.nii.gz", "-o", "x"], "does not exist"),
        (["segment", "{ct}", "-o", "{out}", "--model", "no-such-model"], "no model package"),
        (["segment", "{ct}", "-o", "{out}", "--device", "tpu"], "unknown device"),
        (["segment", "{ct}", "-o", "{out}", "--postprocess", "heart:melt"], "unknown step"),
        (["segment", "{ct}", "-o", "{out}", "--reference", "{ct}"], "expected SegTHOR labels"),
    ],
)
def test_user_errors_exit_2_with_a_message(tmp_path, ct_file, tiny_model_dir, capsys, args, message):
    args = [a.format(ct=ct_file[0], out=tmp_path / "out") for a in args]
    if "--model" not in args:
        args += ["--model", str(tiny_model_dir)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("segthor segment: error:") and message in err
    assert not (tmp_path / "out" / "chest.json").exists()


def test_failure_while_writing_leaves_no_partial_case(tmp_path, ct_file, tiny_model_dir, monkeypatch, capsys):
    import errno

    import segthor.outputs.case_files as case_files

    def broken_preview(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(case_files, "write_preview", broken_preview)
    out = tmp_path / "out"
    code = main(["segment", str(ct_file[0]), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no space left on device" in err and "Traceback" not in err
    assert list(out.iterdir()) == []  # neither the labels and .seg.nrrd written before, nor temporary files


def test_batch_cli_with_one_bad_case(tmp_path, tiny_model_dir, capsys):
    cases = tmp_path / "cases"
    ct = make_ct(shape=(6, 30, 30))
    write_volume(ct, cases / "a.nii.gz")
    write_volume(ct, cases / "c.nii.gz")
    write_volume(ct.with_array((ct.array + 1000) // 2), cases / "b.nii.gz")  # values 0-650: not a CT in HU
    out = tmp_path / "out"
    code = main(["batch", str(cases), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu", "-q"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "2 segmented, 0 finished earlier (results kept), 1 failed" in printed
    assert "b.nii.gz does not look like a CT in Hounsfield units" in printed
    assert (out / "a.json").is_file() and (out / "c.json").is_file() and not (out / "b.json").exists()
    assert main(["batch", str(cases), "-o", str(out), "--model", str(tiny_model_dir), "--resume", "-q"]) == 1
    assert "0 segmented, 2 finished earlier" in capsys.readouterr().out


def test_the_verdict_counts_the_lines_it_names():
    # A reading warning and an input check were both printed as "input warning:", and the verdict said
    # "1 input warning(s)" under two such lines.
    from segthor.cli.segment import format_report

    organ = {"status": "ok", "reasons": []}
    report = {
        "case": "c",
        "model": {"id": "m"},
        "device": "cpu",
        "timings_s": {"total": 1.0},
        "organ_volumes_ml": {"heart": 1.0},
        "input_warnings": ["1 missing slice regularised"],
        "quality": {
            "needs_review": True,
            "input": {"warnings": [{"check": "pixel_size", "message": "px"}]},
            "organs": {"heart": organ},
        },
        "metrics": None,
        "outputs": {},
    }
    text = format_report(report)
    assert text.count("input warning: ") == 1 and text.count("input check: ") == 1
    assert "NEEDS REVIEW (1 input check(s), 0 organ(s) flagged, 1 input warning(s))" in text
