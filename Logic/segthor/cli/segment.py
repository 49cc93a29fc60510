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
                        help="clean-up steps close, fill (holes), open, lcc (keep the largest piece), "
                             "drop=VOLUME (drop pieces below, e.g. drop=0.5ml or drop=200mm3), or all/none; "
                             "for every organ or one, e.g. --postprocess heart:fill,lcc; repeatable; "
                             "default: the steps that did not lower Dice on phantoms (docs/quality.md)")
    parser.add_argument("--batch-size", type=int, default=None, help="slices per network batch "
                        "(default 8 on CPU, 32 on CUDA; lowered automatically when memory is short)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="CT file (.nii.gz, .nii, .nrrd, .mha, .mhd) or a DICOM series folder")
    parser.add_argument("-o", "--output", required=True, dest="output_dir", metavar="OUTDIR",
                        help="output folder (created if needed)")
    parser.add_argument("--reference", default=None, metavar="REF",
                        help="reference labels on the CT's grid (SegTHOR values 0-4) to compute metrics")
    parser.add_argument("--case-name", default=None, help="output file prefix (default: the input's name)")
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def format_report(report: dict) -> str:
    lines = [f"{report['case']}: model {report['model']['id']} on {report['device']}"]
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report["timings_s"].items())
    lines.append(f"  timings: {timings}")
    volumes = ", ".join(f"{k} {v:.1f} ml" for k, v in report["organ_volumes_ml"].items())
    lines.append(f"  organ volumes: {volumes}")
    lines += [f"  {line}" for line in quality_lines(report)]
    for key, m in (report.get("metrics") or {}).items():
        hd95 = m.get("hd95")
        hd = "n/a" if hd95 is None or hd95 != hd95 else f"{hd95:.2f} mm"
        lines.append(f"  {key:10s} Dice {m.get('dice', float('nan')):.3f}  HD95 {hd}")
    for path in report["outputs"].values():
        lines.append(f"  wrote {path}")
    if report["model"].get("disclaimer"):
        lines.append(f"  note: {report['model']['disclaimer']}")
    return "\n".join(lines)


def quality_lines(report: dict) -> list[str]:
    """Input warnings and one status line per organ from a case report's "quality" entry."""
    quality = report.get("quality")
    if not quality:
        return []
    lines = [f"input warning: {w['message']}" for w in quality["input"]["warnings"]]
    for key, organ in quality["organs"].items():
        reasons = "; ".join(organ["reasons"])
        lines.append(f"{key:10s} {organ['status']}" + (f": {reasons}" if reasons else ""))
    verdict = "NEEDS REVIEW" if quality["needs_review"] else "no flags"
    lines.append(f"plausibility: {verdict}")
    return lines


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
    )
    if not args.quiet:
        print(format_report(result.report), file=sys.stdout)
    return 0
