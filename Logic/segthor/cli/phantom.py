"""`segthor phantom`: write synthetic thoracic CT phantoms with SegTHOR labels, laid out like the SegTHOR release."""

from __future__ import annotations

import argparse
import sys
import time

from segthor.errors import InputError

HELP = "write synthetic thoracic CT phantoms with SegTHOR labels (for tests, demos and training)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outdir", metavar="OUTDIR", help="folder that receives Patient_01/, Patient_02/, ...")
    parser.add_argument("--cases", type=int, default=1, metavar="N", help="number of cases (default 1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="cohort seed; same seed, same files")
    parser.add_argument(
        "--size",
        type=int,
        default=512,
        metavar="PX",
        help="in-plane matrix (default 512); smaller sizes keep the field of view, so voxels grow",
    )
    parser.add_argument(
        "--slices",
        type=int,
        default=None,
        metavar="N",
        help="number of axial slices (default: drawn from SegTHOR's 150-284, scaled with --size)",
    )
    parser.add_argument(
        "--contrast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="intravenous contrast on/off (default: drawn per case, as in SegTHOR)",
    )
    parser.add_argument(
        "--generator",
        choices=("v1", "v2"),
        default="v1",
        help="v1: procedural shapes (default); v2: organ shapes from the HRA reference meshes, deformed per case",
    )
    parser.add_argument(
        "--domain-random",
        action="store_true",
        help="v2 only: random per-tissue intensities, bias field, blur and noise (domain randomisation for training)",
    )
    parser.add_argument("--first-index", type=int, default=1, metavar="I", help="number of the first case (default 1)")
    parser.add_argument("--preview", action="store_true", help="also write a PNG montage with the label overlay")
    parser.add_argument("--overwrite", action="store_true", help="replace existing case folders")


def run(args: argparse.Namespace) -> int:
    from segthor.phantom import write_cohort
    from segthor.phantom.params import MAX_SIZE, MIN_SIZE, MIN_SLICES

    # The options' own names in the messages (the generator's checks name its API parameters).
    if args.cases < 1:
        raise InputError(f"--cases must be at least 1 (got {args.cases})")
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must be a non-negative integer (got {args.seed})")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise InputError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {args.size})")
    if args.slices is not None and args.slices < MIN_SLICES:
        raise InputError(f"--slices must be at least {MIN_SLICES} (got {args.slices}) to hold neck-to-abdomen anatomy")
    if args.first_index < 0:
        raise InputError(f"--first-index must be non-negative (got {args.first_index})")
    start = time.perf_counter()

    def report(path, case) -> None:
        print(f"wrote {path}  ({case.describe()})", file=sys.stdout, flush=True)

    paths = write_cohort(
        args.outdir,
        cases=args.cases,
        seed=args.seed,
        size=args.size,
        n_slices=args.slices,
        contrast=args.contrast,
        preview=args.preview,
        first_index=args.first_index,
        overwrite=args.overwrite,
        on_case=report,
        generator=args.generator,
        domain_random=args.domain_random,
    )
    print(f"{len(paths)} phantom case(s) in {time.perf_counter() - start:.1f} s; synthetic data, not for clinical use")
    return 0
