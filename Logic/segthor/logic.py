"""The one orchestration object: segment a CT (volume, file or volume node) and compare segmentations.

`SegmentationLogic` is what every front door calls: headless Slicer scripts, the CLI, the Python API, and
the Slicer widget through `segthor.runner` (a child process runs `segment()`, the widget commits the labels it
hands back on the main thread). It reports progress as (fraction, message), can be cancelled from another
thread, and raises `SegthorError` subclasses with a message that says what to do.

Cancellation leaves everything as it was: the scene is only modified in one short, all-or-nothing commit
after the last cancellation point, and output files are written atomically with the case JSON last.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segthor._version import __version__
from segthor.case_layout import case_name_for
from segthor.errors import InputError
from segthor.inference.checks import check_ct_volume
from segthor.inference.memory import check_file_fits
from segthor.inference.postprocess import PostprocessOptions
from segthor.inference.prediction import Prediction, predict
from segthor.inference.progress import CancelToken, Progress, ProgressCallback, StageTimer
from segthor.io.volume import Volume
from segthor.organs import ORGANS
from segthor.quality.findings import QualityReport


def organ_volumes_ml(labels: Volume) -> dict[str, float]:
    """Volume of each organ in millilitres (voxel count x voxel volume)."""
    voxel_ml = float(np.prod(labels.spacing)) / 1000.0
    counts = np.bincount(labels.array.ravel(), minlength=len(ORGANS) + 1)
    return {o.key: round(float(counts[o.label]) * voxel_ml, 3) for o in ORGANS}


@dataclass
class CaseResult:
    """What `segment_file` produced: the outputs on disk and the report written beside them."""

    case: str
    paths: Any
    report: dict[str, Any]
    labels: Volume | None = None


@dataclass
class NodeResult:
    """What `segment_node` produced in the scene."""

    segmentation_node: Any
    segment_ids: dict[str, str]
    created: bool
    replaced: list[str]
    prediction: Prediction
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def quality(self) -> QualityReport | None:
        """Input warnings and per-organ plausibility of this result."""
        return self.prediction.quality


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

    def _progress(self) -> Progress:
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
        package = self.load_model()
        meta = package.metadata
        return {
            "id": package.id,
            "path": str(package.path),
            "architecture": meta.get("architecture"),
            "version": meta.get("version"),
            "sha256": meta.get("sha256"),
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

        progress = progress or self._progress()
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
        from segthor.mrml.segmentation_nodes import build_organ_segments

        progress = progress or self._progress()
        timer = StageTimer()
        prediction = self.segment(volume, progress.sub(0.0, 0.9), timer)
        with timer.stage("segments"):
            progress.report(0.9, "building segments")
            segments = build_organ_segments(prediction.labels, prediction.quality)
        prediction.timings = timer.rounded()
        progress.report(0.97, "adding segments to the scene")
        return prediction, segments

    def segment_node(
        self,
        volume_node: Any,
        segmentation_node: Any = None,
        replace_existing: bool = False,
        name: str | None = None,
    ) -> NodeResult:
        """Segment a scalar volume node into `segmentation_node` (new when None) in one call."""
        from segthor.mrml.segmentation_nodes import check_can_write
        from segthor.mrml.volume_nodes import volume_from_node

        self.cancel_token.reset()
        check_can_write(segmentation_node, replace_existing)  # refuse before the long part
        volume = volume_from_node(volume_node)
        prediction, segments = self.prepare_node_segments(volume)
        return self.commit(prediction, segments, volume_node, segmentation_node, replace_existing, name)

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
        from segthor.mrml.segmentation_nodes import commit_organ_segments

        self.cancel_token.check()  # last cancellation point: nothing in the scene has changed yet
        result = commit_organ_segments(segments, volume_node, segmentation_node, replace_existing, name)
        if self.progress_callback is not None:
            self.progress_callback(1.0, "done")
        return NodeResult(
            result.segmentation_node,
            result.segment_ids,
            result.created,
            result.replaced,
            prediction,
            prediction.timings,
        )

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
        case JSON. ``reference`` may be a label file, a .seg.nrrd, an RTSTRUCT or a DICOM SEG.

        Before any work the output folder is checked for writing and the case name chosen so it takes no
        other input's outputs (``outputs.case_files.choose_case_name``; ``overwrite`` replaces them instead).
        ``segment_map``: reference segment name -> organ (``--map`` values or a mapping, ``read_user_map``).
        ``series`` picks one of several DICOM series in the folder (SeriesNumber or SeriesInstanceUID).
        Raises ``OutputError`` (nothing of the case left behind) when an output cannot be written.
        """
        from segthor.io.volume import read_volume
        from segthor.io.writable import check_writable_dir
        from segthor.outputs import CasePaths, write_image_outputs, write_report
        from segthor.outputs.case_files import choose_case_name, input_key, write_dicom_case_outputs
        from segthor.outputs.output_types import dicom_input_error, parse_output_types, wants_dicom
        from segthor.segment_mapping import read_user_map

        t_start = time.perf_counter()
        self.cancel_token.reset()
        progress = self._progress()
        timer = StageTimer()
        user_map = read_user_map(segment_map)
        types = parse_output_types(output_types)
        source_series = None
        if wants_dicom(types):  # before any work: RTSTRUCT and SEG need the CT's own slices
            if not Path(input_path).is_dir():
                raise dicom_input_error(Path(input_path).name, types)
            from segthor.dicom_rt.deps import require_dicom_packages
            from segthor.dicom_rt.series import read_input_series

            require_dicom_packages()
            source_series = read_input_series(input_path, series)
        check_writable_dir(output_dir)
        case = choose_case_name(
            output_dir, input_path, case_name or case_name_for(input_path), case_name is not None, overwrite
        )
        paths = CasePaths.for_case(output_dir, case, types)
        with timer.stage("read"):
            progress.report(0.0, f"reading {Path(input_path).name}")
            check_file_fits(input_path)
            volume = read_volume(input_path, series)
            check_ct_volume(volume, name=Path(input_path).name)
            reference_volume = None
            if reference:
                reference_volume = read_reference_image(
                    reference, volume, user_map, dicom_series=source_series, input_path=input_path, series=series
                )
        prediction = self.segment(volume, progress.sub(0.05, 0.85), timer, name=Path(input_path).name)
        metrics = None
        if reference_volume is not None:
            with timer.stage("metrics"):
                progress.report(0.86, "computing metrics against the reference")
                metrics = evaluate(prediction.labels, reference_volume)
        with timer.stage("write"):
            progress.report(0.9, "writing outputs")
            write_image_outputs(
                volume, prediction.labels, paths, title=f"{case} - {self._package.id}", quality=prediction.quality
            )
            if source_series is not None:
                write_dicom_case_outputs(prediction.labels, source_series, paths, self.model_info(), __version__)
        timings = timer.rounded()
        timings["total"] = round(time.perf_counter() - t_start, 3)
        report = {
            "case": case,
            "status": "ok",
            "input": str(input_path),
            "input_resolved": input_key(input_path),
            "reference": str(reference) if reference else None,
            "reference_unused_segments": reference_volume.unused_segments if reference_volume is not None else [],
            # what reading the input left out, resampled or chose (DICOM geometry, NIfTI transforms)
            "input_warnings": list(volume.warnings),
            "geometry": {
                "size_xyz": list(volume.shape_xyz),
                "spacing_xyz_mm": list(volume.spacing),
                "origin_lps_mm": list(volume.origin),
                "direction": volume.direction.tolist(),
            },
            "model": self.model_info(),
            "device": str(self._device),
            "batch_size": prediction.batch_size,
            "cpu_threads": prediction.threads,
            "network_grid_zyx": list(prediction.network_shape),
            "postprocess": self.postprocess.to_dict(),
            "timings_s": timings,
            "organ_volumes_ml": organ_volumes_ml(prediction.labels),
            "needs_review": prediction.quality.needs_review,
            "quality": prediction.quality.to_dict(),
            "metrics": metrics,
            "outputs": paths.as_dict(),
            "segthor_version": __version__,
        }
        self.cancel_token.check()  # no report means the case counts as unfinished
        try:
            write_report(report, paths.report)
        except BaseException:
            paths.remove()
            raise
        progress.report(1.0, f"{case} done")
        return CaseResult(case, paths, report, prediction.labels)

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


