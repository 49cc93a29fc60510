"""Choosing the CPU thread count by measurement, on one slice, before the real work runs.

Two OpenMP threads on a 2-core machine are only faster when both cores are free: with one core busy
(another program, Slicer's own rendering) every operation waits at the threads' barrier, and ENet ran
15-50x slower than with one thread (5 ms vs 80-290 ms per 145x172 slice, docs/benchmarks.md). So one slice
is run alternately with torch's default thread count and with one thread, and the faster count is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

ROUNDS = 2  # timed runs per candidate (the minimum counts), after one warm-up run


def choose_threads(run_once: Callable[[], Any], device: Any) -> int:
    """The faster of torch's default thread count and 1 for `run_once` (a forward pass on one slice).

    CUDA (or a single default thread) keeps the default. Leaves torch set to the chosen count.
    """
    import torch

    default = torch.get_num_threads()
    if getattr(device, "type", str(device)) != "cpu" or default <= 1:
        return default
    torch.set_num_threads(1)
    run_once()  # warm-up: kernels for this shape, at the cheap setting
    best = {default: float("inf"), 1: float("inf")}
    for _ in range(ROUNDS):
        for threads in (default, 1):
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            run_once()
            best[threads] = min(best[threads], time.perf_counter() - t0)
    chosen = min(best, key=best.get)
    torch.set_num_threads(chosen)
    return chosen
