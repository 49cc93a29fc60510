"""Measurement: does each clean-up step raise or lower Dice, per organ, with the default model on phantoms?

Writes phantoms with `segthor phantom`, segments each once without clean-up, then applies every step alone
(and the candidate defaults together) to the same raw labels and prints the mean Dice per organ. The table and
the command go to docs/quality.md ("Clean-up defaults"); `DEFAULT_SPECS` in segthor/inference/postprocess.py
holds the steps that lowered no organ's mean Dice.

    python benchmarks/measure_postprocess.py [--cases 4] [--seed 999] [--size 512] [--model enet-demo]
                                               [--generator v1|v2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = (
    "none",
    "fill",
    "close",
    "open",
    "drop=0.5ml",
    "drop=2ml",
    "lcc",
    "lungs",
    "extent",
    "fat",
    "lumen",
    "neck",
    "bridge",
    "default",
)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def main() -> int:
    from segthor.inference.postprocess import DEFAULT_SPECS, PostprocessOptions, postprocess_labels
    from segthor.io.volume import read_volume
    from segthor.logic import SegmentationLogic
    from segthor.organs import ORGANS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default=None)
    parser.add_argument("--generator", choices=("v1", "v2"), default="v1", help="phantom generator (default v1)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    args = parser.parse_args()

    logic = SegmentationLogic(args.model, "cpu", postprocess="none")
    scores: dict[str, dict[str, list[float]]] = {v: {o.key: [] for o in ORGANS} for v in args.variants}
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "segthor",
            "phantom",
            tmp,
            "--cases",
            str(args.cases),
            "--seed",
            str(args.seed),
            "--size",
            str(args.size),
            "--generator",
            args.generator,
        ]
        print("$", " ".join(command[1:]).replace(tmp, "OUT"), flush=True)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        for folder in sorted(Path(tmp).glob("Patient_*")):
            t0 = time.perf_counter()
            ct = read_volume(folder / f"{folder.name}.nii.gz")
            truth = read_volume(folder / "GT.nii.gz").array
            raw = logic.segment(ct).labels.array
            for variant in args.variants:
                options = PostprocessOptions.default() if variant == "default" else PostprocessOptions.parse(variant)
                labels = postprocess_labels(raw, options, ct.spacing, ct)  # the HU rules read the CT
                for o in ORGANS:
                    scores[variant][o.key].append(dice(labels == o.label, truth == o.label))
            print(f"{folder.name}: {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"default = {'; '.join(DEFAULT_SPECS)}")
    print(
        f"\nmean Dice over {args.cases} {args.generator} phantoms (seed {args.seed}, size {args.size}), "
        f"model {logic.model_id}"
    )
    keys = [o.key for o in ORGANS]
    print("| step | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    base = {k: float(np.mean(scores["none"][k])) for k in keys} if "none" in scores else None
    for variant in args.variants:
        cells = []
        for k in keys:
            m = float(np.mean(scores[variant][k]))
            delta = "" if base is None or variant == "none" else f" ({m - base[k]:+.5f})"
            cells.append(f"{m:.4f}{delta}")
            if variant != "none" and base is not None and m < base[k]:
                cells[-1] += " lower"
        print(f"| {variant} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
