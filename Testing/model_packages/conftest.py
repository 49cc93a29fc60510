"""One torch thread for these tests: tiny tensors gain nothing from two, and on a busy 2-core machine two
OpenMP threads spinning against other processes made this area ~10x slower (38 s vs 4 s measured)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
