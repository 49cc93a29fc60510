"""`SegmentationLogic`: the model (loaded once, on first use), segmenting a CT volume with its plausibility
verdict, progress and cancel; the file, node and compare entry points hand over to `file_case`, `node_case` and
`segthor.mrml.compare`.

Cancellation leaves everything as it was: the scene is only modified in one short, all-or-nothing commit
after the last cancellation point, and output files are written atomically with the case JSON last.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from segthor.inference.checks import check_ct_volume
from segthor.inference.postprocess import PostprocessOptions
from segthor.inference.prediction import Prediction, inferer_for, predict
from segthor.inference.progress import CancelToken, Progress, ProgressCallback, StageTimer
from segthor.io.volume import Volume
from segthor.logic import file_case, node_case
from segthor.logic.file_case import CaseResult
from segthor.logic.node_case import NodeResult
from segthor.quality.findings import QualityReport


class SegmentationLogic:
    """Segments CTs with one model on one device; cheap to create, loads the model on first use.

    `model` is a model id (see `segthor models`), a package folder, an already loaded `ModelPackage`,
    or None for the default model.
    """

    def __init__(
        self,
        model: Any = None,
        device: str = "auto",
        postprocess: PostprocessOptions | str | list[str] | None = None,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.model = model
        self.device_choice = device
        if not isinstance(postprocess, PostprocessOptions):
            postprocess = PostprocessOptions.parse(postprocess)
        self.postprocess = postprocess
        self.batch_size = batch_size
        self.progress_callback = progress
        self.cancel_token = CancelToken()
        self._package: Any = None
        self._device: Any = None
        self._lock = threading.Lock()

    # -- control -------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask a running segmentation to stop at its next progress report (thread-safe)."""
        self.cancel_token.cancel()

    def new_progress(self) -> Progress:
        """A progress reporter to this logic's callback that raises `CancelledError` once `cancel()` was called."""
        return Progress(self.progress_callback, self.cancel_token)

    # -- model ---------------------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        from segthor.model_packages import DEFAULT_MODEL_ID

        if hasattr(self.model, "metadata"):  # an already loaded ModelPackage
            return str(self.model.metadata.get("id", "custom"))
        return str(self.model or DEFAULT_MODEL_ID)

    def load_model(self) -> Any:
        """The loaded `ModelPackage` (cached), on the resolved device."""
        with self._lock:
            if self._package is not None:
                return self._package
            from segthor.devices import resolve_device

            self._device = resolve_device(self.device_choice)
            if hasattr(self.model, "metadata") and hasattr(self.model, "model"):  # an already loaded package
                self.model.model.to(self._device).eval()
                self._package = self.model
            else:
                from segthor.model_packages import load_model_package
                from segthor.networks import optimize_for_inference

                package = load_model_package(self.model_id, str(self._device))
                # BN folding, and channels_last only for the nets it speeds up (docs/benchmarks.md, Networks).
                optimize_for_inference(package.model)
                self._package = package
            return self._package

    @property
    def device(self) -> Any:
        self.load_model()
        return self._device

    def model_info(self) -> dict[str, Any]:
        """What the case report records of the model: id, package path, architecture, version, sha256 of the
        weights, the inferer with its settings, and the disclaimer."""
        package = self.load_model()
        meta = package.metadata
        return {
            "id": package.id,
            "path": str(package.path),
            "architecture": meta.get("architecture"),
            "version": meta.get("version"),
            "sha256": meta.get("sha256"),
            "inferer": inferer_for(package).spec.to_dict(),  # how the network ran (window, overlap for 3D)
            "disclaimer": package.disclaimer,
        }

    # -- segmentation --------------------------------------------------------------------------------

    def segment(
        self, volume: Volume, progress: Progress | None = None, timer: StageTimer | None = None, name: str = "input"
    ) -> Prediction:
        """Labels for a CT `Volume`, in its own grid and geometry, with their plausibility verdict
        (`prediction.quality`, a `segthor.quality.QualityReport`). Touches no scene and no file.

        Raises `InputError` for a CT no model can segment (see `segthor.quality.check_input`).
        """
        from segthor.quality import assess_organs, check_input

        progress = progress or self.new_progress()
        timer = timer or StageTimer()
        check_ct_volume(volume, name=name)
        progress.report(0.0, "loading the model")
        package = self.load_model()
        with timer.stage("input_checks"):
            input_quality, landmarks = check_input(volume, package.metadata, name=name)
        prediction = predict(
            volume,
            package,
            self._device,
            batch_size=self.batch_size,
            postprocess=self.postprocess,
            progress=progress,
            timer=timer,
        )
        with timer.stage("plausibility"):
            organs = assess_organs(volume, prediction.labels, landmarks, prediction.confidence)
        prediction.quality = QualityReport(input_quality, organs)
        prediction.timings = timer.rounded()
        return prediction

    def prepare_node_segments(self, volume: Volume, progress: Progress | None = None) -> tuple[Prediction, list]:
        """The cancellable part of `segment_node`: prediction + off-scene vtkSegments (safe on a worker thread)."""
        return node_case.prepare_node_segments(self, volume, progress)

    def segment_node(
        self,
        volume_node: Any,
        segmentation_node: Any = None,
        replace_existing: bool = False,
        name: str | None = None,
    ) -> NodeResult:
        """Segment a scalar volume node into `segmentation_node` (new when None) in one call."""
        return node_case.segment_node(self, volume_node, segmentation_node, replace_existing, name)

    def commit(
        self,
        prediction: Prediction,
        segments: list,
        volume_node: Any,
        segmentation_node: Any = None,
        replace_existing: bool = False,
        name: str | None = None,
    ) -> NodeResult:
        """Write prepared segments into the scene (all or nothing); call on the thread that owns the scene."""
        return node_case.commit(self, prediction, segments, volume_node, segmentation_node, replace_existing, name)

    def segment_file(
        self,
        input_path: str | os.PathLike[str],
        output_dir: str | os.PathLike[str],
        reference: str | os.PathLike[str] | None = None,
        case_name: str | None = None,
        overwrite: bool = False,
        segment_map: Any = None,
        series: str | None = None,
        output_types: str | list[str] | tuple[str, ...] | None = None,
    ) -> CaseResult:
        """Segment a CT file or DICOM folder; write the ``output_types`` (default .seg.nrrd, _labels.nii.gz,
        preview PNG; ``rtstruct`` and ``dicom-seg`` for a DICOM series, see ``outputs.output_types``) and the
        case JSON (``case_report.build_case_report``). ``reference`` may be a label file, a .seg.nrrd, an
        RTSTRUCT or a DICOM SEG.

        Before any work the output folder is checked for writing and the case name chosen so it takes no
        other input's outputs (``outputs.case_files.choose_case_name``; ``overwrite`` replaces them instead).
        ``segment_map``: reference segment name -> organ (``--map`` values or a mapping, ``read_user_map``).
        ``series`` picks one of several DICOM series in the folder (SeriesNumber or SeriesInstanceUID).
        Raises ``OutputError`` (nothing of the case left behind) when an output cannot be written.
        """
        return file_case.segment_file(
            self, input_path, output_dir, reference, case_name, overwrite, segment_map, series, output_types
        )

    # -- comparison ----------------------------------------------------------------------------------

    def compare(
        self,
        segmentation_node: Any,
        reference_node: Any,
        reference_volume_node: Any = None,
        table_node: Any = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Dice/HD95/ASSD per organ of a segmentation node vs a reference node, into a vtkMRMLTableNode.

        The grid is `reference_volume_node`'s: a volume node, or a segmentation node (its reference geometry,
        e.g. the reference segmentation's own); None: the segmentation's reference geometry.
        """
        from segthor.mrml.compare import compare_segmentations, metrics_to_table

        metrics = compare_segmentations(segmentation_node, reference_node, reference_volume_node)
        name = f"{segmentation_node.GetName()} vs {reference_node.GetName()}"
        table = metrics_to_table(metrics, table_node, segmentation_node.GetScene(), name)
        return table, metrics
