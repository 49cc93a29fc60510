"""Input checks that turn unusable volumes into clear errors before any heavy work starts."""

from __future__ import annotations

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume

# A thoracic CT always holds air (lungs, outside the body) near -1000 HU; a scan without anything below
# this is not a CT in Hounsfield units (MR, PET, unscaled raw values, a labelmap...).
AIR_THRESHOLD_HU = -500.0
# Values beyond these are not HU: scanners clip metal at a few tens of thousands, and pad outside the
# field of view with at most -32768.
MAX_PLAUSIBLE_HU = 40000.0
MIN_PLAUSIBLE_HU = -40000.0
MIN_SLICES = 2


def check_ct_volume(volume: Volume, name: str = "input") -> None:
    """Raise `InputError` unless `volume` looks like a 3D CT in Hounsfield units."""
    array = volume.array
    if array.ndim == 4 or (array.ndim == 3 and array.dtype.names):
        raise InputError(f"{name} is a multi-component (e.g. RGB) image; segthor needs a grey-level CT volume")
    if array.ndim != 3:
        raise InputError(f"{name} has {array.ndim} dimensions; segthor needs a 3D CT volume")
    if array.size == 0:
        raise InputError(f"{name} is empty (size {volume.shape_xyz}); load a CT volume with voxels")
    if min(array.shape) < MIN_SLICES:
        raise InputError(f"{name} is 2D (size {volume.shape_xyz}); segthor needs a 3D CT volume with several slices")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"{name} has voxel type {array.dtype}; segthor needs a scalar CT volume")
    # A strided sample keeps this check cheap on a 512x512x200 CT.
    step = max(1, int(round((array.size / 2_000_000) ** (1 / 3))))
    sample = np.asarray(array[::step, ::step, ::step], dtype=np.float32)
    if not np.all(np.isfinite(sample)):
        raise InputError(f"{name} holds NaN or infinite values; it is not a CT in Hounsfield units")
    lo, hi = float(sample.min()), float(sample.max())
    if lo == hi:
        raise InputError(f"{name} is empty: every voxel has the value {lo:g}; load a CT volume with content")
    if lo > AIR_THRESHOLD_HU:
        raise InputError(
            f"{name} does not look like a CT in Hounsfield units: its lowest value is {lo:g}, but a thoracic CT "
            "has air near -1000 HU. Give a CT (not MR/PET/a labelmap), rescaled to HU "
            "(DICOM RescaleSlope/Intercept applied)"
        )
    if lo < MIN_PLAUSIBLE_HU or hi > MAX_PLAUSIBLE_HU:
        raise InputError(
            f"{name} values range from {lo:g} to {hi:g}, far outside CT Hounsfield units; "
            "check that the image is a CT rescaled to HU"
        )
