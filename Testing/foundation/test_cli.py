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


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nrrd", "ct.mha"])
def test_a_text_file_with_an_image_suffix_is_one_line_without_library_internals(tmp_path, capsys, name):
    # SimpleITK's message spans lines and names its own C++ source file; the user sees one line about their file.
    fake = tmp_path / name
    fake.write_text("hello, I am not a CT\n")
    code = main(["segment", str(fake), "-o", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("segthor segment: error: could not read")
    assert name in err and ".cxx" not in err and "Exception thrown" not in err


def test_multi_line_error_messages_print_as_one_line(capsys):
    from segthor.errors import InputError, brief, one_line

    assert one_line("first\n  second\n\nthird") == "first second third"
    sitk_like = RuntimeError('Exception thrown in SimpleITK X: /src/a.cxx:99:\nsitk::ERROR: Unable to read "f"')
    assert brief(sitk_like) == 'Unable to read "f"'
    assert brief(RuntimeError("x" * 400)).endswith("...") and len(brief(RuntimeError("x" * 400))) == 300
    assert str(InputError("a\nb")) == "a\nb"  # the exception keeps its text; the CLI prints it on one line


@pytest.mark.parametrize("argv", [["phantom", "{f}/out", "--size", "64"], ["train", "{d}", "-o", "{f}/run"]])
def test_an_output_under_a_regular_file_says_so_in_plain_words(tmp_path, capsys, argv):
    regular = tmp_path / "a_file"
    regular.write_text("user data\n")
    (tmp_path / "data").mkdir()
    code = main([a.format(f=regular, d=tmp_path / "data") for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "a path component is a file, not a folder" in err and "not a directory" not in err
    assert regular.read_text() == "user data\n"


def test_os_errors_in_plain_words():
    import errno

    from segthor.io.writable import describe_os_error

    assert describe_os_error(NotADirectoryError(errno.ENOTDIR, "Not a directory")) == (
        "a path component is a file, not a folder"
    )
    assert describe_os_error(IsADirectoryError(errno.EISDIR, "Is a directory")) == "it is a folder, not a file"
    assert describe_os_error(PermissionError(errno.EACCES, "Permission denied")) == "permission denied"
