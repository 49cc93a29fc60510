"""Per-organ evaluation of SegTHOR label images (0 background, 1-4 organs) as arrays or Volumes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from segthor.boxes import bounding_box
from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.metrics.binary import check_spacing, masks_metrics
from segthor.metrics.geometry import axial_array_axis, check_same_geometry, covering_grid, onto_grid
from segthor.metrics.label_files import LabelImage
from segthor.metrics.registry import metric_options
from segthor.metrics.result import HD95_POOLED, OrganMetrics
from segthor.metrics.surfaces import merge_boxes
from segthor.organs import ORGANS, Organ, organ_by_label, organ_by_name

OrganSpec = str | int | Organ


def select_organs(organs: Iterable[OrganSpec] | None) -> tuple[Organ, ...]:
    """Organs by key/name ('heart'), label (2) or ``Organ``; None means all four."""
    if organs is None:
        return ORGANS
    chosen = []
    for spec in organs:
        try:
            organ = _find_organ(spec)
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from exc
        if organ not in chosen:
            chosen.append(organ)
    if not chosen:
        raise InputError("no organ selected; name at least one of: " + ", ".join(o.key for o in ORGANS))
    return tuple(chosen)


def _find_organ(spec: OrganSpec) -> Organ:
    if isinstance(spec, Organ):
        return spec
    if isinstance(spec, (int, np.integer)):
        return organ_by_label(int(spec))
    return organ_by_name(str(spec))


def _label_array(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == bool:
        return array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        rounded = np.rint(array)
        if not np.array_equal(rounded, array):
            raise InputError(f"the {what} holds non-integer values; give a label image (0 background, 1-4 organs)")
        array = rounded.astype(np.int16)
    return array


def _organ_boxes(labels: np.ndarray, what: str) -> list[tuple[slice, ...] | None]:
    """Bounding box of each organ label (index label - 1), None where absent.

    ``find_objects`` over a whole CT-sized volume is slow, so it runs only inside the in-plane box of all
    labels, found from the maximum projection along the slice axis (one fast contiguous pass).
    """
    projection = labels.max(axis=0)
    top = int(projection.max())
    low = int(labels.min(axis=0).min()) if np.issubdtype(labels.dtype, np.signedinteger) else 0
    if top > len(ORGANS) or low < 0:
        raise InputError(
            f"the {what} holds label {top if top > len(ORGANS) else low}; SegTHOR labels are 0-4 "
            "(was a CT or another label scheme given instead of a SegTHOR label image?)"
        )
    if top == 0:
        return [None] * len(ORGANS)
    rows, cols = np.flatnonzero(projection.any(axis=1)), np.flatnonzero(projection.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    sub = labels[:, y0 : int(rows[-1]) + 1, x0 : int(cols[-1]) + 1]
    boxes: list[tuple[slice, ...] | None] = []
    for box in ndimage.find_objects(sub, max_label=len(ORGANS)):
        if box is not None:
            box = (box[0], slice(box[1].start + y0, box[1].stop + y0), slice(box[2].start + x0, box[2].stop + x0))
        boxes.append(box)
    return boxes


def evaluate_labels(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float],
    organs: Iterable[OrganSpec] | None = None,
    hd95: str = HD95_POOLED,
    restricted: bool = False,
    pred_masks: Mapping[str, np.ndarray] | None = None,
    ref_masks: Mapping[str, np.ndarray] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, OrganMetrics]:
    """``binary_metrics`` for each organ of two label arrays; keys are organ keys ('esophagus', ...).

    ``spacing`` in mm in array-axis order (``volume.spacing[::-1]`` for a segthor Volume); the first axis is
    the axial one (``evaluate_volumes`` finds it from the geometry). Each organ is cropped to the bounding box
    of both its masks before any distance transform. ``pred_masks``/``ref_masks``: organ key -> boolean mask
    (same shape) used for that organ instead of ``labels == label`` (segments that overlap, ``LabelImage``).
    ``options``: metric parameters (``segthor.metrics.registry``).
    """
    pred, ref = _label_array(pred, "prediction"), _label_array(ref, "reference")
    if pred.shape != ref.shape or pred.ndim != 3:
        raise InputError(f"prediction {pred.shape} and reference {ref.shape} must be 3D arrays of the same shape")
    spacing = check_spacing(spacing)
    chosen = select_organs(organs)
    options = metric_options(options)
    pred_masks, ref_masks = dict(pred_masks or {}), dict(ref_masks or {})
    pred_boxes, ref_boxes = _organ_boxes(pred, "prediction"), _organ_boxes(ref, "reference")
    results: dict[str, OrganMetrics] = {}
    empty = np.zeros((1, 1, 1), dtype=bool)
    for organ in chosen:
        if organ.key in pred_masks or organ.key in ref_masks:
            p = pred_masks.get(organ.key)
            p = pred == organ.label if p is None else p
            r = ref_masks.get(organ.key)
            r = ref == organ.label if r is None else r
            if p.shape != pred.shape or r.shape != pred.shape:
                raise InputError(f"the {organ.key} mask {p.shape}/{r.shape} differs from the labels {pred.shape}")
            box = bounding_box(p, r, margin=1)
            results[organ.key] = masks_metrics(
                *((p[box], r[box]) if box is not None else (empty, empty)), spacing, hd95, restricted, options
            )
            continue
        box = merge_boxes(pred_boxes[organ.label - 1], ref_boxes[organ.label - 1], pred.shape, margin=1)
        if box is None:
            results[organ.key] = masks_metrics(empty, empty, spacing, hd95, restricted, options)
        else:
            results[organ.key] = masks_metrics(
                pred[box] == organ.label, ref[box] == organ.label, spacing, hd95, restricted, options
            )
    return results


def evaluate_volumes(
    pred: Volume | LabelImage,
    ref: Volume | LabelImage,
    organs: Iterable[OrganSpec] | None = None,
    hd95: str = HD95_POOLED,
    restricted: bool = False,
    resample_to_reference: bool = False,
    options: Mapping[str, Any] | None = None,
) -> dict[str, OrganMetrics]:
    """``evaluate_labels`` on two label Volumes (or ``LabelImage``s), spacing and axes from their geometry.

    Slices for Dice 2D and ``restricted`` run along the array axis nearest the patient's S-I axis
    (``geometry.axial_array_axis``), so the storage order (axial, sagittal, coronal) does not change a result.
    Different geometries raise ``InputError`` naming both, unless ``resample_to_reference`` is set: then both
    go onto the reference's lattice extended to cover the prediction (``geometry.covering_grid``): the
    reference is padded, the prediction resampled by nearest neighbour, and never cropped (for a reference
    on a far finer lattice, the reference is resampled onto the prediction's grid instead).
    """
    pred_image = pred if isinstance(pred, LabelImage) else LabelImage(pred)
    ref_image = ref if isinstance(ref, LabelImage) else LabelImage(ref)
    if resample_to_reference and not pred_image.volume.same_geometry(ref_image.volume):
        placed = covering_grid(pred_image.volume, ref_image.volume)
        if placed is None:  # a much finer reference lattice: the prediction's own grid, reference resampled
            ref_image = _onto(
                ref_image, pred_image.volume.with_array(np.zeros(pred_image.volume.array.shape, np.uint8)), None
            )
        else:
            grid, offset = placed
            pred_image = _onto(pred_image, grid, None)
            ref_image = _onto(ref_image, grid, offset)
    else:
        check_same_geometry(pred_image.volume, ref_image.volume)
    ref_volume = ref_image.volume
    axis = axial_array_axis(ref_volume)
    spacing = np.asarray(ref_volume.spacing[::-1], dtype=float)
    arrays = [pred_image.volume.array, ref_image.volume.array]
    masks = [dict(pred_image.organ_masks), dict(ref_image.organ_masks)]
    if axis != 0:  # put the axial axis first; metrics other than Dice 2D / restricted do not depend on it
        arrays = [np.moveaxis(a, axis, 0) for a in arrays]
        masks = [{k: np.moveaxis(m, axis, 0) for k, m in ms.items()} for ms in masks]
        spacing = np.concatenate([[spacing[axis]], np.delete(spacing, axis)])
    return evaluate_labels(arrays[0], arrays[1], tuple(spacing), organs, hd95, restricted, masks[0], masks[1], options)


def _onto(image: LabelImage, grid: Volume, offset) -> LabelImage:
    volume = onto_grid(image.volume, grid, offset)
    masks = {
        k: onto_grid(image.volume.with_array(m.view(np.uint8)), grid, offset).array.astype(bool)
        for k, m in image.organ_masks.items()
    }
    return LabelImage(volume, masks, list(image.unused_segments))
