"""Reading a JSON file that must hold one object, with errors that name the file and say what to do."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from segthor.errors import SegthorError


def read_json_object(
    path: str | os.PathLike[str], error: type[SegthorError], what: str = "", hint: str = ""
) -> dict[str, Any]:
    """The object in `path`; unreadable, invalid or non-object JSON raises `error`.

    `what` prefixes the file in messages ("training config "), `hint` follows them ("re-export the model").
    """
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{what}{path} is not valid JSON ({exc}){tail}") from exc
    if not isinstance(data, dict):
        raise error(f"{what}{path} must hold a JSON object{tail}")
    return data
