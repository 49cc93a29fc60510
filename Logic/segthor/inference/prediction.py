"""Run a model package over one CT: preprocess as its recipe says, run its inferer, interpolate its class
probabilities back to the input grid and take the argmax there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segthor.errors import InputError, ModelError
from segthor.inference.inferers import SliceInferer, SlidingWindowInferer, argmax_labels, build_inferer
from segthor.inference.memory import estimate_input_bytes, require_memory
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels
from segthor.inference.progress import Progress, StageTimer
from segthor.io.volume import Volume
from segthor.model_packages.inferer_spec import parse_inferer
from segthor.model_packages.package import METADATA_FILE
from segthor.organs import NUM_CLASSES, ORGANS

DEFAULT_BATCH_SIZE = {"cpu": 8, "cuda": 32}


@dataclass
class Prediction:
    """Labels in the input's grid and geometry, plus what produced them."""

    labels: Volume
    timings: dict[str, float] = field(default_factory=dict)
    network_shape: tuple[int, int, int] = (0, 0, 0)
    batch_size: int = 0
    threads: int = 0
    # organ key -> mean max-softmax over the voxels the network labelled that organ, on the network grid
    # (before post-processing); None for an organ it did not find.
    confidence: dict[str, float | None] = field(default_factory=dict)
    # The plausibility verdict (`segthor.quality.QualityReport`), filled in by `segthor.logic`.
    quality: Any = None
    # What the clean-up did beyond its options (`postprocess_labels`' record: the anatomical rules' effect).
    postprocess_applied: dict[str, Any] = field(default_factory=dict)


class ConfidenceSums:
    """Per-class voxel counts and sums of the max-softmax, accumulated batch by batch on the network grid.

    One softmax and one bincount per batch: a few ms against the network's tens to hundreds (measured in
    docs/benchmarks.md). The labels are the argmax of the same probabilities, so they match `argmax_labels`'.
    """

    def __init__(self) -> None:
        self.sums = np.zeros(NUM_CLASSES, dtype=np.float64)
        self.counts = np.zeros(NUM_CLASSES, dtype=np.int64)

    def _softmax_and_add(self, logits: Any) -> tuple[Any, Any]:
        """Softmax probabilities (N, C, ...) and their argmax labels; accumulates the max-softmax per class."""
        import torch

        probabilities = torch.softmax(logits.float(), dim=1)
        top, labels = probabilities.max(dim=1)
        flat = labels.reshape(-1)
        self.sums += torch.bincount(flat, weights=top.reshape(-1), minlength=NUM_CLASSES).double().cpu().numpy()
        self.counts += torch.bincount(flat, minlength=NUM_CLASSES).cpu().numpy()
        return probabilities, labels

    def labels_and_add(self, logits: Any) -> Any:
        """Argmax labels (uint8 tensor, logits' shape without the class axis) and accumulate max-softmax."""
        import torch

        return self._softmax_and_add(logits)[1].to(torch.uint8)

    def probabilities_and_add(self, logits: Any) -> Any:
        """Softmax probabilities (float16 tensor, logits' shape) and accumulate max-softmax per argmax class,
        as `labels_and_add` does: the caller interpolates them to the CT's grid before taking the argmax."""
        import torch

        return self._softmax_and_add(logits)[0].to(torch.float16)

    def per_organ(self) -> dict[str, float | None]:
        """organ key -> mean max-softmax (None where the organ got no voxel)."""
        return {
            o.key: (float(self.sums[o.label] / self.counts[o.label]) if self.counts[o.label] else None) for o in ORGANS
        }


