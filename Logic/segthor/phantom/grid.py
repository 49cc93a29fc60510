"""The voxel grid of one phantom and its anatomical frame.

Anatomy is built in an anatomical frame in mm: x to the patient's left, y posterior, z superior (the axes of
LPS), with x = y = 0 on the body's centre line and z = 0 on the carina's level. The grid places that frame in
the scanner's LPS space (`anchor`), so the written image has an ordinary DICOM-like geometry: identity
direction, the reconstruction centre at x = y = 0, the table position in z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    shape: tuple[int, int, int]  # (z, y, x) voxels
    spacing: tuple[float, float, float]  # (x, y, z) mm
    anchor: tuple[float, float, float]  # LPS position of the anatomical frame's origin
    z_first: float = 0.0  # anatomical z of the bottom slice

    @classmethod
    def from_params(cls, p: dict, z_first: float) -> Grid:
        """The grid of a phantom whose bottom slice lies at anatomical height `z_first`."""
        size, n = int(p["size"]), int(p["n_slices"])
        sxy, sz = float(p["spacing_xy"]), float(p["spacing_z"])
        anchor = (float(p["body_x_lps"]), float(p["body_y_lps"]), float(p["carina_z_lps"]))
        return cls((n, size, size), (sxy, sxy, sz), anchor, float(z_first))

    @property
    def first(self) -> np.ndarray:
        """Anatomical (x, y, z) of voxel (0, 0, 0)."""
        n, h, w = self.shape
        sx, sy, _ = self.spacing
        # The reconstruction centre (LPS x = y = 0) is the middle of the matrix.
        x0 = -(w - 1) / 2 * sx - self.anchor[0]
        y0 = -(h - 1) / 2 * sy - self.anchor[1]
        return np.array([x0, y0, self.z_first])

    @property
    def origin_lps(self) -> tuple[float, float, float]:
        f = self.first
        return (float(f[0] + self.anchor[0]), float(f[1] + self.anchor[1]), float(f[2] + self.anchor[2]))

    def axis(self, name: str) -> np.ndarray:
        """Anatomical coordinates (mm, float64) of the grid's columns ('x'), rows ('y') or slices ('z')."""
        i = "xyz".index(name)
        count = self.shape[2 - i]
        return self.first[i] + np.arange(count) * self.spacing[i]

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """Continuous voxel indices (i, j, k) = (x, y, z order) of anatomical points (..., 3)."""
        return (np.asarray(points, dtype=float) - self.first) / np.asarray(self.spacing)
