"""Compare in Slicer against a segmentation as SlicerRT loads an RTSTRUCT: segments named after the ROIs
("ESOPHAGUS", "Aorta", "BODY", ...), mostly no terminology (one legacy SRT code), a contour-based (not binary
labelmap) source representation."""

from __future__ import annotations

import pytest

from segthor.io.volume import read_volume
from segthor.mrml.compare import compare_segmentations
from segthor.mrml.segmentation_nodes import build_organ_segments, commit_organ_segments
from segthor.mrml.volume_nodes import node_from_volume

pytestmark = pytest.mark.mrml

# A terminology entry with the legacy SNOMED RT code of the heart (as older files carry), under a name that says
# nothing: only the code can map it.
LEGACY_HEART = (
    "Segmentation category and type - DICOM master list~SRT^T-D000A^Anatomical Structure~SRT^T-32000^Heart"
    "~^^~Anatomic codes - DICOM master list~^^~^^"
)


def _rtstruct_like_node(scene, ct_node, labels, names):
    """Segments with ROI names and no terminology, stored as closed surfaces (what SlicerRT's planar contours
    convert through; slicer-core has no planar-contour converter)."""
    import slicer

    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "RTSTRUCT")
    node.SetReferenceImageGeometryParameterFromVolumeNode(ct_node)
    segmentation = node.GetSegmentation()
    for (organ, segment), name in zip(build_organ_segments(labels), names, strict=True):
        segment.SetName(name)
        segment.SetTerminology(LEGACY_HEART if organ.key == "heart" else "")
        segmentation.AddSegment(segment, name)
    extra = slicer.vtkSegment()  # an ROI that is none of the organs
    extra.SetName("BODY")
    extra.AddRepresentation("Binary labelmap", build_organ_segments(labels)[1][1].GetRepresentation("Binary labelmap"))
    segmentation.AddSegment(extra, "BODY")
    segmentation.SetConversionParameter("Smoothing factor", "0.0")
    segmentation.CreateRepresentation("Closed surface")
    segmentation.SetSourceRepresentationName("Closed surface")
    segmentation.RemoveRepresentation("Binary labelmap")
    return node


def test_compare_maps_rtstruct_roi_names_and_converts_contours(mrml_scene, ct_dir, labels_truth):
    ct = read_volume(ct_dir)
    ct_node = node_from_volume(ct, "ct", mrml_scene)
    labels = ct.with_array(labels_truth)
    pred = commit_organ_segments(build_organ_segments(labels), ct_node, name="pred").segmentation_node
    ref = _rtstruct_like_node(mrml_scene, ct_node, labels, ["ESOPHAGUS", "Structure 2", "trachea", "Aorta"])
    assert ref.GetSegmentation().GetSourceRepresentationName() == "Closed surface"
    metrics = compare_segmentations(pred, ref, ct_node)
    assert set(metrics) == {"esophagus", "heart", "trachea", "aorta"}
    for key, m in metrics.items():  # unsmoothed surfaces convert back to the same voxels
        assert m.dice >= 0.99, (key, m.dice)
