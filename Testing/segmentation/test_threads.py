"""Thread-count choice from the run's own batches: several threads only when clearly faster, a fallback to one
when they stall, and no batch run twice."""

import time

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
            # A fixed time per batch: an instant one is all timer noise, and a loaded machine made a warm-up
            # look like a stall (the governor's fall-back), so the probe order depended on the machine's load.
            time.sleep(0.01)
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


class _Clock:
    """The inferers' clock, advanced by the fake net: a batch takes `SECONDS_PER_SLICE` per slice on one thread,
    half that on two (the two-core machine with both cores free)."""

    SECONDS_PER_SLICE = 0.01

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def _timed_net(clock: _Clock, calls: list[int], spatial_dims: int = 2) -> torch.nn.Module:
    class Net(torch.nn.Module):
        def forward(self, x):
            threads = torch.get_num_threads()
            calls.append(threads)
            clock.now += x.shape[0] * _Clock.SECONDS_PER_SLICE / threads
            return torch.zeros(x.shape[0], 5, *x.shape[2:])

    net = Net()
    net.spatial_dims = spatial_dims
    return net


@pytest.mark.parametrize(
    ("slices", "ran_with"),
    [
        (8, [1]),
        (16, [1, 2]),
        (24, [1, 2, 2]),
        (32, [1, 2, 2, 1]),
        (56, [1, 2, 2, 1, 2, 1, 2]),
        (60, [1, 2, 2, 1, 2, 1, 2, 2]),
    ],
    ids=["1-batch", "2-batches", "3-batches", "4-batches", "7-batches", "7-batches-and-a-short-one"],
)
def test_the_reported_thread_count_is_the_one_the_last_batch_ran_with(idle_machine, monkeypatch, slices, ran_with):
    # Found in review: a run of one batch ran it on one thread (the warm-up) and reported 2, the count set for a
    # next batch that never came; the case report's cpu_threads said 2.
    from segthor.inference import inferers

    clock, calls = _Clock(), []
    monkeypatch.setattr(inferers, "time", clock)
    torch.set_num_threads(2)
    _, threads = inferers.SliceInferer().run(
        _timed_net(clock, calls), torch.zeros(slices, 8, 8).numpy(), torch.device("cpu"), 8
    )
    assert calls == ran_with and threads == ran_with[-1]
    assert torch.get_num_threads() == 2


def test_the_thread_count_is_restored_when_the_network_fails(idle_machine):
    from segthor.errors import ModelError
    from segthor.inference.inferers import SliceInferer

    class Broken(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 3, *x.shape[2:])  # 3 classes, not 5

    torch.set_num_threads(2)
    with pytest.raises(ModelError):
        SliceInferer().run(Broken(), torch.zeros(16, 8, 8).numpy(), torch.device("cpu"), 8)
    assert torch.get_num_threads() == 2


def test_the_sliding_window_inferer_tunes_threads_on_its_windows(idle_machine, monkeypatch):
    # Found in review: the 3D inferer ran every window with torch's default count, so a core taken by another
    # program stalled it as it did the 2D one before the governor. Its windows (one size) are now the batches.
    from segthor.inference import inferers
    from segthor.model_packages.inferer_spec import SLIDING_WINDOW_3D, InfererSpec

    clock, calls = _Clock(), []
    monkeypatch.setattr(inferers, "time", clock)
    torch.set_num_threads(2)
    inferer = inferers.SlidingWindowInferer(InfererSpec(SLIDING_WINDOW_3D, (4, 8, 8), 0.0))
    labels, threads = inferer.run(_timed_net(clock, calls, 3), torch.zeros(4, 8, 56).numpy(), torch.device("cpu"))
    assert labels.shape == (4, 8, 56)
    assert calls == [1, 2, 2, 1, 2, 1, 2] and threads == 2  # 7 windows: the probe, then two threads kept
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("free", "tune", "expected"), [(2, True, 2), (1, True, 1), (1, False, 2)])
def test_a_single_3d_window_runs_with_the_free_cores(monkeypatch, free, tune, expected):
    # One call cannot be timed: the load average's count of free cores decides (torch's default less the cores
    # other programs hold), unless the caller keeps its own count (training: tune_threads False).
    from segthor.inference import inferers

    monkeypatch.setattr(thread_module, "free_cores", lambda: free)
    clock, calls = _Clock(), []
    monkeypatch.setattr(inferers, "time", clock)
    torch.set_num_threads(2)
    inferer = inferers.SlidingWindowInferer()
    _, threads = inferer.run(
        _timed_net(clock, calls, 3), torch.zeros(4, 8, 8).numpy(), torch.device("cpu"), 1, None, tune
    )
    assert calls == [expected] and threads == expected
    assert torch.get_num_threads() == 2