def inferer_for(package_or_model: Any) -> SliceInferer | SlidingWindowInferer:
    """The inferer of a loaded `ModelPackage` (its model.json `inferer` entry, else the default of its network
    kind) or of a bare network (the default of its `spatial_dims`). Raises `ModelError` for a bad entry."""
    model = getattr(package_or_model, "model", package_or_model)
    metadata = getattr(package_or_model, "metadata", None) or {}
    path = getattr(package_or_model, "path", None)
    where = str(path / METADATA_FILE) if path and str(path) != "." else f"model {metadata.get('id', '?')}"
    return build_inferer(parse_inferer(metadata.get("inferer"), int(getattr(model, "spatial_dims", 2)), where))


def run_network(
    model: Any,
    array: np.ndarray,
    device: Any,
    batch_size: int,
    progress: Progress | None = None,
    tune_threads: bool = True,
    confidence: ConfidenceSums | None = None,
    spacing: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, int]:
    """Argmax labels (uint8, [z,y,x]) of `model` over a preprocessed float32 array with the default inferer of
    its network kind (2D: batches of slices; 3D: Gaussian-weighted sliding windows, `inferers.py`), and the CPU
    thread count used (chosen by measurement, see `threads.py`, unless `tune_threads` is False: the training
    package keeps its own thread setting). With `confidence`, the max-softmax per class is accumulated into it
    as well. `spacing`: the array's grid spacing (x, y, z) in mm, which a 2.5D net needs (`SliceInferer.run`)."""
    reduce = confidence.labels_and_add if confidence is not None else argmax_labels
    return inferer_for(model).run(model, array, device, batch_size, progress, tune_threads, reduce, spacing)


def predict(
    volume: Volume,
    package: Any,
    device: Any,
    *,
    batch_size: int | None = None,
    postprocess: PostprocessOptions | None = None,
    progress: Progress | None = None,
    timer: StageTimer | None = None,
) -> Prediction:
    """Segment `volume` with a loaded `ModelPackage`; labels come back in the input's exact grid."""
    from segthor.preprocessing import Recipe, preprocess, restore_probabilities

    progress = progress or Progress()
    timer = timer or StageTimer()
    model = package.model
    inferer = inferer_for(package)
    require_memory(estimate_input_bytes(volume.array.shape), "cpu", "this CT")

    with timer.stage("preprocess"):
        progress.report(0.0, "preprocessing")
        try:
            recipe = Recipe.from_dict(package.metadata["preprocessing"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model package {getattr(package, 'path', '?')} has no usable preprocessing recipe ({exc}); "
                "re-export the model with its metadata"
            ) from exc
        pre = preprocess(volume, recipe)
        array = np.asarray(pre.array, dtype=np.float32)
    progress.report(0.1, "preprocessed")

    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    size = batch_size or DEFAULT_BATCH_SIZE.get(device.type, 8)
    size = inferer.fit_batch_size(array.shape, size, device)

    with timer.stage("inference"):
        sums = ConfidenceSums()
        probabilities, threads = inferer.run(
            model,
            array,
            device,
            size,
            progress.sub(0.1, 0.9),
            reduce=sums.probabilities_and_add,
            spacing=pre.context.network_grid.spacing,
        )
    del array

    with timer.stage("restore"):
        progress.report(0.9, "restoring labels to the input grid")
        labels = np.asarray(restore_probabilities(probabilities, pre.context), dtype=np.uint8)
    network_shape = tuple(probabilities.shape[1:])
    del probabilities
    if labels.shape != volume.array.shape:
        raise ModelError(
            f"restored labels have shape {labels.shape}, the input {volume.array.shape}; "
            "the preprocessing recipe is inconsistent"
        )
    applied: dict[str, Any] = {}
    if postprocess is not None and postprocess.enabled:
        with timer.stage("postprocess"):
            progress.report(0.95, "post-processing")
            labels = postprocess_labels(labels, postprocess, volume.spacing, volume, record=applied)
    progress.report(1.0, "segmentation computed")
    return Prediction(
        volume.with_array(labels),
        timer.rounded(),
        network_shape,  # type: ignore[arg-type]
        size,
        threads,
        sums.per_organ(),
        postprocess_applied=applied,
    )
