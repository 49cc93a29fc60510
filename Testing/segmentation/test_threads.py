"""Thread-count choice from the run's own batches: several threads only when clearly faster, a fallback to one
when they stall, and no batch run twice."""

import pytest
import torch

from segthor.inference import threads as thread_module
from segthor.inference.threads import ThreadGovernor, free_cores


@pytest.fixture
def idle_machine(monkeypatch):
    monkeypatch.setattr(thread_module, "free_cores", lambda: 2)


def _run(governor: ThreadGovernor, two: float, one: float, batches: int = 8, slices: int = 8) -> list[int]:
    """Feed `batches` batches whose time per slice is `two` with several threads and `one` with one; the thread
    count each batch ran with."""
    seen = []
    for _ in range(batches):
        seen.append(torch.get_num_threads())
        governor.observe(two if torch.get_num_threads() > 1 else one, slices)
    return seen


@pytest.mark.parametrize(
    ("two", "one", "expected"),
    [(0.02, 0.002, 1), (0.002, 0.02, 2), (0.009, 0.01, 1)],  # the last: 2 threads not clearly faster
    ids=["one-faster", "two-faster", "two-marginally-faster"],
)
def test_probe_keeps_several_threads_only_when_clearly_faster(idle_machine, two, one, expected):
    torch.set_num_threads(2)  # the autouse fixture restores the previous count
    governor = ThreadGovernor(torch.device("cpu"))
    seen = _run(governor, two, one)
    assert governor.threads == expected and torch.get_num_threads() == expected
    assert seen[0] == 1  # the warm-up batch, at one thread
    assert seen[-1] == expected  # the choice holds after the probe
    governor.restore()
    assert torch.get_num_threads() == 2


def test_probe_stops_as_soon_as_several_threads_are_slower(idle_machine):
    torch.set_num_threads(2)
    governor = ThreadGovernor(torch.device("cpu"))
    # Warm-up at 1 and at 2 threads (untimed), then 2 threads, 1 thread: slower with 2, so the probe ends there
    # and one thread holds.
    assert _run(governor, 0.02, 0.01, batches=7) == [1, 2, 2, 1, 1, 1, 1]


def test_threads_stalling_while_they_start_end_the_probe(idle_machine):
    torch.set_num_threads(2)
    governor = ThreadGovernor(torch.device("cpu"))
    governor.observe(0.01, 8)  # warm-up, one thread
    governor.observe(0.2, 8)  # two threads' first batch, 20x slower: another program holds a core
    assert governor.threads == 1 and governor.fell_back
    assert _run(governor, 0.002, 0.01, batches=4) == [1] * 4


def test_a_short_last_batch_is_not_timed_against_full_ones(idle_machine):
    torch.set_num_threads(2)
    governor = ThreadGovernor(torch.device("cpu"))
    governor.observe(0.05, 8)  # warm-up
    governor.observe(0.05, 8)  # 2 threads' first batch, untimed
    governor.observe(0.01, 8)  # 2 threads
    governor.observe(0.001, 2)  # 1 thread, but a 2-slice tail: its time per slice is not comparable
    governor.observe(0.01, 8)  # 2 threads
    governor.observe(0.02, 8)  # 1 thread
    assert governor.threads == 2


def test_stalling_batches_fall_back_to_one_thread(idle_machine):
    torch.set_num_threads(2)
    governor = ThreadGovernor(torch.device("cpu"))
    _run(governor, 0.002, 0.02)
    assert governor.threads == 2
    governor.observe(0.03, 8)  # within 3x of one thread: keep
    assert governor.threads == 2
    governor.observe(0.5, 8)  # another program took a core: the barrier stalls every op
    assert governor.threads == 1 and governor.fell_back and torch.get_num_threads() == 1


def test_gpu_and_single_thread_keep_the_default():
    torch.set_num_threads(2)
    gpu = ThreadGovernor(torch.device("cuda"))
    assert _run(gpu, 0.02, 0.002) == [2] * 8 and gpu.threads == 2
    torch.set_num_threads(1)
    single = ThreadGovernor(torch.device("cpu"))
    assert _run(single, 0.002, 0.02) == [1] * 8 and single.threads == 1


def test_busy_machine_skips_the_probe(monkeypatch):
    monkeypatch.setattr(thread_module, "free_cores", lambda: 1)
    torch.set_num_threads(2)
    governor = ThreadGovernor(torch.device("cpu"))
    assert _run(governor, 0.002, 0.02) == [1] * 8 and governor.threads == 1


def test_the_slice_inferer_probes_with_its_own_batches(idle_machine, monkeypatch):
    # Found on this 2-core machine: a probe on one 160 x 200 slice measured 2 threads at 0.93x one thread, the
    # run's batches of 8 at 1.39x; the governor now times the batches themselves and runs each only once.
    from segthor.inference.inferers import SliceInferer

    calls: list[tuple[int, int]] = []

    class Net(torch.nn.Module):
        spatial_dims = 2

        def forward(self, x):
            calls.append((x.shape[0], torch.get_num_threads()))
            return torch.zeros(x.shape[0], 5, *x.shape[2:])

    torch.set_num_threads(2)
    labels, threads = SliceInferer().run(Net(), torch.zeros(40, 16, 16).numpy(), torch.device("cpu"), 8)
    assert labels.shape == (40, 16, 16)
    assert sum(n for n, _ in calls) == 40  # every slice once: no separate probe input
    assert [t for _, t in calls[:4]] == [1, 2, 2, 1]  # warm-ups at 1 and 2 threads, then both counts timed
    assert torch.get_num_threads() == 2  # restored after the run


def test_free_cores_reads_the_load_average(monkeypatch):
    monkeypatch.setattr(thread_module.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(thread_module.os, "getloadavg", lambda: (1.0, 0.0, 0.0))  # only this process
    assert free_cores() == 4
    monkeypatch.setattr(thread_module.os, "getloadavg", lambda: (3.6, 0.0, 0.0))
    assert free_cores() == 1
