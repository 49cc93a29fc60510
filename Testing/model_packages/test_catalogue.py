"""The model catalogue (bundled folder + $SEGTHOR_MODELS_PATH), find_model and `segthor models`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import segthor
from segthor.cli import models as models_command
from segthor.errors import ModelError
from segthor.model_packages import (
    DEFAULT_MODEL_ID,
    DEMO_DISCLAIMER,
    METADATA_FILE,
    MODELS_DIR,
    catalogue,
    find_model,
    list_models,
    load_model_package,
    save_model_package,
)
from segthor.networks import build_network


def main(argv: list[str]) -> int:
    """`segthor models ...` through its own parser (the full CLI needs every subcommand module)."""
    parser = argparse.ArgumentParser(prog="segthor models")
    models_command.add_arguments(parser)
    return models_command.run(parser.parse_args(argv[1:]))


@pytest.fixture
def isolated_catalogue(tmp_path, monkeypatch):
    """An empty bundled folder plus two $SEGTHOR_MODELS_PATH folders, one of them a package itself."""
    bundled, extra = tmp_path / "bundled", tmp_path / "extra"
    bundled.mkdir()
    monkeypatch.setattr(catalogue, "MODELS_DIR", bundled)
    net = build_network("enet", base_width=8)
    meta = {
        "disclaimer": DEMO_DISCLAIMER,
        "training": {"data": "4 phantom cases, 64 px"},
        "validation": {"dice": {"heart": 0.91, "aorta": 0.8}},
    }
    save_model_package(bundled / DEFAULT_MODEL_ID, net, {"id": DEFAULT_MODEL_ID, **meta}, dtype="float16")
    save_model_package(extra / "mine", net, {"id": "my-enet", **meta})
    single = save_model_package(tmp_path / "single", net, {"id": "single"})
    (extra / "broken").mkdir()
    (extra / "broken" / METADATA_FILE).write_text("[1, 2")
    monkeypatch.setenv("SEGTHOR_MODELS_PATH", f"{extra}:{single}:{tmp_path / 'missing-folder'}")
    return tmp_path


def test_models_dir_is_the_extension_resources_folder():
    repo = Path(segthor.__file__).resolve().parents[2]
    expected = repo / "SegTHORSlicer" / "Resources" / "Models"
    assert expected == MODELS_DIR
    assert DEFAULT_MODEL_ID == "enet-realct"
    assert (MODELS_DIR / DEFAULT_MODEL_ID / METADATA_FILE).is_file()  # the default is bundled


def test_list_models_summarises_every_package(isolated_catalogue):
    models = {m["id"]: m for m in list_models()}
    assert set(models) == {DEFAULT_MODEL_ID, "my-enet", "single", "broken"}
    demo = models[DEFAULT_MODEL_ID]
    assert demo["default"] and not models["my-enet"]["default"]
    assert demo["architecture"] == "enet" and demo["parameters"] > 0
    assert demo["size_bytes"] < models["my-enet"]["size_bytes"]  # float16 vs float32
    assert demo["training_data"] == "4 phantom cases, 64 px"
    assert demo["validation_dice"] == {"heart": 0.91, "aorta": 0.8}
    assert demo["disclaimer"] == DEMO_DISCLAIMER
    assert "not valid" in models["broken"]["error"] or "Expecting" in models["broken"]["error"]
    assert list_models()[0]["id"] == DEFAULT_MODEL_ID  # bundled packages come first


def test_find_and_load_by_id(isolated_catalogue):
    assert find_model("my-enet") == isolated_catalogue / "extra" / "mine"
    package = load_model_package("my-enet")
    assert package.metadata["id"] == "my-enet" and package.model.architecture == "enet"
    known = rf"\(known: {DEFAULT_MODEL_ID}, broken, my-enet, single\)"
    with pytest.raises(ModelError, match=rf"no model package with id 'nope' {known}"):
        find_model("nope")


def test_cli_lists_models_as_table_and_json(isolated_catalogue, capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert f"* {DEFAULT_MODEL_ID}" in text and "my-enet" in text and DEMO_DISCLAIMER in text
    assert "0.910" in text and "4 phantom cases" in text and "unusable" in text
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["id"] for m in listed} == {DEFAULT_MODEL_ID, "my-enet", "single", "broken"}


def test_cli_says_clearly_when_no_model_is_installed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(catalogue, "MODELS_DIR", tmp_path)
    monkeypatch.delenv("SEGTHOR_MODELS_PATH", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "No model packages are installed" in out and "SEGTHOR_MODELS_PATH" in out


def _bundled_packages() -> list:
    found = sorted(p.parent for p in MODELS_DIR.glob(f"*/{METADATA_FILE}"))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="no bundled model packages yet"))]


@pytest.mark.parametrize("folder", _bundled_packages())
def test_bundled_packages_load_and_carry_the_disclaimer(folder):
    package = load_model_package(folder)
    assert "not for clinical use" in package.disclaimer
    assert package.metadata.get("validation")


def test_segthor_models_through_the_real_entry_point(isolated_catalogue, capsys):
    from segthor.cli.main import main as segthor_main

    assert segthor_main(["models", "--json"]) == 0
    assert {m["id"] for m in json.loads(capsys.readouterr().out)} >= {DEFAULT_MODEL_ID, "my-enet"}
