"""Reference (or predicted) organ labels from DICOM: an RT Structure Set or a DICOM SEG, on a CT grid.

ROIs and segments map to organs through `segthor.segment_mapping.organ_for_segment` (the user's map, then the
identification / property type code, SNOMED CT or legacy SRT, then the name), the same rule as for .seg.nrrd
references; names that map to no organ are reported (`unused_segments`), never silently dropped. Several
ROIs of one organ are united; each organ keeps its own mask, so overlaps are scored as for .seg.nrrd.

The grid: the CT series given as `ct_dir`, else the CT being segmented (`like`, whose DICOM series
`like_series` must be the referenced one or share its Frame of Reference), else the CT series found in the
reference file's own folder (the referenced series, or the one with the same Frame of Reference).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segthor.dicom_rt.series import SourceSeries, read_headers, series_from_headers
from segthor.errors import InputError, brief
from segthor.io.volume import FILE_SUFFIXES, Volume
from segthor.organs import ORGANS
from segthor.segment_mapping import organ_for_segment

DICOM_REFERENCE_MODALITIES = ("RTSTRUCT", "SEG")
CT_HINT = "put the CT series in the same folder as the file or give its folder (--reference-ct)"


@dataclass
class DicomLabels:
    """Organ masks read from a DICOM RTSTRUCT or SEG on a CT grid, with how its ROIs/segments were mapped.

    `segthor.metrics.label_files.label_image_from_masks` turns them into the `LabelImage` every metric reads.
    """

    grid: Volume  # the CT grid (its array is not used)
    masks: dict[str, np.ndarray]  # organ key -> bool mask [z, y, x]; several ROIs of one organ united
    modality: str
    organs: dict[str, list[str]] = field(default_factory=dict)  # organ key -> ROI/segment names
    unmapped: list[str] = field(default_factory=list)  # ROI/segment names that map to no organ

    @property
    def volume(self) -> Volume:
        """SegTHOR labels on the grid (where organs overlap, the later organ of the organ table wins)."""
        labels = np.zeros(self.grid.array.shape, dtype=np.uint8)
        for organ in ORGANS:
            if organ.key in self.masks:
                labels[self.masks[organ.key]] = organ.label
        return self.grid.with_array(labels)


def dicom_modality(path: str | os.PathLike[str]) -> str | None:
    """The Modality of a DICOM file, or None when `path` is not a readable DICOM file."""
    path = Path(path)
    if not path.is_file() or any(path.name.lower().endswith(s) for s in FILE_SUFFIXES):
        return None
    try:
        import pydicom
        from pydicom.errors import InvalidDicomError
    except ImportError:
        with open(path, "rb") as f:
            is_dicom = f.read(132)[128:132] == b"DICM"
        if is_dicom:
            from segthor.dicom_rt.deps import require_dicom_packages

            require_dicom_packages()
        return None
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None
    return str(ds.get("Modality", "")) or None


def is_dicom_labels(path: str | os.PathLike[str]) -> bool:
    """True for an RTSTRUCT or DICOM SEG file."""
    return dicom_modality(path) in DICOM_REFERENCE_MODALITIES


def find_ct_series(folder: str | os.PathLike[str], series_uids: list[str], frame_of_reference_uid: str) -> SourceSeries:
    """The CT series in `folder` that a reference points at (by Series Instance UID, else Frame of Reference)."""
    folder = Path(folder)
    headers = read_headers(folder)
    present = {str(ds.get("SeriesInstanceUID", "")) for _, ds in headers}
    wanted = next((uid for uid in series_uids if uid in present), None)
    try:
        series = series_from_headers(folder, headers, wanted, frame_of_reference_uid or None)
    except InputError as exc:
        raise InputError(f"no usable CT series for the reference: {exc}; {CT_HINT}") from exc
    # A reference that names this series by its UID is taken at its word (some writers, e.g. older rt-utils,
    # give the structure set a Frame of Reference of its own); otherwise the Frames of Reference must agree.
    if (
        wanted is None
        and frame_of_reference_uid
        and series.frame_of_reference_uid
        and series.frame_of_reference_uid != frame_of_reference_uid
    ):
        raise InputError(f"the CT series in {folder} has another Frame of Reference than the reference; {CT_HINT}")
    return series


def _grid(
    path: Path, like: Volume | None, ct_dir: Any, series_uids: list[str], for_uid: str, like_series: Any
) -> Volume:
    if ct_dir is not None:
        return find_ct_series(ct_dir, series_uids, for_uid).grid()
    if like is not None:
        like_for_uid = like_series.frame_of_reference_uid if like_series is not None else None
        names_it = like_series is not None and like_series.series_instance_uid in series_uids
        if like_for_uid and for_uid and like_for_uid != for_uid and not names_it:
            raise InputError(
                f"{path.name} was drawn on another CT (Frame of Reference {for_uid}, the CT's is {like_for_uid}); "
                "give the reference drawn on this CT"
            )
        return like.with_array(np.zeros(like.array.shape, dtype=np.uint8))
    return find_ct_series(path.parent, series_uids, for_uid).grid()


def _nearest_onto(volume: Volume, grid: Volume) -> Volume:
    """`volume` resampled onto `grid` by nearest neighbour (outside -> 0), with SimpleITK."""
    if volume.same_geometry(grid):
        return volume
    import SimpleITK as sitk

    out = sitk.Resample(volume.to_sitk(), grid.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    return grid.with_array(sitk.GetArrayFromImage(out))


def _no_organ(path: Path, modality: str, names: list[str]) -> InputError:
    shown = ", ".join(repr(n) for n in names) or "none"
    return InputError(
        f"{path.name}: no {modality} is one of the SegTHOR organs (entries: {shown}); name them "
        f"{', '.join(o.name for o in ORGANS)}, give them those organs' SNOMED CT codes, or map names with "
        "--map NAME=ORGAN"
    )


def read_rtstruct_labels(
    path: str | os.PathLike[str],
    like: Volume | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
    like_series: SourceSeries | None = None,
    user_map: Mapping[str, str] | None = None,
) -> DicomLabels:
    """SegTHOR labels [z, y, x] on the CT grid from an RTSTRUCT (see the module docstring for the grid)."""
    from segthor.dicom_rt.rtstruct_reader import rasterise_roi, read_rtstruct

    path = Path(path)
    structure = read_rtstruct(path)
    mapped = [(organ_for_segment(roi.name, roi.code, user_map), roi) for roi in structure.rois]
    if not any(organ for organ, _ in mapped):
        raise _no_organ(path, "RTSTRUCT ROI", [roi.name for roi in structure.rois])
    grid = _grid(path, like, ct_dir, structure.referenced_series_uids, structure.frame_of_reference_uid, like_series)
    masks: dict[str, np.ndarray] = {}
    organs: dict[str, list[str]] = {}
    for organ, roi in mapped:
        if organ is not None:
            mask = rasterise_roi(roi, grid, f"{path.name}: ")
            masks[organ.key] = masks[organ.key] | mask if organ.key in masks else mask
            organs.setdefault(organ.key, []).append(roi.name)
    unused = [roi.name for organ, roi in mapped if organ is None]
    return DicomLabels(grid, masks, "RTSTRUCT", organs, unused)


def _seg_bits_volume(seg: Any, numbers: list[tuple[Any, int]], path: Path) -> Volume:
    """The mapped segments of a highdicom Segmentation as bit i = i-th of `numbers`, in the SEG's own geometry."""
    try:
        hd_volume = seg.get_volume(segment_numbers=[n for _, n in numbers], allow_missing_positions=True)
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"{path.name}: could not place the segment frames on a regular grid: {exc}") from exc
    array = np.asarray(hd_volume.array)
    if array.ndim == 3:
        array = array[..., np.newaxis]
    # One uint8 layer per mapped segment (fractional segments: > 0.5), resampled together onto the CT grid.
    layers = (array > 0.5).astype(np.uint8)
    # highdicom's affine maps (slice, row, column) indices; segthor's Volume wants (x=column, y=row, z=slice).
    matrix = np.asarray(hd_volume.affine, dtype=float)[:3, [2, 1, 0]]
    spacing = np.linalg.norm(matrix, axis=0)
    if layers.shape[-1] > 32:
        raise InputError(f"{path.name}: more than 32 segments map to organs; map the extra ones to ignore (--map)")
    bits = np.zeros(layers.shape[:3], dtype=np.uint8 if layers.shape[-1] <= 8 else np.uint32)
    for i in range(layers.shape[-1]):  # segments as bits: overlaps survive the one nearest-neighbour resampling
        bits |= layers[..., i].astype(bits.dtype) << i
    return Volume(bits, tuple(spacing), tuple(hd_volume.affine[:3, 3]), matrix / spacing)


