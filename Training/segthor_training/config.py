"""Training configs: one JSON file per seed configuration (recipes/; chosen with the `--recipe` flag), plus
command-line overrides. "Recipe" alone means the preprocessing record (`segthor.preprocessing.Recipe`)."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from segthor.errors import InputError
from segthor.io.json_file import read_json_object

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DEFAULT_DISCLAIMER = "research use only: validate on your own data before any use; not for clinical use"


def integer(value: Any) -> bool:
    """True for a JSON whole number (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(value: Any) -> bool:
    """True for a finite JSON number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class TrainConfig:
    """Everything a training run needs; `to_dict` is saved as `config.json` beside the run."""

    name: str = "custom"
    description: str = ""
    architecture: str = "enet"
    arguments: dict[str, Any] = field(default_factory=dict)
    preprocessing: str | dict[str, Any] = "zscore"  # a name from segthor.preprocessing.RECIPES or a recipe dict
    epochs: int = 50
    steps_per_epoch: int | None = None  # None: one pass over the training samples per epoch
    batch_size: int = 5
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "adam", "lr": 1e-3})
    scheduler: dict[str, Any] = field(default_factory=lambda: {"name": "plateau", "factor": 0.1, "patience": 5})
    loss: dict[str, Any] = field(default_factory=lambda: {"name": "dice"})
    augmentation: dict[str, Any] = field(default_factory=dict)  # see augment.AugmentConfig
    sampling: dict[str, Any] = field(default_factory=lambda: {"organ_slices_only": True})
    validation_fraction: float = 0.2
    split_seed: int = 0
    seed: int = 0
    max_cases: int | None = None
    coarse_epochs: int = 0  # c2f3d: epochs training encoder + coarse decoder only ([Zhang2019]: 40 of 90)
    amp: bool = True  # mixed precision, CUDA only
    channels_last: bool = True  # 2D nets on CPU: ~1.4x faster convolutions
    threads: int | None = None
    time_limit_minutes: float | None = None  # stop at the first epoch end past this wall time (then export)
    init_weights: str | None = None  # start from a model package (folder or catalogue id) of the same network
    checkpoint_steps: int = 0  # also save `last` every N steps (0: at epoch ends and on interruption only)
    validation_batch: int = 16
    model_id: str = ""
    model_dtype: str = "float16"
    disclaimer: str = DEFAULT_DISCLAIMER

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(asdict(self))

    def check(self) -> None:
        """Raise ValueError (one line) naming the first scalar option of a wrong type or out of range (a value
        from a config file or --set that would otherwise fail with a traceback mid-run)."""

        rules: dict[str, tuple[Any, str]] = {
            "epochs": (lambda v: integer(v) and v >= 1, "a whole number >= 1"),
            "steps_per_epoch": (lambda v: v is None or (integer(v) and v >= 1), "null or a whole number >= 1"),
            "batch_size": (lambda v: integer(v) and v >= 1, "a whole number >= 1"),
            "validation_fraction": (lambda v: number(v) and 0 <= v < 1, "a number in [0, 1)"),
            "split_seed": (integer, "a whole number"),
            "seed": (integer, "a whole number"),
            "max_cases": (lambda v: v is None or (integer(v) and v >= 1), "null or a whole number >= 1"),
            "coarse_epochs": (lambda v: integer(v) and v >= 0, "a whole number >= 0"),
            "amp": (lambda v: isinstance(v, bool), "true or false"),
            "channels_last": (lambda v: isinstance(v, bool), "true or false"),
            "threads": (lambda v: v is None or (integer(v) and v >= 1), "null or a whole number >= 1"),
            "time_limit_minutes": (lambda v: v is None or (number(v) and v > 0), "null or a number of minutes > 0"),
            "checkpoint_steps": (lambda v: integer(v) and v >= 0, "a whole number >= 0"),
            "validation_batch": (lambda v: integer(v) and v >= 1, "a whole number >= 1"),
        }
        for key, (ok, what) in rules.items():
            value = getattr(self, key)
            if not ok(value):
                raise ValueError(f"{key} must be {what}, got {value!r}")
        for key in ("arguments", "optimizer", "scheduler", "loss", "augmentation", "sampling"):
            if not isinstance(getattr(self, key), dict):
                raise ValueError(f"{key} must be a JSON object, got {getattr(self, key)!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown training config key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**copy.deepcopy(d))


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def load_config(name_or_path: str | Path) -> TrainConfig:
    """A training config by name (`recipes/<name>.json`) or a path to a JSON file of TrainConfig keys."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = RECIPES_DIR / f"{name_or_path}.json"
        if not path.is_file():
            raise InputError(
                f"unknown training recipe {name_or_path!r}; known: {', '.join(available_recipes())}, "
                "or give a path to a config .json"
            )
    if not path.is_file():
        raise InputError(f"training config {path} does not exist")
    data = read_json_object(path, InputError, what="training config ")
    data.setdefault("name", path.stem)
    return TrainConfig.from_dict(data)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word: a string


def apply_overrides(
    config: TrainConfig, overrides: dict[str, Any] | None = None, sets: list[str] | None = None
) -> TrainConfig:
    """A copy of `config` with top-level `overrides` ({key: value}, None values ignored) and dotted
    `sets` ("optimizer.lr=0.01", "arguments.base_width=32"; values parsed as JSON when they are JSON)."""
    d = config.to_dict()
    for key, value in (overrides or {}).items():
        if value is not None:
            if key not in d:
                raise InputError(f"unknown training option {key!r}")
            d[key] = value
    for item in sets or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise InputError(f"--set expects KEY=VALUE (e.g. optimizer.lr=0.01), got {item!r}")
        parts = key.strip().split(".")
        if parts[0] not in d:
            raise InputError(f"--set {key}: unknown training option {parts[0]!r}")
        target = d
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[parts[-1]] = _parse_value(text)
    return TrainConfig.from_dict(d)
