"""Phantom generation speed: one 512x512x200 case (target <= 5 s on a 2-core CPU; generator v2 <= 10 s, timed
against v1 in the same run), and each optimised step against a straightforward baseline run in the same
process on the same data.

    .venv/bin/python benchmarks/bench_phantom.py [--seed 3] [--slices 200]

Baselines (kept short: they run on a slab or a section only):
  acquisition  float64 whole-volume lookup + noise + 3D scipy gaussian_filter, vs the float32 slice-ring pipeline
  tubes        per-sample distance over the tubes' bounding box, vs all-samples-at-once ball stamping
  writing      SimpleITK's own .nii.gz writer (default zlib level), vs SimpleITK + gzip level 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Logic"))

from segthor.phantom import generate_case, write_case  # noqa: E402
from segthor.phantom.acquisition import _kernel, acquire, blur_sigmas  # noqa: E402
from segthor.phantom.generator import generate_anatomy  # noqa: E402
from segthor.phantom.params import draw_params  # noqa: E402
from segthor.phantom.shapes import stamp_voxels  # noqa: E402
from segthor.phantom.tissue import Tissue, hu_lut  # noqa: E402
from segthor.phantom.v2 import generate_case_v2  # noqa: E402
from segthor.phantom.vessels import vessel_tree  # noqa: E402


def _time(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def naive_acquire(tissue: np.ndarray, grid, p: dict) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    hu = hu_lut(p).astype(np.float64)[tissue]
    ys = grid.axis("y")
    gradient = p["lung_gradient_hu"] * (np.clip((ys + 100.0) / 200.0, 0.0, 1.0) - 0.5)
    hu += (tissue == Tissue.LUNG) * gradient[None, :, None]
    sigmas = blur_sigmas(p, grid)
    shrink = float(np.prod([np.sqrt((_kernel(s) ** 2).sum()) for s in sigmas]))
    hu += np.random.default_rng(0).standard_normal(tissue.shape) * (p["noise_sd_hu"] / shrink)
    hu = gaussian_filter(hu, sigmas, truncate=3.0)
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


def naive_tube(grid, pts: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Boolean volume of voxels within the radius of any sample, one sample at a time over the bounding box."""
    lo = np.floor(grid.to_index(pts.min(axis=0) - rad.max())).astype(int).clip(0)
    hi = np.ceil(grid.to_index(pts.max(axis=0) + rad.max())).astype(int) + 1
    x = grid.axis("x")[lo[0] : hi[0]][None, None, :]
    y = grid.axis("y")[lo[1] : hi[1]][None, :, None]
    z = grid.axis("z")[lo[2] : hi[2]][:, None, None]
    box = np.zeros((len(z.ravel()), len(y.ravel()), len(x.ravel())), dtype=bool)
    for (px, py, pz), r in zip(pts, rad, strict=True):
        box |= (x - px) ** 2 + (y - py) ** 2 + (z - pz) ** 2 <= r * r
    out = np.zeros(grid.shape, dtype=bool)
    out[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = box
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--slices", type=int, default=200)
    args = ap.parse_args()
    generate_case(args.seed, size=64, n_slices=20)  # imports and caches out of the timings
    generate_case_v2(args.seed, size=64, n_slices=20)  # and the v2 template load

    gen_s, case = _time(lambda: generate_case(args.seed, size=512, n_slices=args.slices), repeat=2)
    with tempfile.TemporaryDirectory() as tmp:
        write_s, _ = _time(lambda: write_case(case, tmp, "Patient_01", overwrite=True))
        ct_file = Path(tmp) / "Patient_01" / "Patient_01.nii.gz"
        ours_mb = ct_file.stat().st_size / 1e6

        import SimpleITK as sitk

        image = case.ct.to_sitk()
        base_write_s, _ = _time(lambda: sitk.WriteImage(image, str(Path(tmp) / "base.nii.gz"), True))
        base_mb = (Path(tmp) / "base.nii.gz").stat().st_size / 1e6

    shape = "x".join(str(n) for n in case.ct.shape_xyz)
    print(
        f"phantom {shape} (seed {args.seed}): generation {gen_s:.2f} s (target <= 5 s), "
        f"writing CT+GT {write_s:.2f} s, total {gen_s + write_s:.2f} s"
    )

    # Generator v2 (template organs, extras) against v1 on the same size, in the same process.
    # CPU time too: on a shared machine the wall clock of either can double between runs, CPU time less so.
    v2_s, case2 = _time(lambda: generate_case_v2(args.seed, size=512, n_slices=args.slices), repeat=2)
    v2dr_s, _ = _time(lambda: generate_case_v2(args.seed, size=512, n_slices=args.slices, domain_random=True))
    cpu1 = time.process_time()
    generate_case(args.seed, size=512, n_slices=args.slices)
    cpu1 = time.process_time() - cpu1
    cpu2 = time.process_time()
    generate_case_v2(args.seed, size=512, n_slices=args.slices)
    cpu2 = time.process_time() - cpu2
    shape2 = "x".join(str(n) for n in case2.ct.shape_xyz)
    print(
        f"phantom v2 {shape2} (seed {args.seed}): generation {v2_s:.2f} s (target <= 10 s), "
        f"domain-randomised {v2dr_s:.2f} s; wall v2 / v1 = x{v2_s / gen_s:.2f}; "
        f"CPU time v1 {cpu1:.2f} s, v2 {cpu2:.2f} s, v2 / v1 = x{cpu2 / cpu1:.2f}"
    )

    # Acquisition step on a 60-slice slab of the same tissue map.
    p = draw_params(args.seed, size=512, n_slices=args.slices)
    anatomy = generate_anatomy(p)
    mid = anatomy.tissue.shape[0] // 2
    slab = np.ascontiguousarray(anatomy.tissue[mid - 30 : mid + 30])
    ours_s, _ = _time(lambda: acquire(slab, anatomy.grid, p), repeat=2)
    base_s, _ = _time(lambda: naive_acquire(slab, anatomy.grid, p))
    print(
        f"acquisition, 512x512x60 slab: ours {ours_s:.2f} s, float64 3D baseline {base_s:.2f} s, "
        f"speed-up x{base_s / ours_s:.1f}"
    )

    # Tube rasterisation: the first 400 centre-line samples of the right lung's vessel tree (thin, scattered
    # tubes: the per-sample baseline pays for the whole bounding box at every sample).
    rng = np.random.default_rng(int(p["vessel_seed"]))
    pts, rad = vessel_tree(anatomy.layout.hila["right"], -1.0, rng)
    pts, rad = pts[:400], rad[:400]
    ours_s, zyx = _time(lambda: stamp_voxels(anatomy.grid, pts, rad), repeat=3)
    base_s, ref = _time(lambda: naive_tube(anatomy.grid, pts, rad))
    ours = np.zeros(anatomy.grid.shape, dtype=bool)
    ours[zyx] = True
    same = "identical voxels" if np.array_equal(ours, ref) else f"{np.count_nonzero(ours ^ ref)} voxels differ"
    print(
        f"tube rasterisation, lung vessels ({len(pts)} samples): ours {ours_s * 1e3:.0f} ms, "
        f"per-sample baseline {base_s * 1e3:.0f} ms, speed-up x{base_s / ours_s:.1f} ({same})"
    )

    print(
        f"writing the CT: ours (gzip level 1) {ours_mb:.1f} MB, SimpleITK default {base_write_s:.2f} s "
        f"{base_mb:.1f} MB; CT+GT with ours {write_s:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
