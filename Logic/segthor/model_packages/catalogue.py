"""The model catalogue: packages bundled with the extension plus folders named in $SEGTHOR_MODELS_PATH.

Bundled packages live in `SegTHORSlicer/Resources/Models/<id>/` of a source checkout, or in the module's
`Resources/Models/` beside the installed `segthor` package inside Slicer. $SEGTHOR_MODELS_PATH
(os.pathsep-separated) adds folders; each may be a package itself or hold package sub-folders. Bundled
packages are listed first; when two packages share an id, the first one found wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from segthor.errors import ModelError
from segthor.model_packages.package import METADATA_FILE, WEIGHTS_FILE, check_label_contract

DEFAULT_MODEL_ID = "enet-realct"
ENV_VAR = "SEGTHOR_MODELS_PATH"


def _bundled_models_dir() -> Path:
    segthor_dir = Path(__file__).resolve().parents[1]
    candidates = (
        segthor_dir.parents[1] / "SegTHORSlicer" / "Resources" / "Models",  # source checkout: <repo>/Logic/segthor
        segthor_dir.parent / "Resources" / "Models",  # Slicer extension: segthor beside the module's Resources
    )
    return next((c for c in candidates if c.is_dir()), candidates[0])


MODELS_DIR: Path = _bundled_models_dir()


def model_search_path() -> list[Path]:
    """Folders searched for packages, in order: MODELS_DIR, then $SEGTHOR_MODELS_PATH entries."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return [MODELS_DIR, *extra]


def _package_dirs() -> list[Path]:
    found: list[Path] = []
    for folder in model_search_path():
        if (folder / METADATA_FILE).is_file():
            found.append(folder)
        elif folder.is_dir():
            found += sorted(p for p in folder.iterdir() if (p / METADATA_FILE).is_file())
    return found


def _training_data_text(training: Any) -> str:
    """One line describing the training data, whatever shape the trainer gave `training`."""
    if not isinstance(training, dict):
        return str(training or "")
    for key in ("data_summary", "data", "dataset"):
        value = training.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and value:
            return ", ".join(f"{k}={v}" for k, v in value.items() if not isinstance(v, (dict, list)))
    return ""


def _validation_dice(validation: Any) -> dict[str, float]:
    """Per-organ Dice from `validation` ({"dice": {...}} or {organ: dice} or {organ: {"dice": d}})."""
    if not isinstance(validation, dict):
        return {}
    source = validation.get("dice", validation)
    out: dict[str, float] = {}
    if isinstance(source, dict):
        for organ, value in source.items():
            if isinstance(value, dict):
                value = value.get("dice")
            if isinstance(value, (int, float)):
                out[str(organ)] = float(value)
    return out


def _summary(directory: Path) -> dict[str, Any]:
    meta_path = directory / METADATA_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return {"id": directory.name, "path": str(directory), "error": f"{meta_path}: {exc}", "default": False}
    weights = directory / str(meta.get("weights_file", WEIGHTS_FILE))
    model_id = str(meta.get("id", directory.name))
    try:
        check_label_contract(meta, str(meta_path))
        error = None if weights.is_file() else f"{weights} is missing"
    except ModelError as exc:
        error = str(exc)
    return {
        "id": model_id,
        "architecture": meta.get("architecture"),
        "arguments": meta.get("arguments", {}),
        "parameters": meta.get("parameters"),
        "size_bytes": weights.stat().st_size if weights.is_file() else None,
        "dtype": meta.get("dtype"),
        "training_data": _training_data_text(meta.get("training")),
        "validation_dice": _validation_dice(meta.get("validation")),
        "disclaimer": meta.get("disclaimer", ""),
        "version": meta.get("version"),
        "created": meta.get("created"),
        "description": meta.get("description", ""),
        "path": str(directory),
        "default": model_id == DEFAULT_MODEL_ID,
        **({} if error is None else {"error": error}),
    }


def list_models() -> list[dict[str, Any]]:
    """Summaries of the installed packages (no weights are read): id, architecture, parameters,
    size_bytes, training_data, validation_dice, disclaimer, path, default, ... A broken package still
    appears, with an `error` entry, so users see why it cannot be used."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for directory in _package_dirs():
        summary = _summary(directory)
        if summary["id"] in seen:
            continue
        seen.add(summary["id"])
        out.append(summary)
    return out


def find_model(model_id: str) -> Path:
    """The package folder of an installed model id; ModelError listing the known ids otherwise."""
    for directory in _package_dirs():
        summary = _summary(directory)
        if summary["id"] == model_id or directory.name == model_id:
            return directory
    known = ", ".join(s["id"] for s in list_models()) or "none installed"
    raise ModelError(
        f"no model package with id {model_id!r} (known: {known}); run `segthor models` to list them, give a "
        f"package folder path, or add its parent folder to ${ENV_VAR}"
    )
