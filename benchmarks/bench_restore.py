"""Benchmark: bringing the network's output back to the CT's grid, interpolated probabilities vs nearest labels.

Side by side in one run, on one phantom CT (v2 generator, 512 x 512, ~0.7-1.2 mm pixels) with the default model:
  probabilities  `restore_probabilities`: the class probabilities linearly interpolated onto the CT's grid
                 inside the organs' box, argmax there (what `segthor segment` does)
  baseline       `restore_labels`: the network grid's argmax labels, nearest neighbour (what it did before)
Prints the time of each (best of --repeat) and the ratio, and each organ's Dice against the phantom's ground
truth for both, before any clean-up.

    python benchmarks/bench_restore.py [--seed 999] [--size 512] [--model ID] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default=None, help="model id or folder (default: the default model)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch

    from segthor.inference.inferers import SliceInferer
    from segthor.inference.prediction import ConfidenceSums, inferer_for
    from segthor.model_packages import DEFAULT_MODEL_ID, load_model_package
    from segthor.organs import ORGANS
    from segthor.phantom.v2.generator import generate_case_v2
    from segthor.preprocessing import Recipe, preprocess, restore_labels, restore_probabilities

    case = generate_case_v2(args.seed, size=args.size)
    print(f"phantom v2 seed {args.seed}: {case.ct.describe_geometry()}")
    package = load_model_package(args.model or DEFAULT_MODEL_ID, "cpu")
    pre = preprocess(case.ct, Recipe.from_dict(package.metadata["preprocessing"]))
    inferer = inferer_for(package)
    batch = 8 if isinstance(inferer, SliceInferer) else 1
    probabilities, _ = inferer.run(
        package.model,
        pre.array,
        torch.device("cpu"),
        batch,
        reduce=ConfidenceSums().probabilities_and_add,
        spacing=pre.context.network_grid.spacing,  # a 2.5D model reads neighbouring slices
    )
    print(f"network grid {probabilities.shape[1:]} (z, y, x), {probabilities.shape[0]} classes, float16")

    def best(fn) -> tuple[float, np.ndarray]:
        times, out = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return min(times), out

    t_prob, by_prob = best(lambda: restore_probabilities(probabilities, pre.context))
    t_near, by_near = best(lambda: restore_labels(probabilities.argmax(0).astype(np.uint8), pre.context))
    truth = case.labels.array
    print(f"\n{'':<16}{'seconds':>9}   " + "  ".join(f"{o.key:>9}" for o in ORGANS) + "   (Dice, no clean-up)")
    for name, seconds, labels in (
        ("probabilities", t_prob, by_prob),
        ("nearest (base)", t_near, by_near),
    ):
        dice = []
        for organ in ORGANS:
            a, b = labels == organ.label, truth == organ.label
            dice.append(2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1))
        print(f"{name:<16}{seconds:>9.2f}   " + "  ".join(f"{d:>9.3f}" for d in dice))
    print(f"\nprobabilities / nearest time: {t_prob / t_near:.1f}x (best of {args.repeat})")


if __name__ == "__main__":
    main()
