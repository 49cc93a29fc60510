"""Comparing a segmentation node with a reference one into a vtkMRMLTableNode (the registry's ``mrml`` metrics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segthor.errors import InputError
from segthor.metrics import registry
from segthor.mrml.segmentation_nodes import labels_from_segmentation, organ_segment_ids, reference_grid
from segthor.mrml.volume_nodes import geometry_from_node
from segthor.organs import ORGANS


def table_columns() -> tuple[str, ...]:
    """Organ, one column per metric of the registry's ``mrml`` view (Dice, HD95, ASSD, NSD, ...), Status."""
    return ("Organ", *(registry.metric(m).title for m in registry.names("mrml")), "Status")


TABLE_COLUMNS = table_columns()


def compare_segmentations(
    segmentation_node: Any, reference_node: Any, reference_volume_node: Any = None
) -> dict[str, Any]:
    """organ key -> OrganMetrics of `segmentation_node` against `reference_node`, on a common grid.

    Segments are matched by SNOMED code in their terminology, else by name. The grid is that of
    `reference_volume_node` when given (a volume node, or a segmentation node whose reference geometry is
    used, e.g. the reference's own), else the segmentation's own reference geometry.
    """
    from segthor.metrics import evaluate_volumes

    for node, role in ((segmentation_node, "segmentation"), (reference_node, "reference")):
        if node is None or not node.IsA("vtkMRMLSegmentationNode"):
            raise InputError(f"choose a {role} segmentation node to compare")
    if not organ_segment_ids(reference_node):
        raise InputError(
            f"reference '{reference_node.GetName()}' has no segment named (or coded as) "
            f"{', '.join(o.name for o in ORGANS)}; rename its segments or set their terminology"
        )
    if reference_volume_node is None:
        grid = reference_grid(segmentation_node)
    elif reference_volume_node.IsA("vtkMRMLSegmentationNode"):
        grid = reference_grid(reference_volume_node)
    else:
        grid = geometry_from_node(reference_volume_node)
    pred = grid.with_array(labels_from_segmentation(segmentation_node, grid))
    ref = grid.with_array(labels_from_segmentation(reference_node, grid))
    return evaluate_volumes(pred, ref)


def metrics_to_table(metrics: Mapping[str, Any], table_node: Any = None, scene: Any = None, name: str = "") -> Any:
    """Write per-organ metrics into a vtkMRMLTableNode (new when None) with one row per organ."""
    import slicer
    import vtk

    scene = scene or slicer.mrmlScene
    if table_node is None:
        table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", name or "SegTHOR comparison")
    table = table_node.GetTable()
    was_modifying = table_node.StartModify()
    table.Initialize()
    shown, titles = registry.names("mrml"), table_columns()
    columns = [vtk.vtkStringArray()] + [vtk.vtkDoubleArray() for _ in shown] + [vtk.vtkStringArray()]
    for column, title in zip(columns, titles, strict=True):
        column.SetName(title)
        table.AddColumn(column)
    for organ in ORGANS:
        m = metrics.get(organ.key)
        if m is None:
            continue
        values = m.to_dict() if hasattr(m, "to_dict") else dict(m)
        row = table.InsertNextBlankRow()
        table.SetValue(row, 0, vtk.vtkVariant(organ.name))
        for col, key in enumerate(shown, start=1):
            value = values.get(key)
            table.SetValue(row, col, vtk.vtkVariant(float("nan") if value is None else float(value)))
        table.SetValue(row, len(titles) - 1, vtk.vtkVariant(str(values.get("status", ""))))
    table_node.Modified()
    table_node.EndModify(was_modifying)
    return table_node
