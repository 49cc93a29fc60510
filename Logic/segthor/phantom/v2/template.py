"""The shipped organ template of generator v2: a uint8 label volume (LPS mm, origin at the carina) and landmarks.

Built offline from the HRA meshes by `templates/build_template.py`; see `templates/README.md` for the
attribution the CC BY 4.0 licence asks for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from segthor.errors import InputError

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "thorax_template.npz"


@dataclass
class Template:
    labels: np.ndarray  # uint8 (z, y, x)
    origin: np.ndarray  # LPS mm of voxel (0, 0, 0), carina at 0
    spacing: float  # mm, isotropic
    marks: dict
    _groups: dict = field(default_factory=dict)

    def label(self, name: str) -> int:
        return int(self.marks["labels"][name])

    def group(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float32 mask of the union of template labels `names`, cropped: (mask, lo_mm, hi_mm) in template mm."""
        if names not in self._groups:
            sel = np.isin(self.labels, [self.label(n) for n in names])
            idx = (
                np.nonzero(sel.any(axis=(1, 2)))[0],
                np.nonzero(sel.any(axis=(0, 2)))[0],
                np.nonzero(sel.any(axis=(0, 1)))[0],
            )
            k0, k1 = max(idx[0][0] - 2, 0), idx[0][-1] + 3
            j0, j1 = max(idx[1][0] - 2, 0), idx[1][-1] + 3
            i0, i1 = max(idx[2][0] - 2, 0), idx[2][-1] + 3
            crop = sel[k0:k1, j0:j1, i0:i1].astype(np.float32)
            lo = self.origin + np.array([i0, j0, k0]) * self.spacing
            hi = self.origin + np.array([i1 - 1, j1 - 1, k1 - 1]) * self.spacing
            self._groups[names] = (crop, lo, hi)
        return self._groups[names]


@lru_cache(maxsize=1)
def load_template(path: str = str(TEMPLATE_PATH)) -> Template:
    """The template shipped with the package (cached)."""
    if not Path(path).is_file():
        raise InputError(
            f"phantom v2 template {path} is missing; reinstall segthor or rebuild it with build_template.py"
        )
    with np.load(path) as d:
        return Template(
            d["labels"].copy(), d["origin"].astype(float), float(d["spacing"]), json.loads(str(d["landmarks"]))
        )
