"""Run a model package over one CT: preprocess as its recipe says, batched inference, restore to the input grid."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segthor.errors import InputError, ModelError
from segthor.inference.memory import estimate_input_bytes, fit_batch_size, require_memory
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels
from segthor.inference.progress import Progress, StageTimer
from segthor.io.volume import Volume
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


class ConfidenceSums:
    """Per-class voxel counts and sums of the max-softmax, accumulated batch by batch on the network grid.

    One softmax and one bincount per batch: a few ms against the network's tens to hundreds (measured in
    docs/benchmarks.md). The labels are the argmax of the same probabilities, so they match `run_network`'s.
    """

    def __init__(self) -> None:
        self.sums = np.zeros(NUM_CLASSES, dtype=np.float64)
        self.counts = np.zeros(NUM_CLASSES, dtype=np.int64)

    def labels_and_add(self, logits: Any) -> Any:
        """Argmax labels (uint8 tensor, logits' shape without the class axis) and accumulate max-softmax."""
        import torch

        top, labels = torch.softmax(logits.float(), dim=1).max(dim=1)
        flat = labels.reshape(-1)
        self.sums += torch.bincount(flat, weights=top.reshape(-1), minlength=NUM_CLASSES).double().cpu().numpy()
        self.counts += torch.bincount(flat, minlength=NUM_CLASSES).cpu().numpy()
        return labels.to(torch.uint8)

    def per_organ(self) -> dict[str, float | None]:
        """organ key -> mean max-softmax (None where the organ got no voxel)."""
        return {o.key: (float(self.sums[o.label] / self.counts[o.label]) if self.counts[o.label] else None)
                for o in ORGANS}


def _network_input(batch: np.ndarray, device: Any) -> Any:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch)).unsqueeze(1)
    # NCHW input either way: convolutions follow the weights' layout (channels_last where it pays).
    return x.to(device, non_blocking=True)


def _logits(model: Any, x: Any, device: Any) -> Any:
    import torch

    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            out = model(x)
    else:
        out = model(x)
    if isinstance(out, (tuple, list)):  # some nets return (logits, aux...)
        out = out[0]
    if out.ndim != x.ndim or out.shape[1] != NUM_CLASSES or out.shape[2:] != x.shape[2:]:
        raise ModelError(
            f"the model returned logits of shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}; "
            f"expected {NUM_CLASSES} classes on the same grid. The model package is incompatible"
        )
    return out


def _argmax(logits: Any) -> Any:
    """Class index per voxel. `max` over the class axis rather than `argmax`: the same indices, but torch's CPU
    `argmax` along a non-last axis took ~5x longer (78 vs 14 ms for a 8x5x145x172 batch, 1 thread)."""
    return logits.max(dim=1)[1]


def run_network(
    model: Any,
    array: np.ndarray,
    device: Any,
    batch_size: int,
    progress: Progress | None = None,
    tune_threads: bool = True,
    confidence: ConfidenceSums | None = None,
) -> tuple[np.ndarray, int]:
    """Argmax labels (uint8, [z,y,x]) of `model` over a preprocessed float32 array, in batches of slices,
    and the CPU thread count used (chosen by measurement on one slice, see `threads.py`, unless
    `tune_threads` is False: the training package keeps its own thread setting). With `confidence`, the
    max-softmax per class is accumulated into it as well."""
    import torch

    from segthor.inference.threads import ThreadGovernor

    progress = progress or Progress()
    out = np.empty(array.shape, dtype=np.uint8)
    spatial_dims = int(getattr(model, "spatial_dims", 2))
    with torch.inference_mode():
        if spatial_dims == 3:
            progress.report(0.0, "running the 3D network")
            x = torch.from_numpy(np.ascontiguousarray(array))[None, None].to(device)
            logits = _logits(model, x, device)
            labels = confidence.labels_and_add(logits) if confidence is not None else _argmax(logits)
            out[:] = labels[0].to(torch.uint8).cpu().numpy()
            progress.report(1.0, "3D network done")
            return out, torch.get_num_threads()
        n = array.shape[0]
        governor = None
        if tune_threads and n > 2 * batch_size:  # only a long run repays probing the thread count
            probe = _network_input(array[n // 2 : n // 2 + 1], device)
            governor = ThreadGovernor(lambda: model(probe), device)
        try:
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                t0 = time.perf_counter()
                x = _network_input(array[start:stop], device)
                logits = _logits(model, x, device)
                labels = confidence.labels_and_add(logits) if confidence is not None else _argmax(logits)
                out[start:stop] = labels.to(torch.uint8).cpu().numpy()
                if governor is not None:
                    governor.observe((time.perf_counter() - t0) / (stop - start))
                progress.report(stop / n, f"segmenting slices {stop}/{n}")
            return out, governor.threads if governor else torch.get_num_threads()
        finally:
            if governor is not None:
                governor.restore()


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
    from segthor.preprocessing import Recipe, preprocess, restore_labels

    progress = progress or Progress()
    timer = timer or StageTimer()
    model = package.model
    spatial_dims = int(getattr(model, "spatial_dims", 2))
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
    size = fit_batch_size(array.shape, spatial_dims, size, device)

    with timer.stage("inference"):
        sums = ConfidenceSums()
        network_labels, threads = run_network(model, array, device, size, progress.sub(0.1, 0.9), confidence=sums)
    del array

    with timer.stage("restore"):
        progress.report(0.9, "restoring labels to the input grid")
        labels = np.asarray(restore_labels(network_labels, pre.context), dtype=np.uint8)
    if labels.shape != volume.array.shape:
        raise ModelError(
            f"restored labels have shape {labels.shape}, the input {volume.array.shape}; "
            "the preprocessing recipe is inconsistent"
        )
    if postprocess is not None and postprocess.enabled:
        with timer.stage("postprocess"):
            progress.report(0.95, "post-processing")
            labels = postprocess_labels(labels, postprocess, volume.spacing)
    progress.report(1.0, "segmentation computed")
    return Prediction(
        volume.with_array(labels), timer.rounded(), tuple(network_labels.shape), size, threads, sums.per_organ()
    )
