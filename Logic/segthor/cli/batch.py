"""`segthor batch`: every CT case of a folder, resumable, split across ranks under torchrun."""

from __future__ import annotations

import argparse

from segthor.cli.segment import add_model_arguments

HELP = "segment every CT case of a folder (SegTHOR layout, loose files or DICOM folders) with a summary CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input_dir", help="folder of cases: Patient_XX/Patient_XX.nii.gz, loose CT files, "
                        "or one DICOM series per sub-folder")
    parser.add_argument("-o", "--output", required=True, dest="output_dir", metavar="OUTDIR")
    parser.add_argument("--reference-dir", default=None, metavar="DIR",
                        help="folder with reference labels (<case>/GT.nii.gz or <case>_labels.nii.gz); "
                             "adds metrics to the reports and the summary")
    parser.add_argument("--resume", action="store_true", help="skip cases whose report already exists")
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from segthor.api import batch

    summary = batch(
        args.input_dir,
        args.output_dir,
        model=args.model,
        device=args.device,
        reference_dir=args.reference_dir,
        resume=args.resume,
        postprocess=args.postprocess,
        batch_size=args.batch_size,
        show_progress=not args.quiet,
        output_types=args.output_types,
    )
    done = sum(r["status"] == "ok" for r in summary.rows)
    skipped = sum(r["status"] == "skipped" for r in summary.rows)
    print(f"{done} segmented, {skipped} skipped (already done), {len(summary.failed)} failed; "
          f"summary: {summary.csv_path}")
    for row in summary.failed:
        print(f"  {row['case']}: {row['message']}")
    return 1 if summary.failed else 0
