"""Segment every CT of a folder inside Slicer, headless:

    Slicer --no-main-window --python-script SegTHORSlicer/Scripts/segthor_batch.py -- \
        --input cases/ --output out/ [--model enet-demo] [--device auto] [--resume]

Each case is loaded as a volume node, segmented into four segments through the same logic the module
uses, and saved as OUTDIR/<case>.seg.nrrd with a summary CSV. A case that fails is reported and the others
still run. Bundled models are demo weights, synthetic training data, not for clinical use.
"""

import argparse
import os
import sys
import time
import traceback
from pathlib import Path


def _add_logic_to_path():
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, os.pardir), os.path.join(here, os.pardir, os.pardir, "Logic")):
        candidate = os.path.normpath(candidate)
        if os.path.isdir(os.path.join(candidate, "segthor")) and candidate not in sys.path:
            sys.path.insert(0, candidate)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="segthor_batch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="folder of CT cases (files or DICOM sub-folders)")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--model", default=None, help="model id or package folder (default: the default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--resume", action="store_true", help="skip cases whose .seg.nrrd exists")
    return parser.parse_args(argv)


def segment_case(logic, case, output_dir):
    import slicer

    from segthor.io.atomic import atomic_path

    volume_node = slicer.modules.volumes.logic().AddArchetypeVolume(str(case.image), case.name, 0)
    if volume_node is None:
        raise RuntimeError(f"Slicer could not load {case.image}")
    try:
        result = logic.segment_node(volume_node, name=f"{case.name} organs")
        seg = result.segmentation_node
        storage = seg.CreateDefaultStorageNode()
        target = os.path.join(output_dir, f"{case.name}.seg.nrrd")
        with atomic_path(target) as partial:  # a half-written file never has the final name
            storage.SetFileName(str(partial))
            if not storage.WriteData(seg):
                raise RuntimeError(f"could not write {target}")
        return target
    finally:
        slicer.mrmlScene.Clear(0)


def main(argv):
    _add_logic_to_path()
    args = parse_args(argv)
    from segthor.batch_runner import discover_cases, write_summary_csv
    from segthor.logic import SegmentationLogic

    os.makedirs(args.output, exist_ok=True)
    logic = SegmentationLogic(args.model, args.device)
    rows = []
    cases = discover_cases(args.input)
    for index, case in enumerate(cases, 1):
        target = os.path.join(args.output, f"{case.name}.seg.nrrd")
        if args.resume and os.path.exists(target):
            rows.append({"case": case.name, "status": "skipped", "seconds": 0, "message": "already done"})
            continue
        t0 = time.perf_counter()
        try:
            segment_case(logic, case, args.output)
            status, message = "ok", ""
        except Exception as exc:  # one bad case must not stop the cohort
            traceback.print_exc()
            status, message = "error", f"{exc.__class__.__name__}: {exc}"
        seconds = time.perf_counter() - t0
        rows.append({"case": case.name, "status": status, "seconds": round(seconds, 2), "message": message})
        print(f"[{index}/{len(cases)}] {case.name}: {status} ({seconds:.1f} s) {message}", flush=True)
    write_summary_csv(rows, Path(args.output) / "summary.csv")
    return 1 if any(r["status"] == "error" for r in rows) else 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    try:
        import slicer

        slicer.util.exit(code)
    except (ImportError, AttributeError):
        sys.exit(code)
