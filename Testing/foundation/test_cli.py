"""The `segthor` command: help, version, and clear errors for unknown input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from segthor import __version__
from segthor.cli.main import SUBCOMMANDS, build_parser, main

SEGTHOR = Path(sys.executable).with_name("segthor")


def test_console_script_is_installed_and_lists_every_subcommand():
    assert SEGTHOR.exists(), "the segthor console script must be installed into the venv's bin/"
    out = subprocess.run([str(SEGTHOR), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name in ("phantom", "segment", "evaluate", "batch", "train", "models"):
        assert name in out.stdout
    assert "not for clinical use" in out.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["segment"], ["evaluate", "only-one-path"], ["phantom", "out", "--cases", "many"]],
)
def test_bad_invocations_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: segthor" in err
    assert "error:" in err


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_its_own_help(name):
    parser = build_parser()
    sub_action = next(a for a in parser._actions if a.dest == "command")
    help_text = sub_action.choices[name].format_help()
    assert help_text.startswith(f"usage: segthor {name}")


def test_segthor_error_becomes_one_line_and_exit_2(tmp_path, capsys):
    # A missing input is the user's problem: one clear line, no traceback.
    missing = tmp_path / "no_such_ct.nii.gz"
    code = main(["segment", str(missing), "-o", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no_such_ct.nii.gz" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
