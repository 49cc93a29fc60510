"""`python -m segthor.demo` (what `make demo` runs): every output written, real metrics printed, disclaimer."""

import json
import re

from segthor.demo import main


def test_demo_segments_the_bundled_phantom(tmp_path, capsys):
    out = tmp_path / "demo_output"
    assert main(["--output", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "demo weights, synthetic training data, not for clinical use" in printed
    for name in (
        "phantom.seg.nrrd",
        "phantom_labels.nii.gz",
        "phantom_preview.png",
        "phantom.json",
        "phantom_ct.nii.gz",
        "phantom_truth.nii.gz",
    ):
        assert (out / name).is_file(), name
    report = json.loads((out / "phantom.json").read_text())
    from segthor.model_packages import DEFAULT_MODEL_ID

    assert report["model"]["id"] == DEFAULT_MODEL_ID
    mean = float(re.search(r"^mean\s+([0-9.]+)", printed, re.M).group(1))
    dice = [m["dice"] for m in report["metrics"].values()]
    assert abs(mean - sum(dice) / len(dice)) < 1e-3
    assert mean > 0.5  # enet-demo measured 0.84 on this v1 phantom, the v2-trained default enet-realct 0.69


def test_demo_on_a_generated_v2_phantom(tmp_path, capsys):
    from segthor.model_packages import DEFAULT_MODEL_ID

    out = tmp_path / "demo_v2"
    argv = ["--output", str(out), "--device", "cpu", "--generator", "v2", "--size", "96", "--slices", "48"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "phantom_v2_seed0.json").read_text())
    assert report["model"]["id"] == DEFAULT_MODEL_ID
    assert (out / "phantom_v2_seed0_truth.nii.gz").is_file()
    assert set(report["metrics"]) == {"esophagus", "heart", "trachea", "aorta"}
    assert re.search(r"^mean\s+[0-9.]+", printed, re.M)


def test_demo_refuses_a_phantom_size_or_slice_count_in_one_line(tmp_path, capsys):
    # Found while testing: --size 8 or --slices 1 ended in a traceback, and --slices 17 (--size 33) wrote a
    # phantom with slices 27.9 mm apart (pixels of 10.9 mm) that segmenting then refused.
    for argv, words in (
        (["--generator", "v2", "--size", "8"], "size must be between 32 and 1024"),
        (["--slices", "1"], "n_slices must be at least 16"),
        (["--generator", "v2", "--size", "40", "--slices", "17"], "give --slices 19 or more"),
        (["--generator", "v2", "--size", "33", "--slices", "40"], "give --size 37 or more"),
    ):
        out = tmp_path / "demo"
        assert main(["--output", str(out), "--device", "cpu", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("segthor demo: error:") and words in err and "\n" not in err, err
        assert not out.exists()  # nothing written for a phantom that cannot be segmented
