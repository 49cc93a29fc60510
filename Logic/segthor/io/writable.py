"""Checking that outputs can be written before any long work, and turning write failures into one-line errors.

A read-only folder, a path under a regular file, a full disk: each becomes an ``OutputError`` whose message
names the path and the reason, so the command line exits 2 with one line instead of a traceback after the
whole inference.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from segthor.errors import OutputError

# The OS's words where they do not say what is wrong with the user's path.
_PLAINER = {errno.ENOTDIR: "a path component is a file, not a folder", errno.EISDIR: "it is a folder, not a file"}


def describe_os_error(exc: OSError) -> str:
    """'permission denied' / 'no space left on device' ... (the OS's words, without the errno number; plainer
    words for 'not a directory' and 'is a directory')."""
    if exc.errno in _PLAINER and (exc.strerror or "").lower() in ("not a directory", "is a directory"):
        return _PLAINER[exc.errno]
    return (exc.strerror or str(exc) or exc.__class__.__name__).lower()


def check_writable_dir(folder: str | os.PathLike[str]) -> Path:
    """Prove that files can be created in ``folder`` (or, when it does not exist yet, that it can be created).

    Nothing is left behind: a missing folder is not created here (the writers create it), its nearest existing
    ancestor is probed instead. The probe creates and removes a file (``os.access`` is not enough: it ignores
    read-only mounts and, for root, permissions). Raises ``OutputError`` naming the folder and the reason.
    """
    folder = Path(folder)
    probe_in = folder
    while not probe_in.exists() and probe_in.parent != probe_in:
        probe_in = probe_in.parent
    try:
        if not probe_in.is_dir():
            raise NotADirectoryError(20, "a path component is a file, not a folder", str(probe_in))
        fd, name = tempfile.mkstemp(prefix=".segthor-write-check.", dir=probe_in)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(
            f"cannot write to the output folder {folder}: {describe_os_error(exc)}; choose a folder you can write to"
        ) from exc
    return folder


def check_writable_files(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Each output file's folder is writable (created if needed) and the file is not a folder or read-only."""
    for path in (Path(p) for p in paths):
        if path.is_dir():
            raise OutputError(f"cannot write {path}: it is a folder; give a file name")
        check_writable_dir(path.parent)
        if path.exists() and not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {path}: the file is read-only; choose another file name")


@contextlib.contextmanager
def output_errors(what: str) -> Iterator[None]:
    """Turn an ``OSError`` raised while writing ``what`` into an ``OutputError`` with one clear line."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise OutputError(f"could not write {what}{where}: {describe_os_error(exc)}") from exc
