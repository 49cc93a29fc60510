"""Choosing the CPU thread count by measurement on the run's own batches, and dropping to one thread when extra
threads only wait.

Two OpenMP threads on a 2-core machine are only faster when both cores stay free: when another program
takes a core, every operation waits at the threads' barrier, and ENet ran 15-50x slower than with one thread
(7.5 ms vs 80-3600 ms per 145x172 slice, docs/benchmarks.md), while two threads gain at most 2x. Given that
asymmetry, `ThreadGovernor` first estimates the free cores from the load average (no probe at all when
none is spare), then times the run's first batches alternately with that many threads and with one thread
(stopping at the first sign that several threads are slower), keeps several threads only when clearly
faster, and falls back to one thread for good as soon as a batch runs far slower than one thread did.

The probe is the run's own batches, not a separate input: how much threads gain depends on the work per call
(ENet on one 160 x 200 slice: 0.93x with 2 threads; on a batch of 8: 1.39x), so a one-slice probe kept one
thread where the batches would have run 1.4x faster with two; and no batch is computed twice.
"""

from __future__ import annotations

import math
import os

ROUNDS = 2  # probe batches per candidate (the fastest counts), after one warm-up batch at one thread
MIN_GAIN = 1.2  # several threads must beat one thread by this factor to be kept
FALLBACK_FACTOR = 3.0  # a batch this much slower per slice than one thread was triggers the fallback


def free_cores() -> int:
    """CPUs not busy with other programs, from the 1-minute load average (which counts this process)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:
        return cpus
    return max(1, math.floor(cpus - others + 0.25))


class ThreadGovernor:
    """Sets torch's thread count batch by batch for one run; `restore()` puts the previous count back.

    Call `observe(seconds_per_slice, slices)` after each batch: the first batches are the probe (a warm-up at one
    thread, whose time includes the kernels' first calls, and one at the candidate count, which also starts its
    thread pool, both untimed; then the candidate count and one thread alternately, `ROUNDS` times each); then
    the choice holds, with the fallback to one thread. `threads` is the count in force. On a GPU, or when
    torch already runs one thread, nothing changes.
    """

    def __init__(self, device: object) -> None:
        import torch

        self.default = torch.get_num_threads()
        self.threads = self.default
        self.one_thread_seconds: float | None = None
        self.fell_back = False
        self._plan: list[tuple[int, bool]] = []
        self._best: dict[int, float] = {}
        self._warm = False
        self._slices = 0  # a probe batch's size: a shorter (last) batch is not timed against it
        self._active = getattr(device, "type", str(device)) == "cpu" and self.default > 1
        if not self._active:
            return
        self._candidate = min(self.default, free_cores())
        # (threads, timed): the first batch at several threads also starts their pool, so it is not timed either
        self._plan = [(self._candidate, False)] + [(self._candidate, True), (1, True)] * ROUNDS
        if self._candidate <= 1:
            self._plan = []
        self._set(1)  # the warm-up batch

    def _set(self, threads: int) -> None:
        import torch

        self.threads = threads
        torch.set_num_threads(threads)

    def observe(self, seconds_per_slice: float, slices: int = 1) -> None:
        """Report the batch just run (its time per slice and its number of slices) and set the count for the
        next one."""
        if not self._active:
            return  # GPU or single thread: nothing to choose
        if not self._warm:
            self._warm, self._slices = True, slices
            self.one_thread_seconds = seconds_per_slice  # an upper bound until a warm one-thread batch is timed
            if self._plan:
                self._set(self._plan[0][0])
            return
        if self._plan:
            threads, timed = self._plan.pop(0)
            if timed and slices >= self._slices:
                self._best[threads] = min(self._best.get(threads, math.inf), seconds_per_slice)
            one, several = self._best.get(1), self._best.get(self._candidate)
            if one is not None and several is not None and several >= one:
                self._plan = []  # already slower than one thread: stop probing
            if not timed and seconds_per_slice > FALLBACK_FACTOR * (self.one_thread_seconds or math.inf):
                self._plan, self.fell_back = [], True  # stalling already while starting the threads
            if self._plan:
                self._set(self._plan[0][0])
                return
            if one is not None:
                self.one_thread_seconds = one
            keep = one is not None and several is not None and several * MIN_GAIN < one
            self._set(self._candidate if keep else 1)
            return
        stalling = self.one_thread_seconds is not None and (
            seconds_per_slice > FALLBACK_FACTOR * self.one_thread_seconds
        )
        if self.threads > 1 and stalling:
            self.fell_back = True
            self._set(1)

    def one_call(self) -> None:
        """The run is a single network call (a 3D net whose window holds the whole volume): nothing can be timed,
        so it runs with the candidate count, the free cores the load average shows (torch's default count less
        the cores other programs hold), and no probe follows."""
        if self._active:
            self._plan = []
            self._set(self._candidate)

    def restore(self) -> None:
        import torch

        torch.set_num_threads(self.default)
