"""The messages a runner child writes on stdout: one line each, `@segthor ` + a JSON object.

Kinds (the "kind" key):
- "progress": {"fraction": 0..1 of the whole job, "message": what the child is doing}
- "error": {"message": one line that says what went wrong and what to do, "type": the exception class}
- "done": {"result": a JSON object describing the files the child wrote}

Lines without the prefix (library warnings, prints of third-party code) are not messages and are ignored, so
the protocol survives chatty dependencies.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

PREFIX = "@segthor "
KINDS = ("progress", "error", "done")


def format_message(kind: str, **fields: Any) -> str:
    """One protocol line (without the newline); `fields` must be JSON-serialisable."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; expected one of {KINDS}")
    return PREFIX + json.dumps({"kind": kind, **fields}, separators=(",", ":"), ensure_ascii=True)


def parse_line(line: str) -> dict[str, Any] | None:
    """The message a line holds, or None when the line is not a well-formed protocol message."""
    line = line.strip()
    if not line.startswith(PREFIX):
        return None
    try:
        message = json.loads(line[len(PREFIX) :])
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("kind") not in KINDS:
        return None
    return message


def emit(kind: str, stream: TextIO | None = None, **fields: Any) -> None:
    """Write one message and flush, so the parent sees it at once even through a pipe."""
    stream = stream or sys.stdout
    stream.write(format_message(kind, **fields) + "\n")
    stream.flush()


def one_line(text: str, limit: int = 500) -> str:
    """`text` on a single line (newlines folded), at most `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
