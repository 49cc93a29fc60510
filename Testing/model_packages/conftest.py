"""Every test in this area runs with one torch thread (see `one_torch_thread` in Testing/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield
