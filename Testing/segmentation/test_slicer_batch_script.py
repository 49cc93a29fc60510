"""SegTHORSlicer/Scripts/segthor_batch.py (for `Slicer --no-main-window --python-script`) on slicer-core."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.io.volume import write_volume

pytestmark = pytest.mark.mrml

SCRIPT = Path(__file__).resolve().parents[2] / "SegTHORSlicer" / "Scripts" / "segthor_batch.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("segthor_batch_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batch_script_writes_seg_nrrd_per_case_and_survives_a_bad_one(tmp_path, mrml_scene, tiny_model_dir):
    import slicerio

    cases = tmp_path / "cases"
    ct = make_ct(shape=(6, 30, 30), direction=np.eye(3))
    write_volume(ct, cases / "good.nii.gz")
    (cases / "broken.nrrd").parent.mkdir(exist_ok=True)
    (cases / "broken.nrrd").write_text("not an image")
    out = tmp_path / "out"
    script = _load_script()
    code = script.main(["--input", str(cases), "--output", str(out), "--model", str(tiny_model_dir),
                        "--device", "cpu"])
    assert code == 1
    with open(out / "summary.csv", newline="") as f:
        rows = {r["case"]: r for r in csv.DictReader(f)}
    assert rows["good"]["status"] == "ok" and rows["broken"]["status"] == "error"
    seg = slicerio.read_segmentation(str(out / "good.seg.nrrd"))
    assert [s["name"] for s in seg["segments"]] == ["Esophagus", "Heart", "Trachea", "Aorta"]
    assert mrml_scene.GetFirstNodeByClass("vtkMRMLSegmentationNode") is None  # scene cleared per case
