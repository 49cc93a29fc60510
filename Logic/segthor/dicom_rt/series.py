"""The source CT series of a DICOM output or reference, read as headers with pydicom.

Only headers are read (no pixel data): RTSTRUCT and DICOM SEG need each slice's SOP Instance UID, plane
(Image Position / Orientation (Patient), Pixel Spacing, Rows, Columns) and the Patient, Study and Frame of
Reference attributes they must repeat. The CT voxels themselves are read by `segthor.io.volume`.

Geometry follows DICOM PS3.3 C.7.6.2.1.1: a pixel (row r, column c) of a slice lies at
IPP + c * PixelSpacing[1] * rowdir + r * PixelSpacing[0] * coldir (LPS, mm), with IOP = (rowdir, coldir).
Slices are sorted along the normal rowdir x coldir, ascending.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segthor.errors import InputError

# Position along the normal differing by less than this (mm) means the same plane.
PLANE_TOLERANCE_MM = 0.01
_ORIENTATION_TOLERANCE = 1e-3


@dataclass
class SourceSlice:
    """One single-frame image of the series: its header dataset and its plane."""

    path: Path
    dataset: Any  # pydicom Dataset, read with stop_before_pixels
    position: np.ndarray  # IPP, LPS mm
    row_dir: np.ndarray  # direction of increasing column index (IOP[:3])
    col_dir: np.ndarray  # direction of increasing row index (IOP[3:])
    spacing_rc: tuple[float, float]  # PixelSpacing: (between rows, between columns) in mm
    rows: int
    columns: int

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.SOPClassUID)

    def pixel_to_lps(self) -> np.ndarray:
        """3x3 matrix mapping (column, row, 1) to LPS mm in this slice's plane."""
        m = np.zeros((3, 3))
        m[:, 0] = self.row_dir * self.spacing_rc[1]
        m[:, 1] = self.col_dir * self.spacing_rc[0]
        m[:, 2] = self.position
        return m

    def lps_to_pixel(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) LPS points -> (N, 2) continuous (row, column) in this slice; the normal component is dropped."""
        d = np.asarray(points, dtype=float) - self.position
        return np.stack([d @ self.col_dir / self.spacing_rc[0], d @ self.row_dir / self.spacing_rc[1]], axis=1)


@dataclass
class SourceSeries:
    """A single-frame image series (classic CT), slices sorted along the normal."""

    folder: Path
    slices: list[SourceSlice]
    normal: np.ndarray

    @property
    def first(self) -> Any:
        return self.slices[0].dataset

    @property
    def series_instance_uid(self) -> str:
        return str(self.first.SeriesInstanceUID)

    @property
    def study_instance_uid(self) -> str:
        return str(self.first.StudyInstanceUID)

    @property
    def frame_of_reference_uid(self) -> str:
        return str(getattr(self.first, "FrameOfReferenceUID", ""))

    @property
    def datasets(self) -> list[Any]:
        return [s.dataset for s in self.slices]

    def distances(self) -> np.ndarray:
        """Position of each slice along the normal (mm), ascending."""
        return np.array([float(self.normal @ s.position) for s in self.slices])

    def grid(self) -> Any:
        """The series' voxel grid as an (all zero) `Volume` [z, y, x]; needs evenly spaced slices."""
        from segthor.io.volume import Volume

        first = self.slices[0]
        distances = self.distances()
        steps = np.diff(distances)
        step = float(steps.mean()) if steps.size else float(first.dataset.get("SliceThickness", 1.0) or 1.0)
        if steps.size and np.ptp(steps) > max(0.01 * step, PLANE_TOLERANCE_MM):
            raise InputError(
                f"the CT series in {self.folder} has uneven slice spacing ({steps.min():.3g} to {steps.max():.3g} mm); "
                "resample it to even spacing (and its reference with it) before evaluating against it"
            )
        direction = np.stack([first.row_dir, first.col_dir, self.normal], axis=1)
        spacing = (first.spacing_rc[1], first.spacing_rc[0], step)
        array = np.zeros((len(self.slices), first.rows, first.columns), dtype=np.uint8)
        return Volume(array, spacing, tuple(first.position), direction)


def _unit(values: Any) -> np.ndarray:
    v = np.asarray([float(x) for x in values], dtype=float)
    return v / np.linalg.norm(v)


def _slice_from(path: Path, ds: Any) -> SourceSlice:
    iop = [float(x) for x in ds.ImageOrientationPatient]
    spacing = [float(x) for x in ds.PixelSpacing]
    return SourceSlice(
        path=path,
        dataset=ds,
        position=np.array([float(x) for x in ds.ImagePositionPatient]),
        row_dir=_unit(iop[:3]),
        col_dir=_unit(iop[3:]),
        spacing_rc=(spacing[0], spacing[1]),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
    )


