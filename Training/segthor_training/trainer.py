"""The training loop: epochs of sampled batches, validation, best / last checkpoints, resume, CSV log, export.

`train(...)` is the Python API behind `segthor train` and `python -m segthor_training` (and torchrun).
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from segthor.errors import InputError
from segthor.io.atomic import write_text_atomic
from segthor.organs import ORGANS
from segthor_training import distributed as ddp
from segthor_training.appearance import thick_slice
from segthor_training.augment import AugmentConfig, augment
from segthor_training.checkpoint import load_checkpoint, save_checkpoint
from segthor_training.config import TrainConfig, apply_overrides, load_config
from segthor_training.dataset import Case, data_summary, find_cases, load_cases, load_or_make_split
from segthor_training.losses import build_loss
from segthor_training.optim import build_optimizer, build_scheduler, current_lr
from segthor_training.sampling import epoch_order, organ_slices, pad_stack, random_crop3d
from segthor_training.validation import as_input, validate

CONFIG_FILE = "config.json"
LOG_FILE = "log.csv"
CHECKPOINTS = "checkpoints"
PACKAGE_DIR = "model"


@dataclass
class TrainResult:
    output_dir: Path
    package_dir: Path | None
    epochs_done: int
    best_epoch: int
    best_loss: float
    validation_dice: dict[str, float] = field(default_factory=dict)
    rank_digests: list[str] = field(default_factory=list)


class TrainForward(nn.Module):
    """What DDP wraps: logits for 2D nets, the dict of `forward_train` outputs for the 3D net."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> Any:
        if getattr(self.net, "spatial_dims", 2) == 3:
            return self.net.forward_train(x, target)
        return self.net(x)


class BatchSource:
    """Builds the training batches of one rank: deterministic in (seed, epoch, rank, step), so resuming
    mid-epoch replays exactly the batches that were still to come."""

    def __init__(self, cases: list[Case], config: TrainConfig, spatial_dims: int, info: ddp.DistInfo):
        self.cases, self.config, self.info = cases, config, info
        self.spatial_dims = spatial_dims
        self.augment = AugmentConfig.from_dict(config.augmentation)
        self.hu_per_unit = hu_per_unit(config.preprocessing)
        sampling = config.sampling or {}
        self.crop_size = tuple(sampling.get("crop_size", (32, 128, 128)))
        self.organ_probability = float(sampling.get("organ_probability", 0.8))
        if spatial_dims == 2:
            self.items = organ_slices(cases, bool(sampling.get("organ_slices_only", True)))
            if not self.items:
                raise InputError("no training slice contains an organ; check the GT files (labels 1-4)")
        else:
            self.items = [(i, 0) for i in range(len(cases))]

    def steps(self) -> int:
        if self.config.steps_per_epoch:
            return int(self.config.steps_per_epoch)
        per_rank = max(1, len(self.items) // self.info.world)
        return max(1, math.ceil(per_rank / self.config.batch_size))

    def batch(self, epoch: int, step: int) -> tuple[np.ndarray, np.ndarray]:
        order = epoch_order(len(self.items), self.config.seed, epoch, self.info.rank, self.info.world)
        bs = self.config.batch_size
        picks = [order[(step * bs + k) % len(order)] for k in range(bs)]
        rng = np.random.default_rng([self.config.seed, epoch, self.info.rank, step])
        images, labels = [], []
        for p in picks:
            case_index, z = self.items[p]
            case = self.cases[case_index]
            if self.spatial_dims == 2:
                image, label = case.image[z], case.labels[z]
                if self.augment.appearance.active:
                    image = thick_slice(case.image, z, rng, self.augment.appearance)
            else:
                image, label = random_crop3d(case, self.crop_size, rng, self.organ_probability)
            if self.augment.active:
                image, label = augment(image, label, rng, self.augment, self.hu_per_unit)
            images.append(image)
            labels.append(label)
        return pad_stack(images, labels, 8 if self.spatial_dims == 2 else 1)


def hu_per_unit(preprocessing: Any) -> float:
    """HU per network-input unit of a preprocessing recipe: its fixed HU scale, or 500 for z-scored recipes
    (about the standard deviation of a chest CT's HU)."""
    from segthor.preprocessing import get_recipe

    recipe = get_recipe(preprocessing)
    return float(recipe.hu_scale) if recipe.normalize == "fixed" else 500.0


def _prepare_output(out: Path, resume: bool, info: ddp.DistInfo) -> None:
    last = out / CHECKPOINTS / "last.json"
    if resume and not last.is_file():
        raise InputError(f"--resume: {out} holds no checkpoint to resume ({last} is missing)")
    if not resume and (last.is_file() or (out / CONFIG_FILE).is_file()):
        raise InputError(f"{out} already holds a training run; add --resume to continue it, or pick a new folder")
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)


