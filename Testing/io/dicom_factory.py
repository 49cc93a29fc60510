"""Small synthetic DICOM CT written with pydicom: classic series (one file per slice) and enhanced multi-frame.

Voxel values are a linear function of the voxel's patient position (`hu_at`), so the right value of any voxel
of a correctly placed (and linearly resampled) volume is known exactly, whatever the slice layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2.1"
ROWS, COLUMNS = 16, 16
PIXEL = (1.0, 1.0)  # (between rows, between columns) mm
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
STUDY = generate_uid()
FRAME_OF_REFERENCE = generate_uid()


def hu_at(points_lps: np.ndarray) -> np.ndarray:
    """The CT value at patient positions (..., 3) in mm: linear, so linear interpolation reproduces it.

    From air (-1000 HU) at the first voxel of the default series to about soft tissue at the far corner.
    """
    p = np.asarray(points_lps, float)
    return 40.0 * (p[..., 0] + 8.0) + 20.0 * (p[..., 1] + 8.0) + 10.0 * p[..., 2] - 1000.0


def plane_values(position, iop=AXIAL, rows=ROWS, columns=COLUMNS, pixel=PIXEL) -> np.ndarray:
    """[row, column] HU of an image at `position` (first pixel centre) with orientation `iop`."""
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    a, b = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    points = np.asarray(position, float) + b[..., None] * pixel[1] * r + a[..., None] * pixel[0] * c
    return hu_at(points)


def volume_values(volume) -> np.ndarray:
    """[z, y, x] HU the function gives at every voxel centre of a segthor Volume."""
    z, y, x = volume.array.shape
    k, j, i = np.meshgrid(np.arange(z), np.arange(y), np.arange(x), indexing="ij")
    ijk = np.stack([i, j, k, np.ones_like(i)], axis=-1).astype(float)
    return hu_at((ijk @ volume.ijk_to_lps().T)[..., :3])


def _base(series_uid: str, sop_class: str, series_number: int, description: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SOPClassUID = sop_class
    ds.Modality = "CT"
    ds.PatientID = "SYNTH"
    ds.PatientName = "Synthetic^CT"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def _stored(hu: np.ndarray) -> np.ndarray:
    return np.rint(hu + 1024.0).astype(np.int16)  # RescaleIntercept -1024


def write_slice(
    path: Path,
    position,
    *,
    iop=AXIAL,
    series_uid: str,
    series_number: int = 1,
    description: str = "synthetic CT",
    rows: int = ROWS,
    columns: int = COLUMNS,
    pixel=PIXEL,
    image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    instance: int = 1,
    gantry_tilt: float | None = None,
    values: np.ndarray | None = None,
) -> Path:
    """One classic CT image file; pixel values from `hu_at` unless `values` (HU) are given."""
    ds = _base(series_uid, CT_IMAGE, series_number, description)
    ds.ImageType = list(image_type)
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.PixelSpacing = [float(v) for v in pixel]
    ds.SliceThickness = 2.0
    ds.Rows, ds.Columns = rows, columns
    ds.RescaleIntercept = -1024
    ds.RescaleSlope = 1
    if gantry_tilt is not None:
        ds.GantryDetectorTilt = gantry_tilt
    hu = plane_values(position, iop, rows, columns, pixel) if values is None else values
    ds.PixelData = _stored(hu).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(
    folder: Path, positions, *, iop=AXIAL, series_uid: str | None = None, prefix: str = "slice", **kwargs
) -> list[Path]:
    """A classic series, one file per position (files named in a shuffled order, as archives often do)."""
    uid = series_uid or generate_uid()
    order = np.random.default_rng(len(positions)).permutation(len(positions))
    return [
        write_slice(folder / f"{prefix}{order[n]:03d}.dcm", p, iop=iop, series_uid=uid, instance=n + 1, **kwargs)
        for n, p in enumerate(positions)
    ]


def axial_positions(n: int = 8, step: float = 2.0, origin=(-8.0, -8.0, 0.0)) -> list[tuple[float, float, float]]:
    return [(origin[0], origin[1], origin[2] + k * step) for k in range(n)]


def write_enhanced(path: Path, positions, *, iop=AXIAL, frame_order=None) -> Path:
    """One enhanced (multi-frame) CT file holding one frame per position, geometry in functional groups."""
    ds = _base(generate_uid(), ENHANCED_CT_IMAGE, 1, "synthetic enhanced CT")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = ROWS, COLUMNS
    order = list(range(len(positions))) if frame_order is None else list(frame_order)
    ds.NumberOfFrames = len(order)

    measures = Dataset()
    measures.PixelSpacing = list(PIXEL)
    measures.SliceThickness = 2.0
    orientation = Dataset()
    orientation.ImageOrientationPatient = list(iop)
    transform = Dataset()
    transform.RescaleIntercept = -1024
    transform.RescaleSlope = 1
    transform.RescaleType = "HU"
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    per_frame = []
    for k in order:
        position = Dataset()
        position.ImagePositionPatient = [float(v) for v in positions[k]]
        frame_type = Dataset()
        frame_type.FrameType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
        item = Dataset()
        item.PlanePositionSequence = Sequence([position])
        item.CTImageFrameTypeSequence = Sequence([frame_type])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    frames = np.stack([_stored(plane_values(positions[k], iop)) for k in order])
    ds.PixelData = frames.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def read_header(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)
