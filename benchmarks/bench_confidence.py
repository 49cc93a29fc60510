"""Benchmark: what the network's own confidence (max-softmax per organ) costs during inference.

Side by side in one run, alternating to share the machine's load: `run_network` over the network grid of a
512x512x200 phantom CT (the default model, its own preprocessing) without and with the confidence
accumulation (one softmax + bincount per batch). Prints the best of `--repeat` runs of each and the ratio.

    python benchmarks/bench_confidence.py [--size 512] [--slices 200] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time


def main() -> int:
    import torch

    from segthor.inference.prediction import ConfidenceSums, run_network
    from segthor.logic import SegmentationLogic
    from segthor.phantom import generate_case
    from segthor.preprocessing import Recipe, preprocess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    logic = SegmentationLogic(None, "cpu")
    package = logic.load_model()
    case = generate_case(0, size=args.size, n_slices=args.slices)
    pre = preprocess(case.ct, Recipe.from_dict(package.metadata["preprocessing"]))
    array, spacing = pre.array, pre.context.network_grid.spacing  # spacing: a 2.5D model reads its neighbours
    print(f"model {package.id}, network grid {array.shape} (z,y,x), {args.threads} thread(s), batch 8")
    plain, with_conf = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        run_network(package.model, array, logic.device, 8, tune_threads=False, spacing=spacing)
        plain.append(time.perf_counter() - t0)
        sums = ConfidenceSums()
        t0 = time.perf_counter()
        run_network(package.model, array, logic.device, 8, tune_threads=False, confidence=sums, spacing=spacing)
        with_conf.append(time.perf_counter() - t0)
    a, b = min(plain), min(with_conf)
    print(f"inference without confidence (baseline): best {a:.2f} s of {[round(x, 2) for x in plain]}")
    print(f"inference with confidence:               best {b:.2f} s of {[round(x, 2) for x in with_conf]}")
    print(
        f"ratio with/without: {b / a:.3f}  (mean confidence per organ: "
        f"{ {k: round(v, 3) for k, v in sums.per_organ().items() if v is not None} })"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