def _resolve_config(recipe: str | Path | TrainConfig, out: Path, resume: bool, overrides: dict[str, Any],
                    sets: list[str] | None) -> TrainConfig:
    if resume:
        base = load_config(out / CONFIG_FILE)
    else:
        base = recipe if isinstance(recipe, TrainConfig) else load_config(recipe)
    return apply_overrides(base, overrides, sets)


def _build_from_config(config: TrainConfig) -> tuple[Any, nn.Module, nn.Module]:
    """(preprocessing recipe, fresh network, loss) of `config`; InputError naming the bad entry otherwise."""
    from segthor.networks import build_network
    from segthor.preprocessing import get_recipe

    try:
        recipe = get_recipe(config.preprocessing)
        AugmentConfig.from_dict(config.augmentation)
        loss_fn = build_loss(config.loss)
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise InputError(f"training config {config.name!r}: {message}; fix the recipe file or the --set option"
                         ) from exc
    return recipe, build_network(config.architecture, **config.arguments), loss_fn


def _init_from_package(net: nn.Module, package: str) -> None:
    """Copy the weights of a model package (folder or catalogue id) into `net` (fine-tuning); InputError when
    the package holds another network or other arguments."""
    from segthor.errors import SegthorError
    from segthor.model_packages import load_model_package

    try:
        source = load_model_package(package, "cpu").model
        net.load_state_dict(source.state_dict(), strict=True)
    except (SegthorError, RuntimeError) as exc:
        raise InputError(f"init_weights {package!r} cannot start this network: {str(exc).splitlines()[0]}; "
                         "name a package of the same architecture and arguments") from exc


