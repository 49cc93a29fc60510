"""Training checkpoints without pickle: tensors (model, optimiser state, torch RNG) in safetensors, the rest
(counters, scheduler, scaler, optimiser hyper-parameters, history) in JSON beside it.

`<name>.safetensors` is written before `<name>.json`, both atomically, and the JSON records the sha256 of the
tensors file; a checkpoint whose two halves disagree (interrupted save) is reported, never half-loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from segthor.errors import InputError
from segthor.io.atomic import atomic_path, write_text_atomic


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                plain[f"{index}/{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = tensor
    for name, value in meta["plain"].items():
        index, key = name.split("/", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path_stem: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    info: dict[str, Any],
    scheduler: Any = None,
    scaler: Any = None,
) -> Path:
    """Write `<stem>.safetensors` + `<stem>.json`; `info` is JSON-able training progress."""
    from safetensors.torch import save as safetensors_save

    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(optim_tensors)
    tensors["rng/torch"] = torch.get_rng_state()
    blob = safetensors_save(tensors)
    meta = {
        "format": "segthor-training-checkpoint/1",
        "info": info,
        "optimizer": optim_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path_stem.with_suffix(".safetensors")) as tmp:
        tmp.write_bytes(blob)
    write_text_atomic(path_stem.with_suffix(".json"), json.dumps(meta, indent=1, default=float) + "\n")
    return path_stem


def read_checkpoint(path_stem: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and JSON of a checkpoint, checked against each other. Refuses anything but safetensors."""
    from safetensors.torch import load as safetensors_load

    weights, meta_path = path_stem.with_suffix(".safetensors"), path_stem.with_suffix(".json")
    if not weights.is_file() or not meta_path.is_file():
        raise InputError(f"checkpoint {path_stem} is incomplete: need {weights.name} and {meta_path.name}")
    blob = weights.read_bytes()
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise InputError(
            f"checkpoint {path_stem}: {weights.name} does not match {meta_path.name} "
            "(an interrupted save?); delete the checkpoint or start a new run"
        )
    return safetensors_load(blob), meta


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}


def load_checkpoint(
    path_stem: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
) -> dict[str, Any]:
    """Restore model (and optimiser, scheduler, scaler, torch RNG when given); return the saved `info`."""
    tensors, meta = read_checkpoint(path_stem)
    model.load_state_dict(model_state(tensors), strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    if scheduler is not None and meta.get("scheduler") is not None:
        scheduler.load_state_dict(meta["scheduler"])
    if scaler is not None and meta.get("scaler") is not None:
        scaler.load_state_dict(meta["scaler"])
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    return meta["info"]
