"""Where generator v2 puts the descending aorta: against the left antero-lateral surface of the vertebral bodies.

The template's descending aorta (Visible Human Female meshes) lies 39-49 mm left of the midline from the carina
down to below the heart, with a 2-3 cm gap to the spine. In adults the descending thoracic aorta lies against the
left antero-lateral surface of the vertebral bodies, its centre about 20-30 mm left of the midline at T5-T9,
drifting towards the midline at the aortic hiatus (T12) (Gray's Anatomy, 42nd ed., posterior mediastinum); in
older patients the ectatic aorta often lies in front of the vertebral bodies on the midline, so cases draw the
centre 0-30 mm left of it (`segthor.phantom.v2.params`).
This module computes a smooth displacement of the template's descending aorta (a function of the template z
only, blended to zero at the arch) that puts its centre `v2_aorta_desc_x_mm` left of the spine and its wall
`v2_aorta_spine_gap_mm` from the vertebral body drawn by v1's trunk (an ellipse of half axes vertebra_rx_mm,
vertebra_ry_mm whose front is the layout's spine front).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segthor.phantom.v2.template import Template
from segthor.phantom.v2.warp import Warp

# The shift starts below the arch (template z, mm from the carina) and is complete at the heart's upper levels.
_BLEND_TOP, _BLEND_FULL = 5.0, -40.0
# The centre drifts from the thoracic offset to 40 % of it between these template levels (towards the hiatus).
_DRIFT_TOP, _DRIFT_BOTTOM, _DRIFT_TO = -110.0, -220.0, 0.4
# Only the posterior (descending) part moves: the ascending aorta lies in front of template y = -5 mm at these
# levels and the descending aorta behind y = 16 mm.
_Y_FIXED, _Y_MOVED = -5.0, 10.0
# The esophagus's centre lies at least this far in front of the descending aorta's centre at the heart levels.
ESOPHAGUS_AHEAD_MM = 6.0


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


_RADIUS: dict[int, float] = {}


def _desc_radius(t: Template) -> float:
    """Mean radius (template mm) of the descending aorta at the heart levels, from its cross-section areas."""
    if id(t) in _RADIUS:
        return _RADIUS[id(t)]
    lab = t.labels == t.label("aorta")
    areas = []
    for z in np.arange(-130.0, -55.0, 5.0):
        k = int(round((z - t.origin[2]) / t.spacing))
        j, _ = np.nonzero(lab[k])
        y = t.origin[1] + j * t.spacing
        areas.append(np.sum(y > _Y_MOVED) * t.spacing**2)
    _RADIUS[id(t)] = float(np.sqrt(np.median(areas) / np.pi))
    return _RADIUS[id(t)]


def touching_offset(x: float, r: float, rx: float, ry: float, gap: float) -> float:
    """y of a circle's centre relative to an ellipse's front (y posterior) when the circle touches it from the front.

    The circle (centre x mm from the ellipse's centre, radius r) is moved back from far in front until its wall is
    `gap` mm from the ellipse (half axes rx, ry, centre ry behind the front). Beside the ellipse (x > rx + r + gap)
    it returns ry (the circle level with the ellipse's centre). All in mm.
    """
    th = np.linspace(0.0, 2.0 * np.pi, 721)
    ex, ey = rx * np.cos(th), ry + ry * np.sin(th)
    ks = np.arange(-(r + gap + 2.0 * ry), ry + 0.125, 0.25)
    d = np.hypot(x - ex[None, :], ks[:, None] - ey[None, :]).min(axis=1)
    hit = np.nonzero(d <= r + gap)[0]
    return float(ks[hit[0]]) if len(hit) else float(ry)


@dataclass
class AortaShift:
    """Displacement (template mm) of the template's descending aorta, tabulated along the template z."""

    z: np.ndarray  # (N,) increasing
    dx: np.ndarray  # (N,)
    dy: np.ndarray  # (N,)

    def at(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.interp(z, self.z, self.dx), np.interp(z, self.z, self.dy)

    def marks(self, t: Template) -> np.ndarray:
        """The template's `aorta_desc_centre` marks (N, 3: x, y, z) moved with the aorta."""
        ao = np.array(t.marks["aorta_desc_centre"], dtype=float)
        dx, dy = self.at(ao[:, 2])
        return np.column_stack([ao[:, 0] + dx, ao[:, 1] + dy, ao[:, 2]])

    def local(self):
        """Local map for `Family`: the template position to sample for each displayed template position.

        Inverse of the displacement (solved by fixed-point iteration: the weight depends on the sampled y).
        """

        def f(tc: list[np.ndarray]) -> list[np.ndarray]:
            z = tc[2]
            dx, dy = (a.astype(np.float32) for a in self.at(z))
            sy = tc[1]
            for _ in range(3):
                w = _smoothstep((sy - _Y_FIXED) / (_Y_MOVED - _Y_FIXED)).astype(np.float32)
                sy = tc[1] - w * dy
            w = _smoothstep((sy - _Y_FIXED) / (_Y_MOVED - _Y_FIXED)).astype(np.float32)
            return [tc[0] - w * dx, sy, z]

        return f


def _offset(zs: np.ndarray, p: dict) -> np.ndarray:
    """Centre of the descending aorta left of the spine (anatomical mm) at template heights zs."""
    drift = np.clip((_DRIFT_TOP - zs) / (_DRIFT_TOP - _DRIFT_BOTTOM), 0.0, 1.0)
    return float(p["v2_aorta_desc_x_mm"]) * (1.0 - (1.0 - _DRIFT_TO) * drift)


def _blend(zs: np.ndarray) -> np.ndarray:
    return _smoothstep((_BLEND_TOP - zs) / (_BLEND_TOP - _BLEND_FULL))


def esophagus_spine_gap(t: Template, p: dict) -> float:
    """Gap (mm) between the esophagus and the vertebral bodies' front: `v2_spine_gap_mm`, or more where a
    medial aorta must sit well in front of the spine, so that the esophagus stays in front of the aorta's centre
    by at least `ESOPHAGUS_AHEAD_MM` (the aorta is then in the retro-esophageal space beside it, as in adults)."""
    r = _desc_radius(t) * np.sqrt(float(p["v2_scale_x"]) * float(p["v2_scale_y"]))
    k = touching_offset(
        float(p["v2_aorta_desc_x_mm"]),
        r,
        float(p["vertebra_rx_mm"]),
        float(p["vertebra_ry_mm"]),
        float(p["v2_aorta_spine_gap_mm"]),
    )
    return max(float(p["v2_spine_gap_mm"]), ESOPHAGUS_AHEAD_MM - k - float(p["esophagus_ry_mm"]))


def _marks(t: Template) -> np.ndarray:
    ao = np.array(t.marks["aorta_desc_centre"], dtype=float)
    return ao[np.argsort(ao[:, 2])]


def desc_x(t: Template, p: dict, warp: Warp, z: np.ndarray) -> np.ndarray:
    """Template x of the moved descending aorta's centre at template heights z (the esophagus keeps right of it).

    Solved through the case's warp (rotation, scale, waves) so that the centre lands `_offset` mm left of the
    spine, which v1's trunk draws at anatomical x = 0.
    """
    ao = _marks(t)
    z = np.atleast_1d(np.asarray(z, dtype=float))
    ax, ay = np.interp(z, ao[:, 2], ao[:, 0]), np.interp(z, ao[:, 2], ao[:, 1])
    target, x = _offset(z, p), ax.copy()
    for _ in range(4):
        q = warp.to_anatomy(np.column_stack([x, ay, z]))
        x = x - (q[:, 0] - target) / float(p["v2_scale_x"])
    return ax + _blend(z) * (x - ax)


def aorta_shift(t: Template, p: dict, warp: Warp, spine_front: np.ndarray) -> AortaShift:
    """The displacement that puts the descending aorta against the vertebral bodies of the case with parameters p.

    spine_front: (M, 3) template points (x, y = the vertebral bodies' front, z), as `esophagus_template_path`
    returns them; they are carried into the anatomical frame by `warp`, as the layout does. Uses the vertebra's
    half axes, `v2_aorta_desc_x_mm` (centre left of the spine, anatomical mm) and `v2_aorta_spine_gap_mm`.
    """
    sx, sy = float(p["v2_scale_x"]), float(p["v2_scale_y"])
    ao = _marks(t)
    spine = warp.to_anatomy(spine_front)
    spine = spine[np.argsort(spine[:, 2])]
    zs = np.arange(-420.0, 82.0, 2.0)
    off = _offset(zs, p)
    # The touching depth is solved in anatomical mm (the vertebra's half axes are anatomical).
    r = _desc_radius(t) * np.sqrt(sx * sy)
    rx, ry, gap = float(p["vertebra_rx_mm"]), float(p["vertebra_ry_mm"]), float(p["v2_aorta_spine_gap_mm"])
    cache: dict[float, float] = {}
    k = np.empty_like(zs)
    for n, o in enumerate(np.round(off, 1)):
        if o not in cache:
            cache[o] = touching_offset(float(o), r, rx, ry, gap)
        k[n] = cache[o]
    x, y = np.interp(zs, ao[:, 2], ao[:, 0]), np.interp(zs, ao[:, 2], ao[:, 1])
    x0, y0 = x.copy(), y.copy()
    for _ in range(5):  # template (x, y) whose anatomical image is (off, spine front + k) at that height
        q = warp.to_anatomy(np.column_stack([x, y, zs]))
        x = x - (q[:, 0] - off) / sx
        y = y - (q[:, 1] - (np.interp(q[:, 2], spine[:, 2], spine[:, 1]) + k)) / sy
    w = _blend(zs)
    return AortaShift(zs, w * (x - x0), w * (y - y0))