def _append_log(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def train(
    data_dir: str | Path,
    output: str | Path,
    recipe: str | Path | TrainConfig = "enet_fast2d",
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    steps_per_epoch: int | None = None,
    max_cases: int | None = None,
    model_id: str | None = None,
    sets: list[str] | None = None,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
    export: bool = True,
    stop_after_steps: int | None = None,
) -> TrainResult:
    """Train a network on a SegTHOR-format folder and export a model package to OUTPUT/model.

    `recipe` names a config in segthor_training/recipes (e.g. "sunet_seed000", "enet_fast2d") or is a path
    to a JSON config; keyword options override it. `resume=True` continues OUTPUT's last checkpoint (same
    config, split and sample order). `stop_after_steps` ends the run early after that many optimiser steps,
    saving `last` (used to test resuming; it behaves like an interruption).
    """
    from tqdm import tqdm

    out = Path(output)
    info, dev = ddp.setup(device)
    try:
        _prepare_output(out, resume, info)
        ddp.barrier(info)
        overrides = {"epochs": epochs, "batch_size": batch_size, "steps_per_epoch": steps_per_epoch,
                     "max_cases": max_cases, "model_id": model_id}
        config = _resolve_config(recipe, out, resume, overrides, sets)
        if lr is not None:
            config.optimizer = {**config.optimizer, "lr": float(lr)}
        if config.threads:
            torch.set_num_threads(int(config.threads))
        torch.manual_seed(config.seed)
        # Interpret the config before config.json is written: a typo in a recipe or --set must not leave a
        # folder that refuses a corrected run ("already holds a training run") and fails again on --resume.
        recipe_obj, net, loss_fn = _build_from_config(config)
        files = find_cases(data_dir)  # so is a data folder without cases
        if config.max_cases:
            files = files[: config.max_cases]
        if info.is_main:
            write_text_atomic(out / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
        if info.is_main:
            load_or_make_split(out, [f.patient for f in files], config.validation_fraction, config.split_seed)
        ddp.barrier(info)
        split = load_or_make_split(out, [f.patient for f in files], config.validation_fraction, config.split_seed)
        by_name = {f.patient: f for f in files}
        train_cases = load_cases([by_name[p] for p in split["train"]], recipe_obj)
        val_cases = load_cases([by_name[p] for p in split["validation"]], recipe_obj)

        if config.init_weights and not resume:
            _init_from_package(net, config.init_weights)
        net = net.to(dev)
        spatial_dims = int(getattr(net, "spatial_dims", 2))
        channels_last = bool(config.channels_last and spatial_dims == 2)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        wrapper: nn.Module = TrainForward(net)
        if info.enabled:
            wrapper = nn.parallel.DistributedDataParallel(
                wrapper, device_ids=[dev.index] if dev.type == "cuda" else None,
                find_unused_parameters=spatial_dims == 3)
        use_amp = bool(config.amp and dev.type == "cuda")
        optimizer = build_optimizer(net.parameters(), config.optimizer)
        scheduler = build_scheduler(optimizer, config.scheduler)
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        loss_fn = loss_fn.to(dev)
        source = BatchSource(train_cases, config, spatial_dims, info)

        state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_loss": math.inf, "best_epoch": -1,
                 "validation_dice": {}}
        if resume:
            state.update(load_checkpoint(out / CHECKPOINTS / "last", net, optimizer, scheduler, scaler))
        ckpt = out / CHECKPOINTS
        steps_done_now = 0
        interrupted = False
        run_started = time.perf_counter()
        limit = config.time_limit_minutes
        time_up = False

        for epoch in range(int(state["epoch"]), config.epochs):
            started = time.perf_counter()
            first = int(state["step_in_epoch"])
            if hasattr(loss_fn, "fine_enabled"):
                loss_fn.fine_enabled = epoch >= config.coarse_epochs
                if epoch == config.coarse_epochs and first == 0 and scheduler is not None:
                    scheduler = build_scheduler(optimizer, config.scheduler)  # a fresh plateau for the new loss
            wrapper.train()
            n_steps = source.steps()
            bar = tqdm(range(first, n_steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                       disable=not (progress and info.is_main), leave=False, mininterval=2.0)
            losses = []
            try:
                for step in bar:
                    x_np, y_np = source.batch(epoch, step)
                    x = as_input(x_np, dev, channels_last)
                    y = torch.from_numpy(y_np).to(dev)
                    with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                        outputs = wrapper(x, y)
                    loss = loss_fn(outputs, y) if spatial_dims == 3 else loss_fn(outputs.float(), y)
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    losses.append(float(loss.detach()))
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
                    state["global_step"] = int(state["global_step"]) + 1
                    state["step_in_epoch"] = step + 1
                    steps_done_now += 1
                    at_checkpoint = config.checkpoint_steps and state["global_step"] % config.checkpoint_steps == 0
                    if stop_after_steps is not None and steps_done_now >= stop_after_steps:
                        interrupted = True
                    if info.is_main and (at_checkpoint or interrupted):
                        save_checkpoint(ckpt / "last", net, optimizer, state, scheduler, scaler)
                    if interrupted:
                        break
                    if limit and ddp.broadcast_object(time.perf_counter() - run_started > 60 * limit, info):
                        time_up = True  # end this epoch early (validate, checkpoint, log), then stop
                        break
            except KeyboardInterrupt:
                # Ctrl-C: keep every finished step (state counts them); --resume continues from there.
                if info.is_main:
                    save_checkpoint(ckpt / "last", net, optimizer, state, scheduler, scaler)
                raise
            bar.close()
            if interrupted:
                break
            ddp.sync_buffers(net, info)
            train_loss = ddp.mean_across(float(np.mean(losses)) if losses else math.nan, info, dev)
            if info.is_main and val_cases:
                val_loss, dice = validate(net, val_cases, loss_fn, dev, config.validation_batch, channels_last,
                                          use_amp)
            else:
                val_loss, dice = (train_loss, {}) if not val_cases else (math.nan, {})
            val_loss, dice = ddp.broadcast_object((val_loss, dice), info)
            criterion = val_loss if math.isfinite(val_loss) else train_loss
            if scheduler is not None:
                scheduler.step(criterion)
            state.update(epoch=epoch + 1, step_in_epoch=0)
            stage = "coarse" if epoch < config.coarse_epochs else "full"
            best_stage = state.get("best_stage") or ("coarse" if 0 < state["best_epoch"] <= config.coarse_epochs
                                                     else "full")
            if best_stage != stage:
                # The coarse-only loss of c2f3d's first stage is not comparable with the full loss: the best
                # model of the full network is chosen among full-stage epochs only.
                state["best_loss"] = math.inf
            if criterion < state["best_loss"]:
                state.update(best_loss=float(criterion), best_epoch=epoch + 1, validation_dice=dice, best_stage=stage)
                if info.is_main:
                    save_checkpoint(ckpt / "best", net, optimizer, state, scheduler, scaler)
            if info.is_main:
                save_checkpoint(ckpt / "last", net, optimizer, state, scheduler, scaler)
                row = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "val_loss": round(val_loss, 5),
                       "lr": current_lr(optimizer),
                       **{f"dice_{o.key}": round(dice.get(o.key, math.nan), 4) for o in ORGANS},
                       "seconds": round(time.perf_counter() - started, 1)}
                _append_log(out / LOG_FILE, row)
                if progress:
                    organs = " ".join(f"{k}={v:.3f}" for k, v in dice.items())
                    print(f"epoch {epoch + 1}: train {train_loss:.4f} val {val_loss:.4f} {organs}", flush=True)
            if time_up:
                if info.is_main and progress:
                    print(f"time limit of {limit} min reached after epoch {epoch + 1}; stopping", flush=True)
                break

        ddp.barrier(info)
        digests = ddp.gather_digests(net, info)
        package = None
        if info.is_main:
            write_text_atomic(out / "ranks.json", json.dumps({"world_size": info.world, "digests": digests}) + "\n")
            if export and not interrupted and (ckpt / "best.json").is_file():
                from segthor_training.export import export_package

                package = export_package(out, config, ckpt / "best", data_dir,
                                         data_summary(Path(data_dir), split, train_cases + val_cases),
                                         validation_files=[by_name[p] for p in split["validation"]])
        return TrainResult(out, package, int(state["epoch"]), int(state["best_epoch"]), float(state["best_loss"]),
                           dict(state.get("validation_dice", {})), digests)
    finally:
        ddp.teardown(info)
