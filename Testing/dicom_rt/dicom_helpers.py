"""Small synthetic DICOM CT series for the DICOM RT tests, written with pydicom (imported by conftest)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from segthor.io.volume import Volume

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def phantom_labels(shape=(12, 64, 64)) -> np.ndarray:
    """SegTHOR labels [z, y, x]: a heart with a hole (and an island inside the hole) on some slices, an
    aorta in two islands, a trachea and a thin esophagus; every organ on several slices."""
    z, y, x = shape
    labels = np.zeros(shape, dtype=np.uint8)
    zz, yy, xx = np.mgrid[0:z, 0:y, 0:x]
    heart = ((yy - 36) / 14.0) ** 2 + ((xx - 30) / 16.0) ** 2 <= 1
    labels[heart & (zz >= 1) & (zz <= 9)] = 2
    hole = ((yy - 36) / 6.0) ** 2 + ((xx - 30) / 6.0) ** 2 <= 1
    labels[hole & (zz >= 3) & (zz <= 7)] = 0
    labels[(abs(yy - 36) <= 1) & (abs(xx - 30) <= 1) & (zz == 5)] = 2  # island inside the hole
    aorta_a = (yy - 14) ** 2 + (xx - 44) ** 2 <= 16
    aorta_b = (yy - 22) ** 2 + (xx - 54) ** 2 <= 9  # a second island on the same slices
    labels[(aorta_a | aorta_b) & (zz >= 2)] = 4
    trachea = (yy - 12) ** 2 + (xx - 24) ** 2 <= 12
    labels[trachea & (zz >= 4)] = 3
    labels[(abs(yy - 20) <= 1) & (abs(xx - 32) <= 2) & (zz <= 10)] = 1
    return labels


def phantom_ct(labels: np.ndarray, spacing=(0.8, 0.9, 2.5), origin=(-25.0, -40.0, 100.0), direction=None) -> Volume:
    """A CT Volume (int16 HU) around `labels`: air outside a water body, organs at distinct HU values."""
    ct = np.full(labels.shape, -1000, dtype=np.int16)
    ct[:, 4:-4, 4:-4] = 0
    for label, hu in ((1, 40), (2, 60), (3, -900), (4, 300)):
        ct[labels == label] = hu
    return Volume(ct, spacing, origin, np.eye(3) if direction is None else direction)


def write_ct_series(ct: Volume, folder: Path, patient_id: str = "PHANTOM01", reverse_files: bool = True) -> list[Path]:
    """One CT Image Storage file per slice of `ct` (LPS geometry kept), returned in slice order.

    Files are numbered in reverse slice order by default so readers must sort by position, not by name.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    direction = np.asarray(ct.direction)
    nz = ct.array.shape[0]
    today = datetime.date(2024, 1, 2).strftime("%Y%m%d")
    paths = []
    for k in range(nz):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = "Phantom^Synthetic"
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyInstanceUID = study
        ds.StudyDate = today
        ds.StudyTime = "120000"
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.Modality = "CT"
        ds.SeriesInstanceUID = series
        ds.SeriesNumber = 3
        ds.FrameOfReferenceUID = frame
        ds.PositionReferenceIndicator = ""
        ds.Manufacturer = "synthetic"
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in np.add(ct.origin, direction[:, 2] * ct.spacing[2] * k)]
        ds.ImageOrientationPatient = [float(v) for v in np.concatenate([direction[:, 0], direction[:, 1]])]
        ds.PixelSpacing = [ct.spacing[1], ct.spacing[0]]
        ds.SliceThickness = ct.spacing[2]
        ds.KVP = 120
        ds.AcquisitionNumber = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = ct.array.shape[1:]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.PixelData = (ct.array[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
        path = folder / f"CT{nz - k if reverse_files else k + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
