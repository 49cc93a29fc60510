"""Per-case geometry of generator v2: the map from the phantom's anatomical frame to the template frame.

Anatomical frame (segthor.phantom.grid): x patient's left, y posterior, z superior, mm, z = 0 at the carina.
Template frame: LPS mm with the carina at the origin. The inverse map (anatomy -> template) is
    t = R^T (q - c) / s + d(q)
with a global scale s (x, y, z), a small rotation R, the carina position c, and a smooth displacement d made of
a few random long waves, each along one axis (cheap to evaluate on any voxel box by broadcasting).
Points are carried forward (template -> anatomy) by fixed-point iteration.
"""

from __future__ import annotations

import numpy as np


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    a = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    b = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    c = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return c @ b @ a


class Warp:
    """Smooth random map between the anatomical frame and the template frame of one case."""

    def __init__(self, p: dict):
        self.c = np.array([p["v2_carina_x_mm"], p["v2_carina_y_mm"], 0.0])
        self.s = np.array([p["v2_scale_x"], p["v2_scale_y"], p["v2_scale_z"]])
        self.r = _rotation(*np.radians([p["v2_rot_x_deg"], p["v2_rot_y_deg"], p["v2_rot_z_deg"]]))
        rng = np.random.default_rng(int(p["v2_warp_seed"]))
        amp = float(p["v2_warp_mm"])
        # waves[i]: (component, axis, amplitude, wavenumber, phase)
        self.waves = []
        for comp in range(3):
            for axis in range(3):
                wavelength = rng.uniform(120.0, 320.0)
                self.waves.append(
                    (comp, axis, amp * rng.uniform(0.2, 1.0) / 1.7, 2 * np.pi / wavelength, rng.uniform(0, 2 * np.pi))
                )

    def displacement(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
        """d(q) per component; x, y, z broadcastable arrays (anatomical mm)."""
        axes = (x, y, z)
        out = [np.zeros(1, dtype=np.float32) for _ in range(3)]
        for comp, axis, a, k, ph in self.waves:
            out[comp] = out[comp] + (a * np.sin(k * axes[axis] + ph)).astype(np.float32)
        return out

    def to_template(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
        """Template coordinates of anatomical points given as broadcastable axis arrays."""
        f = np.float32
        u = [(x - f(self.c[0])) / f(self.s[0]), (y - f(self.c[1])) / f(self.s[1]), (z - f(self.c[2])) / f(self.s[2])]
        d = self.displacement(x, y, z)
        r = self.r.astype(f)
        # Each term broadcasts from 1D axes; the sum is the only full-size array per component.
        return [r[0, i] * u[0] + r[1, i] * u[1] + r[2, i] * u[2] + d[i] for i in range(3)]

    def to_anatomy(self, t: np.ndarray) -> np.ndarray:
        """Anatomical points (N, 3) of template points t (N, 3)."""
        t = np.atleast_2d(np.asarray(t, dtype=float))
        q = self.c + (t @ self.r.T) * self.s
        for _ in range(6):
            d = np.stack(self.displacement(q[:, 0], q[:, 1], q[:, 2]), axis=1)
            d = np.broadcast_to(d, q.shape)
            q = self.c + ((t - d) @ self.r.T) * self.s
        return q
