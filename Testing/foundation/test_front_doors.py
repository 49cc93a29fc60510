"""The CLI and the Python API as front doors: every subcommand has an API function taking its options, a closed
pipe ends quietly, help for every option, progress on a terminal only, and CLI wording in CLI errors."""

from __future__ import annotations

import inspect
import io
import subprocess
import sys

import pytest

import segthor.api as api
from segthor.cli.main import EXIT_BROKEN_PIPE, SUBCOMMANDS, build_parser, main

# CLI options that are about the terminal, not the work, and so have no API parameter.
TERMINAL_ONLY = {"quiet", "no_progress", "rest"}
# The same option under the API's name.
API_NAMES = {
    ("models", "json"): None,
    ("batch", "quiet"): "show_progress",
    ("segment", "quiet"): "progress",
    ("train", "no_progress"): "progress",
}


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_an_api_function_with_its_options(command):
    function = getattr(api, command, None)
    assert callable(function), f"segthor.api has no {command}() for `segthor {command}`"
    parameters = set(inspect.signature(function).parameters)
    from segthor.metrics.registry import parameters as metric_parameters

    # metric parameters (--nsd-tolerance) reach the API through its one `metric_options` mapping
    metric_names = {p.name for p in metric_parameters()} if "metric_options" in parameters else set()
    for action in _subparsers()[command]._actions:
        if action.dest in metric_names:
            continue
        if action.dest in ("help",) or action.dest in TERMINAL_ONLY and (command, action.dest) not in API_NAMES:
            continue
        name = API_NAMES.get((command, action.dest), action.dest)
        if name is None:
            continue
        assert name in parameters, f"segthor.api.{command}() lacks the CLI option {action.dest!r}"


def test_every_option_has_help():
    for command, sub in _subparsers().items():
        for action in sub._actions:
            if action.dest != "rest":
                assert action.help, f"`segthor {command}` option {action.option_strings or action.dest} has no help"


def test_api_models_is_the_catalogue():
    from segthor.model_packages import list_models

    assert api.models() == list_models()


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["models", "--json"]) == EXIT_BROKEN_PIPE
    assert "Traceback" not in capsys.readouterr().err


def test_models_json_into_head_has_no_traceback():
    code = (
        "import sys; from segthor.cli.main import main; "
        "sys.stdout.write('x' * 200000); sys.exit(main(['models', '--json']))"  # more than a pipe holds
    )
    result = subprocess.run(
        f'"{sys.executable}" -c "{code}" | head -c 10 > /dev/null',
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr


def test_progress_line_only_on_a_terminal():
    from segthor.cli.segment import TerminalProgress, progress_display

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress_display(False, io.StringIO()) is None  # a log file or pipe stays clean
    assert progress_display(True, Tty()) is None  # -q
    tty = Tty()
    display = progress_display(False, tty)
    assert isinstance(display, TerminalProgress)
    display(0.0, "reading chest.nii.gz")
    display(0.456, "running the network")
    display.close()
    text = tty.getvalue()
    assert "\r[  0%] reading chest.nii.gz" in text and "\r[ 46%] running the network" in text
    assert text.endswith("\n")


def test_phantom_refusal_uses_cli_wording(tmp_path, capsys):
    (tmp_path / "Patient_01").mkdir()
    (tmp_path / "Patient_01" / "keep.txt").write_text("user data")
    assert main(["phantom", str(tmp_path), "--size", "32"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
    from segthor.errors import OverwriteRefusedError

    with pytest.raises(OverwriteRefusedError, match=r"overwrite=True") as info:
        api.phantom(tmp_path, size=32)
    assert "--overwrite" not in str(info.value)  # the API speaks of its own argument
