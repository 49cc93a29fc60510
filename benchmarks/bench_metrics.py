"""Benchmark: all metrics of the four organs of one 512x512x200 label pair at 0.98x0.98x2.5 mm.

Two mask sets: organ-sized synthetic shapes (heart ~700 ml, aorta with arch, trachea with bronchi,
esophagus) and the labels of ``segthor.phantom.generate_case(0)``; the prediction is the reference shifted
by (1, 2, -1) voxels, and a second one adds a far false-positive island (the stress case for cropping).
Side by side in one run, on the same masks:
  segthor   ``evaluate_labels``: Dice, Dice 2D, HD, HD95, ASSD, AHD, volumes for the four organs
  deepmind  surface-distance 0.1 (compute_surface_distances + robust Hausdorff 95 + average distance)
  monai     compute_hausdorff_distance(percentile=95) + compute_average_surface_distance(symmetric)
  medpy     hd95 + assd, timed on ONE organ of the synthetic masks only (~20 s per metric per organ);
            the all-organ figure is that time times four, said so in the output
The baselines compute only HD95 and ASSD. Peak memory of segthor alone is measured in a child process.

Whole process (what a user waits for): the synthetic pair written as two .nii.gz files, then
``python -m segthor evaluate PRED REF --quiet`` (start-up, imports, reading both files, every metric, the
table) against a Python process that imports SimpleITK and DeepMind's surface-distance, reads the same two
files and computes HD95 and average distances for the four organs. Best of ``--repeats`` fresh processes each.

    python benchmarks/bench_metrics.py [--repeats 3] [--source both|synthetic|phantom|none] [--no-medpy]
                                       [--no-baselines]
                                       [--no-whole-process]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZE, SLICES = 512, 200
SPACING_XYZ = (0.98, 0.98, 2.5)
SPACING_ZYX = SPACING_XYZ[::-1]
TARGET_SECONDS = 1.0
TARGET_PEAK_GB = 1.5
TARGET_VS_FASTEST = 2.0
TARGET_VS_MEDPY = 20.0


def _tube(labels: np.ndarray, label: int, centres: list[tuple[float, float, float]], radius_mm: float) -> None:
    """Stamp discs of ``radius_mm`` along a centre line given as (z, y, x) voxel points, one slice at a time."""
    pts = np.array(centres, dtype=float)
    zs = np.arange(int(pts[:, 0].min()), int(pts[:, 0].max()) + 1)
    order = np.argsort(pts[:, 0])
    ys = np.interp(zs, pts[order, 0], pts[order, 1])
    xs = np.interp(zs, pts[order, 0], pts[order, 2])
    r = radius_mm / SPACING_XYZ[0]
    yy, xx = np.ogrid[:SIZE, :SIZE]
    for z, y, x in zip(zs, ys, xs, strict=True):
        y0, y1, x0, x1 = int(y - r - 1), int(y + r + 2), int(x - r - 1), int(x + r + 2)
        disc = (yy[y0:y1] - y) ** 2 + (xx[:, x0:x1] - x) ** 2 <= r * r
        labels[z, y0:y1, x0:x1][disc] = label


def synthetic_reference() -> np.ndarray:
    """Organ-sized shapes: heart ellipsoid, aorta (ascending, arch, descending), trachea with bronchi, esophagus."""
    labels = np.zeros((SLICES, SIZE, SIZE), np.uint8)
    z, y, x = np.ogrid[:120, :320, :360]  # a box around the heart keeps the temporaries small
    radii = (55 / SPACING_XYZ[2], 50 / SPACING_XYZ[1], 62 / SPACING_XYZ[0])  # ~12 x 10 x 11 cm heart
    heart = ((z - 55) / radii[0]) ** 2 + ((y - 240) / radii[1]) ** 2 + ((x - 270) / radii[2]) ** 2 <= 1
    labels[:120, :320, :360][heart] = 2
    _tube(labels, 1, [(5, 300, 262), (60, 296, 268), (120, 300, 258), (195, 292, 256)], 7.0)  # esophagus
    _tube(labels, 4, [(10, 318, 300), (130, 315, 296)], 12.0)  # descending aorta
    _tube(labels, 4, [(90, 220, 262), (128, 228, 262)], 15.0)  # ascending aorta
    for t in np.linspace(0, 1, 40):  # the arch, joining them over the top
        _tube(labels, 4, [(128 + 8 * np.sin(np.pi * t), 228 + 87 * t, 262 + 38 * t)] * 2, 12.0)
    _tube(labels, 3, [(135, 262, 256), (199, 262, 256)], 9.0)  # trachea
    _tube(labels, 3, [(112, 266, 220), (135, 262, 256)], 6.0)  # right main bronchus
    _tube(labels, 3, [(110, 270, 295), (135, 262, 256)], 6.0)  # left main bronchus
    return labels


SOURCES = ("synthetic", "phantom")


def reference_labels(source: str) -> tuple[np.ndarray, str]:
    """The reference label array and a description; ``phantom`` falls back to synthetic shapes if missing."""
    if source == "phantom":
        try:
            from segthor.phantom import generate_case
        except ImportError:
            return synthetic_reference(), "synthetic organ-sized shapes (segthor.phantom not available)"
        case = generate_case(0, size=SIZE, n_slices=SLICES)
        # The phantom's own spacing differs; its arrays are used at the benchmark's 0.98 x 0.98 x 2.5 mm.
        return np.asarray(case.labels.array, dtype=np.uint8), "segthor.phantom.generate_case(0) labels"
    return synthetic_reference(), "synthetic organ-sized shapes"


def predicted_labels(ref: np.ndarray, island: bool = False) -> np.ndarray:
    """A plausible prediction: the reference shifted by (1, 2, -1) voxels (no wrap-around).

    ``island`` adds a small false-positive aorta blob ~20 cm from the aorta: the box holding both masks,
    and so the distance transforms, grow about five-fold (the stress case).
    """
    pred = np.zeros_like(ref)
    pred[1:, 2:, :-1] = ref[:-1, :-2, 1:]
    if island:
        pred[150:154, 100:106, 100:106] = 4
    return pred


def time_best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_segthor(pred: np.ndarray, ref: np.ndarray) -> dict:
    from segthor.metrics import evaluate_labels

    return evaluate_labels(pred, ref, SPACING_ZYX)


def run_deepmind(pred: np.ndarray, ref: np.ndarray) -> dict:
    # surface-distance 0.1 uses aliases NumPy 2 removed; restore them for this benchmark only.
    for alias, value in (("bool", bool), ("int", int), ("float", float)):
        if alias not in np.__dict__:
            setattr(np, alias, value)
    import surface_distance

    out = {}
    for label in (1, 2, 3, 4):
        sd = surface_distance.compute_surface_distances(ref == label, pred == label, SPACING_ZYX)
        gt_to_pred, pred_to_gt = surface_distance.compute_average_surface_distance(sd)
        out[label] = (surface_distance.compute_robust_hausdorff(sd, 95), gt_to_pred, pred_to_gt)
    return out


def run_monai(pred: np.ndarray, ref: np.ndarray) -> dict:
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    out = {}
    for label in (1, 2, 3, 4):
        p = torch.from_numpy(pred == label)[None, None]
        r = torch.from_numpy(ref == label)[None, None]
        hd95 = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=SPACING_ZYX)
        assd = compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=SPACING_ZYX)
        out[label] = (hd95.item(), assd.item())
    return out


def run_medpy(pred: np.ndarray, ref: np.ndarray, label: int) -> tuple[float, float]:
    from medpy.metric import binary

    return binary.hd95(pred == label, ref == label, SPACING_ZYX), binary.assd(pred == label, ref == label, SPACING_ZYX)


def _rss_high_water_mb() -> float:
    """Peak resident memory of this process (Linux VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(source: str) -> None:
    """Run in a fresh process: build the island pair, reset the peak, evaluate, print the peaks as JSON."""
    import tracemalloc

    ref, _ = reference_labels(source)
    pred = predicted_labels(ref, island=True)
    inputs = _rss_high_water_mb()
    try:  # reset the high-water mark so the peak is the evaluation's (inputs stay resident and count)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    tracemalloc.start()
    run_segthor(pred, ref)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps({"peak_rss_mb": _rss_high_water_mb(), "inputs_peak_mb": inputs, "traced_peak_mb": traced}))


