"""Thread-count choice: several threads only when clearly faster, and a fallback to one when they stall."""

import time

import pytest
import torch

from segthor.inference import threads as thread_module
from segthor.inference.threads import ThreadGovernor, free_cores


@pytest.fixture
def idle_machine(monkeypatch):
    monkeypatch.setattr(thread_module, "free_cores", lambda: 2)


def _sleeper(two_threads: float, one_thread: float):
    def run_once():
        time.sleep(two_threads if torch.get_num_threads() > 1 else one_thread)

    return run_once


@pytest.mark.parametrize(
    ("two", "one", "expected"),
    [(0.02, 0.002, 1), (0.002, 0.02, 2), (0.008, 0.01, 1)],  # the last: 2 threads not clearly faster
    ids=["one-faster", "two-faster", "two-marginally-faster"],
)
def test_probe_keeps_several_threads_only_when_clearly_faster(idle_machine, two, one, expected):
    torch.set_num_threads(2)  # the autouse fixture restores the previous count
    governor = ThreadGovernor(_sleeper(two, one), torch.device("cpu"))
    assert governor.threads == expected and torch.get_num_threads() == expected
    governor.restore()
    assert torch.get_num_threads() == 2


def test_stalling_batches_fall_back_to_one_thread(idle_machine):
    torch.set_num_threads(2)
    governor = ThreadGovernor(_sleeper(0.002, 0.02), torch.device("cpu"))
    assert governor.threads == 2
    governor.observe(0.03)  # within 3x of the one-thread probe: keep
    assert governor.threads == 2
    governor.observe(0.5)  # another program took a core: the barrier stalls every op
    assert governor.threads == 1 and governor.fell_back and torch.get_num_threads() == 1


def test_gpu_and_single_thread_keep_the_default():
    torch.set_num_threads(2)
    calls = []
    assert ThreadGovernor(lambda: calls.append(1), torch.device("cuda")).threads == 2
    torch.set_num_threads(1)
    assert ThreadGovernor(lambda: calls.append(1), torch.device("cpu")).threads == 1
    assert calls == []


def test_busy_machine_skips_the_probe(monkeypatch):
    monkeypatch.setattr(thread_module, "free_cores", lambda: 1)
    torch.set_num_threads(2)
    seen = []
    governor = ThreadGovernor(lambda: seen.append(torch.get_num_threads()), torch.device("cpu"))
    assert governor.threads == 1 and seen == [1]  # only the one-thread warm-up ran


def test_free_cores_reads_the_load_average(monkeypatch):
    monkeypatch.setattr(thread_module.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(thread_module.os, "getloadavg", lambda: (1.0, 0.0, 0.0))  # only this process
    assert free_cores() == 4
    monkeypatch.setattr(thread_module.os, "getloadavg", lambda: (3.6, 0.0, 0.0))
    assert free_cores() == 1
