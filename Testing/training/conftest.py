"""Fixtures for the training tests: one tiny SegTHOR-format cohort per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from segthor.phantom import write_cohort


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """Four segthor.phantom cases at 48 px in-plane, in SegTHOR layout."""
    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, 4, 3, size=48)
    return out


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """One OpenMP thread (see `one_torch_thread` in Testing/conftest.py)."""
    yield
