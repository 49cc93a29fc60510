"""Shared pytest fixtures: a real headless Slicer MRML scene, the ../shared fixtures, temporary outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def slicer_env():
    """One headless Slicer (slicer-core) environment for the test session: scene + module logics."""
    from segthor.mrml.headless import HeadlessSlicer

    return HeadlessSlicer()


@pytest.fixture
def mrml_scene(slicer_env):
    """A clean MRML scene for one test; `slicer.util` works on it."""
    slicer_env.activate()
    slicer_env.clear()
    yield slicer_env.scene
    slicer_env.clear()


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """../shared/data beside the checkout; tests that use it skip cleanly in a user's clone without it."""
    data = SHARED_DIR / "data"
    if not data.is_dir():
        pytest.skip("../shared/data is not present (only developers' checkouts have it)")
    return data


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread, then restore the count.

    Tiny tensors gain nothing from two threads, and on a busy 2-core machine two OpenMP threads spinning
    against other processes made the network tests ~10x slower (38 s vs 4 s measured). Areas opt in with an
    autouse fixture in their own conftest.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
