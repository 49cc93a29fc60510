"""What a trained model's model.json says about itself: demo wording only for demo weights made from phantoms."""

from __future__ import annotations

from segthor_training.config import DEFAULT_DISCLAIMER, apply_overrides, load_config
from segthor_training.export import describe_package

SUMMARY = "8 training + 2 validation patients from my_ct"


def test_a_model_trained_on_the_users_data_is_not_the_demo_enet():
    config = load_config("enet_fast2d")  # the default recipe: its text speaks of "the demo ENet"
    assert "demo" in config.description
    description, disclaimer = describe_package(config, SUMMARY, synthetic=False)
    assert "demo" not in description.lower() and SUMMARY in description and "enet_fast2d" in description
    assert disclaimer == DEFAULT_DISCLAIMER


def test_demo_recipes_on_the_users_data_lose_the_demo_disclaimer():
    config = load_config("enet_demo")
    description, disclaimer = describe_package(config, SUMMARY, synthetic=False)
    assert "demo weights" not in description.lower() and "synthetic" not in description  # only the recipe's name
    assert "synthetic" not in disclaimer and "demo" not in disclaimer


def test_demo_weights_from_phantoms_keep_the_recipe_text():
    config = load_config("enet_demo")
    assert describe_package(config, "phantoms", synthetic=True) == (config.description, config.disclaimer)


def test_the_users_own_description_and_disclaimer_are_kept():
    config = apply_overrides(
        load_config("enet_fast2d"), sets=["description=ENet for our scanner", "disclaimer=internal validation only"]
    )
    assert describe_package(config, SUMMARY, synthetic=False) == ("ENet for our scanner", "internal validation only")
