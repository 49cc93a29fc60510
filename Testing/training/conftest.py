"""Fixtures for the training tests: one tiny SegTHOR-format cohort per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cohort import write_tiny_cohort  # noqa: E402


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    return write_tiny_cohort(tmp_path_factory.mktemp("cohort"), cases=4, size=48, slices=12, seed=3)


# Tiny networks so a step takes milliseconds on a 2-core CPU.
TINY_ENET = ["arguments.base_width=8"]


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """One OpenMP thread (see `one_torch_thread` in Testing/conftest.py)."""
    yield
