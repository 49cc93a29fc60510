"""Reading label images: SegTHOR label files (.nii.gz, .nrrd, ...) and Slicer segmentations (.seg.nrrd).

A .seg.nrrd holds named segments, possibly in several layers; each segment is mapped to its SegTHOR label
by the SNOMED CT code of its terminology entry, else by its name (case-insensitive), using
``segthor.organs``. Segments of other structures are ignored. ``slicerio`` reads the file when installed
(it is an optional dependency); otherwise SimpleITK reads the same fields.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume, read_volume
from segthor.organs import ORGANS, organ_for_segment

SEG_NRRD_SUFFIX = ".seg.nrrd"


@dataclass(frozen=True)
class Segment:
    name: str
    snomed_code: str | None
    layer: int
    label_value: int


def read_label_volume(
    path: str | os.PathLike[str],
    use_slicerio: bool | None = None,
    ct_dir: str | os.PathLike[str] | None = None,
    notes: list[str] | None = None,
) -> Volume:
    """A SegTHOR label Volume (0 background, 1-4 organs) from a label file, a .seg.nrrd, or a DICOM RTSTRUCT
    or SEG (rasterised on its CT series: `ct_dir`, else the file's own folder; see `segthor.dicom_rt`).

    ``use_slicerio``: None reads .seg.nrrd with slicerio when it is installed, else with SimpleITK.
    ``notes``: when given, lines for the user (e.g. DICOM ROIs mapped to no organ) are appended to it.
    """
    from segthor.dicom_rt.references import is_dicom_labels

    path = Path(path)
    if is_dicom_labels(path):
        from segthor.dicom_rt.references import read_dicom_labels

        labels = read_dicom_labels(path, ct_dir=ct_dir)
        if notes is not None:
            notes.extend(labels.notes(path.name))
        return labels.volume
    if not path.name.lower().endswith(SEG_NRRD_SUFFIX):
        return read_volume(path)
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
    return Volume(segments_to_labels(layers, segments, path), **geometry)


def segments_to_labels(layers: np.ndarray, segments: list[Segment], path: Path) -> np.ndarray:
    """Collapse segment layers [layer, z, y, x] into one SegTHOR label array [z, y, x]."""
    labels = np.zeros(layers.shape[1:], dtype=np.uint8)
    found = []
    # Later organs win where segments overlap (Slicer allows overlap, a label image does not).
    for organ in ORGANS:
        for segment in segments:
            if organ_for_segment(segment.name, segment.snomed_code) == organ:
                if not 0 <= segment.layer < layers.shape[0]:
                    raise InputError(f"{path.name}: segment {segment.name!r} refers to a missing layer {segment.layer}")
                labels[layers[segment.layer] == segment.label_value] = organ.label
                found.append(organ.key)
    if not found:
        names = ", ".join(repr(s.name) for s in segments) or "none"
        raise InputError(
            f"{path.name}: no segment is one of the SegTHOR organs (segments: {names}); name segments "
            f"{', '.join(o.name for o in ORGANS)} or give them those organs' SNOMED CT terminology"
        )
    return labels


def _geometry_from_ijk_to_lps(matrix: np.ndarray) -> dict:
    columns = np.asarray(matrix, dtype=float)[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    return {"spacing": tuple(spacing), "origin": tuple(matrix[:3, 3]), "direction": columns / spacing}


def _read_with_slicerio(path: Path) -> tuple[np.ndarray, list[Segment], dict]:
    import slicerio

    try:
        seg = slicerio.read_segmentation(str(path))
    except Exception as exc:  # slicerio raises several types for damaged files
        raise InputError(f"could not read the segmentation {path}: {exc}") from exc
    voxels = np.asarray(seg["voxels"])
    if voxels.ndim == 3:
        voxels = voxels[np.newaxis]
    layers = np.ascontiguousarray(voxels.transpose(0, 3, 2, 1))  # slicerio gives [layer, i, j, k]
    segments = [
        Segment(
            name=s.get("name", s.get("id", "")),
            snomed_code=_code(s.get("terminology", {}).get("type")),
            layer=int(s.get("layer", 0)),
            label_value=int(s.get("labelValue", 1)),
        )
        for s in seg["segments"]
    ]
    return layers, segments, _geometry_from_ijk_to_lps(seg["ijkToLPS"])


def _code(coded: list[str] | None) -> str | None:
    if coded and len(coded) >= 2 and coded[0] == "SCT" and coded[1]:
        return coded[1]
    return None


_TYPE_CODE = re.compile(r"TerminologyEntry:[^~|]*~[^~|]*~SCT\^(\d+)\^")


def _read_with_sitk(path: Path) -> tuple[np.ndarray, list[Segment], dict]:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"could not read the segmentation {path}: {exc}") from exc
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
                snomed_code=match.group(1) if match else None,
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
