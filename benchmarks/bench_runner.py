"""Benchmark: a job in a child process vs on a Python thread while the main thread holds the GIL, as 3D
Slicer's main thread does while it waits in the Qt event loop.

The same pure-Python work (STEPS x ITERATIONS increments) runs in a child process (segthor.runner) and on a
Python thread (what the module did before), each twice, the main thread polling every `--tick` seconds:
  free   main thread sleeping between polls (time.sleep releases the GIL): the baseline of each
  held   main thread holding the GIL in C between polls (ctypes.PyDLL usleep), as Slicer's does
Target: the child's held/free ratio <= 1.2 (the child does not care); the thread's ratio shows what a
thread-based job loses.

    python benchmarks/bench_runner.py [--tick 0.1] [--iterations 10000000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
import threading
import time
from pathlib import Path

TARGET_HELD_VS_FREE = 1.2
STEPS = 10


def _work_code(iterations: int) -> str:
    per_step = iterations // STEPS
    return (
        "from segthor.runner.protocol import emit\n"
        f"n = 0\nfor step in range({STEPS}):\n    for _ in range({per_step}):\n        n += 1\n"
        f"    emit('progress', fraction=(step + 1) / {STEPS}, message='step')\n"
        "emit('done', result={})\n"
    )


def _wait(tick: float, hold_gil: bool, finished) -> float:
    libc = ctypes.PyDLL(None)
    t0 = time.perf_counter()
    while not finished():
        if hold_gil:
            libc.usleep(int(tick * 1e6))  # PyDLL: the GIL stays held during the call
        else:
            time.sleep(tick)
    return time.perf_counter() - t0


def run_child(iterations: int, tick: float, hold_gil: bool) -> float:
    from segthor.runner.process import DONE, ChildProcess, find_python

    with tempfile.TemporaryDirectory() as folder:
        child = ChildProcess([find_python(), "-c", _work_code(iterations)], Path(folder) / "log").start()
        seconds = _wait(tick, hold_gil, child.poll)
        assert child.state == DONE, child.error
    return seconds


def run_thread(iterations: int, tick: float, hold_gil: bool) -> float:
    per_step = iterations // STEPS

    def work() -> None:
        n = 0
        for _step in range(STEPS):
            for _ in range(per_step):
                n += 1

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    return _wait(tick, hold_gil, lambda: not worker.is_alive())


def main() -> int:
    if sys.platform == "win32":
        print("bench_runner: needs libc usleep through ctypes.PyDLL (POSIX)")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tick", type=float, default=0.1, help="seconds between polls (Slicer's timer: 0.1)")
    parser.add_argument("--iterations", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    best = {k: float("inf") for k in ("child free", "child held", "thread free", "thread held")}
    for _ in range(args.repeats):
        for hold in (False, True):
            mode = "held" if hold else "free"
            best[f"child {mode}"] = min(best[f"child {mode}"], run_child(args.iterations, args.tick, hold))
            best[f"thread {mode}"] = min(best[f"thread {mode}"], run_thread(args.iterations, args.tick, hold))
    for name, seconds in best.items():
        print(f"{name:>11}: {seconds:6.2f} s wall")
    child_ratio = best["child held"] / best["child free"]
    thread_ratio = best["thread held"] / best["thread free"]
    print(f"child  process, GIL held vs free: {child_ratio:.2f}x (target <= {TARGET_HELD_VS_FREE}x)")
    print(f"Python thread,  GIL held vs free: {thread_ratio:.2f}x")
    return 0 if child_ratio <= TARGET_HELD_VS_FREE else 1


if __name__ == "__main__":
    sys.exit(main())
