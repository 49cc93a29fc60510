"""A reference segmentation on the CT's grid: label files, .seg.nrrd, DICOM RTSTRUCT and SEG alike.

What `segment_file` and `segthor segment --reference` score the prediction against. Label files and
.seg.nrrd are read by `label_files`; DICOM references are rasterised onto the CT by `segthor.dicom_rt`; a
reference cropped to its content (as Slicer saves segmentations) is padded back onto the CT's lattice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.organs import ORGANS


def read_reference(path: str | os.PathLike[str], like: Volume, user_map: Any = None) -> Volume:
    """The reference label Volume on the CT's grid (``read_reference_image``, overlapping segments collapsed)."""
    return read_reference_image(path, like, user_map).volume


def read_reference_image(
    path: str | os.PathLike[str],
    like: Volume,
    user_map: Any = None,
    dicom_series: Any = None,
    input_path: str | os.PathLike[str] | None = None,
    series: str | None = None,
) -> Any:
    """A reference ``LabelImage`` (SegTHOR values 0-4, overlapping segments kept apart) on the CT's grid.

    A DICOM RTSTRUCT or SEG is rasterised onto the CT (``segthor.dicom_rt``); when the CT is a DICOM series
    (``dicom_series``, else read from the ``input_path`` folder) the reference must refer to it.

    A `.seg.nrrd` is read segment by segment and mapped to organs by ``segment_mapping.organ_for_segment``
    (``user_map``: name -> organ, see ``read_user_map``); its raw label values follow the order the segments
    were added in Slicer, not 1-4. Slicer saves segmentations cropped to their content, so a reference on the
    CT's voxel lattice but with a smaller extent is padded onto the CT's grid; any other geometry is refused.
    """
    from segthor.dicom_rt.references import is_dicom_labels
    from segthor.metrics.geometry import onto_grid
    from segthor.metrics.label_files import LabelImage, read_label_image

    if is_dicom_labels(path):
        from segthor.dicom_rt.references import read_dicom_labels
        from segthor.dicom_rt.series import read_input_series

        if dicom_series is None and input_path is not None and Path(input_path).is_dir():
            try:
                dicom_series = read_input_series(input_path, series)
            except InputError:
                dicom_series = None  # e.g. an enhanced multi-frame CT: no series check, the grid still holds
        from segthor.metrics.label_files import label_image_from_masks

        labels = read_dicom_labels(path, like=like, like_series=dicom_series, user_map=user_map)
        return label_image_from_masks(labels.grid, labels.masks, labels.unmapped, Path(path))
    image = read_label_image(path, user_map=user_map)
    reference = image.volume
    if not reference.same_geometry(like, tol=1e-3):
        same_lattice = np.allclose(reference.spacing, like.spacing, rtol=1e-3, atol=1e-3) and np.allclose(
            reference.direction, like.direction, atol=1e-3
        )
        offset_voxels = np.linalg.solve(
            like.direction @ np.diag(like.spacing), np.subtract(reference.origin, like.origin)
        )
        if not (same_lattice and np.allclose(offset_voxels, np.round(offset_voxels), atol=1e-2)):
            raise InputError(
                f"reference {path} ({reference.describe_geometry()}) is not on the CT's grid "
                f"({like.describe_geometry()}); give a label image with the CT's size, spacing and origin"
            )
        offset = np.round(offset_voxels).astype(int)
        grid = like.with_array(np.zeros(like.array.shape, np.uint8))
        reference = onto_grid(reference, grid, offset)
        masks = {k: onto_grid(image.volume.with_array(m), grid, offset).array for k, m in image.organ_masks.items()}
        image = LabelImage(reference, masks, image.unused_segments)
    values = np.unique(reference.array)
    if values.min() < 0 or values.max() > len(ORGANS):
        raise InputError(
            f"reference {path} holds values {values[:8].tolist()}; expected SegTHOR labels 0-{len(ORGANS)} "
            "(0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta)"
        )
    image.volume = reference.with_array(reference.array.astype(np.uint8))
    return image
