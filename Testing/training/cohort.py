"""A tiny SegTHOR-format cohort for the training tests: segthor.phantom when present, else simple blobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segthor.io.volume import Volume, write_volume


def _blob_case(seed: int, size: int, slices: int) -> tuple[Volume, Volume]:
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[:slices, :size, :size].astype(np.float32)
    c = size / 2 + rng.uniform(-2, 2, 2)
    body = ((yy - c[0]) / (0.38 * size)) ** 2 + ((xx - c[1]) / (0.45 * size)) ** 2 < 1
    ct = np.where(body, 0.0, -1000.0) + rng.normal(0, 15, body.shape)
    labels = np.zeros(body.shape, np.uint8)
    organs = (  # (label, centre y, centre x, radius, HU, z range)
        (2, 0.55, 0.55, 0.14, 60, (0.2, 0.7)), (4, 0.40, 0.42, 0.06, 250, (0.1, 0.9)),
        (3, 0.35, 0.55, 0.05, -950, (0.4, 1.0)), (1, 0.48, 0.40, 0.03, 20, (0.0, 1.0)),
    )
    for label, cy, cx, r, hu, (z0, z1) in organs:
        m = ((yy - cy * size) ** 2 + (xx - cx * size) ** 2 < (r * size) ** 2) & (zz >= z0 * slices) & (zz < z1 * slices)
        labels[m] = label
        ct[m] = hu + rng.normal(0, 15, int(m.sum()))
    spacing = (400.0 / size, 400.0 / size, 5.0)
    return Volume(ct.astype(np.int16), spacing), Volume(labels, spacing)


def write_tiny_cohort(outdir: Path, cases: int = 4, size: int = 48, slices: int = 12, seed: int = 0) -> Path:
    try:
        from segthor.phantom import write_cohort
    except ImportError:
        write_cohort = None
    if write_cohort is not None:
        write_cohort(outdir, cases, seed, size=size)
        return outdir
    for i in range(cases):
        ct, gt = _blob_case(seed + i, size, slices)
        name = f"Patient_{i + 1:02d}"
        write_volume(ct, outdir / name / f"{name}.nii.gz")
        write_volume(gt, outdir / name / "GT.nii.gz")
    return outdir