def read_reference(path: str | os.PathLike[str], like: Volume, user_map: Any = None) -> Volume:
    """The reference label Volume on the CT's grid (``read_reference_image``, overlapping segments collapsed)."""
    return read_reference_image(path, like, user_map).volume


def read_reference_image(
    path: str | os.PathLike[str],
    like: Volume,
    user_map: Any = None,
    dicom_series: Any = None,
    input_path: str | os.PathLike[str] | None = None,
    series: str | None = None,
) -> Any:
    """A reference ``LabelImage`` (SegTHOR values 0-4, overlapping segments kept apart) on the CT's grid.

    A DICOM RTSTRUCT or SEG is rasterised onto the CT (``segthor.dicom_rt``); when the CT is a DICOM series
    (``dicom_series``, else read from the ``input_path`` folder) the reference must refer to it.

    A `.seg.nrrd` is read segment by segment and mapped to organs by ``segment_mapping.organ_for_segment``
    (``user_map``: name -> organ, see ``read_user_map``); its raw label values follow the order the segments
    were added in Slicer, not 1-4. Slicer saves segmentations cropped to their content, so a reference on the
    CT's voxel lattice but with a smaller extent is padded onto the CT's grid; any other geometry is refused.
    """
    from segthor.dicom_rt.references import is_dicom_labels
    from segthor.metrics.geometry import onto_grid
    from segthor.metrics.label_files import LabelImage, read_label_image

    if is_dicom_labels(path):
        from segthor.dicom_rt.references import read_dicom_labels
        from segthor.dicom_rt.series import read_input_series

        if dicom_series is None and input_path is not None and Path(input_path).is_dir():
            try:
                dicom_series = read_input_series(input_path, series)
            except InputError:
                dicom_series = None  # e.g. an enhanced multi-frame CT: no series check, the grid still holds
        from segthor.metrics.label_files import label_image_from_masks

        labels = read_dicom_labels(path, like=like, like_series=dicom_series, user_map=user_map)
        return label_image_from_masks(labels.grid, labels.masks, labels.unmapped, Path(path))
    image = read_label_image(path, user_map=user_map)
    reference = image.volume
    if not reference.same_geometry(like, tol=1e-3):
        same_lattice = np.allclose(reference.spacing, like.spacing, rtol=1e-3, atol=1e-3) and np.allclose(
            reference.direction, like.direction, atol=1e-3
        )
        offset_voxels = np.linalg.solve(
            like.direction @ np.diag(like.spacing), np.subtract(reference.origin, like.origin)
        )
        if not (same_lattice and np.allclose(offset_voxels, np.round(offset_voxels), atol=1e-2)):
            raise InputError(
                f"reference {path} ({reference.describe_geometry()}) is not on the CT's grid "
                f"({like.describe_geometry()}); give a label image with the CT's size, spacing and origin"
            )
        offset = np.round(offset_voxels).astype(int)
        grid = like.with_array(np.zeros(like.array.shape, np.uint8))
        reference = onto_grid(reference, grid, offset)
        masks = {k: onto_grid(image.volume.with_array(m), grid, offset).array for k, m in image.organ_masks.items()}
        image = LabelImage(reference, masks, image.unused_segments)
    values = np.unique(reference.array)
    if values.min() < 0 or values.max() > len(ORGANS):
        raise InputError(
            f"reference {path} holds values {values[:8].tolist()}; expected SegTHOR labels 0-{len(ORGANS)} "
            "(0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta)"
        )
    image.volume = reference.with_array(reference.array.astype(np.uint8))
    return image


def evaluate(labels: Volume, reference: Any) -> dict[str, Any]:
    """Per-organ metrics (plain dicts) of predicted labels against reference labels (a Volume or LabelImage)."""
    from segthor.metrics import evaluate_volumes

    return {key: m.to_dict() for key, m in evaluate_volumes(labels, reference).items()}
