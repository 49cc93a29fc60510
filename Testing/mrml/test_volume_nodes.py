"""Volume node <-> Volume: RAS/LPS handled once, any orientation round-trips exactly."""

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.io.volume import Volume
from segthor.mrml.volume_nodes import node_from_volume, volume_from_node

pytestmark = pytest.mark.mrml

OBLIQUE = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


def _volume(direction):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 1000
    return Volume(array, (0.7, 0.8, 2.5), (10.0, -20.0, 30.0), direction)


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE], ids=["identity", "permuted"])
def test_round_trip_keeps_voxels_and_geometry(mrml_scene, direction):
    volume = _volume(direction)
    node = node_from_volume(volume, "ct", mrml_scene)
    back = volume_from_node(node)
    assert back.same_geometry(volume)
    np.testing.assert_array_equal(back.array, volume.array)


def test_ras_is_lps_with_x_and_y_negated(mrml_scene):
    node = node_from_volume(_volume(np.eye(3)), "ct", mrml_scene)
    # LPS origin (10, -20, 30) is RAS (-10, 20, 30); LPS +x (left) is RAS -x.
    np.testing.assert_allclose(node.GetOrigin(), (-10.0, 20.0, 30.0))
    directions = np.zeros((3, 3))
    node.GetIJKToRASDirections(directions)
    np.testing.assert_allclose(directions, np.diag([-1.0, -1.0, 1.0]))


def test_non_ct_nodes_are_refused(mrml_scene):
    with pytest.raises(InputError, match="no input volume"):
        volume_from_node(None)
    labelmap = node_from_volume(_volume(np.eye(3)), "labels", mrml_scene, labelmap=True)
    with pytest.raises(InputError, match="not a scalar CT volume"):
        volume_from_node(labelmap)
    empty = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="empty"):
        volume_from_node(empty)
