"""Segment every CT of a folder inside Slicer, headless:

    Slicer --no-main-window --python-script SegTHORSlicer/Scripts/segthor_batch.py -- \
        --input cases/ --output out/ [--model enet-demo] [--device auto] [--resume]

Cases are found, read, resumed and summarised exactly as by `segthor batch` (segthor.batch_runner): image
files, SegTHOR-style Patient_XX/Patient_XX.nii.gz folders and one DICOM series per sub-folder, read with the
segthor package's own reader. Each case becomes a volume node, is segmented into four segments through the
same logic the module uses, and is saved as OUTDIR/<case>.seg.nrrd, then OUTDIR/<case>.json (written last:
with --resume, a case whose JSON says "ok" for the same input is not run again), and the run ends with
OUTDIR/summary.csv. A case that
fails is reported and the others still run. Exit code: 0 all done, 1 some case failed, 2 bad arguments or
input folder; Slicer always exits. Bundled models are demo weights, synthetic training data, not for
clinical use.
"""

import argparse
import json
import os
import sys
import time
import traceback


def _add_logic_to_path():
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, os.pardir), os.path.join(here, os.pardir, os.pardir, "Logic")):
        candidate = os.path.normpath(candidate)
        if os.path.isdir(os.path.join(candidate, "segthor")) and candidate not in sys.path:
            sys.path.insert(0, candidate)
            return


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="segthor_batch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="folder of CT cases (files or DICOM sub-folders)")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--model", default=None, help="model id or package folder (default: the default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--resume", action="store_true", help="skip cases finished by a previous run")
    return parser.parse_args(argv)


def save_segmentation(segmentation_node, target):
    """Write a segmentation node to `target` (.seg.nrrd) atomically with Slicer's own storage node."""
    from segthor.io.atomic import atomic_path

    storage = segmentation_node.CreateDefaultStorageNode()
    try:
        with atomic_path(target) as partial:  # a half-written file never has the final name
            storage.SetFileName(str(partial))
            if not storage.WriteData(segmentation_node):
                raise OSError(f"could not write {target}: {storage.GetWriteStateAsString()}")
    finally:
        storage.UnRegister(None)  # CreateDefaultStorageNode hands over a reference (see Slicer's sitkUtils)


def segment_case(logic, case, output_dir):
    """Read, segment and save one case; returns its report (also written as <case>.json, last)."""
    import slicer

    from segthor.io.atomic import write_text_atomic
    from segthor.io.volume import read_volume
    from segthor.logic import build_case_report
    from segthor.mrml.volume_nodes import node_from_volume
    from segthor.outputs.case_files import input_key

    t0 = time.perf_counter()
    volume = read_volume(case.image)  # files and DICOM folders alike
    try:
        volume_node = node_from_volume(volume, case.name, slicer.mrmlScene)
        result = logic.segment_node(volume_node, name=f"{case.name} organs")
        target = os.path.join(output_dir, f"{case.name}.seg.nrrd")
        save_segmentation(result.segmentation_node, target)
        report = build_case_report(
            case=case.name,
            input_path=str(case.image),
            input_resolved=input_key(case.image),  # what --resume matches a finished case by
            volume=volume,
            prediction=result.prediction,
            model=logic.model_info(),
            device=str(logic.device),
            timings={**result.timings, "total": round(time.perf_counter() - t0, 3)},
            outputs={"segmentation": os.path.basename(target)},
            postprocess=logic.postprocess.to_dict(),
        )
        write_text_atomic(os.path.join(output_dir, f"{case.name}.json"), json.dumps(report, indent=2))
        return report
    finally:
        slicer.mrmlScene.Clear(0)


def main(argv):
    """Run the batch; returns the exit code (0 all done, 1 a case failed, 2 bad arguments or input folder)."""
    _add_logic_to_path()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage
        return 2 if exc.code else 0
    from segthor.batch_runner import discover_cases, run_batch
    from segthor.errors import SegthorError
    from segthor.logic import SegmentationLogic

    logic = SegmentationLogic(args.model, args.device)
    try:
        discover_cases(args.input)  # a wrong folder is reported before the model loads
        # --resume keeps only this model's results (the weights' sha256 in each case JSON).
        sha256 = logic.load_model().metadata.get("sha256") if args.resume else None
        summary = run_batch(
            lambda case, _reference: segment_case(logic, case, args.output),
            args.input,
            args.output,
            resume=args.resume,
            show_progress=False,
            model_sha256=sha256,
        )
    except SegthorError as exc:
        print(f"segthor_batch: {exc}", file=sys.stderr, flush=True)
        return 2
    for row in summary.rows:
        print(f"{row['case']}: {row['status']} ({row['seconds']} s) {row.get('message', '')}".rstrip(), flush=True)
    print(f"summary: {summary.csv_path}", flush=True)
    return 1 if summary.failed else 0


def exit_application(code):
    """End Slicer (or plain Python) with `code`."""
    try:
        import slicer

        slicer.util.exit(code)
    except (ImportError, AttributeError):  # plain Python, or slicer-core without the application
        sys.exit(code)


if __name__ == "__main__":
    exit_code = 1
    try:
        exit_code = main(sys.argv[1:])
    except BaseException:  # anything unexpected must still end headless Slicer, with a failure code
        traceback.print_exc()
        exit_code = 1
    finally:
        exit_application(exit_code)
