"""Random pulmonary vessel trees: branching tubes from each hilum out into the lung."""

from __future__ import annotations

import numpy as np

from segthor.phantom.shapes import resample_path

# Per generation: segment length (mm) and radius (mm); each segment forks in two.
_GENERATIONS = ((42.0, 4.2), (34.0, 3.0), (26.0, 2.2), (18.0, 1.6), (13.0, 1.2))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def vessel_tree(hilum: np.ndarray, side: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dense centre-line samples and radii of one lung's vessel tree (side -1 right lung, +1 left lung)."""
    trunks = [
        (0.3 * side, -0.2, 1.0),
        (0.9 * side, -0.1, 0.6),
        (1.0 * side, 0.3, 0.0),
        (0.8 * side, -0.5, -0.3),
        (0.7 * side, 0.4, -0.8),
        (0.25 * side, 0.2, -1.0),
    ]
    # A few more trunks in random directions into the lung's half of the chest.
    for _ in range(5):
        d = rng.normal(0.0, 1.0, 3)
        trunks.append((abs(d[0]) * side + 0.4 * side, d[1], d[2]))
    pts: list[np.ndarray] = []
    rads: list[np.ndarray] = []
    stack = [(np.asarray(hilum, dtype=float), _unit(np.array(t) + rng.normal(0, 0.15, 3)), 0) for t in trunks]
    while stack:
        start, direction, gen = stack.pop()
        length, radius = _GENERATIONS[gen]
        length *= rng.uniform(0.75, 1.25)
        # A slight bend half way keeps the vessels from looking ruler-straight.
        mid = start + 0.5 * length * direction
        bend = _unit(direction + rng.normal(0, 0.2, 3))
        end = mid + 0.5 * length * bend
        p, r = resample_path(np.stack([start, mid, end]), [radius, 0.9 * radius, 0.8 * radius])
        pts.append(p)
        rads.append(r)
        if gen + 1 < len(_GENERATIONS):
            for _ in range(2):
                child = _unit(bend + rng.normal(0, 0.45, 3) + 0.3 * np.array([side, 0.0, 0.0]))
                stack.append((end, child, gen + 1))
    return np.concatenate(pts), np.concatenate(rads)
