"""`segthor segment`: one CT in; four organ segments, a labelmap, a preview and a JSON report out."""

from __future__ import annotations

import argparse
import sys

HELP = "segment the esophagus, heart, trachea and aorta in one CT (NIfTI/NRRD/MHA file or DICOM folder)"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `segment` and `batch` (the same names as the Python API's arguments)."""
    from segthor.model_packages import DEFAULT_MODEL_ID, DEMO_DISCLAIMER

    parser.add_argument("--model", default=None, help="model id (see `segthor models`) or package folder; "
                        f"default: {DEFAULT_MODEL_ID} ({DEMO_DISCLAIMER})")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--postprocess", action="append", default=None, metavar="[ORGAN:]STEPS",
                        help="clean-up steps close,open,lcc (or all/none), for every organ or one, e.g. "
                             "--postprocess heart:close,lcc; repeatable; off by default")
    parser.add_argument("--batch-size", type=int, default=None, help="slices per network batch "
                        "(default 8 on CPU, 32 on CUDA; lowered automatically when memory is short)")
    parser.add_argument("--output-types", default=None, metavar="TYPES",
                        help="comma-separated files to write: seg-nrrd, nifti, preview, rtstruct, dicom-seg "
                             "(default seg-nrrd,nifti,preview; rtstruct and dicom-seg need a DICOM series input "
                             "and the 'dicom' extra); the JSON report is always written")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="CT file (.nii.gz, .nii, .nrrd, .mha, .mhd) or a DICOM series folder")
    parser.add_argument("-o", "--output", required=True, dest="output_dir", metavar="OUTDIR",
                        help="output folder (created if needed)")
    parser.add_argument("--reference", default=None, metavar="REF",
                        help="reference labels to compute metrics: a label image on the CT's grid (SegTHOR values "
                             "0-4), a .seg.nrrd, or a DICOM RTSTRUCT / SEG drawn on this CT")
    parser.add_argument("--case-name", default=None, help="output file prefix (default: the input's name)")
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def format_report(report: dict) -> str:
    lines = [f"{report['case']}: model {report['model']['id']} on {report['device']}"]
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report["timings_s"].items())
    lines.append(f"  timings: {timings}")
    volumes = ", ".join(f"{k} {v:.1f} ml" for k, v in report["organ_volumes_ml"].items())
    lines.append(f"  organ volumes: {volumes}")
    for key, m in (report.get("metrics") or {}).items():
        hd95 = m.get("hd95")
        hd = "n/a" if hd95 is None or hd95 != hd95 else f"{hd95:.2f} mm"
        lines.append(f"  {key:10s} Dice {m.get('dice', float('nan')):.3f}  HD95 {hd}")
    for note in report.get("reference_notes") or []:
        lines.append(f"  note: {note}")
    for path in report["outputs"].values():
        lines.append(f"  wrote {path}")
    if report["model"].get("disclaimer"):
        lines.append(f"  note: {report['model']['disclaimer']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from segthor.api import segment

    result = segment(
        args.input,
        args.output_dir,
        model=args.model,
        device=args.device,
        reference=args.reference,
        postprocess=args.postprocess,
        batch_size=args.batch_size,
        case_name=args.case_name,
        output_types=args.output_types,
    )
    if not args.quiet:
        print(format_report(result.report), file=sys.stdout)
    return 0
