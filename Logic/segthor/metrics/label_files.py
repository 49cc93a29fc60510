"""Reading label images: SegTHOR label files (.nii.gz, .nrrd, ...) and Slicer segmentations (.seg.nrrd).

A .seg.nrrd holds named segments, possibly in several layers (segments may overlap); each segment is mapped
to its SegTHOR organ by ``segthor.segment_mapping.organ_for_segment`` (user map, then SNOMED CT or legacy SRT
code, then name). Segments of other structures are left out and named in ``LabelImage.unused_segments``.
Where organ segments overlap, each such organ keeps its own mask (``LabelImage.organ_masks``), so every organ
is scored on its own segment, not on a label map where the later organ overwrote the earlier.
``slicerio`` reads the file when installed (it is an optional dependency); otherwise SimpleITK reads the same
fields.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segthor.case_layout import SEG_NRRD_SUFFIX
from segthor.errors import InputError, brief
from segthor.io.volume import Volume, read_volume
from segthor.organs import ORGANS
from segthor.segment_mapping import organ_for_segment


@dataclass(frozen=True)
class Segment:
    name: str
    code: str | None  # the terminology type as "SCHEME^VALUE" (e.g. "SCT^80891009", "SRT^T-32000"), or None
    layer: int
    label_value: int


@dataclass
class LabelImage:
    """A label file as read: SegTHOR labels [z, y, x] (0 background, 1-4) with what a label map cannot hold.

    organ_masks: organ key -> boolean mask [z, y, x] of the organs whose segments overlap another organ's
        (only those; the others are ``volume.array == label``).
    unused_segments: names of the segments that map to no organ (left out of every metric).
    """

    volume: Volume
    organ_masks: dict[str, np.ndarray] = field(default_factory=dict)
    unused_segments: list[str] = field(default_factory=list)


def read_label_volume(
    path: str | os.PathLike[str],
    use_slicerio: bool | None = None,
    user_map: Mapping[str, str] | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
) -> Volume:
    """A SegTHOR label Volume (0 background, 1-4 organs) from a label file, a .seg.nrrd, an RTSTRUCT or a SEG.

    Overlapping organ segments are collapsed (later organ wins); use ``read_label_image`` to keep them apart.
    ``use_slicerio``: None reads .seg.nrrd with slicerio when it is installed, else with SimpleITK.
    """
    return read_label_image(path, use_slicerio, user_map, ct_dir).volume


def read_label_image(
    path: str | os.PathLike[str],
    use_slicerio: bool | None = None,
    user_map: Mapping[str, str] | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
) -> LabelImage:
    """A ``LabelImage`` from a label file (.nii.gz, .nrrd, ...), a Slicer .seg.nrrd, or a DICOM RTSTRUCT or
    SEG (rasterised on its CT series: ``ct_dir``, else the file's own folder; see ``segthor.dicom_rt``).

    ``user_map``: segment name -> organ key or "ignore" (``segment_mapping.read_user_map``). Raises
    ``InputError`` for a missing or unreadable file, or a segmentation none of whose segments is an organ.
    """
    from segthor.dicom_rt.references import is_dicom_labels

    path = Path(path)
    if is_dicom_labels(path):
        from segthor.dicom_rt.references import read_dicom_labels

        labels = read_dicom_labels(path, ct_dir=ct_dir, user_map=user_map)
        return label_image_from_masks(labels.grid, labels.masks, labels.unmapped, path)
    if not path.name.lower().endswith(SEG_NRRD_SUFFIX):
        return LabelImage(read_volume(path))
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a .seg.nrrd, .nii.gz or .nrrd label file or a folder")
    if use_slicerio is None:
        try:
            import slicerio  # noqa: F401
        except ImportError:
            use_slicerio = False
        else:
            use_slicerio = True
    layers, segments, geometry = _read_with_slicerio(path) if use_slicerio else _read_with_sitk(path)
    labels, masks, unused = split_segments(layers, segments, path, user_map)
    return LabelImage(Volume(labels, **geometry), masks, unused)


def label_image_from_masks(grid: Volume, masks: dict[str, np.ndarray], unused: list[str], path: Path) -> LabelImage:
    """A LabelImage on `grid` from organ key -> bool mask [z, y, x] (e.g. a DICOM RTSTRUCT or SEG read by
    ``segthor.dicom_rt``), by the same overlap rule as .seg.nrrd segments (``split_segments``)."""
    keys = [o.key for o in ORGANS if o.key in masks]
    layers = np.stack([masks[k] for k in keys]).astype(np.uint8)
    segments = [Segment(name=k, code=None, layer=i, label_value=1) for i, k in enumerate(keys)]
    labels, overlapping, _ = split_segments(layers, segments, path)
    return LabelImage(grid.with_array(labels), overlapping, list(unused))


def segments_to_labels(layers: np.ndarray, segments: list[Segment], path: Path) -> np.ndarray:
    """Collapse segment layers [layer, z, y, x] into one SegTHOR label array [z, y, x] (later organ wins)."""
    return split_segments(layers, segments, path)[0]


def split_segments(
    layers: np.ndarray, segments: list[Segment], path: Path, user_map: Mapping[str, str] | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Segment layers [layer, z, y, x] -> (labels [z, y, x], own masks of overlapping organs, unused names).

    Several segments mapped to one organ are united. Raises ``InputError`` when no segment is an organ.
    """
    masks: dict[str, np.ndarray] = {}
    unused: list[str] = []
    for segment in segments:
        organ = organ_for_segment(segment.name, segment.code, user_map)
        if organ is None:
            unused.append(segment.name)
            continue
        if not 0 <= segment.layer < layers.shape[0]:
            raise InputError(f"{path.name}: segment {segment.name!r} refers to a missing layer {segment.layer}")
        mask = layers[segment.layer] == segment.label_value
        masks[organ.key] = masks[organ.key] | mask if organ.key in masks else mask
    if not masks:
        names = ", ".join(repr(s.name) for s in segments) or "none"
        raise InputError(
            f"{path.name}: no segment is one of the SegTHOR organs (segments: {names}); name segments "
            f"{', '.join(o.name for o in ORGANS)}, give them those organs' SNOMED CT terminology, or map names "
            "with --map NAME=ORGAN (e.g. --map Herz=heart)"
        )
    labels = np.zeros(layers.shape[1:], dtype=np.uint8)
    painted = np.zeros(layers.shape[1:], dtype=bool)
    overlapping: set[str] = set()
    for organ in ORGANS:  # in label order, so where organs overlap the later one wins in the label map
        if organ.key not in masks:
            continue
        mask = masks[organ.key]
        if np.any(painted & mask):
            overlapping.add(organ.key)
            overlapping.update(o.key for o in ORGANS if o.key in masks and np.any(labels[mask] == o.label))
        labels[mask] = organ.label
        painted |= mask
    return labels, {key: masks[key] for key in sorted(overlapping)}, unused


def _geometry_from_ijk_to_lps(matrix: np.ndarray) -> dict:
    columns = np.asarray(matrix, dtype=float)[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    return {"spacing": tuple(spacing), "origin": tuple(matrix[:3, 3]), "direction": columns / spacing}


def _read_with_slicerio(path: Path) -> tuple[np.ndarray, list[Segment], dict]:
    import slicerio

    try:
        seg = slicerio.read_segmentation(str(path))
    except Exception as exc:  # slicerio raises several types for damaged files
        raise InputError(f"could not read the segmentation {path}: {brief(exc)}") from exc
    voxels = np.asarray(seg["voxels"])
    if voxels.ndim == 3:
        voxels = voxels[np.newaxis]
    layers = np.ascontiguousarray(voxels.transpose(0, 3, 2, 1))  # slicerio gives [layer, i, j, k]
    names = _utf8_segment_names(path)
    if len(names) != len(seg["segments"]):
        names = [s.get("name", s.get("id", "")) for s in seg["segments"]]
    segments = [
        Segment(
            name=name,
            code=_code(s.get("terminology", {}).get("type")),
            layer=int(s.get("layer", 0)),
            label_value=int(s.get("labelValue", 1)),
        )
        for name, s in zip(names, seg["segments"], strict=True)
    ]
    return layers, segments, _geometry_from_ijk_to_lps(seg["ijkToLPS"])


def _utf8_segment_names(path: Path) -> list[str]:
    """Segment names in index order, read from the header as UTF-8 (Slicer writes names such as 'Speiseröhre'
    in UTF-8; pynrrd, under slicerio, drops every non-ASCII byte, so a user's --map would not match)."""
    names: dict[int, str] = {}
    with open(path, "rb") as f:
        for _ in range(100_000):  # the header ends at the first empty line
            line = f.readline()
            if not line or not line.strip():
                break
            match = re.match(rb"Segment(\d+)_Name:=(.*?)\r?\n?$", line)
            if match:
                names[int(match.group(1))] = match.group(2).decode("utf-8", errors="replace")
    return [names[i] for i in sorted(names)]


def _code(coded: list[str] | None) -> str | None:
    if coded and len(coded) >= 2 and coded[1]:
        return f"{coded[0]}^{coded[1]}"
    return None


# Slicer's tag: "TerminologyEntry:<context>~<category>~<type>~...", each coded as SCHEME^VALUE^MEANING.
_TYPE_CODE = re.compile(r"TerminologyEntry:[^~|]*~[^~|]*~([^~^|]*)\^([^~^|]+)\^")


def _read_with_sitk(path: Path) -> tuple[np.ndarray, list[Segment], dict]:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"could not read the segmentation {path}: {brief(exc)}") from exc
    array = sitk.GetArrayFromImage(image)
    # One layer reads as [z, y, x]; several as a vector image [z, y, x, layer].
    layers = array[np.newaxis] if image.GetNumberOfComponentsPerPixel() == 1 else np.moveaxis(array, -1, 0)
    fields = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    indices = sorted({int(m.group(1)) for k in fields if (m := re.match(r"Segment(\d+)_", k))})
    segments = []
    for i in indices:
        tags = fields.get(f"Segment{i}_Tags", "")
        match = _TYPE_CODE.search(tags)
        segments.append(
            Segment(
                name=fields.get(f"Segment{i}_Name", fields.get(f"Segment{i}_ID", "")),
                code=f"{match.group(1)}^{match.group(2)}" if match else None,
                layer=int(fields.get(f"Segment{i}_Layer", 0)),
                label_value=int(fields.get(f"Segment{i}_LabelValue", 1)),
            )
        )
    geometry = {
        "spacing": image.GetSpacing(),
        "origin": image.GetOrigin(),
        "direction": np.array(image.GetDirection()).reshape(3, 3),
    }
    return layers, segments, geometry
