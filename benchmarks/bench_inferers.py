"""Benchmark: the 3D sliding-window inferer against one pass over the whole volume, with the c2f3d demo model.

Side by side in one run, on the network grid of a phantom CT:
  baseline  one window covering the whole volume (the network's own single pass, what ran before inferers)
  windows   the Gaussian-weighted sliding window with a window smaller than the volume (default 48x96x96,
            overlap 0.5), as a CT larger than the default window would be run
Prints time, windows, the memory estimate of each, and how far the window labels agree with the single pass
(Dice per organ between the two label maps).

    python benchmarks/bench_inferers.py [--size 256] [--slices 160] [--window 48 96 96] [--overlap 0.5]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--slices", type=int, default=160)
    parser.add_argument("--window", type=int, nargs=3, default=(48, 96, 96))
    parser.add_argument("--overlap", type=float, default=0.5)
    args = parser.parse_args()

    import numpy as np
    import torch

    from segthor.inference.inferers import SlidingWindowInferer
    from segthor.model_packages import load_model_package
    from segthor.model_packages.inferer_spec import SLIDING_WINDOW_3D, InfererSpec
    from segthor.organs import ORGANS
    from segthor.phantom import generate_case
    from segthor.preprocessing import Recipe, preprocess

    torch.set_num_threads(1)  # the shared machine: one thread is the stable figure
    case = generate_case(0, size=args.size, n_slices=args.slices)
    package = load_model_package("c2f3d-demo", "cpu")
    array = np.asarray(preprocess(case.ct, Recipe.from_dict(package.metadata["preprocessing"])).array, np.float32)
    shape = tuple(array.shape)
    device = torch.device("cpu")
    whole = SlidingWindowInferer(InfererSpec(SLIDING_WINDOW_3D, shape))  # one window = the whole volume
    windowed = SlidingWindowInferer(InfererSpec(SLIDING_WINDOW_3D, tuple(args.window), args.overlap))
    print(f"## Sliding-window inference (c2f3d-demo, phantom {case.ct.describe_geometry()}, network grid {shape})")
    results = {}
    for name, inferer in (("one pass", whole), ("windows", windowed)):
        t0 = time.perf_counter()
        labels, _ = inferer.run(package.model, array, device)
        seconds = time.perf_counter() - t0
        results[name] = labels
        print(
            f"{name:9s} {len(inferer.windows(shape)):3d} window(s) of {inferer.window(shape)}: {seconds:6.2f} s, "
            f"memory estimate {inferer.network_bytes(shape) / 2**20:7.0f} MiB"
        )
    dice = {}
    for organ in ORGANS:
        a, b = results["one pass"] == organ.label, results["windows"] == organ.label
        total = int(a.sum() + b.sum())
        dice[organ.key] = 2 * int((a & b).sum()) / total if total else float("nan")
    print(
        "agreement of the window labels with the single pass (Dice): "
        + ", ".join(f"{k} {v:.3f}" for k, v in dice.items())
    )
    print(f"voxels labelled alike: {float((results['one pass'] == results['windows']).mean()):.4f}")


if __name__ == "__main__":
    main()
