"""`segthor evaluate`: compare predicted organ labels with reference labels (files or SegTHOR-layout folders)."""

from __future__ import annotations

HELP = "compare predicted organ labels with reference labels (Dice, Dice 2D, HD, HD95, ASSD, AHD, volumes)"


def add_arguments(parser) -> None:
    from segthor.organs import ORGANS

    parser.add_argument(
        "pred", help="predicted labels: a .nii.gz/.nrrd/.seg.nrrd, RTSTRUCT or DICOM SEG file, or a folder of cases"
    )
    parser.add_argument(
        "ref",
        help="reference labels: a file (label image, .seg.nrrd, RTSTRUCT or DICOM SEG), or a folder in SegTHOR "
        "layout (Patient_01/GT.nii.gz) or of <case> files",
    )
    parser.add_argument(
        "--organs",
        nargs="+",
        metavar="ORGAN",
        choices=[o.key for o in ORGANS],
        help="organs to evaluate (default: all four)",
    )
    parser.add_argument(
        "--restricted",
        action="store_true",
        help="evaluate each organ only on the axial slices where the reference has it (SegTHOR paper, Table 3)",
    )
    parser.add_argument(
        "--hd95",
        choices=("pooled", "max-directed"),
        default="pooled",
        help="HD95 rule: 95th percentile of both directions pooled (default, as medpy) or the max of the two "
        "directed 95th percentiles (as MONAI)",
    )
    parser.add_argument("--csv", metavar="FILE", help="write one row per case and organ")
    parser.add_argument("--json", metavar="FILE", help="write summary, per-case rows and tests as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw box plots per organ and metric (needs matplotlib)")
    parser.add_argument(
        "--against",
        metavar="OTHER_PRED",
        help="a second prediction of the same cases: adds a Wilcoxon signed-rank test per organ and metric",
    )
    parser.add_argument(
        "--resample-to-reference",
        action="store_true",
        help="resample predictions onto the reference grid (nearest neighbour) instead of failing on a mismatch",
    )
    add_map_argument(parser)
    from segthor.metrics.registry import add_parameter_arguments

    add_parameter_arguments(parser)  # one flag per metric parameter, e.g. --nsd-tolerance
    parser.add_argument(
        "--reference-ct",
        metavar="DIR",
        help="CT series folder that DICOM RTSTRUCT/SEG files were drawn on (default: the DICOM file's own folder)",
    )
    parser.add_argument("--quiet", action="store_true", help="print no progress, only the table")


def add_map_argument(parser) -> None:
    """``--map``, shared by `evaluate` and `segment --reference`."""
    parser.add_argument(
        "--map",
        action="append",
        default=None,
        dest="segment_map",
        metavar="NAME=ORGAN|FILE.json",
        help="which organ a reference segment is, when its name or code is not recognised, e.g. --map Herz=heart "
        '(ORGAN: esophagus, heart, trachea, aorta or ignore); repeatable, or a JSON file {"NAME": "ORGAN"}',
    )


def run(args) -> int:
    import sys

    from segthor.metrics.evaluation import evaluate
    from segthor.metrics.registry import options_from_arguments

    def progress(i: int, total: int, case: str) -> None:
        if not args.quiet and total > 1:
            print(f"[{i + 1}/{total}] {case}", file=sys.stderr)

    report = evaluate(
        args.pred,
        args.ref,
        organs=args.organs,
        restricted=args.restricted,
        hd95=args.hd95,
        csv=args.csv,
        json=args.json,
        plot=args.plot,
        against=args.against,
        resample_to_reference=args.resample_to_reference,
        on_case=progress,
        segment_map=args.segment_map,
        metric_options=options_from_arguments(args),
        reference_ct=args.reference_ct,
    )
    print(report.table())
    if report.cohort.unmatched_predictions:
        names = ", ".join(report.cohort.unmatched_predictions)
        print(f"note: predictions without a reference were ignored: {names}", file=sys.stderr)
    notes: dict[str, None] = {}  # ordered and without repeats (the reference is read again for --against)
    for cohort in (report.cohort, report.against):
        for case in cohort.cases if cohort is not None else []:
            for side, segments in case.unused_segments.items():
                notes[
                    f"note: {case.case}: {side} segments not used (no organ; map them with --map NAME=ORGAN): "
                    + ", ".join(repr(s) for s in segments)
                ] = None
    for note in notes:
        print(note, file=sys.stderr)
    for what, path in report.written.items():
        print(f"wrote {what}: {path}")
    return 0
