"""`segthor models`: list the installed model packages (the catalogue)."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "list the installed models: id, architecture, size, training data, validation Dice, disclaimer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the catalogue as JSON (for scripts)")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def _params(n: Any) -> str:
    return f"{n / 1e6:.2f} M" if isinstance(n, int) else "-"


def format_table(models: list[dict[str, Any]]) -> str:
    """The human-readable catalogue: one block per model, default marked with '*'."""
    from segthor.organs import ORGANS

    lines: list[str] = []
    header = f"  {'id':<22} {'architecture':<12} {'parameters':>10} {'size':>9}  " + " ".join(
        f"{o.key[:9]:>9}" for o in ORGANS
    )
    lines += [header, "  " + "-" * (len(header) - 2)]
    for m in models:
        mark = "*" if m.get("default") else " "
        if "error" in m and not m.get("architecture"):
            lines.append(f"{mark} {m['id']:<22} unusable: {m['error']}")
            continue
        dice = m.get("validation_dice", {})
        dice_cols = " ".join(f"{dice[o.key]:>9.3f}" if o.key in dice else f"{'-':>9}" for o in ORGANS)
        lines.append(
            f"{mark} {m['id']:<22} {m.get('architecture') or '-':<12} {_params(m.get('parameters')):>10} "
            f"{_size(m.get('size_bytes')):>9}  {dice_cols}"
        )
        if m.get("training_data"):
            lines.append(f"    training data: {m['training_data']}")
        if m.get("disclaimer"):
            lines.append(f"    {m['disclaimer']}")
        if "error" in m:
            lines.append(f"    unusable: {m['error']}")
    lines.append("(* default model; Dice columns: validation Dice per organ)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from segthor.model_packages import ENV_VAR, list_models, model_search_path

    models = list_models()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    if not models:
        searched = ", ".join(str(p) for p in model_search_path())
        print(
            f"No model packages are installed (searched: {searched}). Train one with `segthor train`, or put "
            f"a package folder (model.json + model.safetensors) in a folder named in ${ENV_VAR}."
        )
        return 0
    print(format_table(models))
    return 0