def read_headers(folder: str | os.PathLike[str]) -> list[tuple[Path, Any]]:
    """(path, dataset without pixel data) of every DICOM file directly in `folder`; other files are skipped."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder holding the DICOM CT series")
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        if "SOPInstanceUID" in ds:
            found.append((path, ds))
    return found


def _is_localizer(ds: Any) -> bool:
    return "LOCALIZER" in [str(v).upper() for v in (ds.get("ImageType") or [])]


def _is_image(ds: Any) -> bool:
    return all(k in ds for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows"))


def series_from_headers(
    folder: Path,
    headers: list[tuple[Path, Any]],
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
) -> SourceSeries:
    """Pick one single-frame image series among `headers` and sort it along its normal.

    With `series_uid` that series is taken; else the one with `frame_of_reference_uid`; else the only image
    series. Localizer images are left out; of several images in one plane the first (by file name) is kept.
    Raises InputError when none or several series qualify, or when slices are not parallel.
    """
    groups: dict[str, list[tuple[Path, Any]]] = {}
    for path, ds in headers:
        if _is_image(ds) and int(ds.get("NumberOfFrames", 1) or 1) == 1 and not _is_localizer(ds):
            groups.setdefault(str(ds.SeriesInstanceUID), []).append((path, ds))
    if not groups:
        multi = [p.name for p, ds in headers if int(ds.get("NumberOfFrames", 1) or 1) > 1]
        hint = (
            f" (multi-frame files: {', '.join(multi[:3])}; DICOM outputs need a classic one-file-per-slice CT)"
            if multi
            else ""
        )
        raise InputError(f"{folder} holds no single-frame DICOM image series{hint}")
    if series_uid is not None:
        if series_uid not in groups:
            raise InputError(
                f"{folder} does not hold the referenced CT series {series_uid} (it holds {', '.join(groups)}); "
                "give the folder of the CT series the file was drawn on"
            )
        chosen = groups[series_uid]
    else:
        candidates = list(groups)
        if frame_of_reference_uid:
            candidates = [
                uid for uid in groups if str(groups[uid][0][1].get("FrameOfReferenceUID", "")) == frame_of_reference_uid
            ] or candidates
        if len(candidates) > 1:
            raise InputError(
                f"{folder} holds {len(candidates)} image series ({', '.join(candidates[:3])}); "
                "put each series in its own folder"
            )
        chosen = groups[candidates[0]]
    slices = [_slice_from(path, ds) for path, ds in chosen]
    first = slices[0]
    normal = np.cross(first.row_dir, first.col_dir)
    for s in slices[1:]:
        if not (
            np.allclose(s.row_dir, first.row_dir, atol=_ORIENTATION_TOLERANCE)
            and np.allclose(s.col_dir, first.col_dir, atol=_ORIENTATION_TOLERANCE)
        ):
            raise InputError(
                f"{s.path.name}: its orientation differs from the rest of the series in {folder}; "
                "DICOM outputs and references need parallel slices"
            )
    slices.sort(key=lambda s: (float(normal @ s.position), s.path.name))
    # Several images in one plane (repeated acquisitions): contours refer to the first, as the CT reader keeps one.
    kept = [slices[0]]
    for s in slices[1:]:
        if float(normal @ s.position) - float(normal @ kept[-1].position) >= PLANE_TOLERANCE_MM:
            kept.append(s)
    return SourceSeries(folder, kept, normal)


def read_input_series(folder: str | os.PathLike[str], series: str | None = None) -> SourceSeries:
    """The series `segthor.io` reads from an input folder (the same choice: `io.dicom_series.choose_series`,
    `series` = SeriesNumber or SeriesInstanceUID, one level down when the folder holds none itself)."""
    from segthor.io.dicom_series import choose_series

    chosen, _ = choose_series(Path(folder), series)
    return series_from_headers(chosen.folder, list(zip(chosen.files, chosen.headers, strict=True)), chosen.uid)


# What an RTSTRUCT or SEG must copy or refer to from every source slice (PS3.3 C.8.8.5, C.8.20.2, C.12.1).
REFERABLE_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID")


def require_referable(series: SourceSeries, what: str = "RTSTRUCT and DICOM SEG outputs") -> None:
    """Raise InputError (one line) when a slice of `series` lacks a UID that DICOM outputs must refer to.

    Anonymisers that blank UIDs (e.g. a de-identified test series with an empty SOP Instance UID) leave a
    series segthor can read but no output can point to: nothing would link the contours to the slices.
    """
    missing = sorted({key for s in series.slices for key in REFERABLE_UIDS if not str(s.dataset.get(key, "") or "")})
    if missing:
        raise InputError(
            f"the CT slices in {series.folder} have no {', '.join(missing)} (removed by an anonymiser?); {what} "
            "must refer to them: export the series with its UIDs, or ask for other output types than rtstruct "
            "and dicom-seg"
        )


def read_series(
    folder: str | os.PathLike[str], series_uid: str | None = None, frame_of_reference_uid: str | None = None
) -> SourceSeries:
    """The single-frame image series in `folder` (see `series_from_headers`)."""
    folder = Path(folder)
    return series_from_headers(folder, read_headers(folder), series_uid, frame_of_reference_uid)
