"""Read a DICOM CT series from a folder as a volume whose geometry comes from the slices themselves.

Headers are read with pydicom; pixels of classic (one image per file) series with SimpleITK (GDCM), which also
decodes compressed transfer syntaxes; enhanced (multi-frame) CT pixels with pydicom. The geometry is never
taken on trust: see `segthor.io.dicom_geometry` for which slices are kept and how the grid is made.

Folder rules (documented in docs/inputs.md):
- the image series directly in the folder are used; non-image objects (RTSTRUCT, SEG, SR, ...) are ignored;
- several series: choose one with `series=` (SeriesInstanceUID or SeriesNumber), otherwise an error lists them;
- no series in the folder itself but exactly one below it (a patient/study folder): that one is read, with a
  warning naming its subfolder; several below: an error names the subfolders to pass.
"""

from __future__ import annotations

import os
import warnings as python_warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segthor.errors import InputError
from segthor.io.dicom_geometry import (
    SlicePlane,
    coincident_pairs,
    plan_grid,
    resample_stack,
    select_slices,
    sort_along_normal,
)

# Modalities that carry no CT image to segment, even when they have pixel data.
NON_IMAGE_MODALITIES = {"RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SEG", "SR", "KO", "PR", "REG", "RWV"}
# How deep below the given folder to look for a series when the folder itself holds none.
SEARCH_DEPTH = 3


@dataclass
class Series:
    """The image objects of one SeriesInstanceUID in one folder."""

    uid: str
    folder: Path
    files: list[Path] = field(default_factory=list)
    headers: list = field(default_factory=list)  # pydicom Datasets without pixel data

    @property
    def number(self) -> str:
        return str(getattr(self.headers[0], "SeriesNumber", "") or "")

    @property
    def description(self) -> str:
        return str(getattr(self.headers[0], "SeriesDescription", "") or "")

    @property
    def image_count(self) -> int:
        return sum(int(getattr(h, "NumberOfFrames", 1) or 1) for h in self.headers)

    def summary(self) -> str:
        described = f" '{self.description}'" if self.description else ""
        number = f"#{self.number}" if self.number else "no number"
        return f"{number}{described} ({self.image_count} images, UID {self.uid})"


def _read_header(path: Path):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")  # pydicom notes on non-conformant values: not for the user
            return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, AttributeError, KeyError):
        return None  # not DICOM (or not readable as such): folders also hold README, DICOMDIR, thumbnails


def _is_image(header) -> bool:
    if str(getattr(header, "Modality", "")).upper() in NON_IMAGE_MODALITIES:
        return False
    return "Rows" in header and "Columns" in header and "SeriesInstanceUID" in header


def _non_image_files(folder: Path, shown: int = 3) -> str:
    """'RTSTRUCT DCM_RS_1.dcm, SEG seg.dcm' for the DICOM files directly in `folder` that are not images."""
    names = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        header = _read_header(path)
        if header is not None and not _is_image(header):
            names.append(f"{str(getattr(header, 'Modality', '') or 'DICOM')} {path.name}")
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def find_series(folder: Path) -> list[Series]:
    """The image series whose files lie directly in `folder`, in order of SeriesNumber then UID."""
    found: dict[str, Series] = defaultdict(lambda: Series("", folder))
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        header = _read_header(path)
        if header is None or not _is_image(header):
            continue
        series = found[str(header.SeriesInstanceUID)]
        series.uid = str(header.SeriesInstanceUID)
        series.files.append(path)
        series.headers.append(header)

    def order(s: Series) -> tuple:
        return (int(s.number) if s.number.lstrip("-").isdigit() else 1 << 30, s.uid)

    return sorted(found.values(), key=order)


def _folders_with_series(root: Path, depth: int) -> list[tuple[Path, list[Series]]]:
    hits = []
    if depth == 0:
        return hits
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        series = find_series(sub)
        if series:
            hits.append((sub, series))
        else:
            hits.extend(_folders_with_series(sub, depth - 1))
    return hits


