"""A patient-aligned view of a volume: array axes ordered (superior, posterior, left), without copying.

The checks reason in anatomical directions ("above", "in front of"). A CT stored in any axis order or
flip is viewed, by transposing and flipping its numpy array, so that index k grows towards the head, j
towards the back and i towards the patient's left (LPS: +z superior, +y posterior, +x left). Oblique scans
are assigned to their nearest anatomical axes (the input checks warn about them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segthor.io.volume import Volume


@dataclass(frozen=True)
class PatientFrame:
    """How to view arrays of one geometry in (S, P, L) order, and what one voxel step is in mm."""

    axes: tuple[int, int, int]  # array axis holding each of LPS z, y, x
    flips: tuple[bool, bool, bool]  # whether that array axis runs against LPS
    spacing_zyx: tuple[float, float, float]  # mm per step along S, P, L
    shape_zyx: tuple[int, int, int]  # shape of the view

    @classmethod
    def of(cls, volume: Volume) -> PatientFrame:
        """The frame of `volume`'s geometry (direction columns are image axes x, y, z; arrays are [z, y, x])."""
        d = np.asarray(volume.direction, dtype=float)
        world_of_image = [int(np.argmax(np.abs(d[:, j]))) for j in range(3)]  # image axis j -> LPS axis
        if len(set(world_of_image)) < 3:  # degenerate (45-degree) direction: keep the stored order
            world_of_image = [0, 1, 2]
        axes, flips, spacing = [], [], []
        for world in (2, 1, 0):  # LPS z, y, x
            j = world_of_image.index(world)
            axes.append(2 - j)  # image axis j (x=0) is array axis 2-j
            flips.append(bool(d[world, j] < 0))
            spacing.append(float(volume.spacing[j]))
        shape = tuple(int(volume.array.shape[a]) for a in axes)
        return cls(tuple(axes), tuple(flips), tuple(spacing), shape)  # type: ignore[arg-type]

    def view(self, array: np.ndarray) -> np.ndarray:
        """`array` ([z, y, x] of the stored geometry) as a view indexed [S, P, L]."""
        out = np.transpose(array, self.axes)
        index = tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)
        return out[index]

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing_zyx)) / 1000.0


def slice_normal_angle_deg(volume: Volume) -> float:
    """Angle in degrees between the stored slice normal (third image axis) and the superior-inferior axis."""
    normal = np.asarray(volume.direction, dtype=float)[:, 2]
    cos = abs(float(normal[2])) / max(float(np.linalg.norm(normal)), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, 0.0, 1.0))))
