"""Fixtures for the segmentation pipeline: small synthetic CTs and tiny model packages (no accuracy needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import the helpers by name (import mode is importlib, so add this folder explicitly).
sys.path.insert(0, str(Path(__file__).parent))

from segmentation_helpers import FAST2D, make_ct, threshold_net  # noqa: E402

from segthor.io.volume import Volume  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """One torch thread for these tiny inputs (see `one_torch_thread` in Testing/conftest.py)."""
    yield


@pytest.fixture(scope="session")
def threshold_package():
    from segthor.model_packages import ModelPackage

    return ModelPackage(
        threshold_net(), {"id": "threshold-test", "preprocessing": dict(FAST2D), "disclaimer": "test model"}
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A real model package on disk: a randomly initialised small ENet with the fast2d recipe."""
    import torch

    from segthor.model_packages import save_model_package
    from segthor.networks import build_network

    torch.manual_seed(0)
    net = build_network("enet", base_width=8)
    folder = tmp_path_factory.mktemp("models") / "tiny-enet"
    save_model_package(
        folder,
        net,
        {
            "id": "tiny-enet",
            "preprocessing": dict(FAST2D),
            "disclaimer": "demo weights, synthetic training data, not for clinical use",
        },
    )
    return folder


@pytest.fixture
def ct_volume() -> Volume:
    return make_ct()
