"""Estimating the memory a run needs before starting it, so a too-large job fails at once with advice.

The figures are deliberately generous upper bounds (bytes per voxel of each array a run keeps alive), not
measurements of one network: better to warn early than to be killed by the OS half way through. The
network-grid figures depend on how the network is run, so each inferer gives its own (`inferers.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from math import prod

from segthor.errors import SegthorError

GIB = 1024**3
# Input grid: the CT as read (<= 4 B/voxel), a float32 working copy, uint8 labels, restore temporaries.
INPUT_BYTES_PER_VOXEL = 4 + 4 + 1 + 2
# Keep this fraction of what is available free for the rest of the system (and Slicer's own scene).
USABLE_FRACTION = 0.8


class MemoryEstimateError(SegthorError):
    """The run would need more memory than the device has available."""


def available_bytes(device: object = "cpu") -> int | None:
    """Memory available on `device` now (bytes), or None when it cannot be told."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_input_bytes(input_shape: tuple[int, ...]) -> int:
    """Host memory the input-grid arrays of a run need (read, working copy, labels, restore)."""
    return prod(input_shape) * INPUT_BYTES_PER_VOXEL


def _advice(device: object) -> str:
    if getattr(device, "type", str(device)) == "cuda":
        return "use --device cpu, a smaller --batch-size, or a GPU with more free memory"
    return "close other programs, crop the CT to the thorax, or use a machine with more memory"


def require_memory(needed: int, device: object, what: str) -> None:
    """Raise `MemoryEstimateError` when `needed` bytes exceed what `device` has available."""
    free = available_bytes(device)
    if free is None:
        return
    if needed > free * USABLE_FRACTION:
        raise MemoryEstimateError(
            f"not enough memory for {what}: it needs about {needed / GIB:.1f} GiB but only "
            f"{free / GIB:.1f} GiB is available on {getattr(device, 'type', device)}; {_advice(device)}"
        )


def fit_batch_size(bytes_for_batch: Callable[[int], int], batch_size: int, device: object) -> int:
    """The largest batch size <= `batch_size` whose `bytes_for_batch(size)` fits on `device`, halving from
    `batch_size`; raises `MemoryEstimateError` when even a batch of one does not fit. Each inferer supplies its
    own `bytes_for_batch` (`segthor.inference.inferers`)."""
    free = available_bytes(device)
    size = max(1, batch_size)
    if free is not None:
        while size > 1 and bytes_for_batch(size) > free * USABLE_FRACTION:
            size //= 2
    require_memory(bytes_for_batch(size), device, "the network")
    return size


def image_file_shape(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """[z, y, x] size of an image file from its header alone (None for folders or unreadable headers)."""
    import SimpleITK as sitk

    if os.path.isdir(path):
        return None
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return None  # read_volume reports the problem with its own message
    size = reader.GetSize()
    if len(size) != 3:
        return None
    return (size[2], size[1], size[0])


def check_file_fits(path: str | os.PathLike[str]) -> None:
    """Refuse a CT file that cannot fit in memory before reading its voxels."""
    shape = image_file_shape(path)
    if shape is not None:
        what = f"{os.path.basename(path)} ({shape[2]}x{shape[1]}x{shape[0]})"
        require_memory(estimate_input_bytes(shape), "cpu", what)
