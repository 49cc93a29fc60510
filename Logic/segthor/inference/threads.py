"""Choosing the CPU thread count by measurement, and dropping to one thread when extra threads only wait.

Two OpenMP threads on a 2-core machine are only faster when both cores stay free: when another program
takes a core, every operation waits at the threads' barrier, and ENet ran 15-50x slower than with one thread
(7.5 ms vs 80-3600 ms per 145x172 slice, docs/benchmarks.md), while two threads gain at most 2x. Given that
asymmetry, `ThreadGovernor` first estimates the free cores from the load average (no probe at all when
none is spare), then probes one slice with that many threads and with one thread (stopping at the first
sign that several threads are slower), keeps several threads only when clearly faster, and falls back to
one thread for good as soon as a batch runs far slower than the one-thread probe promised.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

ROUNDS = 2  # timed probe runs per candidate (the minimum counts), after one warm-up run
MIN_GAIN = 1.3  # several threads must beat one thread by this factor to be kept
FALLBACK_FACTOR = 3.0  # a batch this much slower per slice than the one-thread probe triggers the fallback


def free_cores() -> int:
    """CPUs not busy with other programs, from the 1-minute load average (which counts this process)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except OSError:
        return cpus
    return max(1, math.floor(cpus - others + 0.25))


class ThreadGovernor:
    """Sets torch's thread count for a run of batches; `restore()` puts the previous count back."""

    def __init__(self, run_once: Callable[[], Any], device: Any) -> None:
        import torch

        self.default = torch.get_num_threads()
        self.threads = self.default
        self.one_thread_seconds: float | None = None
        self.fell_back = False
        if getattr(device, "type", str(device)) != "cpu" or self.default <= 1:
            return
        candidate = min(self.default, free_cores())
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        run_once()  # warm-up: kernels for this shape, at the cheap setting (an upper bound of its time)
        best = {candidate: float("inf"), 1: time.perf_counter() - t0}
        if candidate > 1:
            for _ in range(ROUNDS):
                for threads in (candidate, 1):
                    torch.set_num_threads(threads)
                    t0 = time.perf_counter()
                    run_once()
                    best[threads] = min(best[threads], time.perf_counter() - t0)
                if best[candidate] >= best[1]:
                    break  # already slower than one thread: stop paying for the probe
        self.one_thread_seconds = best[1]
        self.threads = candidate if best[candidate] * MIN_GAIN < best[1] else 1
        torch.set_num_threads(self.threads)

    def observe(self, seconds_per_slice: float) -> None:
        """Report a batch's time per slice; switch to one thread when several threads are stalling."""
        import torch

        stalling = self.one_thread_seconds is not None and (
            seconds_per_slice > FALLBACK_FACTOR * self.one_thread_seconds
        )
        if self.threads > 1 and stalling:
            self.threads, self.fell_back = 1, True
            torch.set_num_threads(1)

    def restore(self) -> None:
        import torch

        torch.set_num_threads(self.default)
