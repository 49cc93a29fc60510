"""`python -m segthor.demo --output demo_output` (what `make demo` runs).

Takes the bundled phantom CT (or generates one), writes it and its ground truth to the output folder,
segments it with the default model exactly as `segthor segment` does, and prints per-organ metrics
against the phantom's ground truth. Works offline on a fresh clone: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m segthor.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="generate a phantom of SIZE x SIZE pixels instead of the bundled sample case",
    )
    parser.add_argument("--slices", type=int, default=None, help="number of slices of a generated phantom")
    parser.add_argument("--seed", type=int, default=0, help="seed of a generated phantom")
    parser.add_argument(
        "--generator",
        choices=("v1", "v2"),
        default="v1",
        help="phantom generator of a generated phantom: v1 (procedural) or v2 (organ shapes from reference meshes)",
    )
    parser.add_argument("--model", default=None, help="model id or package folder (default: the default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    return parser


def format_metrics(metrics: dict) -> str:
    lines = [f"{'organ':10s} {'Dice':>6s} {'HD95 mm':>8s} {'ASSD mm':>8s}"]
    for key, m in metrics.items():
        cells = []
        for name in ("dice", "hd95", "assd"):
            value = m.get(name)
            if value is None or value != value:
                cells.append("n/a")
            else:
                cells.append(f"{value:.3f}" if name == "dice" else f"{value:.2f}")
        lines.append(f"{key:10s} {cells[0]:>6s} {cells[1]:>8s} {cells[2]:>8s}")
    dice = [m["dice"] for m in metrics.values() if m.get("dice") is not None]
    if dice:
        lines.append(f"{'mean':10s} {sum(dice) / len(dice):6.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from segthor.api import segment
    from segthor.errors import SegthorError
    from segthor.io.volume import write_volume
    from segthor.model_packages import DEMO_DISCLAIMER

    out = Path(args.output)
    t0 = time.perf_counter()
    try:
        case, name = _phantom(args)
        ct_path = write_volume(case.ct, out / f"{name}_ct.nii.gz")
        truth_path = write_volume(case.labels, out / f"{name}_truth.nii.gz")
        print(f"phantom CT {case.ct.describe_geometry()} -> {ct_path} ({time.perf_counter() - t0:.1f} s)")
        result = segment(ct_path, out, model=args.model, device=args.device, reference=truth_path, case_name=name)
    except SegthorError as exc:
        print(f"segthor demo: error: {exc}", file=sys.stderr)
        return 2
    report = result.report
    print(
        f"model {report['model']['id']} on {report['device']}; "
        + ", ".join(f"{k} {v:.2f}s" for k, v in report["timings_s"].items())
    )
    print(format_metrics(report["metrics"] or {}))
    for path in report["outputs"].values():
        print(f"wrote {path}")
    print(f"Note: {report['model'].get('disclaimer') or DEMO_DISCLAIMER}.")
    return 0


def _phantom(args: argparse.Namespace):
    """(PhantomCase, case name) the arguments ask for. Raises `InputError` for a size or slice count the
    generator cannot draw, or whose slices lie farther apart than `segthor segment` accepts."""
    from segthor.errors import InputError
    from segthor.phantom import generate_case, sample_case
    from segthor.quality.thresholds import REFUSE_PIXEL_MM, REFUSE_SLICE_MM

    if args.size is None and args.slices is None and args.generator == "v1":
        return sample_case(), "phantom"
    kwargs = {k: v for k, v in (("size", args.size), ("n_slices", args.slices)) if v is not None}
    try:
        if args.generator == "v2":
            from segthor.phantom.v2 import generate_case_v2

            case, name = generate_case_v2(args.seed, **kwargs), f"phantom_v2_seed{args.seed}"
        else:
            case, name = generate_case(args.seed, **kwargs), f"phantom_seed{args.seed}"
    except InputError as exc:
        raise InputError(f"--size/--slices: {exc}") from None
    # The phantom spans a fixed field of view and chest length: too few pixels or slices make a CT that
    # `segthor segment` refuses (quality.thresholds); say so before writing anything, with the flag to change.
    pixel, step = float(case.ct.spacing[0]), float(case.ct.spacing[2])
    n_pixels, n_slices = int(case.ct.array.shape[2]), int(case.ct.array.shape[0])
    if pixel > REFUSE_PIXEL_MM:
        raise InputError(
            f"--size {n_pixels} gives pixels of {pixel:.1f} mm, more than the {REFUSE_PIXEL_MM:g} mm segthor "
            f"accepts; give --size {math.ceil(n_pixels * pixel / REFUSE_PIXEL_MM)} or more"
        )
    if step > REFUSE_SLICE_MM:
        raise InputError(
            f"--slices {n_slices} spreads the phantom's {n_slices * step:.0f} mm over slices {step:.1f} mm apart, "
            f"more than the {REFUSE_SLICE_MM:g} mm segthor accepts; give --slices "
            f"{math.ceil(n_slices * step / REFUSE_SLICE_MM)} or more"
        )
    return case, name


if __name__ == "__main__":
    sys.exit(main())