def choose_series(folder: Path, series: str | None = None) -> tuple[Series, list[str]]:
    """The one series to read from `folder` (see the module's folder rules) and warnings about the choice."""
    found = find_series(folder)
    warnings: list[str] = []
    if not found:
        below = _folders_with_series(folder, SEARCH_DEPTH)
        all_below = [s for _, group in below for s in group]
        if not all_below:
            others = _non_image_files(folder)
            if others:  # e.g. the RTSTRUCT's own folder given instead of the CT's
                raise InputError(
                    f"{folder} holds no DICOM image series, only {others}; give the folder of the CT series they "
                    "were drawn on (an RTSTRUCT or SEG can be given as --reference)"
                )
            raise InputError(
                f"{folder} holds no DICOM image series (nor its subfolders); give a NIfTI/NRRD/MHA file or the "
                "folder of a CT series"
            )
        if len(all_below) > 1 and series is None:
            names = ", ".join(
                f"{p.relative_to(folder)} ({len(g)} series)" if len(g) > 1 else str(p.relative_to(folder))
                for p, g in below[:6]
            )
            more = f" and {len(below) - 6} more" if len(below) > 6 else ""
            raise InputError(
                f"{folder} holds no DICOM series itself but {len(all_below)} in subfolders: {names}{more}; "
                "give the subfolder of the CT series to segment"
            )
        if len(below) == 1 or series is None:
            sub, found = below[0]
        else:
            matches = [(p, g) for p, g in below if _matching(g, series)]
            if len(matches) != 1:
                raise InputError(f"{folder}: {len(matches)} series below it match {series!r}; give its subfolder")
            sub, found = matches[0]
        warnings.append(
            f"{folder.name} holds no DICOM series itself; read the one in its subfolder {sub.relative_to(folder)}"
        )
        folder = sub
    if series is not None:
        chosen = _matching(found, series)
        if len(chosen) != 1:
            listing = "; ".join(s.summary() for s in found)
            raise InputError(
                f"{folder}: {len(chosen)} series match {series!r}; give a SeriesNumber or SeriesInstanceUID of: "
                f"{listing}"
            )
        return chosen[0], warnings
    if len(found) > 1:
        listing = "; ".join(s.summary() for s in found[:6]) + (f"; and {len(found) - 6} more" if len(found) > 6 else "")
        raise InputError(
            f"{folder} holds {len(found)} DICOM series: {listing}; pick one with --series NUMBER or --series UID "
            "(or put each series in its own folder)"
        )
    return found[0], warnings


def _matching(found: list[Series], series: str) -> list[Series]:
    return [s for s in found if series in (s.uid, s.number)]


def _floats(value, count: int, what: str, source: str) -> tuple[float, ...]:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != count or not np.all(np.isfinite(numbers)):
        raise InputError(f"{source}: missing or invalid {what}; the image cannot be placed in space")
    return numbers


def _is_localizer(image_type) -> bool:
    return "LOCALIZER" in [str(v).upper() for v in (image_type or [])]


def _plane(source: str, position, orientation, spacing, rows: int, columns: int, localizer: bool, tilt) -> SlicePlane:
    iop = _floats(orientation, 6, "ImageOrientationPatient", source)
    try:
        tilt_deg = float(tilt or 0.0)
    except (TypeError, ValueError):
        tilt_deg = 0.0
    return SlicePlane(
        source=source,
        position=_floats(position, 3, "ImagePositionPatient", source),
        row_cosine=iop[:3],
        col_cosine=iop[3:],
        pixel_spacing=_floats(spacing, 2, "PixelSpacing", source),
        rows=int(rows),
        columns=int(columns),
        localizer=localizer,
        gantry_tilt_deg=tilt_deg,
    )


def _classic_plane(path: Path, header) -> SlicePlane:
    return _plane(
        path.name,
        getattr(header, "ImagePositionPatient", None),
        getattr(header, "ImageOrientationPatient", None),
        getattr(header, "PixelSpacing", None),
        header.Rows,
        header.Columns,
        _is_localizer(getattr(header, "ImageType", None)),
        getattr(header, "GantryDetectorTilt", None),
    )


def _functional_group(header, frame: int, sequence: str):
    """Item of a functional group macro for one frame: per-frame when present, else shared."""
    per_frame = header.get("PerFrameFunctionalGroupsSequence")
    shared = header.get("SharedFunctionalGroupsSequence")
    for item in (per_frame[frame] if per_frame and frame < len(per_frame) else None, shared[0] if shared else None):
        if item is not None and sequence in item and len(item[sequence].value):
            return item[sequence].value[0]
    return None


def _frame_planes(path: Path, header) -> list[SlicePlane]:
    """One plane per frame of an enhanced (multi-frame) image, from its functional groups."""
    frames = int(header.NumberOfFrames)
    planes = []
    for f in range(frames):
        position = _functional_group(header, f, "PlanePositionSequence")
        orientation = _functional_group(header, f, "PlaneOrientationSequence")
        measures = _functional_group(header, f, "PixelMeasuresSequence")
        frame_type = _functional_group(header, f, "CTImageFrameTypeSequence")
        planes.append(
            _plane(
                f"{path.name} frame {f + 1}",
                getattr(position, "ImagePositionPatient", None),
                getattr(orientation, "ImageOrientationPatient", None),
                getattr(measures, "PixelSpacing", None),
                header.Rows,
                header.Columns,
                _is_localizer(getattr(frame_type, "FrameType", None)) or _is_localizer(header.get("ImageType")),
                getattr(header, "GantryDetectorTilt", None),
            )
        )
    return planes


def _rescale(header, frame: int | None) -> tuple[float, float]:
    item = _functional_group(header, frame, "PixelValueTransformationSequence") if frame is not None else header
    slope = float(getattr(item, "RescaleSlope", 1.0) or 1.0) if item is not None else 1.0
    intercept = float(getattr(item, "RescaleIntercept", 0.0) or 0.0) if item is not None else 0.0
    return slope, intercept


