"""Writing organ labels as a DICOM RT Structure Set (RTSTRUCT) that refers to the source CT series.

Built with pydicom's Dataset API, module by module of the RT Structure Set IOD (DICOM PS3.3 A.19):
Patient, General Study (copied from the CT), RT Series, General Equipment, Frame of Reference, Structure
Set (Frame of Reference -> Study -> Series -> every CT slice), ROI Contour (one CLOSED_PLANAR contour per polygon, each
pointing at its CT slice), RT ROI Observations (interpreted type ORGAN, SNOMED CT identification code),
Approval (UNAPPROVED: automatic contours need review) and SOP Common. Contour conventions: see
`segthor.dicom_rt.contours`.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from segthor.dicom_rt.contours import mask_contours
from segthor.dicom_rt.sampling import labels_on_series
from segthor.dicom_rt.series import SourceSeries, SourceSlice
from segthor.io.atomic import atomic_path
from segthor.io.volume import Volume
from segthor.organs import ORGANS, Organ

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
# RT Referenced Study items name the study with the (retired) Detached Study Management SOP class, as
# every TPS expects (PS3.3 C.8.8.5, and what Eclipse, RayStation and SlicerRT write).
STUDY_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"
# Attributes copied from the CT (Patient and General Study modules); type 2 ones are written empty if absent.
_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
_TYPE2 = {
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
}


def _ds_values(values: np.ndarray) -> list[float]:
    """Coordinates for a DS element: rounded to 4 decimals (0.1 um, far below any CT's pixel size) so each is
    at most 16 characters; plain floats skip pydicom's per-string checks (12k strings took ~1 s)."""
    return [v + 0.0 for v in np.round(values, 4).tolist()]  # + 0.0 turns -0.0 into 0.0


def _code_item(organ: Organ) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue = organ.snomed_code
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = organ.snomed_meaning
    return item


def _image_ref(s: SourceSlice) -> Any:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.ReferencedSOPClassUID = s.sop_class_uid
    item.ReferencedSOPInstanceUID = s.sop_instance_uid
    return item


def _contour_items(stack: np.ndarray, organ: Organ, series: SourceSeries) -> list[Any]:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for index, s in enumerate(series.slices):
        mask = stack[index] == organ.label
        for polygon in mask_contours(mask):
            # (row, column) -> (column, row, 1) -> LPS in this CT slice's own plane.
            crs = np.stack([polygon[:, 1], polygon[:, 0], np.ones(len(polygon))])
            points = (s.pixel_to_lps() @ crs).T
            item = Dataset()
            item.ContourImageSequence = Sequence([_image_ref(s)])
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(points)
            item.ContourNumber = len(items) + 1
            item.ContourData = _ds_values(points.ravel())
            items.append(item)
    return items


def build_rtstruct(
    labels: Volume,
    series: SourceSeries,
    series_description: str,
    structure_set_description: str = "",
    software_version: str = "",
) -> Any:
    """The RTSTRUCT dataset for `labels` (SegTHOR values 0-4 on any grid covering the CT) on `series`.

    Every organ of the organ table is an ROI (empty organs have no contours). Descriptions longer than
    DICOM allows are cut (SeriesDescription: 64 characters).
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stack = labels_on_series(labels, series)
    source = series.first
    now = datetime.datetime.now()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTSTRUCT_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    for keyword in _COPIED:
        if keyword in source:
            setattr(ds, keyword, source[keyword].value)
        elif keyword in _TYPE2:
            setattr(ds, keyword, "")
    # RT Series and General Equipment
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = int(source.get("SeriesNumber", 0) or 0) + 1000
    ds.SeriesDescription = series_description[:64]
    ds.OperatorsName = ""
    ds.Manufacturer = "SegTHORSlicer"
    ds.ManufacturerModelName = "segthor"
    ds.SoftwareVersions = software_version or "unknown"
    ds.InstanceNumber = 1
    # Frame of Reference module (part of the IOD since the 2019 editions; validators require it)
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = str(source.get("PositionReferenceIndicator", "") or "")
    # Structure Set: Frame of Reference -> Study -> Series -> each CT slice
    ds.StructureSetLabel = "SegTHOR"
    ds.StructureSetName = "SegTHOR organs"
    ds.StructureSetDescription = structure_set_description[:1024]
    ds.StructureSetDate = ds.InstanceCreationDate
    ds.StructureSetTime = ds.InstanceCreationTime
    series_item = Dataset()
    series_item.SeriesInstanceUID = series.series_instance_uid
    series_item.ContourImageSequence = Sequence([_image_ref(s) for s in series.slices])
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = STUDY_SOP_CLASS
    study_item.ReferencedSOPInstanceUID = series.study_instance_uid
    study_item.RTReferencedSeriesSequence = Sequence([series_item])
    frame_item = Dataset()
    frame_item.FrameOfReferenceUID = series.frame_of_reference_uid
    frame_item.RTReferencedStudySequence = Sequence([study_item])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame_item])

    rois, roi_contours, observations = [], [], []
    for organ in ORGANS:
        roi = Dataset()
        roi.ROINumber = organ.label
        roi.ReferencedFrameOfReferenceUID = series.frame_of_reference_uid
        roi.ROIName = organ.name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        roi.ROIGenerationDescription = "segthor"
        rois.append(roi)
        contour = Dataset()
        contour.ReferencedROINumber = organ.label
        contour.ROIDisplayColor = list(organ.color_rgb)
        items = _contour_items(stack, organ, series)
        if items:
            contour.ContourSequence = Sequence(items)
        roi_contours.append(contour)
        observation = Dataset()
        observation.ObservationNumber = organ.label
        observation.ReferencedROINumber = organ.label
        observation.RTROIInterpretedType = "ORGAN"
        observation.ROIInterpreter = ""
        observation.RTROIIdentificationCodeSequence = Sequence([_code_item(organ)])
        observations.append(observation)
    ds.StructureSetROISequence = Sequence(rois)
    ds.ROIContourSequence = Sequence(roi_contours)
    ds.RTROIObservationsSequence = Sequence(observations)
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def write_rtstruct(
    labels: Volume,
    series: SourceSeries,
    path: str | os.PathLike[str],
    series_description: str,
    structure_set_description: str = "",
    software_version: str = "",
) -> Path:
    """Write the RTSTRUCT of `labels` on `series` to `path` atomically (see `build_rtstruct`)."""
    path = Path(path)
    ds = build_rtstruct(labels, series, series_description, structure_set_description, software_version)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
