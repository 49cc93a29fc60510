"""A child process that is polled without blocking, reports progress as protocol lines and is cancelled by
ending it.

The parent never waits on the child: `poll()` reads whatever bytes the pipe holds (non-blocking reads) and
returns at once, so a GUI can call it from a timer on its main thread. The child's stderr goes to a log file
in the job folder, so a chatty child can never fill a pipe and stall; the last lines of that log explain a
child that died without an error message.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segthor.runner.protocol import one_line, parse_line

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
TERMINATE_GRACE_S = 0.5  # after terminate(), kill() if the child has not ended within this many seconds


def find_python(explicit: str | os.PathLike[str] | None = None) -> str:
    """The interpreter for child processes.

    `explicit` when given; inside 3D Slicer its `PythonSlicer` launcher (on PATH in Slicer's environment, or
    beside `sys.executable`), which sets up Slicer's libraries and site-packages; else `sys.executable`.
    Source of the PythonSlicer lookup: `slicer.util._executePythonModule` in Slicer's Base/Python/slicer/util.py.
    """
    if explicit:
        return str(explicit)
    if "slicer" in sys.modules:  # only Slicer's own interpreters need the launcher
        found = shutil.which("PythonSlicer")
        if found:
            return found
        sibling = Path(sys.executable).with_name("PythonSlicer" + (".exe" if os.name == "nt" else ""))
        if sibling.is_file():
            return str(sibling)
    return sys.executable


def package_root() -> str:
    """The folder that holds the `segthor` package (prepended to the child's PYTHONPATH)."""
    return str(Path(__file__).resolve().parents[2])


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with `segthor` importable, unbuffered UTF-8 output, and `extra` on top."""
    env = dict(os.environ)
    paths = [package_root()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


class ChildProcess:
    """`argv` run as a child whose stdout speaks `segthor.runner.protocol`.

    Attributes updated by `poll()`: `fraction` (0..1), `message`, `state` (running/done/failed/cancelled),
    `result` (the "done" message's result object), `error` (one line, when failed).
    """

    def __init__(
        self,
        argv: Sequence[str],
        log_path: str | os.PathLike[str],
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = env if env is not None else child_environment()
        self.cwd = cwd
        self.fraction = 0.0
        self.message = "starting"
        self.state = RUNNING
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.returncode: int | None = None
        self._proc: subprocess.Popen | None = None
        self._log: Any = None
        self._buffer = b""
        self._eof = False
        self._lines: queue.Queue[bytes] | None = None  # only when the pipe cannot be made non-blocking
        self._reader: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> ChildProcess:
        """Launch the child; raises OSError when the interpreter cannot be started."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in _close when the child has ended)
        flags = subprocess.CREATE_NO_WINDOW if os.name == "nt" else 0  # no console window pops up on Windows
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=self.env,
                cwd=self.cwd,
                creationflags=flags,
                # Its own process group, so cancel() also ends what the child started: PythonSlicer is a
                # launcher that runs the real interpreter as its own child.
                start_new_session=os.name != "nt",
            )
        except OSError:
            self._log.close()
            raise
        try:
            os.set_blocking(self._proc.stdout.fileno(), False)
        except (AttributeError, OSError):  # Windows pipes before Python 3.12: a reader thread instead
            self._lines = queue.Queue()
            self._reader = threading.Thread(target=self._read_lines, name="segthor-child-reader", daemon=True)
            self._reader.start()
        return self

    def _read_lines(self) -> None:
        assert self._proc is not None and self._lines is not None
        for line in iter(self._proc.stdout.readline, b""):
            self._lines.put(line)
        self._lines.put(b"")

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def poll(self) -> bool:
        """Read the output available now (never blocks); True once the child has ended and all is read."""
        if self.state != RUNNING or self._proc is None:
            return self.state != RUNNING
        self._read_available()
        returncode = self._proc.poll()
        if returncode is None:
            return False
        if self._reader is not None:
            self._reader.join(1.0)  # the reader thread queues the child's last lines
        self._read_available()  # what the child wrote just before it ended
        self._finish(returncode)
        return True

    def wait(self, timeout: float | None = None, interval: float = 0.02) -> bool:
        """Poll until the child ends or `timeout` seconds pass; True when it has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def cancel(self, grace: float = TERMINATE_GRACE_S) -> None:
        """End the child and what it started: terminate, then kill after `grace` seconds. Returns once the
        child has ended."""
        if self._proc is None or self.state != RUNNING:
            return
        if self._proc.poll() is None:
            self._signal_tree(kill=False)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(grace)
        self._signal_tree(kill=True)  # whatever is left of the tree, the child's own children included
        self._proc.wait()
        self.returncode = self._proc.returncode
        self.state = CANCELLED
        self.message = "cancelled"
        self._close()

    def _signal_tree(self, kill: bool) -> None:
        """Terminate (or kill) the child and the processes it started."""
        assert self._proc is not None
        if os.name == "nt":
            # No SIGTERM there; end the whole tree at once (/T: PythonSlicer.exe and the interpreter it
            # launched; a tree is only found while its root runs, hence before the plain kill).
            if self._proc.poll() is None:
                subprocess.run(
                    ["taskkill", "/F", "/T", "/PID", str(self._proc.pid)],
                    capture_output=True,
                    creationflags=subprocess.CREATE_NO_WINDOW,
                    check=False,
                )
            with contextlib.suppress(OSError):
                self._proc.kill()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL if kill else signal.SIGTERM)

    # -- output ----------------------------------------------------------------------------------------

    def _read_available(self) -> None:
        assert self._proc is not None
        if self._lines is not None:
            while not self._eof:
                try:
                    line = self._lines.get_nowait()
                except queue.Empty:
                    return
                if not line:
                    self._eof = True
                    return
                self._handle(line)
        fd = self._proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return  # nothing more for now
            if not chunk:
                self._eof = True
                break
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                self._handle(line)
        if self._eof and self._buffer:  # a last line without a newline
            self._handle(self._buffer)
            self._buffer = b""

    def _handle(self, raw: bytes) -> None:
        message = parse_line(raw.decode("utf-8", errors="replace"))
        if message is None:
            return
        kind = message["kind"]
        if kind == "progress":
            with contextlib.suppress(TypeError, ValueError):  # a malformed fraction keeps the last one
                self.fraction = min(max(float(message.get("fraction", self.fraction)), 0.0), 1.0)
            self.message = one_line(message.get("message", self.message))
        elif kind == "error":
            self.error = one_line(message.get("message") or "the segmentation process failed")
        elif kind == "done":
            result = message.get("result")
            self.result = result if isinstance(result, dict) else {}

    def _finish(self, returncode: int) -> None:
        self.returncode = returncode
        if returncode == 0 and self.result is not None and self.error is None:
            self.state, self.fraction = DONE, 1.0
        else:
            self.state = FAILED
            if self.error is None:
                self.error = f"the segmentation process ended with exit code {returncode}" + (
                    f": {self.log_tail()}" if self.log_tail() else " without a message"
                )
        self._close()

    def log_tail(self, lines: int = 1) -> str:
        """The last non-empty line(s) of the child's stderr log, on one line."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        return one_line(" | ".join(tail))

    def _close(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
