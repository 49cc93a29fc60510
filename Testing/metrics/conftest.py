"""Small synthetic masks and label images for the metrics tests."""

from __future__ import annotations

import numpy as np
import pytest

from segthor.io.volume import Volume, write_volume

# Anisotropic on purpose: axial slices thicker than the in-plane pixels, x and y unequal.
SPACING_ZYX = (2.5, 0.8, 1.1)


def ellipsoid(shape, centre, radii) -> np.ndarray:
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return ((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + (
        (x - centre[2]) / radii[2]
    ) ** 2 <= 1


def label_pair(shift: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Reference and prediction label arrays [z, y, x] with all four organs, the prediction slightly off."""
    shape = (24, 48, 44)
    ref = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    for labels, d in ((ref, 0), (pred, shift)):
        labels[ellipsoid(shape, (12, 28 + d, 22), (7, 10, 12))] = 2  # heart
        labels[ellipsoid(shape, (12, 14, 30 - d), (9, 3, 3))] = 4  # aorta
        labels[ellipsoid(shape, (10 + d, 12, 14), (6, 2, 2))] = 3  # trachea
        labels[ellipsoid(shape, (13, 20, 16 + d), (10, 2, 2))] = 1  # esophagus
    return pred, ref


@pytest.fixture
def labels_pair():
    return label_pair()


@pytest.fixture
def case_folders(tmp_path):
    """pred/, other/ (a worse prediction) and ref/ (SegTHOR layout) folders of three small cases."""
    spacing_xyz = SPACING_ZYX[::-1]
    for i in range(3):
        pred, ref = label_pair(shift=1 + i % 2)
        worse, _ = label_pair(shift=3 + i)
        case = f"Patient_{i + 1:02d}"
        write_volume(Volume(ref, spacing_xyz), tmp_path / "ref" / case / "GT.nii.gz")
        write_volume(Volume(ref.astype(np.int16) * 100, spacing_xyz), tmp_path / "ref" / case / f"{case}.nii.gz")
        write_volume(Volume(pred, spacing_xyz), tmp_path / "pred" / f"{case}_labels.nii.gz")
        write_volume(Volume(worse, spacing_xyz), tmp_path / "other" / f"{case}.nii.gz")
    return tmp_path / "pred", tmp_path / "other", tmp_path / "ref"
