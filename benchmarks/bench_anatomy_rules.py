"""Benchmark: the anatomical clean-up rules (lungs, extent, lumen) on a 512x512x300 synthetic chest CT.

The chest (0.7 x 0.7 x 1.0 mm): a soft-tissue body in outside air, two lungs (-850 HU) on slices 40-259, a tracheal
air column from slice 150 up, and labels: a heart partly in the right lung, an esophagus and an aorta on every
slice (the aorta partly in the left lung), the front half of the trachea's lumen. Best of `--repeats`, on the same
arrays:
  lung search      `AirRegions` alone (the lung tissue and its extent)
  rules            `apply_hu_rules` with the default rules (lungs, extent for esophagus, heart, aorta; extent,
                   lumen for the trachea)
  defaults         `postprocess_labels` with the default clean-up (the rules, then fill / lcc / drop)
  baseline         `postprocess_labels` with the defaults without the rules (what ran before them)
  bridge, 4 pieces the aorta's ``bridge`` rule alone with the aorta in four pieces of at least 2 ml: an ascending
                   aorta 3 cm from the descending one (a scan whose arch the network missed) and two false
                   pieces at the body's sides, which widen the aorta's box (keeping the largest piece removes
                   them, after the rules)

    python benchmarks/bench_anatomy_rules.py [--repeats 3] [--slices 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from segthor.inference.anatomy_rules import HU_RULES, AirRegions, apply_hu_rules
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels, specs_from_defaults
from segthor.io.volume import Volume
from segthor.organs import ORGANS


def synthetic_chest(n_slices: int, size: int = 512) -> tuple[Volume, np.ndarray]:
    """(CT volume in HU, labels), both [S, P, L] stored as [z, y, x] with the identity direction."""
    p, lat = np.ogrid[0:size, 0:size]
    c = size / 2
    body = ((p - c) / (0.39 * size)) ** 2 + ((lat - c) / (0.47 * size)) ** 2 <= 1
    lungs = [((p - c) / (0.25 * size)) ** 2 + ((lat - c + s * 0.2 * size) / (0.16 * size)) ** 2 <= 1 for s in (1, -1)]
    lumen = ((p - 0.39 * size) ** 2 + (lat - c) ** 2) <= (0.023 * size) ** 2
    ct = np.full((n_slices, size, size), -1000, np.int16)
    ct[:, body] = 40
    lo, hi = int(0.13 * n_slices), int(0.87 * n_slices)
    ct[lo:hi][:, lungs[0] | lungs[1]] = -850
    top = n_slices // 2
    ct[top:, lumen] = -1000
    labels = np.zeros(ct.shape, np.uint8)
    labels[int(0.07 * n_slices) : top, ((p - 0.29 * size) ** 2 + (lat - c) ** 2) <= (0.12 * size) ** 2] = 2
    labels[:, ((p - 0.59 * size) ** 2 + (lat - c) ** 2) <= (0.016 * size) ** 2] = 1
    labels[:, ((p - 0.62 * size) ** 2 + (lat - 0.57 * size) ** 2) <= (0.023 * size) ** 2] = 4
    labels[top:, lumen & (p < 0.39 * size)] = 3
    return Volume(ct, (0.7, 0.7, 1.0)), labels


def four_piece_aorta(volume: Volume, labels: np.ndarray) -> tuple[Volume, np.ndarray]:
    """The chest with an ascending aorta (blood, 200 HU) and two false aorta pieces added to its labels."""
    n_slices, size = labels.shape[0], labels.shape[1]
    p, lat = np.ogrid[0:size, 0:size]
    ascending = ((p - 0.45 * size) ** 2 + (lat - 0.52 * size) ** 2) <= (0.025 * size) ** 2
    ct, out = volume.array.copy(), labels.copy()
    ct[n_slices // 3 :, ascending] = 200
    out[n_slices // 3 :, ascending & (labels[n_slices // 2] == 0)] = 4
    for p_c, l_c in ((0.5, 0.12), (0.2, 0.85)):
        out[int(0.2 * n_slices) : int(0.87 * n_slices), ((p - p_c * size) ** 2 + (lat - l_c * size) ** 2) <= 36] = 4
    return volume.with_array(ct), out


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
    volume, labels = synthetic_chest(args.slices)
    defaults = PostprocessOptions.default()
    baseline = PostprocessOptions.parse(specs_from_defaults(rules=False))
    rules = {o.label: tuple(s for s in defaults.for_organ(o.key) if s in HU_RULES) for o in ORGANS}
    spacing_zyx = (volume.spacing[2], volume.spacing[1], volume.spacing[0])
    figures = {
        "lung search": best_of(args.repeats, lambda: AirRegions(volume.array, spacing_zyx)),
        "rules": best_of(args.repeats, lambda: apply_hu_rules(labels, volume, rules)),
        "defaults": best_of(args.repeats, lambda: postprocess_labels(labels, defaults, volume.spacing, volume)),
        "baseline": best_of(args.repeats, lambda: postprocess_labels(labels, baseline, volume.spacing, volume)),
    }
    split_volume, split_labels = four_piece_aorta(volume, labels)
    figures["bridge, 4 pieces"] = best_of(
        args.repeats, lambda: apply_hu_rules(split_labels, split_volume, {4: ("bridge",)})
    )
    out = postprocess_labels(labels, defaults, volume.spacing, volume)
    changed = {o.key: int(((labels == o.label) != (out == o.label)).sum()) for o in ORGANS}
    print(f"CT {volume.array.shape} [z, y, x], spacing {volume.spacing} mm; voxels changed by the defaults: {changed}")
    for name, seconds in figures.items():
        print(f"{name:16s} {seconds:6.2f} s")
    print(f"defaults / baseline: {figures['defaults'] / figures['baseline']:.2f}")


if __name__ == "__main__":
    main()
