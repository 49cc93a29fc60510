"""The model package contract: labels and class count must be the organ table's; frameworks are recorded."""

from __future__ import annotations

import json

import pytest

from segthor.errors import ModelError
from segthor.model_packages import METADATA_FILE, load_model_package, read_metadata, save_model_package
from segthor.model_packages.package import default_labels
from segthor.networks import build_network


@pytest.fixture
def package(tmp_path):
    return save_model_package(tmp_path / "p", build_network("enet", base_width=8), {"id": "p"})


def _rewrite(folder, **changes):
    meta = json.loads((folder / METADATA_FILE).read_text())
    meta.update(changes)
    (folder / METADATA_FILE).write_text(json.dumps(meta))


def test_saved_packages_record_labels_and_framework_versions(package):
    meta = read_metadata(package)
    assert meta["labels"] == default_labels()
    assert {"python", "segthor", "torch", "numpy", "safetensors"} <= set(meta["frameworks"])


def test_another_label_order_is_refused_with_one_line_naming_it(package):
    _rewrite(package, labels={"background": 0, "heart": 1, "esophagus": 2, "trachea": 3, "aorta": 4})
    with pytest.raises(ModelError) as info:
        load_model_package(package)
    message = str(info.value)
    assert "\n" not in message and METADATA_FILE in message
    assert "esophagus is 2 here but 1 in the organ table" in message and "heart is 1 here but 2" in message


def test_missing_or_unknown_labels_are_named(package):
    _rewrite(package, labels={"background": 0, "esophagus": 1, "heart": 2, "trachea": 3, "lung": 4})
    with pytest.raises(ModelError, match="missing aorta; unknown lung"):
        read_metadata(package)
    _rewrite(package, labels=["background", "esophagus"])
    with pytest.raises(ModelError, match="'labels' must map class names to channel numbers"):
        read_metadata(package)


def test_another_class_count_is_refused(tmp_path):
    net = build_network("enet", base_width=8, num_classes=6)
    with pytest.raises(ValueError, match="the network has 6 output classes but the organ table has 5"):
        save_model_package(tmp_path / "six", net, {"id": "six"})
    folder = save_model_package(tmp_path / "five", build_network("enet", base_width=8), {"id": "five"})
    meta = json.loads((folder / METADATA_FILE).read_text())
    _rewrite(folder, arguments={**meta["arguments"], "num_classes": 4})
    with pytest.raises(ModelError, match="has 4 output classes"):
        load_model_package(folder)


def test_a_package_without_labels_is_read_as_segthor_order(package):
    meta = json.loads((package / METADATA_FILE).read_text())
    del meta["labels"]
    (package / METADATA_FILE).write_text(json.dumps(meta))
    assert load_model_package(package).id == "p"


def test_the_bundled_packages_keep_the_contract():
    from pathlib import Path

    from segthor.model_packages.catalogue import list_models

    for info in list_models():
        assert "error" not in info, info["error"]
        read_metadata(Path(info["path"]))


def test_the_catalogue_shows_why_a_package_breaks_the_contract(package, monkeypatch):
    from segthor.model_packages import catalogue

    _rewrite(package, labels={"background": 0, "heart": 1, "esophagus": 2, "trachea": 3, "aorta": 4})
    monkeypatch.setenv(catalogue.ENV_VAR, str(package.parent))
    listed = [m for m in catalogue.list_models() if m["id"] == "p"]
    assert listed and "labels do not match the organ table" in listed[0]["error"]
