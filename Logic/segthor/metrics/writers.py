"""Writing per-case rows (CSV) and the full evaluation (JSON), atomically and without NaN/inf numbers."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from segthor.io.atomic import write_text_atomic
from segthor.metrics.result import json_number


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def write_json(data: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Strict JSON (``allow_nan=False``): undefined values are ``null``."""
    write_text_atomic(path, json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")
    return Path(path)


def write_csv(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """One row per dict, columns in first-seen order; None (undefined) is an empty cell."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in _clean(row).items()})
    write_text_atomic(path, buffer.getvalue())
    return Path(path)
