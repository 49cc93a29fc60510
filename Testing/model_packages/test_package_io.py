"""Model packages: save -> load round trip, float16 storage, integrity checks, pickle refusal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from segthor.errors import ModelError
from segthor.model_packages import (
    DEMO_DISCLAIMER,
    METADATA_FILE,
    WEIGHTS_FILE,
    load_model_package,
    save_model_package,
)
from segthor.networks import build_network
from segthor.organs import ORGANS


def _trained_looking(net: torch.nn.Module) -> torch.nn.Module:
    """Give batch-norm statistics non-default values so a lost buffer would show in the outputs."""
    torch.manual_seed(1)
    for name, buffer in net.named_buffers():
        if name.endswith("running_mean"):
            buffer.normal_(0, 0.1)
        elif name.endswith("running_var"):
            buffer.uniform_(0.5, 1.5)
    return net.eval()


def _meta(model_id: str = "tiny") -> dict:
    return {
        "id": model_id,
        "preprocessing": {"name": "zscore", "clip": [-1000, 1000]},
        "training": {"data": "3 phantom cases", "epochs": 1},
        "validation": {"dice": {"heart": 0.9}},
        "disclaimer": DEMO_DISCLAIMER,
    }


@pytest.fixture
def enet_package(tmp_path: Path):
    net = _trained_looking(build_network("enet", base_width=8))
    return net, save_model_package(tmp_path / "tiny", net, _meta())


def test_round_trip_gives_identical_outputs_and_complete_metadata(enet_package):
    net, folder = enet_package
    assert sorted(p.name for p in folder.iterdir()) == [METADATA_FILE, WEIGHTS_FILE]
    package = load_model_package(folder)
    assert not package.model.training
    x = torch.randn(2, 1, 40, 36)
    with torch.inference_mode():
        assert torch.equal(net(x), package.model(x))
    meta = package.metadata
    assert meta["architecture"] == "enet" and meta["arguments"]["base_width"] == 8
    assert meta["labels"] == {"background": 0, **{o.key: o.label for o in ORGANS}}
    assert meta["parameters"] == sum(p.numel() for p in net.parameters())
    assert len(meta["sha256"]) == 64 and meta["dtype"] == "float32"
    assert meta["preprocessing"] == {"name": "zscore", "clip": [-1000, 1000]}
    assert meta["disclaimer"] == DEMO_DISCLAIMER and meta["created"] and meta["version"]
    assert package.id == "tiny" and package.path == folder


def test_3d_network_round_trip(tmp_path):
    net = _trained_looking(build_network("c2f3d", widths=[4, 8, 8, 16]))
    package = load_model_package(save_model_package(tmp_path / "c2f", net, _meta("c2f")), device="auto")
    x = torch.randn(1, 1, 8, 24, 24)
    with torch.inference_mode():
        assert torch.equal(net(x), package.model.cpu()(x))
    assert package.model.spatial_dims == 3


def test_float16_storage_loads_into_a_float32_network(tmp_path, enet_package):
    net, full = enet_package
    half = save_model_package(tmp_path / "half", net, _meta(), dtype="float16")
    size_ratio = (half / WEIGHTS_FILE).stat().st_size / (full / WEIGHTS_FILE).stat().st_size
    assert 0.45 < size_ratio < 0.6
    package = load_model_package(half)
    assert all(p.dtype == torch.float32 for p in package.model.parameters())
    assert package.metadata["dtype"] == "float16"
    x = torch.randn(1, 1, 32, 32)
    with torch.inference_mode():
        a, b = net(x), package.model(x)
    assert not torch.equal(a, b)  # really stored at lower precision...
    assert torch.allclose(a, b, atol=0.05 * a.abs().max().item())  # ...but the same model


def test_tampered_weights_are_refused(enet_package):
    _, folder = enet_package
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model\.safetensors does not match the sha256"):
        load_model_package(folder)


def test_truncated_weights_with_matching_hash_are_reported_as_unreadable(enet_package):
    _, folder = enet_package
    weights = folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    meta = json.loads((folder / METADATA_FILE).read_text())
    meta["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (folder / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_model_package(folder)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".pkl"])
def test_pickled_checkpoints_are_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ModelError, match="(?i)pickle.*convert it to a model package"):
        load_model_package(path)


def test_a_pickle_renamed_to_safetensors_is_refused_before_unpickling(enet_package):
    _, folder = enet_package
    torch.save(build_network("enet", base_width=8).state_dict(), folder / WEIGHTS_FILE)
    with pytest.raises(ModelError, match="pickled PyTorch checkpoint"):
        load_model_package(folder)


def test_missing_and_corrupt_files_name_the_file(enet_package, tmp_path):
    _, folder = enet_package
    (folder / METADATA_FILE).write_text("{not json")
    with pytest.raises(ModelError, match=r"model\.json is not valid JSON"):
        load_model_package(folder)
    (folder / METADATA_FILE).unlink()
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        load_model_package(folder)
    with pytest.raises(ModelError, match="does not exist"):
        load_model_package(tmp_path / "nowhere" / "pkg")


def test_weights_from_another_model_are_refused(tmp_path):
    enet = save_model_package(tmp_path / "a", build_network("enet", base_width=8), _meta("a"))
    wider = save_model_package(tmp_path / "b", build_network("enet", base_width=16), _meta("b"))
    meta = json.loads((wider / METADATA_FILE).read_text())
    meta["sha256"] = json.loads((enet / METADATA_FILE).read_text())["sha256"]
    (wider / METADATA_FILE).write_text(json.dumps(meta))
    (wider / WEIGHTS_FILE).write_bytes((enet / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ModelError, match="does not fit the 'enet' network"):
        load_model_package(wider)
    meta["architecture"] = "transformer"
    (wider / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="unknown network architecture 'transformer'"):
        load_model_package(wider)


def test_save_validates_its_inputs(tmp_path):
    net = build_network("enet", base_width=8)
    with pytest.raises(ValueError, match="id"):
        save_model_package(tmp_path / "x", net, {})
    with pytest.raises(ValueError, match="dtype"):
        save_model_package(tmp_path / "x", net, {"id": "x"}, dtype="int8")
    with pytest.raises(ValueError, match="arguments"):
        save_model_package(tmp_path / "x", net, {"id": "x", "arguments": {"base_width": 16}})
    with pytest.raises(ValueError, match="architecture"):
        save_model_package(tmp_path / "x", net, {"id": "x", "architecture": "sunet"})
    with pytest.raises(TypeError, match="JSON serializable"):
        save_model_package(tmp_path / "x", net, {"id": "x", "training": {"when": object()}})
    assert not (tmp_path / "x").exists()


def test_weights_file_must_stay_inside_the_package(enet_package):
    _, folder = enet_package
    meta = json.loads((folder / METADATA_FILE).read_text())
    meta["weights_file"] = "../elsewhere.safetensors"
    (folder / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="weights_file must be a file name"):
        load_model_package(folder)


def test_a_training_run_folder_given_as_model_points_at_its_package(enet_package, tmp_path):
    import shutil

    _, folder = enet_package
    run = tmp_path / "run"
    shutil.copytree(folder, run / "model")
    with pytest.raises(ModelError, match=r"looks like a training run: give its package folder .*run[/\\]model"):
        load_model_package(run)
    assert load_model_package(run / "model").metadata["id"]
