"""Fixtures for the DICOM RT tests: a synthetic phantom CT written as a DICOM series, and a stand-in model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("pydicom")
pytest.importorskip("highdicom")

# Test modules import the helpers by name (import mode is importlib, so add this folder explicitly).
sys.path.insert(0, str(Path(__file__).parent))

from dicom_helpers import phantom_ct, phantom_labels, write_ct_series  # noqa: E402

# The organs' HU values in `phantom_ct`, as the stand-in network reads them back (input scaled by 1/500).
_BANDS = ((1, 40), (2, 60), (3, -900), (4, 300))
RECIPE = {
    "name": "identity-grid",
    "clip_hu": [-1000.0, 1000.0],
    "spacing": [None, None, None],
    "crop": "none",
    "normalize": "fixed",
    "hu_center": 0.0,
    "hu_scale": 500.0,
}


def band_net():
    """A 2D stand-in 'network' that labels each organ by its phantom HU value: exact, so the outputs hold the
    phantom's holes and islands."""
    import torch
    from torch import nn

    class BandNet(nn.Module):
        spatial_dims = 2

        def forward(self, x):
            hu = x[:, 0] * 500.0
            logits = torch.zeros((x.shape[0], 5, *x.shape[2:]), dtype=x.dtype, device=x.device)
            logits[:, 0] = 0.5
            for label, value in _BANDS:
                logits[:, label] = (abs(hu - value) < 5).to(x.dtype)
            return logits

    return BandNet()


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="session")
def labels_truth():
    return phantom_labels()


@pytest.fixture(scope="session")
def ct_dir(tmp_path_factory, labels_truth):
    """A 64x64x12 phantom CT as a DICOM series (files in reverse slice order)."""
    folder = tmp_path_factory.mktemp("dicom") / "Phantom_01"
    write_ct_series(phantom_ct(labels_truth), folder)
    return folder


@pytest.fixture(scope="session")
def band_package():
    from segthor.model_packages import ModelPackage

    return ModelPackage(
        band_net(),
        {
            "id": "band-net",
            "preprocessing": dict(RECIPE),
            "disclaimer": "demo weights, synthetic training data, not for clinical use",
        },
    )
