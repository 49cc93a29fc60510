"""Training building blocks: configs, split, sampling, augmentation, losses, optimisers, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segthor.errors import InputError
from segthor.io.volume import write_volume
from segthor.phantom import sample_case
from segthor.preprocessing import RECIPES
from segthor_training.augment import AugmentConfig, augment
from segthor_training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from segthor_training.config import apply_overrides, available_recipes, load_config
from segthor_training.dataset import Case, CaseFiles, load_case, load_or_make_split, split_patients
from segthor_training.losses import (
    CoarseToFineLoss,
    HardVoxelDiceLoss,
    MultiClassDiceLoss,
    WeightedCrossEntropyLoss,
    build_loss,
    hard_voxel_dice_loss,
)
from segthor_training.optim import build_optimizer, build_scheduler
from segthor_training.sampling import epoch_order, organ_slices, pad_stack, random_crop3d


def test_every_recipe_file_loads_and_builds_its_parts():
    names = available_recipes()
    assert {"sunet_seed000", "enet_seed004", "c2f3d_seed001", "sunet_se_ca_seed002", "enet_fast2d"} <= set(names)
    from segthor.preprocessing import get_recipe

    for name in names:
        config = load_config(name)
        get_recipe(config.preprocessing)
        build_loss(config.loss)
        AugmentConfig.from_dict(config.augmentation)
        opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config.optimizer)
        build_scheduler(opt, config.scheduler)
    sgd = load_config("sunet_seed000").optimizer
    assert sgd == {"name": "sgd", "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0005}
    assert load_config("enet_seed004").scheduler == {"name": "plateau", "factor": 0.5, "patience": 5}


def test_overrides_and_bad_configs():
    config = apply_overrides(
        load_config("enet_fast2d"),
        {"epochs": 3, "batch_size": None},
        ["optimizer.lr=0.05", "arguments.base_width=24", "loss.name=dice"],
    )
    assert config.epochs == 3 and config.batch_size == 8
    assert config.optimizer["lr"] == 0.05 and config.arguments["base_width"] == 24 and config.loss["name"] == "dice"
    with pytest.raises(InputError, match="unknown training option"):
        apply_overrides(config, sets=["learning_rate=1"])
    with pytest.raises(InputError, match="KEY=VALUE"):
        apply_overrides(config, sets=["epochs"])
    with pytest.raises(InputError, match="unknown training recipe"):
        load_config("no_such_recipe")


def test_patient_split_is_seeded_disjoint_and_saved(tmp_path):
    patients = [f"Patient_{i:02d}" for i in range(1, 11)]
    a = split_patients(patients, 0.2, seed=7)
    assert a == split_patients(list(reversed(patients)), 0.2, seed=7)
    assert len(a["validation"]) == 2 and not set(a["train"]) & set(a["validation"])
    assert sorted(a["train"] + a["validation"]) == patients
    assert split_patients(patients, 0.2, seed=8) != a
    saved = load_or_make_split(tmp_path, patients, 0.2, 7)
    assert json.loads((tmp_path / "split.json").read_text())["validation"] == saved["validation"]
    # A saved split wins over a new seed (resuming keeps the patients where they were).
    assert load_or_make_split(tmp_path, patients, 0.5, 99) == saved


def _case(seed=0, shape=(6, 20, 24)) -> Case:
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    labels[2:4, 5:12, 6:14] = 2
    labels[3, 14:16, 4:6] = 1
    return Case("P", rng.normal(size=shape).astype(np.float32), labels, (2.0, 2.0, 2.5))


def test_organ_slices_sampling_and_padding():
    cases = [_case(0), _case(1, (5, 16, 30))]
    assert organ_slices(cases) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert len(organ_slices(cases, organ_only=False)) == 11
    # 5 mm beyond the organ slices 2-3 at 2.5 mm: two slices each way, clipped to the volume (6 and 5 slices)
    assert organ_slices(cases, margin_mm=5.0) == [(0, z) for z in range(0, 6)] + [(1, z) for z in range(0, 5)]
    assert organ_slices(cases, margin_mm=2.4) == [(0, z) for z in range(2, 4)] + [(1, z) for z in range(2, 4)]
    assert organ_slices(cases, margin_mm=2.5) == [(0, z) for z in range(1, 5)] + [(1, z) for z in range(1, 5)]
    a, b = epoch_order(9, 0, 1, 0, 2), epoch_order(9, 0, 1, 1, 2)
    assert len(a) == len(b) == 4 and not set(a) & set(b)
    x, y = pad_stack([cases[0].image[2], cases[1].image[2]], [cases[0].labels[2], cases[1].labels[2]])
    assert x.shape == (2, 24, 32) and y.shape == (2, 24, 32)
    assert (y[0, :20, :24] == cases[0].labels[2]).all() and y[0, 20:].max() == 0
    image, labels = random_crop3d(cases[0], (4, 16, 16), np.random.default_rng(0), organ_probability=1.0)
    assert image.shape == labels.shape == (4, 16, 16) and labels.max() > 0


def test_augmentation_keeps_labels_and_shapes_and_is_off_when_asked():
    case = _case()
    rng = np.random.default_rng(0)
    off = AugmentConfig(affine_probability=0.0, elastic_probability=0.0)
    image, labels = augment(case.image[2], case.labels[2], rng, off)
    assert np.shares_memory(image, case.image) and np.shares_memory(labels, case.labels)
    on = AugmentConfig(affine_probability=1.0, elastic_probability=1.0, elastic_sigma_px=1.0)
    image, labels = augment(case.image[2], case.labels[2], rng, on)
    assert image.shape == case.image[2].shape and set(np.unique(labels)) <= {0, 1, 2}
    assert not np.allclose(image, case.image[2])
    image3, labels3 = augment(case.image, case.labels, rng, on)
    assert image3.shape == case.image.shape and labels3.dtype == np.uint8
    # With no rotation / scale / translation range, the affine alone is the identity (no hidden mirror).
    still = AugmentConfig(affine_probability=1.0, rotation_deg=0.0, scale_range=(1.0, 1.0), translation_px=0.0)
    image, labels = augment(case.image[2], case.labels[2], rng, still)
    np.testing.assert_allclose(image, case.image[2], atol=1e-5)
    np.testing.assert_array_equal(labels, case.labels[2])


def test_losses_score_perfect_and_wrong_predictions():
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[:, 2:5, 2:5] = 2
    target[:, 6, 6] = 1
    perfect = F.one_hot(target, 5).permute(0, 3, 1, 2).float() * 30
    wrong = F.one_hot((target + 1) % 5, 5).permute(0, 3, 1, 2).float() * 30
    dice = MultiClassDiceLoss()
    assert dice(perfect, target) < 0.01 and dice(wrong, target) > 0.7  # absent class 4 scores 1
    weights = [0.5, 3.0, 1.0, 3.0, 1.5]
    logits = torch.randn(2, 5, 8, 8)
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weights))
    assert torch.allclose(WeightedCrossEntropyLoss(weights)(logits, target), expected)
    hard = HardVoxelDiceLoss(hard_weight=4.0)
    assert hard(perfect, target) < 0.01 and hard(wrong, target) > 0.7
    # Hard-voxel weighting raises the loss of a prediction whose errors are confident.
    probs = torch.tensor([0.9, 0.9, 0.1, 0.2])
    truth = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert hard_voxel_dice_loss(probs, truth, 4.0) > hard_voxel_dice_loss(probs, truth, 0.0)
    logits.requires_grad_(True)
    build_loss({"name": "dice_ce"})(logits, target).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_coarse_to_fine_loss_uses_fine_outputs_only_when_enabled():
    outputs = {
        "coarse": torch.rand(1, 5, 2, 2, 2),
        "coarse_target": torch.rand(1, 5, 2, 2, 2),
        "fine_logits/heart": torch.full((1, 1, 4, 4, 4), -5.0),
        "fine_target/heart": torch.ones(1, 1, 4, 4, 4),
    }
    loss = CoarseToFineLoss()
    with_fine = loss(outputs)
    loss.fine_enabled = False
    assert with_fine > loss(outputs) + 0.5


def test_checkpoint_round_trip_restores_model_optimiser_and_scheduler(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    opt = build_optimizer(model.parameters(), {"name": "adamw", "lr": 0.01})
    sched = build_scheduler(opt, {"name": "plateau", "factor": 0.5, "patience": 0})
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(2, 1, 6, 6)).pow(2).mean().backward()
        opt.step()
    sched.step(1.0)
    sched.step(2.0)
    save_checkpoint(tmp_path / "last", model, opt, {"epoch": 3}, sched)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.json", "last.safetensors"]

    model2 = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    opt2 = build_optimizer(model2.parameters(), {"name": "adamw", "lr": 0.01})
    sched2 = build_scheduler(opt2, {"name": "plateau", "factor": 0.5, "patience": 0})
    assert load_checkpoint(tmp_path / "last", model2, opt2, sched2) == {"epoch": 3}
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert torch.equal(s1["state"][0]["exp_avg"], s2["state"][0]["exp_avg"])
    assert s2["param_groups"][0]["lr"] == pytest.approx(0.005) and sched2.num_bad_epochs == sched.num_bad_epochs

    (tmp_path / "last.safetensors").write_bytes(b"corrupt")
    with pytest.raises(InputError, match="does not match"):
        read_checkpoint(tmp_path / "last")


def test_segthor_train_says_how_to_get_the_training_package(monkeypatch):
    import argparse
    import sys

    from segthor.cli import train as train_cli
    from segthor.errors import SegthorError

    monkeypatch.setitem(sys.modules, "segthor_training.cli", None)  # as if not installed
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    with pytest.raises(SegthorError, match="pip install -e"):
        train_cli.run(parser.parse_args(["data", "-o", "out"]))


def test_ground_truth_that_does_not_fit_its_ct_is_refused(tmp_path):
    case = sample_case()
    image = write_volume(case.ct, tmp_path / "Patient_01.nii.gz")
    wrapped = case.labels.with_array(case.labels.array.astype(np.int16))
    wrapped.array[0, 0, 0] = 256  # would become 0 (background) in a uint8 cast
    bad_values = write_volume(wrapped, tmp_path / "GT_values.nii.gz")
    cropped = case.labels.with_array(case.labels.array)
    cropped.array = cropped.array[:-1]
    bad_shape = write_volume(cropped, tmp_path / "GT_shape.nii.gz")

    with pytest.raises(InputError, match="labels 0..256"):
        load_case(CaseFiles("Patient_01", image, bad_values), RECIPES["fast2d"])
    with pytest.raises(InputError, match="does not match its CT"):
        load_case(CaseFiles("Patient_01", image, bad_shape), RECIPES["fast2d"])


@pytest.mark.parametrize(
    "generator, expected",
    [
        ("segthor.phantom", True),
        ("segthor.phantom v2", True),
        ("segthor.phantomx", False),
        ("other", False),
        (None, False),
    ],
)
def test_data_summary_recognises_both_phantom_generators(tmp_path, generator, expected):
    from segthor_training.dataset import is_phantom

    (tmp_path / "Patient_01").mkdir()
    (tmp_path / "Patient_01" / "Patient_01.json").write_text(json.dumps({"generator": generator}))
    assert is_phantom(tmp_path, "Patient_01") is expected


def test_a_data_folder_without_cases_leaves_no_run_that_refuses_the_corrected_command(tmp_path):
    # `segthor train empty/ -o run/` used to write run/config.json before finding no case; the corrected
    # `segthor train data/ -o run/` was then refused ("already holds a training run").
    from segthor_training.trainer import CONFIG_FILE, train

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no SegTHOR-format cases"):
        train(tmp_path / "empty", tmp_path / "run", "enet_fast2d", device="cpu", progress=False)
    assert not (tmp_path / "run" / CONFIG_FILE).exists()


@pytest.mark.parametrize(
    "recipe, item, message",
    [
        ("enet_fast2d", "sampling.margin_mm=abc", "sampling.margin_mm must be a number of mm >= 0"),
        ("enet_fast2d", "sampling.margin_mm=-5", "sampling.margin_mm must be a number of mm >= 0"),
        ("enet_fast2d", "sampling.margin_mm=[60]", "sampling.margin_mm must be a number"),
        ("enet_fast2d", "sampling.margin_mm=true", "sampling.margin_mm must be a number"),
        ("enet_fast2d", "sampling.margn_mm=60", "sampling.margn_mm is unknown"),
        ("enet_fast2d", "sampling.crop_size=[8,32,32]", "sampling.crop_size applies to 3D networks only"),
        ("c2f3d_demo", "sampling.margin_mm=60", "sampling.margin_mm applies to 2D networks only"),
        ("c2f3d_demo", "sampling.organ_probability=2", "sampling.organ_probability must be a number in [0, 1]"),
        ("c2f3d_demo", "sampling.crop_size=[8,32]", "sampling.crop_size must be three positive voxel counts"),
        ("enet_fast2d", "epochs=abc", "epochs must be a whole number >= 1"),
        ("enet_fast2d", "epochs=0", "epochs must be a whole number >= 1"),
        ("enet_fast2d", "time_limit_minutes=-1", "time_limit_minutes must be null or a number of minutes > 0"),
        ("enet_fast2d", "threads=1.5", "threads must be null or a whole number >= 1"),
        ("enet_fast2d", "amp=1", "amp must be true or false"),
        ("enet_fast2d", "optimizer=3", "optimizer must be a JSON object"),
    ],
)
def test_bad_training_options_are_one_line_errors_that_leave_no_run_folder(tmp_path, recipe, item, message):
    # A new-user pass found `--set sampling.margin_mm=abc` (or inf, [60]) ending in a traceback after config.json
    # was written, leaving a folder refused both without and with --resume; -5, nan and true trained silently.
    from segthor_training.trainer import CONFIG_FILE, train

    data = tmp_path / "data"  # the config is checked before the data are looked at
    data.mkdir()
    with pytest.raises(InputError) as raised:
        train(data, tmp_path / "run", recipe, device="cpu", progress=False, sets=[item])
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "run" / CONFIG_FILE).exists()


def test_margin_adds_slices_beyond_the_ends_only():
    # Labels on slices 2-3 and 7 of 12 (5 mm): a 10 mm margin adds 0-1 and 8-9, not the label-free 4-6 between.
    labels = np.zeros((12, 4, 4), np.uint8)
    labels[2:4, 1, 1] = 1
    labels[7, 1, 1] = 2
    case = Case("P", np.zeros(labels.shape, np.float32), labels, (1.0, 1.0, 5.0))
    assert organ_slices([case], margin_mm=10.0) == [(0, z) for z in (0, 1, 2, 3, 7, 8, 9)]
    assert organ_slices([case], margin_mm=4.9) == [(0, z) for z in (2, 3, 7)]
