"""`segthor segment`: one CT in; four organ segments, a labelmap, a preview and a JSON report out."""

from __future__ import annotations

import argparse
import sys

from segthor.cli.evaluate import add_map_argument

HELP = "segment the esophagus, heart, trachea and aorta in one CT (NIfTI/NRRD/MHA file or DICOM folder)"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `segment` and `batch` (the same names as the Python API's arguments)."""
    from segthor.model_packages import DEFAULT_MODEL_ID, DEMO_DISCLAIMER

    parser.add_argument(
        "--model",
        default=None,
        help=f"model id (see `segthor models`) or package folder; default: {DEFAULT_MODEL_ID} ({DEMO_DISCLAIMER})",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument(
        "--postprocess",
        action="append",
        default=None,
        metavar="[ORGAN:]STEPS",
        help="clean-up steps close, fill (holes), open, lcc (keep the largest piece), "
        "drop=VOLUME (drop pieces below, e.g. drop=0.5ml or drop=200mm3), and the anatomical rules that read "
        "the CT: lungs (nothing of esophagus, heart, aorta in lung tissue), extent (no organ slices where it "
        "cannot be, from the lungs' extent), fat (the fat around the esophagus and aorta peeled off), "
        "lumen (the trachea's air lumen added, at most 3 mm of wall kept; around a narrowed air column, as in a "
        "breathing tube, only fat and lung beyond it removed), neck (the heart cut where it runs on "
        "past a narrow waist), bridge (short gaps between pieces of the aorta filled); or all/none; "
        "for every organ or one, e.g. --postprocess heart:fill,lcc; repeatable; "
        "default: the anatomical rules and the steps that did not lower Dice on phantoms (docs/quality.md)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="slices per network batch (default 8 on CPU, 32 on CUDA; lowered automatically when memory is short)",
    )
    parser.add_argument(
        "--output-types",
        default=None,
        metavar="TYPES",
        help="comma-separated files to write: seg-nrrd, nifti, preview, rtstruct, dicom-seg "
        "(default seg-nrrd,nifti,preview; rtstruct and dicom-seg need a DICOM series input "
        "and the 'dicom' extra); the JSON report is always written",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="CT file (.nii.gz, .nii, .nrrd, .mha, .mhd) or a DICOM series folder")
    parser.add_argument(
        "-o", "--output", required=True, dest="output_dir", metavar="OUTDIR", help="output folder (created if needed)"
    )
    parser.add_argument(
        "--reference",
        default=None,
        metavar="REF",
        help="reference labels to compute metrics: a label image on the CT's grid (SegTHOR values "
        "0-4), a .seg.nrrd, or a DICOM RTSTRUCT / SEG drawn on this CT",
    )
    parser.add_argument(
        "--case-name",
        default=None,
        help="output file prefix (default: the input's name; "
        "<parent>_<name> when another input's results already use it)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace another input's results of the same case name in OUTDIR"
    )
    parser.add_argument(
        "--series",
        default=None,
        metavar="NUMBER|UID",
        help="the DICOM series to read (SeriesNumber or SeriesInstanceUID) when the folder holds several",
    )
    add_map_argument(parser)
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors (no progress line)")


class TerminalProgress:
    """A one-line progress display on a terminal (stderr): '[ 45%] running the network'; nothing elsewhere."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.shown = False

    def __call__(self, fraction: float, message: str) -> None:
        import shutil

        width = shutil.get_terminal_size((80, 20)).columns - 1
        line = f"[{round(100 * fraction):3d}%] {message}"[:width]
        self.stream.write("\r" + line.ljust(width))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def progress_display(quiet: bool, stream=None) -> TerminalProgress | None:
    """A ``TerminalProgress`` when ``stream`` (stderr) is a terminal and not ``quiet``; else None (logs stay clean)."""
    stream = stream if stream is not None else sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return None
    return TerminalProgress(stream)


def format_report(report: dict) -> str:
    lines = [f"{report['case']}: model {report['model']['id']} on {report['device']}"]
    lines.extend(f"  input warning: {w}" for w in report.get("input_warnings") or [])
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in report["timings_s"].items())
    lines.append(f"  timings: {timings}")
    volumes = ", ".join(f"{k} {v:.1f} ml" for k, v in report["organ_volumes_ml"].items())
    lines.append(f"  organ volumes: {volumes}")
    lines += [f"  {line}" for line in quality_lines(report)]
    for key, m in (report.get("metrics") or {}).items():
        hd95 = m.get("hd95")
        hd = "n/a" if hd95 is None or hd95 != hd95 else f"{hd95:.2f} mm"
        lines.append(f"  {key:10s} Dice {m.get('dice', float('nan')):.3f}  HD95 {hd}")
    unused = report.get("reference_unused_segments") or []
    if unused:
        lines.append(
            "  reference segments not used (no organ; map them with --map NAME=ORGAN): "
            + ", ".join(repr(s) for s in unused)
        )
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
    # "input check", not "input warning": "input warning" lines are what reading the file left out or
    # resampled; the verdict counts both kinds.
    lines = [f"input check: {w['message']}" for w in quality["input"]["warnings"]]
    for key, organ in quality["organs"].items():
        reasons = "; ".join(organ["reasons"])
        lines.append(f"{key:10s} {organ['status']}" + (f": {reasons}" if reasons else ""))
    n_read = len(report.get("input_warnings") or [])
    n_warn = len(quality["input"]["warnings"])
    n_flag = sum(o["status"] != "ok" for o in quality["organs"].values())
    counts = f"{n_warn} input check(s), {n_flag} organ(s) flagged" + (f", {n_read} input warning(s)" if n_read else "")
    verdict = f"NEEDS REVIEW ({counts})" if report.get("needs_review", quality["needs_review"]) else "no flags"
    lines.append(f"plausibility: {verdict}")
    return lines


def run(args: argparse.Namespace) -> int:
    from segthor.api import segment

    display = progress_display(args.quiet)
    try:
        result = segment(
            args.input,
            args.output_dir,
            model=args.model,
            device=args.device,
            reference=args.reference,
            postprocess=args.postprocess,
            batch_size=args.batch_size,
            case_name=args.case_name,
            progress=display,
            overwrite=args.overwrite,
            segment_map=args.segment_map,
            series=args.series,
            output_types=args.output_types,
        )
    finally:
        if display is not None:
            display.close()
    if not args.quiet:
        print(format_report(result.report), file=sys.stdout)
    return 0
