"""Atomic file writes: a file either appears complete under its final name or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, before any worker thread exists,
    # so no other thread ever creates a file under the temporary umask.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success it is renamed onto `final` in one step.

    The temporary name keeps the final suffixes (e.g. `.nii.gz`) because writers choose the format from
    them. On any exception the temporary file is removed and `final` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes) or ".tmp"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name.split('.')[0]}.", suffix=suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a normal new file would get.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
