"""The case report is built by one pure function: the same inputs give the same dict, keys in a fixed order."""

from __future__ import annotations

import numpy as np

from segthor.inference.prediction import Prediction
from segthor.io.volume import Volume
from segthor.logic import build_case_report, organ_volumes_ml

KEYS = [
    "case",
    "status",
    "input",
    "input_resolved",
    "reference",
    "reference_unused_segments",
    "input_warnings",
    "geometry",
    "model",
    "device",
    "batch_size",
    "cpu_threads",
    "network_grid_zyx",
    "postprocess",
    "timings_s",
    "organ_volumes_ml",
    "needs_review",
    "quality",
    "metrics",
    "outputs",
    "segthor_version",
]


def _inputs():
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1:3, 1:4, 2:5] = 2  # 18 heart voxels
    labels[0, 0, 0] = 4
    ct = Volume(np.zeros((4, 5, 6), np.int16), (0.5, 2.0, 3.0), (1.0, 2.0, 3.0), np.eye(3))
    ct.warnings.append("gantry tilt resampled")
    prediction = Prediction(ct.with_array(labels), {"inference": 0.2}, (4, 5, 6), 8, 1)
    return dict(
        case="Patient_01",
        input_path="in/Patient_01.nii.gz",
        input_resolved="/abs/in/Patient_01.nii.gz",
        volume=ct,
        prediction=prediction,
        model={"id": "m"},
        device="cpu",
        timings={"total": 1.0},
        outputs={"report": "Patient_01.json"},
    )


def test_case_report_is_a_pure_function_of_its_inputs():
    inputs = _inputs()
    report = build_case_report(**inputs)
    assert list(report) == KEYS
    assert report == build_case_report(**inputs)
    assert report["organ_volumes_ml"] == {"esophagus": 0.0, "heart": 0.054, "trachea": 0.0, "aorta": 0.003}
    assert report["geometry"] == {
        "size_xyz": [6, 5, 4],
        "spacing_xyz_mm": [0.5, 2.0, 3.0],
        "origin_lps_mm": [1.0, 2.0, 3.0],
        "direction": np.eye(3).tolist(),
    }
    assert report["input_warnings"] == ["gantry tilt resampled"]
    assert report["quality"] is None and report["needs_review"] is None and report["metrics"] is None
    assert (report["batch_size"], report["cpu_threads"], report["network_grid_zyx"]) == (8, 1, [4, 5, 6])
    assert organ_volumes_ml(inputs["prediction"].labels) == report["organ_volumes_ml"]
