"""Which inferer runs a package's network, and its settings: the `inferer` entry of model.json.

The entry is a name or an object:

    "inferer": "slices2d"
    "inferer": {"name": "sliding_window3d", "roi_size": [128, 192, 192], "overlap": 0.5, "sigma_scale": 0.125}

A package without it (every package written before it existed) gets the default of its network kind, from the
network's `spatial_dims`: 2 -> "slices2d", 3 -> "sliding_window3d" with the defaults below. The inferers
themselves live in `segthor.inference.inferers`; this module only reads and checks the entry (torch-free, so
`read_metadata` refuses a bad entry at load).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from segthor.errors import ModelError

SLICES_2D = "slices2d"
SLIDING_WINDOW_3D = "sliding_window3d"
INFERER_NAMES = (SLICES_2D, SLIDING_WINDOW_3D)
DEFAULT_BY_SPATIAL_DIMS = {2: SLICES_2D, 3: SLIDING_WINDOW_3D}

# Sliding-window defaults. The window is in network-grid voxels (z, y, x), a multiple of the 3D net's stride
# (2, 8, 8); at the demo's 3 x 3 x 4 mm grid it spans 512 x 576 x 576 mm, a whole chest, so a chest CT is one
# window and its labels are those of one pass over the volume (as before inferers existed); a finer grid or a
# longer scan is covered by several windows. Overlap 0.5 and sigma 1/8 of the window are
# nnU-Net's tile step and Gaussian (MONAI's SlidingWindowInferer takes the same 0.125 default).
DEFAULT_ROI_SIZE = (128, 192, 192)
DEFAULT_OVERLAP = 0.5
DEFAULT_SIGMA_SCALE = 0.125
_KEYS = {SLICES_2D: {"name"}, SLIDING_WINDOW_3D: {"name", "roi_size", "overlap", "sigma_scale"}}


@dataclass(frozen=True)
class InfererSpec:
    """An inferer by name, with the sliding window's settings (ignored by "slices2d").

    roi_size: window size in network-grid voxels, (z, y, x); overlap: fraction of the window shared with the
    next one along each axis, in [0, 1); sigma_scale: the Gaussian's sigma as a fraction of the window size.
    """

    name: str = SLICES_2D
    roi_size: tuple[int, int, int] = DEFAULT_ROI_SIZE
    overlap: float = DEFAULT_OVERLAP
    sigma_scale: float = DEFAULT_SIGMA_SCALE

    def to_dict(self) -> dict[str, Any]:
        """The model.json form (the name alone for the 2D inferer)."""
        if self.name == SLICES_2D:
            return {"name": self.name}
        return {
            "name": self.name,
            "roi_size": list(self.roi_size),
            "overlap": self.overlap,
            "sigma_scale": self.sigma_scale,
        }


def default_inferer(spatial_dims: int) -> InfererSpec:
    """The inferer of a network kind: "slices2d" for 2D nets, "sliding_window3d" for 3D ones."""
    name = DEFAULT_BY_SPATIAL_DIMS.get(int(spatial_dims))
    if name is None:
        raise ModelError(f"no inferer for {spatial_dims}-D networks; networks are 2D or 3D")
    return InfererSpec(name)


def parse_inferer(entry: Any, spatial_dims: int, where: str = "model.json") -> InfererSpec:
    """Read model.json's `inferer` entry (None: the default of the network kind, see `default_inferer`).

    Raises `ModelError` naming `where` for an unknown name or key, a window that is not three positive
    integers, an overlap outside [0, 1), a non-positive sigma_scale, or an inferer for the other network kind.
    """
    if entry is None:
        return default_inferer(spatial_dims)
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ModelError(f"{where}: 'inferer' must be a name ({', '.join(INFERER_NAMES)}) or an object with a 'name'")
    name = entry["name"]
    if name not in INFERER_NAMES:
        raise ModelError(f"{where}: unknown inferer {name!r}; inferers are {', '.join(INFERER_NAMES)}")
    unknown = sorted(set(entry) - _KEYS[name])
    if unknown:
        raise ModelError(f"{where}: inferer {name!r} takes no {', '.join(unknown)}; it takes {sorted(_KEYS[name])}")
    expected = DEFAULT_BY_SPATIAL_DIMS.get(int(spatial_dims))
    if name != expected:
        raise ModelError(f"{where}: inferer {name!r} cannot run a {spatial_dims}D network; use {expected!r}")
    roi = entry.get("roi_size", DEFAULT_ROI_SIZE)
    if (
        not isinstance(roi, (list, tuple))
        or len(roi) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in roi)
    ):
        raise ModelError(f"{where}: inferer roi_size must be three positive integers (z, y, x voxels), got {roi!r}")
    overlap = _number(entry.get("overlap", DEFAULT_OVERLAP), "overlap", where)
    if not 0.0 <= overlap < 1.0:
        raise ModelError(f"{where}: inferer overlap must be in [0, 1), got {overlap}")
    sigma = _number(entry.get("sigma_scale", DEFAULT_SIGMA_SCALE), "sigma_scale", where)
    if sigma <= 0.0:
        raise ModelError(f"{where}: inferer sigma_scale must be positive, got {sigma}")
    return InfererSpec(name, (int(roi[0]), int(roi[1]), int(roi[2])), overlap, sigma)


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelError(f"{where}: inferer {key} must be a number, got {value!r}")
    return float(value)
