"""The SegTHORSlicerTest scenario (phantom -> segments -> comparison table), here on slicer-core."""

import pytest

from segthor.organs import ORGANS

pytestmark = pytest.mark.mrml


def test_phantom_scenario_with_a_model_package(mrml_scene, tiny_model_dir):
    from segthor.mrml.scenario import run_phantom_scenario

    outcome = run_phantom_scenario(model=tiny_model_dir, device="cpu", scene=mrml_scene)
    assert outcome["table_node"].GetTable().GetNumberOfRows() == len(ORGANS)
    assert set(outcome["dice"]) == {o.key for o in ORGANS}
    assert outcome["model"]["id"] == "tiny-enet"


def test_scenario_accuracy_check_can_fail(mrml_scene, tiny_model_dir):
    from segthor.mrml.scenario import run_phantom_scenario

    with pytest.raises(AssertionError, match="mean Dice"):
        run_phantom_scenario(model=tiny_model_dir, device="cpu", min_mean_dice=1.01, scene=mrml_scene)
