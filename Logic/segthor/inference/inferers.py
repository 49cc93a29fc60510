"""Inferers: how one network kind is run over a preprocessed array [z, y, x], one class per kind.

- `SliceInferer` ("slices2d"): a 2D net on batches of axial slices, with the CPU thread governor
  (`threads.py`) and the batch size fitted to the memory available.
- `SlidingWindowInferer` ("sliding_window3d"): a 3D net on overlapping windows of the volume, each window's
  class scores weighted by a Gaussian importance map and the weighted sum divided by the summed weights, as
  nnU-Net's `predict_sliding_window_return_logits` and MONAI's `SlidingWindowInferer` (mode "gaussian") do
  [Isensee2021], [Cardoso2022]. The network's activations are bounded by the window, not the CT; the CT
  itself costs only the score and weight sums (24 bytes per network-grid voxel), so large CTs run. The
  thread governor times its windows as the 2D inferer's batches.

Both hand the network's scores (N, C, ...) to a `reduce` callable and write what it returns into the output
array: uint8 labels (N, ...) (argmax, or argmax plus confidence bookkeeping) give labels [z, y, x]; per-class
values (N, C, ...) (softmax probabilities) give a class-first array [C, z, y, x]. Which inferer runs a
package and with which window is model.json's `inferer` entry (`segthor.model_packages.inferer_spec`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from segthor.class_argmax import class_argmax
from segthor.errors import ModelError
from segthor.inference.memory import fit_batch_size, require_memory
from segthor.inference.progress import Progress
from segthor.model_packages.inferer_spec import SLICES_2D, SLIDING_WINDOW_3D, InfererSpec
from segthor.organs import NUM_CLASSES
from segthor.preprocessing.slice_context import CENTRE_ONLY, slice_stack

Reduce = Callable[[Any], Any]  # scores tensor (N, C, ...) -> labels (N, ...) or per-class values (N, C, ...)

# Memory model (bytes per voxel; generous upper bounds, see memory.py). Network grid: float32 input + float16
# class probabilities (what inference keeps to interpolate back to the CT's grid); the 3D inferer adds float32
# score sums for every class and the weight sum.
GRID_BYTES_2D = 4 + 2 * NUM_CLASSES
GRID_BYTES_3D = 4 + 2 * NUM_CLASSES + 4 * (NUM_CLASSES + 1)
# Live activations per voxel of one network input, in float32 channels (ENet/U-Net widths, with slack).
ACTIVATION_CHANNELS_2D = 96
ACTIVATION_CHANNELS_3D = 48


def argmax_labels(scores: Any) -> Any:
    """Class index per voxel of scores (N, C, ...), as a uint8 tensor (N, ...): `segthor.class_argmax`."""
    return class_argmax(scores, dim=1)


def check_scores(out: Any, x: Any) -> Any:
    """The network's class scores for input `x`: the first element of a tuple output, checked to be
    (N, NUM_CLASSES, *x's spatial shape); raises `ModelError` otherwise."""
    if isinstance(out, (tuple, list)):  # some nets return (logits, aux...)
        out = out[0]
    if out.ndim != x.ndim or out.shape[1] != NUM_CLASSES or out.shape[2:] != x.shape[2:]:
        raise ModelError(
            f"the model returned logits of shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}; "
            f"expected {NUM_CLASSES} classes on the same grid. The model package is incompatible"
        )
    return out


def network_scores(model: Any, x: Any, device: Any) -> Any:
    """`model(x)` (float16 autocast on CUDA), checked by `check_scores`."""
    import torch

    if device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            out = model(x)
    else:
        out = model(x)
    return check_scores(out, x)


def _to_device(block: np.ndarray, device: Any, batch_axis: bool) -> Any:
    """float32 (N, z/y, x...) array -> (N, 1, ...) tensor (batch_axis) or (1, 1, ...) tensor on `device`."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(block))
    x = x.unsqueeze(1) if batch_axis else x[None, None]
    # NC... input either way: convolutions follow the weights' layout (channels_last where it pays).
    return x.to(device, non_blocking=True)


class SliceInferer:
    """A 2D network over batches of axial slices (z is the batch axis)."""

    name = SLICES_2D

    def __init__(self, spec: InfererSpec | None = None) -> None:
        self.spec = spec or InfererSpec(SLICES_2D)

    @staticmethod
    def network_bytes(network_shape: tuple[int, int, int], batch_size: int) -> int:
        """Memory for the network grid and one batch of activations (bytes)."""
        z, y, x = network_shape
        return z * y * x * GRID_BYTES_2D + batch_size * y * x * 4 * ACTIVATION_CHANNELS_2D

    def fit_batch_size(self, network_shape: tuple[int, int, int], batch_size: int, device: Any) -> int:
        """The largest batch <= `batch_size` that fits on `device`; `MemoryEstimateError` if one slice does not."""
        return fit_batch_size(lambda n: self.network_bytes(network_shape, n), batch_size, device)

    def run(
        self,
        model: Any,
        array: np.ndarray,
        device: Any,
        batch_size: int,
        progress: Progress | None = None,
        tune_threads: bool = True,
        reduce: Reduce = argmax_labels,
        spacing: tuple[float, float, float] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Labels (uint8, [z, y, x]) of `model` over float32 `array` [z, y, x], or [C, z, y, x] when `reduce`
        keeps the class axis, and the CPU thread count the last batch ran with (chosen by timing the run's first
        batches, see `threads.py`, unless `tune_threads` is False).

        A 2.5D net (`model.slice_offsets_mm`, e.g. ENet's) gets each slice with its neighbours at those offsets
        as channels (`segthor.preprocessing.slice_context`), which needs the grid's `spacing` (x, y, z) in mm;
        raises `ModelError` without it."""
        import torch

        from segthor.inference.threads import ThreadGovernor

        progress = progress or Progress()
        out: np.ndarray | None = None
        n = array.shape[0]
        offsets = tuple(getattr(model, "slice_offsets_mm", CENTRE_ONLY))
        if offsets != CENTRE_ONLY and spacing is None:
            raise ModelError("this model reads neighbouring slices; its inferer needs the grid's slice spacing")
        with torch.inference_mode():
            # The probe is the run's own first batches (threads.py): it costs nothing, so every run is tuned.
            governor = ThreadGovernor(device) if tune_threads else None
            try:
                used = torch.get_num_threads()
                for start in range(0, n, batch_size):
                    stop = min(n, start + batch_size)
                    # What this batch runs with: the governor sets the count for the next batch after each one,
                    # so the count in force at the end may be one no batch ran with (a one-batch run: 1 thread).
                    used = torch.get_num_threads()
                    t0 = time.perf_counter()
                    if offsets == CENTRE_ONLY:
                        x = _to_device(array[start:stop], device, True)
                    else:
                        stack = slice_stack(array, np.arange(start, stop), offsets, float(spacing[2]))  # type: ignore[index]
                        x = torch.from_numpy(stack).to(device, non_blocking=True)
                    reduced = reduce(network_scores(model, x, device)).cpu().numpy()
                    out = _write_slices(out, reduced, start, n)
                    if governor is not None:
                        governor.observe((time.perf_counter() - t0) / (stop - start), stop - start)
                    progress.report(stop / n, f"segmenting slices {stop}/{n}")
                return out, used
            finally:
                if governor is not None:
                    governor.restore()


def _write_slices(out: np.ndarray | None, reduced: np.ndarray, start: int, n: int) -> np.ndarray:
    """Write one batch's reduced output (N, ...) or (N, C, ...) into the run's output (allocated on the first
    batch: [z, ...] or class-first [C, z, ...]) at slice `start`."""
    with_classes = reduced.ndim == 4
    if out is None:
        shape = (reduced.shape[1], n, *reduced.shape[2:]) if with_classes else (n, *reduced.shape[1:])
        out = np.empty(shape, dtype=reduced.dtype)
    if with_classes:
        out[:, start : start + reduced.shape[0]] = np.moveaxis(reduced, 1, 0)
    else:
        out[start : start + reduced.shape[0]] = reduced
    return out


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start indices of windows of length `window` covering [0, size) along one axis, evenly spread.

    The step is at most window * (1 - overlap) (at least 1); the first window starts at 0 and the last ends
    at `size` (nnU-Net's placement; MONAI's differs only in where the leftover lands). A window at least as
    long as the axis gives one start, 0 (the caller clips the window to the axis).
    """
    if size <= window:
        return [0]
    target = max(1.0, window * (1.0 - overlap))
    count = math.ceil((size - window) / target) + 1
    step = (size - window) / (count - 1)
    return [int(math.floor(i * step + 0.5)) for i in range(count)]


def gaussian_importance(window: tuple[int, ...], sigma_scale: float = 0.125, floor: float = 1e-12) -> np.ndarray:
    """Gaussian importance map of a window (float32, `window`'s shape): exp(-d^2 / (2 sigma^2)) per axis,
    multiplied, with d the distance from the window's centre ((n - 1) / 2) and sigma = sigma_scale * n per axis
    (nnU-Net's and MONAI's 1/8 by default). Scaled so its maximum is 1 and floored at `floor` so every voxel
    keeps a weight (nnU-Net and MONAI replace zeros by the smallest non-zero value for the same reason); at
    sigma 1/8 the corners are exp(-24) ~ 4e-11, above the floor, so the map is an exact Gaussian there."""
    weights = np.ones((1,) * len(window), dtype=np.float64)
    for axis, n in enumerate(window):
        d = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
        profile = np.exp(-0.5 * (d / (sigma_scale * n)) ** 2)
        shape = [1] * len(window)
        shape[axis] = n
        weights = weights * profile.reshape(shape)
    weights /= weights.max()
    return np.maximum(weights, floor).astype(np.float32)


class SlidingWindowInferer:
    """A 3D network over overlapping windows, blended with a Gaussian importance map (see the module docstring).

    One window per network call: a net whose output depends on the whole batch (the coarse-to-fine net cuts
    its ROIs from the batch's union) sees each window alone. A window longer than the volume along an axis is
    clipped to it, so a volume inside one window is run in one pass and its scores are the network's own.
    """

    name = SLIDING_WINDOW_3D

    def __init__(self, spec: InfererSpec | None = None) -> None:
        self.spec = spec or InfererSpec(SLIDING_WINDOW_3D)

    def window(self, network_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """The window size used on a network grid: the spec's roi_size clipped to the grid."""
        z, y, x = (min(r, s) for r, s in zip(self.spec.roi_size, network_shape, strict=True))
        return (z, y, x)

    def windows(self, network_shape: tuple[int, int, int]) -> list[tuple[slice, slice, slice]]:
        """Every window as (z, y, x) slices of the network grid, z outermost."""
        size = self.window(network_shape)
        starts = [window_starts(n, w, self.spec.overlap) for n, w in zip(network_shape, size, strict=True)]
        return [
            (slice(a, a + size[0]), slice(b, b + size[1]), slice(c, c + size[2]))
            for a in starts[0]
            for b in starts[1]
            for c in starts[2]
        ]

    def network_bytes(self, network_shape: tuple[int, int, int], batch_size: int = 1) -> int:
        """Memory for the network grid with its score sums and one window's activations (bytes)."""
        return math.prod(network_shape) * GRID_BYTES_3D + math.prod(self.window(network_shape)) * 4 * (
            ACTIVATION_CHANNELS_3D
        )

    def fit_batch_size(self, network_shape: tuple[int, int, int], batch_size: int, device: Any) -> int:
        """Always 1 (one window per call); raises `MemoryEstimateError` when a window does not fit."""
        require_memory(self.network_bytes(network_shape), device, "the network")
        return 1

    def run(
        self,
        model: Any,
        array: np.ndarray,
        device: Any,
        batch_size: int = 1,
        progress: Progress | None = None,
        tune_threads: bool = True,
        reduce: Reduce = argmax_labels,
        spacing: tuple[float, float, float] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Labels (uint8, [z, y, x]; [C, z, y, x] when `reduce` keeps the class axis) of `model` over float32
        `array` [z, y, x], and the CPU thread count the last window ran with (`spacing` is not read: a 3D net
        sees z itself). The windows, all of one size, are
        the thread governor's batches (`threads.py`; not when `tune_threads` is False), as the 2D inferer's
        slices are: extra threads stall a 3D net as much when another program holds a core. A volume inside one
        window is one call, which cannot be timed: it runs with the free cores the load average shows
        (`ThreadGovernor.one_call`). `batch_size` is accepted for a common signature; windows run one at a
        time."""
        import torch

        from segthor.inference.threads import ThreadGovernor

        progress = progress or Progress()
        shape = tuple(array.shape)
        windows = self.windows(shape)  # type: ignore[arg-type]
        with torch.inference_mode():
            governor = ThreadGovernor(device) if tune_threads else None
            try:
                used = torch.get_num_threads()
                if len(windows) == 1:  # the whole volume in one window: the network's own scores, no blending
                    if governor is not None:
                        governor.one_call()
                        used = torch.get_num_threads()
                    progress.report(0.0, "running the 3D network")
                    out = reduce(network_scores(model, _to_device(array, device, False), device))[0].cpu().numpy()
                    progress.report(1.0, "3D network done")
                    return out, used
                importance = torch.from_numpy(gaussian_importance(self.window(shape), self.spec.sigma_scale))
                scores = torch.zeros((NUM_CLASSES, *shape), dtype=torch.float32)
                weight = torch.zeros(shape, dtype=torch.float32)
                for k, box in enumerate(windows):
                    used = torch.get_num_threads()
                    t0 = time.perf_counter()
                    x = _to_device(array[box], device, False)
                    window_scores = network_scores(model, x, device)[0].float().cpu()
                    scores[(slice(None), *box)] += window_scores * importance
                    weight[box] += importance
                    if governor is not None:
                        governor.observe(time.perf_counter() - t0, 1)
                    progress.report((k + 1) / len(windows), f"segmenting window {k + 1}/{len(windows)}")
                scores /= weight
                return reduce(scores[None])[0].cpu().numpy(), used
            finally:
                if governor is not None:
                    governor.restore()


INFERERS: dict[str, type[SliceInferer] | type[SlidingWindowInferer]] = {
    SliceInferer.name: SliceInferer,
    SlidingWindowInferer.name: SlidingWindowInferer,
}


def build_inferer(spec: InfererSpec) -> SliceInferer | SlidingWindowInferer:
    """The inferer a spec names (`segthor.model_packages.inferer_spec.parse_inferer` makes the spec)."""
    return INFERERS[spec.name](spec)
