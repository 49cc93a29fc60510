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
def one_torch_thread():
    """One OpenMP thread: on a busy 2-core machine two threads can be many times slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
