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
    assert mean > 0.5  # enet-demo measured 0.84 on this phantom (0.64 for an earlier training)


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
