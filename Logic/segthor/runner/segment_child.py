"""The child side of a runner job: segment one CT file and hand the labels back as a file.

    python -m segthor.runner.segment_child --input CT.nrrd --output-dir DIR [--model ID] [--device auto]
        [--postprocess close,open,lcc]

Writes DIR/labels.nrrd (SegTHOR label values 0-4, on the input's grid) and DIR/result.json, then prints a
"done" message; progress goes to stdout as protocol lines (segthor.runner.protocol). Exit codes: 0 done,
2 a problem the user can fix (the "error" message says what to do), 1 an unexpected failure (traceback on
stderr). Ending the process (terminate/kill) is the cancellation: the parent's scene is only touched after a
"done" message, by the parent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from segthor.runner.protocol import emit, one_line

LABELS_FILE = "labels.nrrd"
RESULT_FILE = "result.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m segthor.runner.segment_child", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="CT image file or DICOM folder")
    parser.add_argument("--output-dir", required=True, help="folder for labels.nrrd and result.json")
    parser.add_argument("--model", default=None, help="model id or package folder (default: the default model)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--postprocess", action="append", default=None, help="post-processing steps, e.g. close,lcc")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Segment `args.input`; returns the result object of the "done" message."""
    from segthor.inference.progress import Progress
    from segthor.io.atomic import write_text_atomic
    from segthor.io.volume import read_volume, write_volume
    from segthor.logic import SegmentationLogic, organ_volumes_ml

    t0 = time.perf_counter()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(lambda fraction, message: emit("progress", fraction=round(fraction, 4), message=message))
    progress.report(0.0, "reading the CT")
    volume = read_volume(args.input)
    logic = SegmentationLogic(args.model, args.device, args.postprocess)
    prediction = logic.segment(volume, progress.sub(0.02, 0.95))
    progress.report(0.96, "handing the labels back")
    labels_path = write_volume(prediction.labels, out / LABELS_FILE, compress=False)  # local, read back at once
    result = {
        "labels": labels_path.name,
        "model": logic.model_info(),
        "device": str(logic.device),
        "timings_s": {**prediction.timings, "total": round(time.perf_counter() - t0, 3)},
        "organ_volumes_ml": organ_volumes_ml(prediction.labels),
        "quality": prediction.quality.to_dict(),  # plausibility, back to the module's segment tags
    }
    write_text_atomic(out / RESULT_FILE, json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    from segthor.errors import SegthorError

    try:
        args = parse_args(argv)
        result = run(args)
    except SegthorError as exc:
        emit("error", message=one_line(str(exc)), type=exc.__class__.__name__)
        return 2
    except SystemExit as exc:  # argparse: usage printed on stderr
        emit("error", message="invalid arguments for the segmentation process", type="UsageError")
        return int(exc.code or 2)
    except BaseException as exc:  # noqa: BLE001 (any failure must come back as one line)
        traceback.print_exc()
        emit("error", message=one_line(f"{exc.__class__.__name__}: {exc}"), type=exc.__class__.__name__)
        return 1
    emit("done", result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
