"""What a training step sees: 2D slices holding at least one organ ([Lambert2020]), or 3D crops ([Zhang2019])."""

from __future__ import annotations

from typing import Any

import numpy as np

from segthor_training.config import integer, number
from segthor_training.dataset import Case

# sampling.* keys of a training config, by the network kind that reads them.
SAMPLING_KEYS = {2: ("organ_slices_only", "margin_mm"), 3: ("crop_size", "organ_probability")}


def check_sampling(sampling: dict[str, Any], spatial_dims: int) -> None:
    """Raise ValueError (one line) for a `sampling` entry the network kind does not read or a bad value:
    ``organ_slices_only`` true/false and ``margin_mm`` >= 0 mm (2D nets); ``crop_size`` three positive voxel
    counts [z, y, x] and ``organ_probability`` in [0, 1] (3D nets)."""
    known = SAMPLING_KEYS.get(spatial_dims, ())
    for key, value in (sampling or {}).items():
        if key not in known:
            other = [d for d, keys in SAMPLING_KEYS.items() if key in keys]
            where = f"applies to {other[0]}D networks only" if other else "is unknown"
            raise ValueError(f"sampling.{key} {where}; this {spatial_dims}D network reads {', '.join(known)}")
        if key == "organ_slices_only" and not isinstance(value, bool):
            raise ValueError(f"sampling.organ_slices_only must be true or false, got {value!r}")
        if key == "margin_mm" and not (number(value) and value >= 0):
            raise ValueError(f"sampling.margin_mm must be a number of mm >= 0, got {value!r}")
        if key == "organ_probability" and not (number(value) and 0 <= value <= 1):
            raise ValueError(f"sampling.organ_probability must be a number in [0, 1], got {value!r}")
        if key == "crop_size" and not (
            isinstance(value, list) and len(value) == 3 and all(integer(v) and v > 0 for v in value)
        ):
            raise ValueError(f"sampling.crop_size must be three positive voxel counts [z, y, x], got {value!r}")


def organ_slices(cases: list[Case], organ_only: bool = True, margin_mm: float = 0.0) -> list[tuple[int, int]]:
    """(case index, z) of every slice, or only of those with at least one organ voxel, plus, with `margin_mm`
    > 0, the slices within `margin_mm` (along z, in mm: `Case.spacing` is (x, y, z)) beyond the first and last
    organ slice of each case (label-free slices between organ slices are not added).

    The margin is why it exists: SegTHOR's labels end at anatomical landmarks (the aorta below the diaphragm
    crura, the esophagus at the gastro-esophageal junction, the trachea below the larynx; [Lambert2020]) inside
    the scan, and a 2D network shown only organ slices never sees the slices beyond those ends, so it goes on
    labelling the abdominal aorta or the cervical esophagus. Label-free slices near the ends teach it where to stop.
    """
    out = []
    for i, case in enumerate(cases):
        n = case.labels.shape[0]
        if not organ_only:
            out += [(i, z) for z in range(n)]
            continue
        has = case.labels.reshape(n, -1).any(axis=1)
        if margin_mm > 0 and has.any():
            zs = np.flatnonzero(has)
            reach = int(np.floor(margin_mm / max(float(case.spacing[2]), 1e-6) + 1e-6))
            has = has.copy()
            has[max(0, zs[0] - reach) : zs[0]] = True
            has[zs[-1] + 1 : zs[-1] + reach + 1] = True
        out += [(i, int(z)) for z in np.flatnonzero(has)]
    return out


def epoch_order(n: int, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    """This rank's share of a seeded permutation; every rank gets the same count (DDP steps in lockstep)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = max(1, n // world)
    if n < world:
        order = np.resize(order, world)
    return order[rank * per_rank : (rank + 1) * per_rank]


def pad_stack(images: list[np.ndarray], labels: list[np.ndarray], multiple: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Stack samples of different in-plane sizes: pad at the far end to the batch's largest size (rounded up to
    `multiple`) with each image's own minimum (air) and background labels. A 2.5D image (C, y, x) over labels
    (y, x) keeps its channel axis as it is."""
    channels = images[0].shape[: images[0].ndim - labels[0].ndim]
    dims = labels[0].ndim
    target = [max(lab.shape[d] for lab in labels) for d in range(dims)]
    target = [t + (-t) % multiple for t in target]
    out_x = np.empty((len(images), *channels, *target), np.float32)
    out_y = np.zeros((len(images), *target), np.int64)
    for i, (im, lab) in enumerate(zip(images, labels, strict=True)):
        out_x[i] = im.min()
        region = tuple(slice(0, s) for s in lab.shape)
        out_x[i][(..., *region)] = im
        out_y[i][region] = lab
    return out_x, out_y


def random_crop3d(
    case: Case, size: tuple[int, int, int], rng: np.random.Generator, organ_probability: float
) -> tuple[np.ndarray, np.ndarray]:
    """A [z,y,x] crop of `size`, centred on a random organ voxel with `organ_probability`, else anywhere;
    padded with air / background where the volume is smaller."""
    shape = np.array(case.image.shape)
    size_a = np.array(size)
    centre = None
    if rng.random() < organ_probability:
        organ = np.flatnonzero(case.labels)
        if organ.size:
            centre = np.array(np.unravel_index(organ[rng.integers(organ.size)], case.labels.shape))
    if centre is None:
        centre = np.array([rng.integers(s) for s in shape])
    start = np.clip(centre - size_a // 2, np.minimum(0, shape - size_a), np.maximum(0, shape - size_a))
    image = np.full(size, case.image.min(), np.float32)
    labels = np.zeros(size, np.uint8)
    src = tuple(slice(max(0, s), min(n, s + k)) for s, n, k in zip(start, shape, size_a, strict=True))
    dst = tuple(slice(sl.start - s, sl.stop - s) for sl, s in zip(src, start, strict=True))
    image[dst] = case.image[src]
    labels[dst] = case.labels[src]
    return image, labels
