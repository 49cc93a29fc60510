"""Writing SegTHOR labels into a vtkMRMLSegmentationNode, and reading segments back as label arrays.

Segments are built off-scene first (`build_organ_segments`, cancellable work), then committed to the scene
in one short step (`commit_organ_segments`) that either fully succeeds or leaves the scene as it was.

Existing-segment policy: segments that already stand for one of our organs (by SNOMED code or name) are
replaced, in place, only when the caller asks (`replace_existing=True`); otherwise the call refuses with a
message saying how to proceed. We refuse rather than add "Heart_1" beside "Heart" because duplicates make
comparison by name ambiguous and hide which segment is the user's edited one. Other segments are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segthor.boxes import bounding_box
from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.mrml.volume_nodes import (
    geometry_from_node,
    numpy_to_vtk_matrix,
    vtk_matrix_to_numpy,
)
from segthor.organs import LABELS, ORGANS, Organ, organ_for_segment

REPLACE_HINT = "tick 'Replace existing segments' (replace_existing=True), or choose a new output segmentation"


def oriented_image_from_mask(mask: np.ndarray, volume: Volume) -> Any:
    """A vtkOrientedImageData holding `mask` ([z,y,x], 0/1), cropped to its bounding box, in RAS."""
    import slicer
    import vtk
    from vtk.util import numpy_support

    image = slicer.vtkOrientedImageData()
    image.SetImageToWorldMatrix(numpy_to_vtk_matrix(volume.ijk_to_ras()))
    box = bounding_box(mask)
    if box is None:
        image.SetExtent(0, -1, 0, -1, 0, -1)
        image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        return image
    z, y, x = box
    image.SetExtent(x.start, x.stop - 1, y.start, y.stop - 1, z.start, z.stop - 1)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    voxels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    cropped = mask[box]
    voxels.reshape(cropped.shape)[:] = cropped
    return image


def build_organ_segments(labels: Volume, quality: Any = None) -> list[tuple[Organ, Any]]:
    """One vtkSegment per organ (named, coloured, SNOMED terminology), empty organs included so users can edit.

    With `quality` (a `segthor.quality.QualityReport`), each segment carries its plausibility as segment tags
    (SegTHOR.Status: ok/check/implausible, SegTHOR.Reasons), the same tags the .seg.nrrd files hold.
    """
    import slicer

    from segthor.quality.report import segment_tags

    name = slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()
    segments = []
    for organ in ORGANS:
        segment = slicer.vtkSegment()
        segment.SetName(organ.name)
        segment.SetColor(*organ.color_float)
        segment.SetTerminology(organ.terminology)
        segment.SetLabelValue(1)
        segment.AddRepresentation(name, oriented_image_from_mask(labels.array == organ.label, labels))
        if quality is not None and organ.key in quality.organs:
            for key, value in segment_tags(quality.organs[organ.key]).items():
                segment.SetTag(key, value)
        segments.append((organ, segment))
    return segments


def organ_of_segment(segment: Any) -> Organ | None:
    """The organ a segment stands for: by SNOMED code in its terminology, else by name."""
    terminology = segment.GetTerminology() if segment.HasTerminology() else ""
    # SCT codes, and legacy SNOMED RT (SRT) ones as older Slicer and DICOM files carry them.
    fields = (part.split("^") for part in terminology.split("~"))
    codes = [f[1] for f in fields if len(f) >= 2 and f[0] in ("SCT", "SRT")]
    # An entry holds several SCT codes (category, type, region...); the first that names one of our organs decides.
    for code in codes:
        organ = organ_for_segment("", code)
        if organ is not None:
            return organ
    return organ_for_segment(segment.GetName())


def organ_segment_ids(segmentation_node: Any) -> dict[str, str]:
    """organ key -> segment id of the first segment in the node that stands for that organ."""
    segmentation = segmentation_node.GetSegmentation()
    found: dict[str, str] = {}
    for i in range(segmentation.GetNumberOfSegments()):
        organ = organ_of_segment(segmentation.GetNthSegment(i))
        if organ is not None and organ.key not in found:
            found[organ.key] = segmentation.GetNthSegmentID(i)
    return found


def check_can_write(segmentation_node: Any | None, replace_existing: bool) -> None:
    """Refuse early (before any heavy work) when writing would overwrite segments the caller did not release."""
    if segmentation_node is None:
        return
    if not segmentation_node.IsA("vtkMRMLSegmentationNode"):
        raise InputError(
            f"'{segmentation_node.GetName()}' is not a segmentation node; "
            "choose a segmentation as output, or none to create a new one"
        )
    segmentation = segmentation_node.GetSegmentation()
    source = segmentation.GetSourceRepresentationName()
    binary = "Binary labelmap"
    if segmentation.GetNumberOfSegments() and source != binary:
        raise InputError(
            f"segmentation '{segmentation_node.GetName()}' is stored as '{source}', not binary labelmaps; "
            "choose a new output segmentation"
        )
    existing = organ_segment_ids(segmentation_node)
    if existing and not replace_existing:
        names = ", ".join(segmentation.GetSegment(sid).GetName() for sid in existing.values())
        raise InputError(
            f"segmentation '{segmentation_node.GetName()}' already has segments for {names}; "
            f"nothing was changed. To overwrite them, {REPLACE_HINT}"
        )


@dataclass
class CommitResult:
    segmentation_node: Any
    created: bool
    segment_ids: dict[str, str]
    replaced: list[str]


def _place_like(segmentation_node: Any, volume_node: Any) -> None:
    """Put a new segmentation in the input's study (subject hierarchy) and under the input's transform."""
    import slicer

    segmentation_node.SetAndObserveTransformNodeID(volume_node.GetTransformNodeID())
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(volume_node.GetScene())
    if sh is None:
        return
    volume_item = sh.GetItemByDataNode(volume_node)
    parent = sh.GetItemParent(volume_item) if volume_item else 0
    if not parent or parent == sh.GetSceneItemID():
        return
    seg_item = sh.GetItemByDataNode(segmentation_node)
    if seg_item:
        sh.SetItemParent(seg_item, parent)
    else:  # outside the Slicer application no plugin creates items for new nodes
        sh.CreateItem(parent, segmentation_node)


def commit_organ_segments(
    segments: list[tuple[Organ, Any]],
    volume_node: Any,
    segmentation_node: Any | None = None,
    replace_existing: bool = False,
    name: str | None = None,
) -> CommitResult:
    """Add the organ segments to `segmentation_node` (a new node when None), all or nothing.

    Existing segments for our organs are replaced in place (same id and position) only when
    `replace_existing`; otherwise the call refuses before changing anything. Other segments are never touched.
    """
    import slicer

    check_can_write(segmentation_node, replace_existing)
    scene = volume_node.GetScene()
    created = segmentation_node is None
    backup = None
    try:
        if created:
            segmentation_node = scene.AddNewNodeByClass(
                "vtkMRMLSegmentationNode", name or f"{volume_node.GetName()} organs"
            )
            segmentation_node.CreateDefaultDisplayNodes()
            segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
            _place_like(segmentation_node, volume_node)
        else:
            backup = slicer.vtkSegmentation()
            backup.DeepCopy(segmentation_node.GetSegmentation())
        segmentation = segmentation_node.GetSegmentation()
        existing = organ_segment_ids(segmentation_node)
        ids: dict[str, str] = {}
        replaced: list[str] = []
        for organ, segment in segments:
            old_id = existing.get(organ.key)
            if old_id:
                # Keep the id and the position, so the user's views and editor selection stay valid.
                index = segmentation.GetSegmentIndex(old_id)
                last = index + 1 >= segmentation.GetNumberOfSegments()
                following = "" if last else segmentation.GetNthSegmentID(index + 1)
                segmentation.RemoveSegment(old_id)
                if not segmentation.AddSegment(segment, old_id, following):
                    raise RuntimeError(f"could not replace segment {old_id}")
                ids[organ.key] = old_id
                replaced.append(old_id)
            else:
                new_id = segmentation.GenerateUniqueSegmentID(organ.name)
                if not segmentation.AddSegment(segment, new_id):
                    raise RuntimeError(f"could not add segment {organ.name}")
                ids[organ.key] = new_id
        return CommitResult(segmentation_node, created, ids, replaced)
    except BaseException:
        if created and segmentation_node is not None:
            scene.RemoveNode(segmentation_node)
        elif backup is not None:
            segmentation_node.GetSegmentation().DeepCopy(backup)
        raise


def _grid_image(grid: Volume) -> Any:
    """An oriented image (geometry + allocated voxels) with the grid of `grid`."""
    import slicer
    import vtk

    image = slicer.vtkOrientedImageData()
    image.SetImageToWorldMatrix(numpy_to_vtk_matrix(grid.ijk_to_ras()))
    x, y, z = grid.shape_xyz
    image.SetExtent(0, x - 1, 0, y - 1, 0, z - 1)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    return image


def reference_grid(segmentation_node: Any) -> Volume:
    """The segmentation's reference image geometry (set from its source volume) as an empty uint8 `Volume`."""
    import slicer
    import vtk

    converter = slicer.vtkSegmentationConverter
    text = segmentation_node.GetSegmentation().GetConversionParameter(
        converter.GetReferenceImageGeometryParameterName()
    )
    matrix, extent = vtk.vtkMatrix4x4(), [0] * 6
    if not text or not converter.DeserializeImageGeometry(text, matrix, extent) or extent[1] < extent[0]:
        raise InputError(
            f"segmentation '{segmentation_node.GetName()}' has no reference geometry; "
            "choose the CT volume as reference for the comparison"
        )
    ijk_to_ras = vtk_matrix_to_numpy(matrix)
    ijk_to_ras[:, 3] = ijk_to_ras @ np.array([extent[0], extent[2], extent[4], 1.0])  # origin at the extent's start
    shape = (extent[5] - extent[4] + 1, extent[3] - extent[2] + 1, extent[1] - extent[0] + 1)
    return Volume.from_ijk_to_ras(np.zeros(shape, np.uint8), ijk_to_ras)