def measure_peak_memory(source: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--memory-child", source], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_source(source: str, args: argparse.Namespace) -> tuple[dict[str, float], dict, bool]:
    from segthor.metrics import evaluate_labels
    from segthor.organs import organ_by_name

    t0 = time.perf_counter()
    ref, description = reference_labels(source)
    pred = predicted_labels(ref)
    print(f"\n== {description}, {SIZE}x{SIZE}x{SLICES} at {SPACING_XYZ} mm (made in {time.perf_counter() - t0:.1f} s)")
    for organ, m in run_segthor(pred, ref).items():
        print(
            f"  {organ:10s} {m.volume_ref_ml:7.1f} ml  Dice {m.dice:.3f}  HD95 {m.hd95:.2f}  ASSD {m.assd:.3f}  "
            f"AHD {m.ahd:.3f}  HD {m.hd:.2f} mm"
        )
    times = {"segthor (all metrics)": time_best(lambda: run_segthor(pred, ref), args.repeats)}
    with_island = predicted_labels(ref, island=True)
    times["segthor, far false-positive island"] = time_best(lambda: run_segthor(with_island, ref), args.repeats)
    if not args.no_baselines:
        times["deepmind surface-distance"] = time_best(lambda: run_deepmind(pred, ref), args.repeats)
        times["monai"] = time_best(lambda: run_monai(pred, ref), 1)
        if not args.no_medpy and source == SOURCES[0]:
            label = organ_by_name(args.medpy_organ).label
            one = time_best(lambda: run_medpy(pred, ref, label), 1)
            times[f"medpy ({args.medpy_organ} only, x 4)"] = 4 * one
            times[f"medpy ({args.medpy_organ} only, measured)"] = one
        check = run_monai(pred, ref)
        mx = evaluate_labels(pred, ref, SPACING_ZYX, hd95="max-directed")
        print("  agreement with MONAI (HD95 max-directed, ASSD):")
        for organ, (hd95, assd) in zip(mx, check.values(), strict=True):
            print(f"    {organ:10s} HD95 {mx[organ].hd95:.4f} vs {hd95:.4f}   ASSD {mx[organ].assd:.4f} vs {assd:.4f}")

    ours = times["segthor (all metrics)"]
    print(f"  times, best of {args.repeats} (baselines: HD95 + ASSD only; MONAI and medpy: one run):")
    for name, seconds in times.items():
        print(f"    {name:36s} {seconds:8.3f} s   {seconds / ours:7.1f}x segthor's time")
    memory = measure_peak_memory(source)
    print(
        f"  segthor peak RSS while evaluating (island case) {memory['peak_rss_mb']:.0f} MB, incl. Python, libraries "
        f"and both input arrays; the evaluation's own allocations {memory['traced_peak_mb']:.0f} MB"
    )
    worst = max(ours, times["segthor, far false-positive island"])
    peak_gb = memory["peak_rss_mb"] / 1024
    ok = worst <= TARGET_SECONDS and peak_gb <= TARGET_PEAK_GB
    print(
        f"  target <= {TARGET_SECONDS} s (both cases): {worst:.3f} s {'met' if worst <= TARGET_SECONDS else 'MISSED'}"
    )
    print(f"  target peak <= {TARGET_PEAK_GB} GB: {peak_gb:.2f} GB {'met' if peak_gb <= TARGET_PEAK_GB else 'MISSED'}")
    if not args.no_baselines:
        fastest = min(times["deepmind surface-distance"], times["monai"])
        met = fastest / ours >= TARGET_VS_FASTEST
        print(
            f"  target >= {TARGET_VS_FASTEST}x the fastest baseline: {fastest / ours:.1f}x {'met' if met else 'MISSED'}"
        )
        ok &= met
        medpy = [v for k, v in times.items() if "x 4" in k]
        if medpy:
            met = medpy[0] / ours >= TARGET_VS_MEDPY
            print(f"  target >= {TARGET_VS_MEDPY:.0f}x medpy: {medpy[0] / ours:.0f}x {'met' if met else 'MISSED'}")
            ok &= met
    return times, memory, ok


# The baseline process: a plain script as a user of DeepMind's package would write it.
DEEPMIND_PROCESS = """
import sys
import numpy as np
for alias, value in (("bool", bool), ("int", int), ("float", float)):  # NumPy 2 removed them; the package uses them
    if alias not in np.__dict__:
        setattr(np, alias, value)
import SimpleITK as sitk
import surface_distance
images = [sitk.ReadImage(path) for path in sys.argv[1:3]]
pred, ref = (sitk.GetArrayFromImage(image) for image in images)
spacing = images[1].GetSpacing()[::-1]
for label in (1, 2, 3, 4):
    sd = surface_distance.compute_surface_distances(ref == label, pred == label, spacing)
    hd95 = surface_distance.compute_robust_hausdorff(sd, 95)
    print(label, hd95, surface_distance.compute_average_surface_distance(sd))
"""


def _process_seconds(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh process; CPU (user + system, all threads) is less sensitive to load."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_whole_process(args: argparse.Namespace) -> bool:
    """``segthor evaluate`` as a whole process vs a DeepMind surface-distance script on the same two files."""
    import tempfile

    from segthor.io.volume import Volume, write_volume

    ref = synthetic_reference()
    pred = predicted_labels(ref)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [str(Path(tmp) / "pred.nii.gz"), str(Path(tmp) / "ref.nii.gz")]
        for array, path in zip((pred, ref), paths, strict=True):
            write_volume(Volume(array, SPACING_XYZ), path)
        sizes = ", ".join(f"{Path(p).stat().st_size / 1024:.0f} KB" for p in paths)
        shape = f"{SIZE}x{SIZE}x{SLICES} uint8"
        print(f"\n== whole process on two .nii.gz files ({shape}, {sizes}), best of {args.repeats}")
        commands = {
            "segthor evaluate (all metrics)": [sys.executable, "-m", "segthor", "evaluate", *paths, "--quiet"],
            "python -m segthor --version (start-up only)": [sys.executable, "-m", "segthor", "--version"],
            "deepmind surface-distance script": [sys.executable, "-c", DEEPMIND_PROCESS, *paths],
        }
        times: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):  # interleaved, so a burst of load hits both alike
            for name, command in commands.items():
                wall, cpu = _process_seconds(command)
                best = times.get(name, (float("inf"), float("inf")))
                times[name] = (min(best[0], wall), min(best[1], cpu))
    for name, (wall, cpu) in times.items():
        print(f"    {name:44s} {wall:7.2f} s wall  {cpu:7.2f} s CPU")
    ours, theirs = times["segthor evaluate (all metrics)"], times["deepmind surface-distance script"]
    ratio = theirs[0] / ours[0]
    met = ratio >= TARGET_VS_FASTEST
    print(
        f"  deepmind process / segthor evaluate process: {ratio:.1f}x wall, {theirs[1] / ours[1]:.1f}x CPU "
        f"(target >= {TARGET_VS_FASTEST}x wall: {'met' if met else 'MISSED'})"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--source",
        choices=(*SOURCES, "both", "none"),
        default="both",
        help="which masks to time in-process (none: the whole-process comparison only)",
    )
    parser.add_argument("--medpy-organ", default="heart", choices=("esophagus", "heart", "trachea", "aorta"))
    parser.add_argument("--no-medpy", action="store_true", help="skip medpy (~40-60 s)")
    parser.add_argument("--no-baselines", action="store_true", help="time segthor only")
    parser.add_argument("--no-whole-process", action="store_true", help="skip the whole-process comparison")
    parser.add_argument("--memory-child", choices=SOURCES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    ok = True
    for source in SOURCES if args.source == "both" else () if args.source == "none" else (args.source,):
        ok &= bench_source(source, args)[2]
    if not args.no_whole_process and not args.no_baselines:
        ok &= bench_whole_process(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
