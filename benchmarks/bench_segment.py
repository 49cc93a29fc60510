"""Benchmark: segment a 512x512x200 phantom CT with the default model, file read to all outputs written.

Side by side in one run:
  pipeline  `segthor segment` in a child process (fresh interpreter, so its peak RSS is the command's own);
            stage times come from the case JSON; wall time includes Python/torch start-up.
  baseline  the same network run naively, slice by slice (batch 1, NCHW) on the full 512x512 slices,
            timed on a subset of slices and extrapolated to all of them (said so in the output).

    python benchmarks/bench_segment.py [--size 512] [--slices 200] [--baseline-slices 8] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0  # "one 512x512x200 phantom in <= 10 s" (the real-CT issue; 15 s before it)
TARGET_RSS_GB = 3.0
TARGET_SPEEDUP = 3.0


def make_ct(folder: Path, size: int, slices: int) -> Path:
    from segthor.io.volume import write_volume
    from segthor.phantom import generate_case

    t0 = time.perf_counter()
    case = generate_case(0, size=size, n_slices=slices)
    path = write_volume(case.ct, folder / "bench_ct.nii.gz")
    print(f"phantom {case.ct.describe_geometry()} generated and written in {time.perf_counter() - t0:.1f} s")
    return path


def run_pipeline(ct_path: Path, out: Path, model: str | None, device: str) -> tuple[float, float, dict]:
    command = [sys.executable, "-m", "segthor", "segment", str(ct_path), "-o", str(out), "--device", device, "-q"]
    if model:
        command += ["--model", model]
    t0 = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB on Linux
    report = json.loads((out / "bench_ct.json").read_text())
    return wall, peak_gb, report


def naive_baseline(ct_path: Path, model: str | None, device: str, n_slices: int) -> tuple[dict[int, float], int]:
    """Seconds per full-resolution slice at batch 1 for torch's default thread count and for one thread (the
    fair baseline is the faster: a busy core makes two threads much slower), and the slice count."""
    import numpy as np
    import torch

    from segthor.devices import resolve_device
    from segthor.io.volume import read_volume
    from segthor.model_packages import DEFAULT_MODEL_ID, load_model_package
    from segthor.preprocessing import Recipe, preprocess
    from segthor.preprocessing.slice_context import CENTRE_ONLY, slice_stack

    dev = resolve_device(device)
    package = load_model_package(model or DEFAULT_MODEL_ID, str(dev))
    # The model's own intensity recipe, but no crop and no resampling: every slice at full resolution.
    recipe = Recipe.from_dict(package.metadata["preprocessing"]).with_changes(crop="none", spacing=None)
    pre = preprocess(read_volume(ct_path), recipe)
    ct, spacing_z = pre.array, float(pre.context.network_grid.spacing[2])  # LPS-ordered: the slices' own spacing
    total = ct.shape[0]
    offsets = tuple(getattr(package.model, "slice_offsets_mm", CENTRE_ONLY))  # a 2.5D net reads its neighbours

    def net_input(k: int) -> torch.Tensor:
        return torch.from_numpy(slice_stack(ct, np.array([k]), offsets, spacing_z)).to(dev)

    picks = np.linspace(0, total - 1, n_slices).astype(int)
    default_threads = torch.get_num_threads()
    best: dict[int, float] = {}
    with torch.inference_mode():
        for threads in sorted({default_threads, 1}, reverse=True):
            torch.set_num_threads(threads)
            package.model(net_input(picks[0]))  # warm-up
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for k in picks:
                package.model(net_input(k)).argmax(1).cpu()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best[threads] = (time.perf_counter() - t0) / n_slices
    torch.set_num_threads(default_threads)
    return best, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--baseline-slices", type=int, default=8)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="segthor-bench-") as tmp:
        folder = Path(tmp)
        ct_path = make_ct(folder, args.size, args.slices)
        load_before = os.getloadavg()[0]
        wall, peak_gb, report = run_pipeline(ct_path, folder / "out", args.model, args.device)
        per_thread, total = naive_baseline(ct_path, args.model, args.device, args.baseline_slices)

    timings = report["timings_s"]
    baseline_threads = min(per_thread, key=per_thread.get)
    per_slice = per_thread[baseline_threads]
    baseline_model = per_slice * total
    print(
        f"\n## Segmentation benchmark ({args.size}x{args.size}x{args.slices}, model {report['model']['id']}, "
        f"device {report['device']})"
    )
    print("stage times (pipeline, from the case JSON):")
    for stage, seconds in timings.items():
        print(f"  {stage:12s} {seconds:7.2f} s")
    print(
        f"pipeline: file read -> all outputs written {timings['total']:.2f} s "
        f"(command wall time incl. interpreter start {wall:.2f} s), peak RSS {peak_gb:.2f} GB"
    )
    print(
        f"pipeline ran the network with {report.get('cpu_threads')} CPU thread(s), batch {report['batch_size']}, "
        f"on a {'x'.join(map(str, report['network_grid_zyx']))} (z,y,x) grid; 1-minute load average "
        f"{load_before:.2f} when it started (it chooses its threads from the load, see threads.py)"
    )
    for threads, seconds in sorted(per_thread.items()):
        print(
            f"naive baseline, {threads} thread(s): {seconds:.3f} s per {args.size}x{args.size} slice at batch 1 "
            f"(measured on {args.baseline_slices} slices) -> {seconds * total:.1f} s for {total} slices "
            "(extrapolated)"
        )
    speedup = baseline_model / timings["total"]
    print(
        f"side by side: pipeline {timings['total']:.2f} s (all stages) vs naive {baseline_model:.1f} s "
        f"(model time alone, its faster thread count) -> {speedup:.1f}x faster; "
        f"vs naive with torch's default threads: {per_thread[max(per_thread)] * total / timings['total']:.1f}x"
    )
    ok = timings["total"] <= TARGET_SECONDS and peak_gb <= TARGET_RSS_GB and speedup >= TARGET_SPEEDUP
    print(
        f"targets (<= {TARGET_SECONDS:.0f} s, <= {TARGET_RSS_GB:.0f} GB, >= {TARGET_SPEEDUP:.0f}x): "
        f"{'met' if ok else 'NOT met'}"
    )
    print(f"note: {report['model'].get('disclaimer', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
