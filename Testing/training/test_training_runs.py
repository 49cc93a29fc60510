"""End-to-end training on a tiny cohort: train, interrupt + resume, export, two-process DDP, the CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from segthor.errors import InputError, SegthorError
from segthor.io.volume import read_volume
from segthor.model_packages import load_model_package
from segthor_training.distributed import weights_digest
from segthor_training.trainer import CHECKPOINTS, train

# Tiny networks so a step takes milliseconds on a 2-core CPU.
TINY_ENET = ["arguments.base_width=8"]

FAST = dict(epochs=2, steps_per_epoch=2, batch_size=4, progress=False)


def test_interrupted_run_resumes_to_the_same_weights_and_exports_a_loadable_package(tiny_cohort, tmp_path):
    straight = train(tiny_cohort, tmp_path / "a", "enet_fast2d", sets=TINY_ENET, **FAST)
    assert straight.epochs_done == 2 and straight.package_dir is not None

    # Stop after 3 optimiser steps (mid second epoch), as an interruption would, then resume.
    cut = train(tiny_cohort, tmp_path / "b", "enet_fast2d", sets=TINY_ENET, stop_after_steps=3, **FAST)
    assert cut.package_dir is None and cut.epochs_done == 1
    info = json.loads((tmp_path / "b" / CHECKPOINTS / "last.json").read_text())["info"]
    assert info["global_step"] == 3 and info["step_in_epoch"] == 1
    with pytest.raises(InputError, match="--resume"):
        train(tiny_cohort, tmp_path / "b", "enet_fast2d", sets=TINY_ENET, **FAST)
    resumed = train(tiny_cohort, tmp_path / "b", resume=True, progress=False)
    assert resumed.epochs_done == 2
    assert resumed.rank_digests == straight.rank_digests  # bit-identical to the uninterrupted run

    rows = list(csv.DictReader((tmp_path / "b" / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_loss", "val_loss", "dice_esophagus", "dice_heart", "dice_trachea", "dice_aorta"} <= set(rows[0])
    split = json.loads((tmp_path / "b" / "split.json").read_text())
    assert len(split["train"]) == 3 and len(split["validation"]) == 1

    package = load_model_package(resumed.package_dir)
    meta = package.metadata
    assert meta["architecture"] == "enet" and meta["preprocessing"]["name"] == "fast2d"
    assert set(meta["validation"]["dice"]) <= {"esophagus", "heart", "trachea", "aorta"}
    assert meta["validation"]["patients"] == split["validation"] and meta["training"]["steps"] == 4
    assert meta["training"]["sampling"] == {"organ_slices_only": True}  # what the slices were drawn from
    assert meta["postprocess_recommended"] == {} and "torch" in meta["frameworks"]
    assert not list((tmp_path / "b").rglob("*.pt")) and not list((tmp_path / "b").rglob("*.pth"))
    from segthor.preprocessing import Recipe, preprocess, restore_labels

    volume = read_volume(next(tiny_cohort.glob("Patient_01/Patient_01.nii.gz")))
    pre = preprocess(volume, Recipe.from_dict(meta["preprocessing"]))
    with torch.no_grad():
        logits = package.model(torch.from_numpy(pre.array[:, None]))
    labels = restore_labels(logits.argmax(1).to(torch.uint8).numpy(), pre.context)
    assert labels.shape == volume.array.shape


def test_two_processes_keep_identical_weights(tiny_cohort, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "segthor_training",
        str(tiny_cohort),
        "-o",
        str(out),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "3",
        "--batch-size",
        "2",
        "--no-progress",
        "--device",
        "cpu",
        *[f"--set={s}" for s in TINY_ENET],
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = json.loads((out / "ranks.json").read_text())
    assert ranks["world_size"] == 2 and len(ranks["digests"]) == 2
    assert ranks["digests"][0] == ranks["digests"][1]
    # ...and the shared weights are the trained ones, not the initial ones.
    from segthor.model_packages import read_metadata
    from segthor.networks import build_network

    meta = read_metadata(out / "model")
    torch.manual_seed(0)
    assert weights_digest(build_network("enet", **meta["arguments"])) != ranks["digests"][0]
    assert (out / "model" / "model.safetensors").is_file()


def test_coarse_to_fine_trains_in_both_stages_and_exports(tiny_cohort, tmp_path):
    result = train(
        tiny_cohort,
        tmp_path / "c2f",
        "c2f3d_seed001",
        epochs=2,
        steps_per_epoch=1,
        batch_size=1,
        sets=[
            "arguments.widths=[4,8,8,8]",
            "sampling.crop_size=[8,32,32]",
            "coarse_epochs=1",
            'preprocessing={"name": "tiny3d", "spacing": [4.0, 4.0, 5.0], "crop": "otsu_body"}',
        ],
        progress=False,
    )
    rows = list(csv.DictReader((tmp_path / "c2f" / "log.csv").open()))
    assert len(rows) == 2 and all(np.isfinite(float(r["train_loss"])) for r in rows)
    assert result.best_epoch == 2  # the coarse-only stage's loss never competes with the full network's
    package = load_model_package(result.package_dir)
    assert package.metadata["architecture"] == "c2f3d" and package.model.spatial_dims == 3


def test_cli_reports_user_errors(tmp_path, capsys):
    from segthor.cli.main import main

    assert main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", str(tmp_path / "empty"), "-o", str(tmp_path / "out2")]) == 2
    assert "Patient_XX" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "empty"), "-o", str(tmp_path / "o3"), "--recipe", "nope"]) == 2
    assert "unknown training recipe" in capsys.readouterr().err


def test_resume_without_a_run_is_refused(tiny_cohort, tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        train(tiny_cohort, tmp_path / "none", resume=True, progress=False)
    assert not Path(tmp_path / "none" / "config.json").exists()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("loss.name=nope", "unknown loss 'nope'"),
        ("preprocessing=nope", "unknown preprocessing recipe 'nope'"),
        ("augmentation.spin=1", "unknown augmentation key"),
        ("arguments.kernel=3", "does not take argument"),
    ],
)
def test_a_bad_config_entry_is_a_user_error_that_leaves_no_run_behind(tiny_cohort, tmp_path, bad, message):
    with pytest.raises(SegthorError, match=message):
        train(tiny_cohort, tmp_path / "bad", "enet_fast2d", sets=[bad], progress=False)
    assert not (tmp_path / "bad" / "config.json").exists()  # the corrected command can reuse the folder


def test_time_limit_ends_the_epoch_early_and_still_exports(tiny_cohort, tmp_path):
    result = train(
        tiny_cohort,
        tmp_path / "t",
        "enet_fast2d",
        epochs=5,
        steps_per_epoch=50,
        batch_size=2,
        sets=[*TINY_ENET, "time_limit_minutes=1e-6"],
        progress=False,
    )
    assert result.epochs_done == 1 and result.package_dir is not None
    info = json.loads((tmp_path / "t" / CHECKPOINTS / "last.json").read_text())["info"]
    assert info["global_step"] == 1
    assert len(list(csv.DictReader((tmp_path / "t" / "log.csv").open()))) == 1


def test_init_weights_starts_from_a_package_and_refuses_another_network(tiny_cohort, tmp_path):
    first = train(
        tiny_cohort,
        tmp_path / "a",
        "enet_fast2d",
        sets=TINY_ENET,
        export=True,
        **{**FAST, "epochs": 1, "steps_per_epoch": 1},
    )
    package = str(first.package_dir)
    # Zero training steps: the exported weights are the package's own (up to the float16 rounding of both).
    again = train(
        tiny_cohort,
        tmp_path / "b",
        "enet_fast2d",
        sets=TINY_ENET + [f"init_weights={json.dumps(package)}", "optimizer.lr=0"],
        **{**FAST, "epochs": 1, "steps_per_epoch": 1},
    )
    # Parameters only: batch-norm running statistics move in a training forward pass even at lr 0.
    a = dict(load_model_package(package).model.named_parameters())
    b = dict(load_model_package(again.package_dir).model.named_parameters())
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, atol=2e-3, rtol=2e-3)
    with pytest.raises(InputError, match="init_weights"):
        train(
            tiny_cohort,
            tmp_path / "c",
            "enet_fast2d",
            sets=[f"init_weights={json.dumps(package)}"],
            **{**FAST, "epochs": 1, "steps_per_epoch": 1},
        )
