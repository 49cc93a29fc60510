"""`segthor batch`: every CT case of a folder, resumable, split across ranks under torchrun."""

from __future__ import annotations

import argparse

from segthor.cli.evaluate import add_map_argument
from segthor.cli.segment import add_model_arguments

HELP = "segment every CT case of a folder (SegTHOR layout, loose files or DICOM folders) with a summary CSV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input_dir",
        help="folder of cases: Patient_XX/Patient_XX.nii.gz, loose CT files, or one DICOM series per sub-folder",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        dest="output_dir",
        metavar="OUTDIR",
        help="output folder (created if needed): per case <case>.seg.nrrd, <case>_labels.nii.gz, "
        "<case>_preview.png, <case>.json, and summary.csv (updated after every case)",
    )
    parser.add_argument(
        "--reference-dir",
        default=None,
        metavar="DIR",
        help="folder with reference labels (<case>/GT.nii.gz or <case>_labels.nii.gz); "
        "adds metrics to the reports and the summary",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="do not redo cases finished earlier from the same input by the same model and with the "
        "same reference (their results are kept)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace results in OUTDIR that another input left under the same case name",
    )
    add_map_argument(parser)
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
        overwrite=args.overwrite,
        segment_map=args.segment_map,
        output_types=args.output_types,
    )
    done = sum(r["status"] == "ok" for r in summary.rows)
    resumed = sum(r["status"] == "resumed" for r in summary.rows)
    print(
        f"{done} segmented, {resumed} finished earlier (results kept), {len(summary.failed)} failed; "
        f"summary: {summary.csv_path}"
    )
    for row in summary.failed:
        print(f"  {row['case']}: {row['message']}")
    for row in summary.rows:
        if row["status"] == "ok" and row["message"]:
            print(f"  {row['case']} (warning): {row['message']}")
    review = [r["case"] for r in summary.rows if r.get("needs_review") == "yes" and r["status"] != "error"]
    if review:
        print(
            f"{len(review)} case(s) need review (plausibility flags, see the summary's needs_review and flags "
            f"columns): {', '.join(review[:10])}{' ...' if len(review) > 10 else ''}"
        )
    return 1 if summary.failed else 0
