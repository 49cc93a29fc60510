"""Progress reporting and cancellation shared by every long step.

A `Progress` maps a step's own 0..1 progress onto a slice of the overall bar, and checks a cancel flag
each time it reports, so any step that reports progress is also a cancellation point.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from segthor.errors import CancelledError

ProgressCallback = Callable[[float, str], None]


class CancelToken:
    """A thread-safe flag: the GUI thread calls `cancel()`, the worker sees it at its next check."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise CancelledError("segmentation cancelled by the user; the scene and output folder are unchanged")


class Progress:
    """Reports fraction + message to a callback, scaled into [start, end] of the overall run."""

    def __init__(
        self,
        callback: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        start: float = 0.0,
        end: float = 1.0,
    ) -> None:
        self.callback = callback
        self.cancel = cancel or CancelToken()
        self.start = start
        self.end = end

    def report(self, fraction: float, message: str) -> None:
        self.cancel.check()
        if self.callback is not None:
            fraction = min(max(fraction, 0.0), 1.0)
            self.callback(self.start + (self.end - self.start) * fraction, message)
        # A callback may cancel (e.g. a test, or a GUI event processed inside it); honour it at once.
        self.cancel.check()

    def sub(self, start: float, end: float) -> Progress:
        """A child progress covering [start, end] of this one."""
        span = self.end - self.start
        return Progress(self.callback, self.cancel, self.start + span * start, self.start + span * end)


class StageTimer:
    """Wall-clock seconds per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def rounded(self, ndigits: int = 3) -> dict[str, float]:
        return {k: round(v, ndigits) for k, v in self.seconds.items()}
