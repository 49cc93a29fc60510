"""Inference: labels land in the input's exact grid for any orientation; progress, cancel and model errors."""

import numpy as np
import pytest
from segmentation_helpers import FAST2D, OBLIQUE_DIRECTION, heart_truth, make_ct

from segthor.errors import CancelledError, ModelError
from segthor.logic import SegmentationLogic


def _dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


@pytest.mark.parametrize(
    "direction",
    [np.eye(3), OBLIQUE_DIRECTION, np.diag([-1.0, 1.0, -1.0])],
    ids=["identity", "permuted", "flipped"],
)
def test_labels_come_back_in_the_input_geometry(threshold_package, direction):
    ct = make_ct(direction=direction)
    prediction = SegmentationLogic(threshold_package, "cpu").segment(ct)
    assert prediction.labels.same_geometry(ct)
    assert prediction.labels.array.dtype == np.uint8
    # An exact stand-in network: any flip/transpose/shift in the round trip would ruin the overlap.
    assert _dice(prediction.labels.array == 2, heart_truth(ct) == 2) > 0.9
    assert set(np.unique(prediction.labels.array)) <= {0, 2}


def test_real_model_package_runs_and_reports_progress(tiny_model_dir, ct_volume):
    seen = []
    logic = SegmentationLogic(tiny_model_dir, "cpu", batch_size=4, progress=lambda f, m: seen.append((f, m)))
    prediction = logic.segment(ct_volume)
    assert prediction.labels.array.shape == ct_volume.array.shape
    assert prediction.labels.array.max() <= 4
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("slices" in m for _, m in seen)
    assert {"preprocess", "inference", "restore"} <= set(prediction.timings)


def test_cancel_from_progress_stops_the_run(threshold_package):
    ct = make_ct(shape=(40, 40, 40), direction=np.eye(3))
    logic = SegmentationLogic(threshold_package, "cpu", batch_size=2)
    logic.progress_callback = lambda f, m: logic.cancel() if "slices" in m else None
    with pytest.raises(CancelledError):
        logic.segment(ct)


def test_missing_and_corrupt_models_are_clear_errors(tmp_path, tiny_model_dir, ct_volume):
    import shutil

    with pytest.raises(ModelError, match="no model package"):
        SegmentationLogic("no-such-model", "cpu").segment(ct_volume)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ModelError, match="corrupt"):
        SegmentationLogic(broken, "cpu").segment(ct_volume)


def test_incompatible_network_output_is_a_model_error(ct_volume):
    import torch

    from segthor.model_packages import ModelPackage

    class WrongClasses(torch.nn.Module):
        spatial_dims = 2

        def forward(self, x):
            return torch.zeros((x.shape[0], 3, *x.shape[2:]))

    package = ModelPackage(WrongClasses(), {"id": "wrong", "preprocessing": FAST2D})
    with pytest.raises(ModelError, match="expected 5 classes"):
        SegmentationLogic(package, "cpu").segment(ct_volume)


def test_postprocess_is_applied_when_asked(threshold_package):
    ct = make_ct(direction=np.eye(3))
    ct.array[3:6, 8:12, 28:32] = 300  # a bright spot inside the body, apart from the heart: a stray component
    plain = SegmentationLogic(threshold_package, "cpu", postprocess="none").segment(ct).labels.array
    cleaned = SegmentationLogic(threshold_package, "cpu", postprocess="heart:lcc").segment(ct).labels.array
    from scipy import ndimage

    assert ndimage.label(plain == 2)[1] > 1
    assert ndimage.label(cleaned == 2)[1] == 1


def test_3d_network_runs_through_the_sliding_window_inferer(ct_volume):
    from segthor.model_packages import ModelPackage
    from segthor.networks import build_network

    net = build_network("c2f3d", widths=(4, 8, 8, 8)).eval()
    recipe = dict(FAST2D, spacing=[2.0, 2.0, 3.0])
    prediction = SegmentationLogic(ModelPackage(net, {"id": "c2f", "preprocessing": recipe}), "cpu").segment(ct_volume)
    assert prediction.labels.same_geometry(ct_volume)
    assert prediction.labels.array.max() <= 4
