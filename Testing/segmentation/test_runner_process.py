"""segthor.runner: a child process polled without blocking, under Slicer's condition (the main thread holding
the GIL between polls), cancelled by ending it, failing with one-line messages."""

from __future__ import annotations

import ctypes
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from segthor.runner.process import CANCELLED, DONE, FAILED, ChildProcess, find_python
from segthor.runner.protocol import format_message, parse_line

STEPS = 10
ITERATIONS_PER_STEP = 600_000  # pure-Python work: about 0.5-1 s in all on a lightly loaded core

WORK = textwrap.dedent(f"""
    import time
    from segthor.runner.protocol import emit
    t0 = time.perf_counter()
    n = 0
    for step in range({STEPS}):
        for _ in range({ITERATIONS_PER_STEP}):
            n += 1
        emit("progress", fraction=(step + 1) / {STEPS}, message=f"step {{step + 1}}")
    emit("done", result={{"seconds": time.perf_counter() - t0}})
""")


def _child(tmp_path, code: str) -> ChildProcess:
    return ChildProcess([find_python(), "-c", code], tmp_path / "child.log")


def _hold_gil(seconds: float) -> None:
    """Block in C without releasing the GIL, as Slicer's main thread does while it waits in Qt's event loop."""
    _LIBC.usleep(int(seconds * 1e6))


_LIBC = ctypes.PyDLL(None) if sys.platform != "win32" else None  # PyDLL: calls keep the GIL


needs_usleep = pytest.mark.skipif(sys.platform == "win32", reason="libc usleep through ctypes.PyDLL (POSIX)")


@needs_usleep
def test_child_finishes_while_the_main_thread_holds_the_gil_but_a_thread_starves(tmp_path):
    child = _child(tmp_path, WORK).start()
    t0 = time.perf_counter()
    fractions = []
    while not child.poll():
        fractions.append(child.fraction)
        _hold_gil(0.25)  # the time between two timer ticks, spent in C with the GIL held
    wall = time.perf_counter() - t0
    assert child.state == DONE, child.error
    work_seconds = child.result["seconds"]
    assert fractions == sorted(fractions) and child.fraction == 1.0
    # The child did all its work within the wall time (its own timing; the full-speed ratio against a free
    # main thread is measured by benchmarks/bench_runner.py: 1.05x).
    assert work_seconds <= wall

    # The same work on a Python thread, given the same wall time under the same condition, barely moves.
    done_steps = []

    def work():
        n = 0
        for step in range(STEPS):
            for _ in range(ITERATIONS_PER_STEP):
                n += 1
            done_steps.append(step)

    worker = threading.Thread(target=work, daemon=True)
    t0 = time.perf_counter()
    worker.start()
    while time.perf_counter() - t0 < max(wall, 2 * work_seconds):
        _hold_gil(0.25)
    thread_fraction = len(done_steps) / STEPS
    worker.join()
    print(
        f"child: {work_seconds:.2f} s of work done in {wall:.2f} s wall; thread: {thread_fraction:.0%} done "
        "in the same time"
    )
    assert thread_fraction <= 0.5


def test_cancel_ends_a_running_child_within_a_second(tmp_path):
    code = (
        "import time\nfrom segthor.runner.protocol import emit\nemit('progress', fraction=0.1, message='busy')\n"
        "time.sleep(60)\n"
    )
    child = _child(tmp_path, code).start()
    while child.fraction < 0.1:
        child.poll()
        time.sleep(0.01)
    t0 = time.perf_counter()
    child.cancel()
    assert time.perf_counter() - t0 < 1.0
    assert child.state == CANCELLED and child.poll() is True


def test_cancel_kills_a_child_that_ignores_terminate(tmp_path):
    code = (
        "import signal, time\nfrom segthor.runner.protocol import emit\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nemit('progress', fraction=0.2, message='stubborn')\n"
        "time.sleep(60)\n"
    )
    child = _child(tmp_path, code).start()
    while child.fraction < 0.2:
        child.poll()
        time.sleep(0.01)
    t0 = time.perf_counter()
    child.cancel()
    assert time.perf_counter() - t0 < 1.0
    assert child.state == CANCELLED


def test_errors_come_back_as_one_line_and_noise_is_ignored(tmp_path):
    code = (
        "from segthor.runner.protocol import emit\nprint('a library prints this')\n"
        "print('@segthor {not json')\nemit('progress', fraction=0.5, message='half\\nway')\n"
        "emit('error', message='the CT is empty; give a CT with\\nvoxels')\nraise SystemExit(2)\n"
    )
    child = _child(tmp_path, code).start()
    assert child.wait(30)
    assert child.state == FAILED and child.returncode == 2
    assert child.error == "the CT is empty; give a CT with voxels"
    assert child.message == "half way" and child.fraction == 0.5


def test_a_child_dying_without_a_message_reports_its_exit_code_and_last_stderr_line(tmp_path):
    child = _child(tmp_path, "import sys\nsys.stderr.write('Traceback...\\nMemoryError: boom\\n')\nsys.exit(3)\n")
    assert child.start().wait(30)
    assert child.state == FAILED
    assert "exit code 3" in child.error and "MemoryError: boom" in child.error and "\n" not in child.error


def test_a_child_that_exits_cleanly_without_a_result_is_a_failure(tmp_path):
    child = _child(tmp_path, "pass").start()
    assert child.wait(30) and child.state == FAILED


def test_protocol_round_trip_and_rejects():
    line = format_message("progress", fraction=0.25, message="héllo")
    assert line.isascii()
    assert parse_line(line + "\r\n") == {"kind": "progress", "fraction": 0.25, "message": "héllo"}
    assert parse_line("progress 0.5") is None and parse_line('@segthor {"kind": "other"}') is None
    with pytest.raises(ValueError):
        format_message("unknown")


def test_find_python_prefers_an_explicit_interpreter_then_slicers_launcher(tmp_path, monkeypatch):
    assert find_python("/opt/custom/python") == "/opt/custom/python"
    monkeypatch.delitem(sys.modules, "slicer", raising=False)
    assert find_python() == sys.executable  # plain Python: this interpreter
    launcher = tmp_path / "PythonSlicer"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "slicer", object())
    assert find_python() == str(launcher)  # inside Slicer: PythonSlicer from Slicer's PATH


def test_the_segment_child_reports_a_bad_input_as_one_error_line(tmp_path, capsys):
    from segthor.runner.segment_child import main

    assert main(["--input", str(tmp_path / "missing.nrrd"), "--output-dir", str(tmp_path / "out")]) == 2
    messages = [parse_line(line) for line in capsys.readouterr().out.splitlines()]
    errors = [m for m in messages if m and m["kind"] == "error"]
    assert len(errors) == 1 and errors[0]["type"] == "InputError" and "missing.nrrd" in errors[0]["message"]
    assert not (tmp_path / "out" / "result.json").exists()


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cancel_also_ends_what_the_child_started(tmp_path):
    # PythonSlicer is a launcher: the interpreter doing the work is the child's own child.
    code = (
        "import subprocess, sys, time\nfrom segthor.runner.protocol import emit\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "emit('progress', fraction=0.3, message=str(p.pid))\ntime.sleep(60)\n"
    )
    child = _child(tmp_path, code).start()
    while child.fraction < 0.3:
        child.poll()
        time.sleep(0.01)
    grandchild = int(child.message)
    assert _alive(grandchild)
    t0 = time.perf_counter()
    child.cancel()
    assert time.perf_counter() - t0 < 1.0
    deadline = time.monotonic() + 2
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(grandchild)
