"""Scalar volume node <-> segthor `Volume`, with Slicer's RAS and ITK's LPS handled in one place.

MRML stores IJK->RAS; `Volume` stores LPS geometry. RAS and LPS differ by negating the first two world
axes, so LPS = diag(-1, -1, 1) @ RAS for origin and for every direction column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segthor.errors import InputError
from segthor.io.volume import Volume


def vtk_matrix_to_numpy(matrix: Any) -> np.ndarray:
    """A vtkMatrix4x4 as a 4x4 numpy matrix."""
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def numpy_to_vtk_matrix(array: np.ndarray) -> Any:
    """A vtkMatrix4x4 holding a 4x4 numpy matrix."""
    import vtk

    m = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            m.SetElement(r, c, float(array[r, c]))
    return m


def volume_from_node(node: Any) -> Volume:
    """Copy a scalar volume node's voxels and geometry into a `Volume` (LPS).

    The node's parent transform is not applied: results are written back in the node's own coordinates
    and placed under the same transform, like Slicer's own modules do.
    """
    if node is None:
        raise InputError("no input volume selected; choose a CT volume")
    if not node.IsA("vtkMRMLScalarVolumeNode") or node.IsA("vtkMRMLLabelMapVolumeNode"):
        raise InputError(
            f"'{node.GetName()}' is a {node.GetClassName()}, not a scalar CT volume; "
            "choose a grey-level CT volume (not a labelmap, RGB or vector volume)"
        )
    image = node.GetImageData()
    if image is None or image.GetNumberOfPoints() == 0:
        raise InputError(f"'{node.GetName()}' has no voxels (empty volume); load a CT volume")
    if image.GetNumberOfScalarComponents() != 1:
        raise InputError(f"'{node.GetName()}' has several components per voxel (e.g. RGB); choose a CT volume")
    return geometry_from_node(node)


def set_node_geometry(node: Any, volume: Volume) -> None:
    """Give a volume (or labelmap) node the geometry of `volume`."""
    node.SetIJKToRASMatrix(numpy_to_vtk_matrix(volume.ijk_to_ras()))


def node_from_volume(volume: Volume, name: str = "CT", scene: Any = None, labelmap: bool = False) -> Any:
    """Add a scalar (or labelmap) volume node holding `volume` to the scene."""
    import slicer

    scene = scene or slicer.mrmlScene
    cls = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(cls, name)
    set_node_geometry(node, volume)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(volume.array))
    node.CreateDefaultDisplayNodes()
    return node


def geometry_from_node(node: Any) -> Volume:
    """Geometry and voxels of any volume node (labelmaps included) as a `Volume`, without the CT checks."""
    import slicer
    import vtk

    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return Volume.from_ijk_to_ras(np.array(slicer.util.arrayFromVolume(node), copy=True), vtk_matrix_to_numpy(m))
