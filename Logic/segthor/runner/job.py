"""`SegmentationProcessJob`: segment a volume node in a child process and commit the result on the caller's
thread, all or nothing.

Life cycle, as the Slicer widget drives it from a QTimer on its main thread:
`job = SegmentationProcessJob(volume_node, ...).start()`, then `job.poll()` (never blocks) and
`job.progress()` on each tick, `job.cancel()` on demand, and `job.finish()` once `poll()` is True, which
loads the labels the child wrote and adds the four organ segments in one commit; `job.close()` removes the
job's temporary folder. The scene is read once, when the job is created (the input volume is written to the
job folder), and written once, in `finish()`: a cancelled or failed job leaves it exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from segthor.errors import CancelledError, InputError, ProcessError
from segthor.runner.process import CANCELLED, DONE, ChildProcess, child_environment, find_python
from segthor.runner.segment_child import RESULT_FILE

INPUT_FILE = "input.nrrd"


class SegmentationProcessJob:
    """One segmentation of `volume_node` by a `python -m segthor.runner.segment_child` child process.

    `model`: a model id or package folder (None: the default model); `device`: auto, cpu or cuda;
    `postprocess`: steps such as ["close,lcc"]; `python`: the child's interpreter (default `find_python()`);
    `work_root`: where the job's temporary folder is made (default: the system's temporary folder).
    Raises `InputError` at once when `segmentation_node` already holds organ segments and not
    `replace_existing`, before any work.
    """

    def __init__(
        self,
        volume_node: Any,
        segmentation_node: Any = None,
        replace_existing: bool = False,
        name: str | None = None,
        model: str | os.PathLike[str] | None = None,
        device: str = "auto",
        postprocess: list[str] | None = None,
        python: str | os.PathLike[str] | None = None,
        work_root: str | os.PathLike[str] | None = None,
    ) -> None:
        from segthor.io.volume import write_volume
        from segthor.mrml.segmentation_nodes import check_can_write
        from segthor.mrml.volume_nodes import volume_from_node

        check_can_write(segmentation_node, replace_existing)  # refuse before the long part
        self.volume_node = volume_node
        self.segmentation_node = segmentation_node
        self.replace_existing = replace_existing
        self.name = name
        self.work_dir = Path(tempfile.mkdtemp(prefix="segthor-job-", dir=work_root))
        self.output_dir = self.work_dir / "out"
        try:
            write_volume(volume_from_node(volume_node), self.work_dir / INPUT_FILE, compress=False)
        except BaseException:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            raise
        argv = [
            find_python(python),
            "-m",
            "segthor.runner.segment_child",
            "--input",
            self.work_dir / INPUT_FILE,
            "--output-dir",
            self.output_dir,
            "--device",
            device,
        ]
        if model:
            argv += ["--model", os.fspath(model)]
        for step in postprocess or []:
            argv += ["--postprocess", step]
        self.child = ChildProcess(argv, self.work_dir / "child.log", env=child_environment())

    # -- driving -----------------------------------------------------------------------------------------

    def start(self) -> SegmentationProcessJob:
        self.child.start()
        return self

    def poll(self) -> bool:
        """True once the child has ended (done, failed or cancelled); never blocks."""
        return self.child.poll()

    def progress(self) -> tuple[float, str]:
        return self.child.fraction, self.child.message

    def wait(self, timeout: float | None = None) -> bool:
        return self.child.wait(timeout)

    def cancel(self) -> None:
        """End the child (terminate, then kill); returns within about a second."""
        self.child.cancel()

    @property
    def result_info(self) -> dict[str, Any]:
        """The child's result object (model, device, timings, organ volumes); empty until done."""
        return dict(self.child.result or {})

    # -- result --------------------------------------------------------------------------------------------

    def finish(self) -> Any:
        """Commit the child's labels into the scene (all or nothing) and return a `segthor.logic.NodeResult`.

        Raises `CancelledError` after `cancel()`, `ProcessError` with the child's one-line message when it
        failed, `InputError` when the input volume or the target segmentation left the scene meanwhile.
        """
        from segthor.inference.prediction import Prediction
        from segthor.io.volume import read_volume
        from segthor.logic import NodeResult
        from segthor.mrml.segmentation_nodes import build_organ_segments, commit_organ_segments
        from segthor.mrml.volume_nodes import geometry_from_node
        from segthor.quality.findings import QualityReport

        if self.child.running:
            self.child.wait()
        if self.child.state == CANCELLED:
            raise CancelledError("segmentation cancelled by the user; the scene is unchanged")
        if self.child.state != DONE:
            raise ProcessError(self.child.error or "the segmentation process failed")
        if self.volume_node.GetScene() is None or (
            self.segmentation_node is not None and self.segmentation_node.GetScene() is None
        ):
            raise InputError(
                "the input volume or the output segmentation was removed from the scene while "
                "segmenting; nothing was changed, press Apply again"
            )
        info = json.loads((self.output_dir / RESULT_FILE).read_text(encoding="utf-8"))
        labels = read_volume(self.output_dir / info["labels"])
        if not labels.same_geometry(geometry_from_node(self.volume_node), tol=1e-3):
            raise InputError(
                "the input volume's geometry changed while segmenting; nothing was changed, press Apply again"
            )
        quality = QualityReport.from_dict(info["quality"]) if info.get("quality") else None
        segments = build_organ_segments(labels, quality)  # plausibility in each segment's tags
        committed = commit_organ_segments(
            segments, self.volume_node, self.segmentation_node, self.replace_existing, self.name
        )
        timings = dict(info.get("timings_s") or {})
        prediction = Prediction(labels, timings, quality=quality)
        return NodeResult(
            committed.segmentation_node,
            committed.segment_ids,
            committed.created,
            committed.replaced,
            prediction,
            timings,
        )

    def close(self) -> None:
        """End the child if it still runs and delete the job's temporary folder."""
        self.child.cancel()
        shutil.rmtree(self.work_dir, ignore_errors=True)
