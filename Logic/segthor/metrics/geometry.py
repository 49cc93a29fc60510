"""Making sure a prediction and its reference lie on the same voxel grid (or putting them there)."""

from __future__ import annotations

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume


def describe(volume: Volume) -> str:
    text = volume.describe_geometry()
    if not np.allclose(volume.direction, np.eye(3), atol=1e-6):
        text += ", direction " + " ".join(f"{v:.3g}" for v in volume.direction.flatten())
    return text


def check_same_geometry(pred: Volume, ref: Volume) -> None:
    if not pred.same_geometry(ref):
        raise InputError(
            f"prediction and reference have different geometries: prediction {describe(pred)}; "
            f"reference {describe(ref)}. Give both on the same voxel grid, or resample the prediction onto "
            "the reference (--resample-to-reference, nearest neighbour)"
        )


def resample_to(pred: Volume, ref: Volume) -> Volume:
    """``pred`` label image resampled onto ``ref``'s grid by nearest neighbour (outside -> background 0)."""
    if pred.same_geometry(ref):
        return pred
    import SimpleITK as sitk

    out = sitk.Resample(pred.to_sitk(), ref.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return ref.with_array(sitk.GetArrayFromImage(out))