def read_seg_labels(
    path: str | os.PathLike[str],
    like: Volume | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
    like_series: SourceSeries | None = None,
    user_map: Mapping[str, str] | None = None,
) -> DicomLabels:
    """SegTHOR labels [z, y, x] on the CT grid from a DICOM SEG, read with highdicom (nearest neighbour)."""
    import highdicom as hd

    path = Path(path)
    try:
        seg = hd.seg.segread(path)
    except Exception as exc:  # highdicom raises several types for files that are not valid SEGs
        raise InputError(f"could not read {path} as a DICOM SEG: {brief(exc)}") from exc
    entries = []
    for item in seg.SegmentSequence:
        codes = list(item.get("SegmentedPropertyTypeCodeSequence", []))
        code = (
            f"{codes[0].get('CodingSchemeDesignator', '')}^{codes[0].CodeValue}"
            if codes and "CodeValue" in codes[0]
            else None
        )
        name = str(item.get("SegmentLabel", ""))
        entries.append((organ_for_segment(name, code, user_map), name, int(item.SegmentNumber)))
    if not any(organ for organ, _, _ in entries):
        raise _no_organ(path, "SEG segment", [name for _, name, _ in entries])
    series_uids = [str(s.SeriesInstanceUID) for s in seg.get("ReferencedSeriesSequence", [])]
    grid = _grid(path, like, ct_dir, series_uids, str(seg.get("FrameOfReferenceUID", "")), like_series)
    mapped = [(organ, number) for organ, _, number in entries if organ is not None]
    bits = _nearest_onto(_seg_bits_volume(seg, mapped, path), grid).array
    masks: dict[str, np.ndarray] = {}
    organs: dict[str, list[str]] = {}
    for i, (organ, name, _) in enumerate(e for e in entries if e[0] is not None):
        mask = (bits >> i) & 1 > 0
        masks[organ.key] = masks[organ.key] | mask if organ.key in masks else mask
        organs.setdefault(organ.key, []).append(name)
    unused = [name for organ, name, _ in entries if organ is None]
    return DicomLabels(grid, masks, "SEG", organs, unused)


def read_dicom_labels(
    path: str | os.PathLike[str],
    like: Volume | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
    like_series: SourceSeries | None = None,
    user_map: Mapping[str, str] | None = None,
) -> DicomLabels:
    """An RTSTRUCT or DICOM SEG file as SegTHOR labels on the CT grid (see the module docstring).

    ``user_map``: ROI/segment name -> organ key or "ignore" (``segment_mapping.read_user_map``)."""
    modality = dicom_modality(path)
    if modality == "RTSTRUCT":
        return read_rtstruct_labels(path, like, ct_dir, like_series, user_map)
    if modality == "SEG":
        return read_seg_labels(path, like, ct_dir, like_series, user_map)
    raise InputError(f"{Path(path).name} is not a DICOM RTSTRUCT or SEG file (Modality {modality!r})")