def segment_mask(segmentation_node: Any, segment_id: str, grid: Volume) -> np.ndarray:
    """One segment as a uint8 0/1 mask [z,y,x] on `grid` (nearest neighbour; no scene nodes created).

    Works in the segmentation node's own coordinates (its parent transform is not applied), the frame
    the segments were drawn in over their reference volume.
    """
    import slicer
    from vtk.util import numpy_support

    source = slicer.vtkOrientedImageData()
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    if not logic.GetSegmentBinaryLabelmapRepresentation(segmentation_node, segment_id, source, False):
        raise InputError(
            f"segment {segment_id} of '{segmentation_node.GetName()}' has no binary labelmap; "
            "create its binary labelmap representation in the Segmentations module (Representations section)"
        )
    extent = source.GetExtent()
    if extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]:
        return np.zeros(grid.array.shape, np.uint8)
    out = slicer.vtkOrientedImageData()
    slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(source, _grid_image(grid), out)
    if tuple(out.GetDimensions()) != grid.shape_xyz:
        raise RuntimeError(f"resampled segment has size {out.GetDimensions()}, expected {grid.shape_xyz}")
    voxels = numpy_support.vtk_to_numpy(out.GetPointData().GetScalars()).reshape(grid.array.shape)
    # Segments may share one labelmap layer; this segment is the voxels holding its label value.
    label_value = segmentation_node.GetSegmentation().GetSegment(segment_id).GetLabelValue()
    return (voxels == label_value).astype(np.uint8)


def labels_from_segmentation(segmentation_node: Any, grid: Volume | Any) -> np.ndarray:
    """A SegTHOR label array [z,y,x] (0-4) of a segmentation on `grid` (a `Volume` or a volume node)."""
    if not isinstance(grid, Volume):
        grid = geometry_from_node(grid)
    labels = np.zeros(grid.array.shape, dtype=np.uint8)
    for key, sid in organ_segment_ids(segmentation_node).items():
        mask = segment_mask(segmentation_node, sid, grid)
        labels[(mask > 0) & (labels == 0)] = LABELS[key]
    return labels
