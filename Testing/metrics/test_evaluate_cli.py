"""`segthor evaluate` end to end on small folders: table, CSV, JSON, plot, Wilcoxon, errors."""

from __future__ import annotations

import argparse
import csv
import json
import math

import numpy as np
import pytest

from segthor.cli import evaluate as evaluate_cli
from segthor.errors import InputError
from segthor.io.volume import Volume, write_volume
from segthor.metrics import evaluate, evaluate_paths, registry
from segthor.metrics.cohort import summarize_values
from segthor.metrics.wilcoxon import wilcoxon_paired


def run_cli(argv: list[str]) -> int:
    """The subcommand as `segthor` wires it (main.py builds the same parser from the module contract)."""
    parser = argparse.ArgumentParser(prog="segthor evaluate")
    evaluate_cli.add_arguments(parser)
    return evaluate_cli.run(parser.parse_args(argv))


def test_folders_give_table_csv_json_and_plot(case_folders, tmp_path, capsys):
    pred, other, ref = case_folders
    out = tmp_path / "out"
    argv = [str(pred), str(ref), "--csv", str(out / "m.csv"), "--json", str(out / "m.json"), "--quiet"]
    assert run_cli([*argv, "--plot", str(out / "m.png"), "--against", str(other), "--hd95", "max-directed"]) == 0
    printed = capsys.readouterr().out
    assert "HD95 convention: max-directed" in printed and "Wilcoxon" in printed and "± " in printed

    rows = list(csv.DictReader((out / "m.csv").open()))
    assert len(rows) == 2 * 3 * 4  # two methods x three cases x four organs
    assert {r["method"] for r in rows} == {"pred", "against"}
    assert {r["hd95_convention"] for r in rows} == {"max-directed"}

    data = json.loads((out / "m.json").read_text())
    cohort = evaluate_paths(pred, ref, hd95="max-directed")
    heart = [c.organs["heart"].dice for c in cohort.cases]
    assert data["pred"]["summary"]["heart"]["dice"]["mean"] == pytest.approx(np.mean(heart))
    assert data["pred"]["summary"]["heart"]["dice"]["std"] == pytest.approx(np.std(heart, ddof=1))
    assert len(data["wilcoxon"]["tests"]) == 4 * len(registry.names("compare"))
    assert (out / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_single_files_with_organs_and_restricted(case_folders, capsys):
    pred, _, ref = case_folders
    code = run_cli([str(pred / "Patient_01_labels.nii.gz"), str(ref / "Patient_01" / "GT.nii.gz"), "--organs", "heart"])
    assert code == 0
    table = capsys.readouterr().out
    assert "heart" in table and "aorta" not in table and "all slices" in table
    report = evaluate(pred / "Patient_01_labels.nii.gz", ref / "Patient_01" / "GT.nii.gz", restricted=True)
    assert report.cohort.restricted and "restricted" in report.table()


def test_undefined_values_are_empty_cells_and_null(case_folders, tmp_path):
    pred, _, ref = case_folders
    labels = Volume(np.zeros((24, 48, 44), np.uint8), (1.1, 0.8, 2.5))  # predicts nothing
    write_volume(labels, tmp_path / "none" / "Patient_01.nii.gz")
    report = evaluate(
        tmp_path / "none" / "Patient_01.nii.gz",
        ref / "Patient_01" / "GT.nii.gz",
        csv=tmp_path / "n.csv",
        json=tmp_path / "n.json",
    )
    row = next(csv.DictReader((tmp_path / "n.csv").open()))
    assert row["status"] == "pred_empty" and row["hd95"] == "" and row["dice"] == "0.0"
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["pred"]["summary"]["heart"]["hd95"] == {"mean": None, "std": None, "n": 0, "n_undefined": 1}
    assert "pred_empty x1" in report.table()


def test_user_errors_are_input_errors(case_folders, tmp_path):
    pred, _, ref = case_folders
    other_grid = Volume(np.zeros((24, 48, 44), np.uint8), (1.0, 1.0, 1.0))
    write_volume(other_grid, tmp_path / "g.nii.gz")
    with pytest.raises(InputError, match="different geometries.*spacing \\(1, 1, 1\\).*spacing \\(1.1, 0.8, 2.5\\)"):
        run_cli([str(tmp_path / "g.nii.gz"), str(ref / "Patient_01" / "GT.nii.gz")])
    assert run_cli([str(tmp_path / "g.nii.gz"), str(ref / "Patient_01" / "GT.nii.gz"), "--resample-to-reference"]) == 0
    with pytest.raises(InputError, match="SegTHOR labels are 0-4"):
        run_cli([str(ref / "Patient_01" / "Patient_01.nii.gz"), str(ref / "Patient_01" / "GT.nii.gz")])
    with pytest.raises(SystemExit):
        run_cli([str(pred), str(ref), "--hd95", "mean"])


def test_summary_and_wilcoxon_helpers():
    s = summarize_values([1.0, None, 3.0])
    assert (s.mean, s.std, s.n, s.n_undefined) == (2.0, pytest.approx(math.sqrt(2)), 2, 1)
    assert summarize_values([None]).mean is None and summarize_values([3.0]).std is None
    stat, p, _ = wilcoxon_paired([0.9, 0.8, 0.85, 0.7, 0.95, 0.9, 0.88], [0.8, 0.7, 0.8, 0.6, 0.9, 0.85, 0.8])
    assert p == pytest.approx(2 / 2**7)  # exact test: all 7 differences positive
    assert wilcoxon_paired([1.0, 2.0], [1.0, 2.0])[1] is None


def test_segthor_command_reports_user_errors_with_exit_code_2(case_folders, tmp_path, capsys):
    from segthor.cli.main import main

    pred, _, ref = case_folders
    assert main(["evaluate", str(pred), str(tmp_path / "missing")]) == 2
    assert "segthor evaluate: error: reference" in capsys.readouterr().err
    assert main(["evaluate", str(pred), str(ref), "--quiet", "--organs", "aorta"]) == 0


def test_importing_the_metrics_stays_light():
    import subprocess
    import sys

    code = "import sys, segthor.metrics; print(sorted(m for m in ('torch', 'matplotlib', 'monai') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nsd_tolerance_option_reaches_the_metric(case_folders, tmp_path):
    pred, _other, ref = case_folders
    out = tmp_path / "nsd"
    for tolerance in ("1", "20"):
        assert (
            run_cli(
                [str(pred), str(ref), "--json", str(out / f"{tolerance}.json"), "--quiet", "--nsd-tolerance", tolerance]
            )
            == 0
        )
    tight = json.loads((out / "1.json").read_text())
    loose = json.loads((out / "20.json").read_text())
    assert tight["metric_options"]["nsd_tolerance_mm"] == 1.0
    assert loose["metric_options"]["nsd_tolerance_mm"] == 20.0
    # a wider tolerance never lowers NSD, and at 20 mm these near-identical masks agree almost fully
    for organ in ("heart", "aorta"):
        assert loose["pred"]["summary"][organ]["nsd"]["mean"] >= tight["pred"]["summary"][organ]["nsd"]["mean"]
        assert loose["pred"]["summary"][organ]["nsd"]["mean"] > 0.9


def test_a_wrong_against_is_named_as_itself_before_any_case_is_evaluated(case_folders, tmp_path, monkeypatch):
    from segthor.metrics import evaluation

    pred, other, ref = case_folders
    evaluated = []
    monkeypatch.setattr(evaluation, "evaluate_paths", lambda *a, **k: evaluated.append(a))
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "Patient_01.nii.gz").write_bytes((other / "Patient_01.nii.gz").read_bytes())
    for bad, words in (
        (tmp_path / "partial", "have no second prediction (against) in"),
        (other / "Patient_01.nii.gz", "got second prediction (against)"),
        (tmp_path / "missing", "second prediction (against)"),
    ):
        with pytest.raises(InputError, match=r"second prediction \(against\)") as exc:
            evaluate(pred, ref, against=bad)
        assert words in str(exc.value) and "got prediction" not in str(exc.value)
    assert evaluated == []


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_bad_nsd_tolerance_names_the_option(case_folders, capsys, value):
    from segthor.cli.main import main

    pred, _, ref = case_folders
    assert main(["evaluate", str(pred), str(ref), "--nsd-tolerance", value]) == 2
    err = capsys.readouterr().err
    assert "--nsd-tolerance must be a positive number (mm)" in err and "nsd_tolerance_mm" not in err


def test_an_output_file_named_like_an_input_or_image_is_refused(case_folders, tmp_path):
    # `--csv ref.nii.gz` replaced the user's reference labels with a CSV table.
    pred, _, ref = case_folders
    gt = ref / "Patient_01" / "GT.nii.gz"
    before = gt.read_bytes()
    for kwargs in ({"csv": gt}, {"json": tmp_path / "new.nii.gz"}, {"plot": tmp_path / "x.dcm"}):
        with pytest.raises(InputError, match="would replace an image or label file"):
            evaluate(pred / "Patient_01_labels.nii.gz", gt, **kwargs)
    assert gt.read_bytes() == before and not (tmp_path / "new.nii.gz").exists()
    report = evaluate(pred / "Patient_01_labels.nii.gz", gt, csv=tmp_path / "m.csv")
    assert (tmp_path / "m.csv").is_file() and report.written
