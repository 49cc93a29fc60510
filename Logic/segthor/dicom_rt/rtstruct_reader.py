"""Reading a DICOM RT Structure Set: its ROIs (name, identification code, planar contours in LPS mm) and
their rasterisation onto a CT grid.

Contours of one ROI on one slice combine by the even-odd rule (`segthor.dicom_rt.contours`): nested
contours are holes, keyhole contours work too. Only CLOSED_PLANAR contours describe areas; POINT and
OPEN_* contours are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segthor.dicom_rt.contours import rasterise_polygons
from segthor.errors import InputError
from segthor.io.volume import Volume

RTSTRUCT_MODALITY = "RTSTRUCT"
# A contour is on a CT slice when its distance to the slice plane is below this fraction of the slice step.
SLICE_TOLERANCE = 0.25


@dataclass
class RoiContours:
    number: int
    name: str
    code: str | None  # RT ROI Identification Code as "SCHEME^VALUE" (e.g. "SCT^80891009", "SRT^T-32000")
    contours: list[np.ndarray] = field(default_factory=list)  # (N, 3) LPS mm each


@dataclass
class StructureSet:
    path: Path
    frame_of_reference_uid: str
    referenced_series_uids: list[str]
    rois: list[RoiContours]


def read_rtstruct(path: str | os.PathLike[str]) -> StructureSet:
    """The ROIs and contours of an RTSTRUCT file; InputError when the file is not one."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise InputError(f"could not read {path} as DICOM: {exc}") from exc
    if ds.get("Modality") != RTSTRUCT_MODALITY:
        raise InputError(f"{path.name} is a DICOM {ds.get('Modality', '?')} file, not an RTSTRUCT")
    frames = list(ds.get("ReferencedFrameOfReferenceSequence", []))
    for_uid = str(frames[0].FrameOfReferenceUID) if frames else ""
    series_uids = [
        str(series.SeriesInstanceUID)
        for frame in frames
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    ]
    codes: dict[int, str] = {}
    for obs in ds.get("RTROIObservationsSequence", []):
        items = list(obs.get("RTROIIdentificationCodeSequence", []))
        if items and "CodeValue" in items[0]:
            scheme = str(items[0].get("CodingSchemeDesignator", ""))
            codes[int(obs.ReferencedROINumber)] = f"{scheme}^{items[0].CodeValue}"
    rois = {
        int(roi.ROINumber): RoiContours(int(roi.ROINumber), str(roi.get("ROIName", "")), codes.get(int(roi.ROINumber)))
        for roi in ds.get("StructureSetROISequence", [])
    }
    for roi_contour in ds.get("ROIContourSequence", []):
        roi = rois.get(int(roi_contour.ReferencedROINumber))
        if roi is None:
            continue
        for contour in roi_contour.get("ContourSequence", []):
            if contour.get("ContourGeometricType", "CLOSED_PLANAR") != "CLOSED_PLANAR":
                continue
            data = _contour_data(contour)
            if data.size >= 9:
                roi.contours.append(data[: data.size // 3 * 3].reshape(-1, 3))
    return StructureSet(path, for_uid, series_uids, list(rois.values()))


def _contour_data(contour: Any) -> np.ndarray:
    """ContourData as floats. Parsed from the element's raw text when it is still raw: pydicom's per-value DS
    objects made a clinical structure set (60k coordinates) take seconds."""
    if "ContourData" not in contour:
        return np.zeros(0)
    element = contour.get_item("ContourData")
    raw = getattr(element, "value", None)
    if isinstance(raw, bytes):
        text = raw.decode("ascii", errors="replace").strip(" \x00")
        try:
            return np.array(text.split("\\"), dtype=float) if text else np.zeros(0)
        except ValueError:
            pass  # a malformed value: let pydicom parse (and report) it
    return np.asarray([float(v) for v in contour.ContourData], dtype=float)


def rasterise_roi(roi: RoiContours, grid: Volume, what: str = "") -> np.ndarray:
    """Boolean mask [z, y, x] on `grid` of one ROI: contours are placed on the grid slice whose plane they lie
    in and filled by the even-odd rule.

    Raises InputError when a contour is not parallel to the grid's slices, lies between two of them, or
    outside the grid (the RTSTRUCT was drawn on another CT or the series is incomplete).
    """
    lps_to_ijk = np.linalg.inv(grid.ijk_to_lps())
    nz, ny, nx = grid.array.shape
    per_slice: dict[int, list[np.ndarray]] = {}
    outside = 0
    for points in roi.contours:
        ijk = points @ lps_to_ijk[:3, :3].T + lps_to_ijk[:3, 3]
        k = ijk[:, 2]
        if np.ptp(k) > SLICE_TOLERANCE:
            raise InputError(
                f"{what}ROI {roi.name!r}: a contour is not parallel to the CT's slices; "
                "give the CT series the structure set was drawn on"
            )
        k_index = int(np.round(k.mean()))
        if abs(k.mean() - k_index) > SLICE_TOLERANCE:
            raise InputError(
                f"{what}ROI {roi.name!r}: a contour lies between two CT slices (at slice index {k.mean():.2f}); "
                "give the CT series the structure set was drawn on"
            )
        if not 0 <= k_index < nz:
            outside += 1
            continue
        per_slice.setdefault(k_index, []).append(ijk[:, [1, 0]])  # (row, column) = (j, i)
    if outside:
        raise InputError(
            f"{what}ROI {roi.name!r}: {outside} contour(s) lie outside the CT ({nz} slices); the CT series is "
            "incomplete or not the one the structure set was drawn on"
        )
    mask = np.zeros((nz, ny, nx), dtype=bool)
    for k_index, polygons in per_slice.items():
        mask[k_index] = rasterise_polygons(polygons, (ny, nx))
    return mask
