"""SegTHORSlicer/Scripts/segthor_batch.py (for `Slicer --no-main-window --python-script`) on slicer-core:
DICOM folders and NIfTI files read by segthor's reader, run_batch's resume rule and summary, exit codes."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.io.volume import Volume, write_volume

pytestmark = pytest.mark.mrml

SCRIPT = Path(__file__).resolve().parents[2] / "SegTHORSlicer" / "Scripts" / "segthor_batch.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("segthor_batch_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_dicom_series(volume: Volume, folder: Path) -> Path:
    """One CT slice per file with the tags GDCM needs to sort a series (position, orientation, spacing)."""
    import SimpleITK as sitk

    folder.mkdir(parents=True)
    image = volume.to_sitk()
    direction = image.GetDirection()
    series_uid = "1.2.826.0.1.3680043.2.1125.1.12345"
    for k in range(image.GetDepth()):
        sl = image[:, :, k]
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        for tag, value in {
            "0008|0060": "CT",
            "0008|0016": "1.2.840.10008.5.1.4.1.1.2",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.1.1",
            "0020|000e": series_uid,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{p:.6f}" for p in position),
            "0020|0037": "\\".join(f"{d:.6f}" for d in (*direction[0::3], *direction[1::3])),
            "0028|0030": f"{image.GetSpacing()[1]:.6f}\\{image.GetSpacing()[0]:.6f}",
            "0018|0050": f"{image.GetSpacing()[2]:.6f}",
            "0028|1052": "0",
            "0028|1053": "1",
        }.items():
            sl.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(sl)
    return folder


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "summary.csv", newline="") as f:
        return {r["case"]: r for r in csv.DictReader(f)}


def test_batch_script_segments_a_dicom_folder_and_a_nifti_and_survives_a_bad_case(tmp_path, mrml_scene, tiny_model_dir):
    import slicerio

    from segthor.io.volume import read_volume

    cases = tmp_path / "cases"
    ct = make_ct(shape=(6, 30, 30), direction=np.eye(3))
    write_volume(ct, cases / "nifti_case.nii.gz")
    write_dicom_series(ct, cases / "dicom_case")
    assert read_volume(cases / "dicom_case").same_geometry(ct, tol=1e-3)
    (cases / "broken.nrrd").write_text("not an image")
    out = tmp_path / "out"
    script = _load_script()
    args = ["--input", str(cases), "--output", str(out), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert script.main(args) == 1
    rows = _rows(out)
    assert {k: r["status"] for k, r in rows.items()} == {"nifti_case": "ok", "dicom_case": "ok", "broken": "error"}
    assert rows["nifti_case"]["model"] == "tiny-enet"
    for case in ("nifti_case", "dicom_case"):
        seg = slicerio.read_segmentation(str(out / f"{case}.seg.nrrd"))
        assert [s["name"] for s in seg["segments"]] == ["Esophagus", "Heart", "Trachea", "Aorta"]
        assert json.loads((out / f"{case}.json").read_text())["status"] == "ok"
    assert mrml_scene.GetFirstNodeByClass("vtkMRMLSegmentationNode") is None  # scene cleared per case

    # --resume follows segthor batch's rule: a case whose JSON says "ok" for this input is not run again.
    assert script.main([*args, "--resume"]) == 1
    assert {k: r["status"] for k, r in _rows(out).items()} == {
        "nifti_case": "resumed",
        "dicom_case": "resumed",
        "broken": "error",
    }
    # ... and by this model: a case another model segmented is segmented again.
    report = json.loads((out / "nifti_case.json").read_text())
    report["model"]["sha256"] = "0" * 64
    (out / "nifti_case.json").write_text(json.dumps(report))
    assert script.main([*args, "--resume"]) == 1
    assert {k: r["status"] for k, r in _rows(out).items()} == {
        "nifti_case": "ok",
        "dicom_case": "resumed",
        "broken": "error",
    }


def test_batch_script_exits_non_zero_on_a_bad_folder(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SCRIPT.parents[2] / "Logic"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert "is not a folder" in done.stderr and "Traceback" not in done.stderr
    assert _load_script().main(["--output", str(tmp_path / "out")]) == 2  # missing --input: usage, code 2