def _classic_pixels(files: list[Path]) -> np.ndarray:
    """[slice, row, column] HU of single-frame files in the given order (GDCM decodes and rescales)."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK's spacing warnings: the geometry is ours
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise InputError(
            f"could not read the DICOM pixels in {files[0].parent}: {str(exc).strip().splitlines()[-1]}"
        ) from exc
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError("expected a scalar (grey-level) image, got a multi-component (e.g. RGB) one")
    array = sitk.GetArrayFromImage(image)
    return array.reshape(len(files), *array.shape[-2:])


def _frame_pixels(path: Path, frames: list[int]) -> np.ndarray:
    """[frame, row, column] HU of an enhanced multi-frame file (per-frame rescale applied)."""
    import pydicom

    dataset = pydicom.dcmread(path)
    try:
        raw = dataset.pixel_array
    except Exception as exc:  # pydicom raises several types for missing decoders
        raise InputError(
            f"{path.name}: cannot decode the multi-frame pixel data ({exc}); install pydicom's decoders "
            "(pylibjpeg) or export the series uncompressed"
        ) from exc
    if int(getattr(dataset, "SamplesPerPixel", 1)) != 1:
        raise InputError("expected a scalar (grey-level) image, got a multi-component (e.g. RGB) one")
    raw = raw.reshape(-1, *raw.shape[-2:])
    scales = [_rescale(dataset, f) for f in frames]
    if all(s == (1.0, 0.0) for s in scales):
        return raw[frames]
    out = np.stack([raw[f] * slope + intercept for f, (slope, intercept) in zip(frames, scales, strict=True)])
    if np.allclose(out, np.rint(out)) and out.min() >= -32768 and out.max() <= 32767:
        return np.rint(out).astype(np.int16)
    return out.astype(np.float32)


def read_dicom_folder(folder: str | os.PathLike[str], series: str | None = None):
    """A `Volume` from the CT series in `folder`, with `warnings` saying what was left out or resampled.

    Raises InputError with one line for folders without a usable series, several series without `series`, and
    stacks that cannot be made regular (see `plan_grid`), or two different images in one plane.
    """
    from segthor.io.volume import Volume

    folder = Path(folder)
    chosen, warnings = choose_series(folder, series)
    label = chosen.folder.name
    planes: list[SlicePlane] = []
    sources: list[tuple[int, int | None]] = []  # (file index, frame or None)
    for i, (path, header) in enumerate(zip(chosen.files, chosen.headers, strict=True)):
        if int(getattr(header, "NumberOfFrames", 1) or 1) > 1 or "PerFrameFunctionalGroupsSequence" in header:
            frame_planes = _frame_planes(path, header)
            planes.extend(frame_planes)
            sources.extend((i, f) for f in range(len(frame_planes)))
        else:
            planes.append(_classic_plane(path, header))
            sources.append((i, None))
    kept, dropped_warnings = select_slices(planes, label)
    warnings.extend(dropped_warnings)
    order, distances = sort_along_normal([planes[i] for i in kept])
    ordered = [kept[i] for i in order]
    stack = _load_pixels(chosen, [sources[i] for i in ordered])
    ordered, stack, duplicate_warnings = _drop_duplicates(ordered, stack, distances, planes, label)
    warnings.extend(duplicate_warnings)
    kept_planes = [planes[i] for i in ordered]
    plan = plan_grid(kept_planes, label)
    warnings.extend(plan.warnings)
    array = resample_stack(stack, plan, kept_planes[0].pixel_spacing)
    return Volume(array, plan.spacing, plan.origin, plan.direction, warnings=warnings)


def _load_pixels(chosen: Series, sources: list[tuple[int, int | None]]) -> np.ndarray:
    if all(frame is None for _, frame in sources):
        return _classic_pixels([chosen.files[i] for i, _ in sources])
    by_file: dict[int, list[int]] = defaultdict(list)
    for i, frame in sources:
        by_file[i].append(frame if frame is not None else 0)
    loaded = {
        i: dict(zip(frames, _frame_pixels(chosen.files[i], frames), strict=True)) for i, frames in by_file.items()
    }
    planes = [loaded[i][frame if frame is not None else 0] for i, frame in sources]
    return np.stack(planes).astype(np.result_type(*planes))


def _drop_duplicates(
    ordered: list[int], stack: np.ndarray, distances: np.ndarray, planes: list[SlicePlane], label: str
) -> tuple[list[int], np.ndarray, list[str]]:
    """Remove exact copies of a slice at the same position; refuse two different images in one plane."""
    pairs = coincident_pairs(distances)
    if not pairs:
        return ordered, stack, []
    drop = set()
    for a, b in pairs:
        if not np.array_equal(stack[a], stack[b]):
            raise InputError(
                f"{label}: {planes[ordered[a]].source} and {planes[ordered[b]].source} lie in the same plane "
                f"(at {distances[a]:.2f} mm along the normal) with different content: the series mixes "
                "acquisitions (phases, time points or reconstructions); put one acquisition per folder"
            )
        drop.add(b)
    keep = [i for i in range(len(ordered)) if i not in drop]
    names = ", ".join(planes[ordered[i]].source for i in sorted(drop)[:4])
    warning = f"{label}: left out {len(drop)} duplicate image(s) identical to another at the same position: {names}"
    return [ordered[i] for i in keep], stack[keep], [warning]
