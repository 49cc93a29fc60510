"""The training loop: epochs of sampled batches, validation, best / last checkpoints, resume, CSV log, export.

`train(...)` is the Python API behind `segthor train` and `python -m segthor_training` (and torchrun); it runs
a `Trainer`, whose hooks (`on_run_start`, `on_epoch_start`, `train_step`, `validation_step`, `on_epoch_end`,
`on_run_end`) a subclass overrides: `segthor_training.coarse_to_fine.CoarseToFineTrainer` adds [Zhang2019]'s two
stages. Losses, optimisers, schedulers and trainers are looked up in `segthor_training.registry`.
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
from segthor.preprocessing.slice_context import CENTRE_ONLY, slice_positions
from segthor_training import distributed as ddp
from segthor_training.appearance import thick_slice, thick_stack
from segthor_training.augment import AugmentConfig, augment
from segthor_training.checkpoint import load_checkpoint, save_checkpoint
from segthor_training.config import TrainConfig, apply_overrides, load_config
from segthor_training.dataset import Case, CaseFiles, data_summary, find_cases, load_cases, load_or_make_split
from segthor_training.losses import build_loss
from segthor_training.optim import build_optimizer, build_scheduler, current_lr
from segthor_training.registry import TRAINERS
from segthor_training.sampling import check_sampling, epoch_order, organ_slices, pad_stack, random_crop3d
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
    """What DDP wraps: the network's training outputs for a batch (here its logits; a trainer that needs other
    outputs, such as the coarse-to-fine net's `forward_train` dict, wraps the network in a subclass)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> Any:
        return self.net(x)


@dataclass
class EpochRecord:
    """What one finished epoch measured, as `Trainer.on_epoch_end` receives it (the same on every rank)."""

    epoch: int  # 0-based; the log and the checkpoints count from 1
    train_loss: float  # mean over this epoch's steps and ranks (NaN when the epoch ran no step)
    val_loss: float  # on the validation patients; NaN without any
    dice: dict[str, float]  # validation 3D Dice per organ key (empty without validation patients)
    started: float  # time.perf_counter() when the epoch began (the log's `seconds` counts from it)


class BatchSource:
    """Builds the training batches of one rank: deterministic in (seed, epoch, rank, step), so resuming
    mid-epoch replays exactly the batches that were still to come."""

    def __init__(
        self,
        cases: list[Case],
        config: TrainConfig,
        spatial_dims: int,
        info: ddp.DistInfo,
        slice_offsets_mm: tuple[float, ...] = CENTRE_ONLY,
    ):
        self.cases, self.config, self.info = cases, config, info
        # A 2.5D net's slices come with their neighbours as channels (C, y, x), as its inferer builds them.
        self.slice_offsets_mm = tuple(slice_offsets_mm)
        # Branching on the network kind is a sampling choice here (2D nets train on axial slices, 3D nets on
        # random crops); how a net is run over a whole volume (validation, inference) is the inferer's job.
        self.spatial_dims = spatial_dims
        self.augment = AugmentConfig.from_dict(config.augmentation)
        self.hu_per_unit = hu_per_unit(config.preprocessing)
        sampling = config.sampling or {}
        self.crop_size = tuple(sampling.get("crop_size", (32, 128, 128)))
        self.organ_probability = float(sampling.get("organ_probability", 0.8))
        if spatial_dims == 2:
            self.items = organ_slices(
                cases, bool(sampling.get("organ_slices_only", True)), float(sampling.get("margin_mm", 0.0))
            )
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
            channel_labels = None
            if self.spatial_dims == 2 and self.slice_offsets_mm != CENTRE_ONLY:
                label = case.labels[z]
                positions = slice_positions(np.array([z]), self.slice_offsets_mm, float(case.spacing[2]))[0]
                image = thick_stack(case.image, positions, rng, self.augment.appearance)
                # Each channel's own organs (the nearest slice's) for the appearance's per-organ HU shifts.
                nearest = np.clip(np.rint(positions), 0, case.labels.shape[0] - 1).astype(np.intp)
                channel_labels = case.labels[nearest]
            elif self.spatial_dims == 2:
                image, label = case.image[z], case.labels[z]
                if self.augment.appearance.active:
                    image = thick_slice(case.image, z, rng, self.augment.appearance)
            else:
                image, label = random_crop3d(case, self.crop_size, rng, self.organ_probability)
            if self.augment.active:
                image, label = augment(image, label, rng, self.augment, self.hu_per_unit, channel_labels)
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


def _resolve_config(
    recipe: str | Path | TrainConfig, out: Path, resume: bool, overrides: dict[str, Any], sets: list[str] | None
) -> TrainConfig:
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
        config.check()
        recipe = get_recipe(config.preprocessing)
        AugmentConfig.from_dict(config.augmentation)
        loss_fn = build_loss(config.loss)
        # Optimiser and scheduler are built on the real parameters later; check their names and arguments now.
        build_scheduler(build_optimizer([nn.Parameter(torch.zeros(1))], config.optimizer), config.scheduler)
        net = build_network(config.architecture, **config.arguments)
        check_sampling(config.sampling, int(getattr(net, "spatial_dims", 2)))
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise InputError(
            f"training config {config.name!r}: {message}; fix the training config file or the --set option"
        ) from exc
    return recipe, net, loss_fn


def _init_from_package(net: nn.Module, package: str) -> None:
    """Copy the weights of a model package (folder or catalogue id) into `net` (fine-tuning); InputError when
    the package holds another network or other arguments."""
    from segthor.errors import SegthorError
    from segthor.model_packages import load_model_package

    try:
        source = load_model_package(package, "cpu").model
        offsets = tuple(getattr(net, "slice_offsets_mm", CENTRE_ONLY))
        net.load_state_dict(widen_input_channels(source.state_dict(), net.state_dict(), offsets), strict=True)
    except (SegthorError, RuntimeError) as exc:
        raise InputError(
            f"init_weights {package!r} cannot start this network: {str(exc).splitlines()[0]}; "
            "name a package of the same architecture and arguments"
        ) from exc


def widen_input_channels(
    source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], offsets_mm: tuple[float, ...]
) -> dict[str, torch.Tensor]:
    """`source` weights for a net of `target`'s shapes whose input channels are the slices at `offsets_mm`: a
    tensor of one input channel (dim 1 of size 1) where the target has one per offset goes to the offset-0
    channel, the others zero, so a 1-channel 2D net starts its 2.5D version (`ENet(slice_offsets_mm=...)`)
    computing exactly what it computed. Every other tensor is passed on as it is (`load_state_dict` reports any
    other mismatch)."""
    out = dict(source)
    if len(offsets_mm) < 2:
        return out
    centre = offsets_mm.index(0.0)
    for key, weight in source.items():
        want = target.get(key)
        if (
            want is not None
            and weight.ndim >= 2
            and weight.shape[1] == 1
            and want.shape[1] == len(offsets_mm)
            and weight.shape[:1] + weight.shape[2:] == want.shape[:1] + want.shape[2:]
        ):
            wide = torch.zeros(want.shape, dtype=weight.dtype)
            wide[:, centre] = weight[:, 0]
            out[key] = wide
    return out


def _append_log(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


class Trainer:
    """One training run of `config` on `data_dir`, written to `out`; `run()` returns its `TrainResult`.

    The loop is fixed (epochs of `steps` batches, checkpoints, resume, DDP, AMP, the time limit); what happens
    in it is a hook a subclass overrides, calling `super()` to keep the base behaviour:

    - `on_run_start()`: after the network, optimiser and data are ready (and a resumed state restored).
    - `on_epoch_start(epoch, first_step)`: before the epoch's first step (`first_step` > 0 when resuming
      mid-epoch).
    - `train_step(images, labels) -> float`: one optimiser step on a numpy batch ([N, y, x] slices or
      [N, z, y, x] crops, network-input units; int labels of the organ table); returns the loss.
    - `validation_step(epoch) -> (loss, dice per organ)`: on rank 0 only, after the epoch's steps.
    - `on_epoch_end(record)`: every finished epoch, on every rank; the base steps the scheduler, keeps the
      best checkpoint (lowest validation loss among epochs of the same `stage`), saves `last`, logs a CSV row.
    - `on_run_end() -> TrainResult`: after the last epoch (or an interruption); the base exports the package.

    Smaller hooks: `forward_module` (what DDP wraps), `compute_loss`, `make_scheduler`, `stage`,
    `initialise_weights`. Interruptions (`stop_after_steps`, Ctrl-C) save `last` and skip the epoch end.
    """

    find_unused_parameters = False  # DDP: True when some parameters get no gradient in some steps

    def __init__(
        self,
        config: TrainConfig,
        data_dir: str | Path,
        out: Path,
        *,
        info: ddp.DistInfo,
        device: torch.device,
        resume: bool = False,
        progress: bool = True,
        export: bool = True,
        stop_after_steps: int | None = None,
    ):
        self.config, self.data_dir, self.out = config, data_dir, Path(out)
        self.info, self.device, self.resume = info, device, resume
        self.progress, self.export, self.stop_after_steps = progress, export, stop_after_steps
        self.checkpoints = self.out / CHECKPOINTS
        self.state: dict[str, Any] = {
            "epoch": 0,
            "step_in_epoch": 0,
            "global_step": 0,
            "best_loss": math.inf,
            "best_epoch": -1,
            "validation_dice": {},
        }
        self.interrupted = False  # stop_after_steps reached: `last` saved, no epoch end, no export
        self.time_up = False  # time_limit_minutes passed: the epoch ends early, then the run stops
        self.steps_done_now = 0
        self.scheduler: Any = None

    # -- set-up ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        """Interpret the config, write config.json and the split, load the cases, build network, optimiser,
        scheduler, scaler and batch source; restore `last` when resuming. Ends with `on_run_start()`."""
        config, info, dev = self.config, self.info, self.device
        if config.threads:
            torch.set_num_threads(int(config.threads))
        torch.manual_seed(config.seed)
        # Interpret the config before config.json is written: a typo in a training config or --set must not leave a
        # folder that refuses a corrected run ("already holds a training run") and fails again on --resume.
        self.recipe, net, loss_fn = _build_from_config(config)
        files = find_cases(self.data_dir)  # so is a data folder without cases
        if config.max_cases:
            files = files[: config.max_cases]
        if info.is_main:
            write_text_atomic(self.out / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
        self._load_data(files)
        self.initialise_weights(net)
        self.net = net.to(dev)
        self.spatial_dims = int(getattr(net, "spatial_dims", 2))
        self.channels_last = bool(config.channels_last and self.spatial_dims == 2)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        wrapper: nn.Module = self.forward_module(self.net)
        if info.enabled:
            wrapper = nn.parallel.DistributedDataParallel(
                wrapper,
                device_ids=[dev.index] if dev.type == "cuda" else None,
                find_unused_parameters=self.find_unused_parameters,
            )
        self.model = wrapper
        self.use_amp = bool(config.amp and dev.type == "cuda")
        self.optimizer = build_optimizer(self.net.parameters(), config.optimizer)
        self.scheduler = self.make_scheduler()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.loss_fn = loss_fn.to(dev)
        self.slice_offsets_mm = tuple(getattr(net, "slice_offsets_mm", CENTRE_ONLY))
        self.source = BatchSource(self.train_cases, config, self.spatial_dims, info, self.slice_offsets_mm)
        if self.resume:
            self.state.update(
                load_checkpoint(self.checkpoints / "last", self.net, self.optimizer, self.scheduler, self.scaler)
            )
        self.on_run_start()

    def _load_data(self, files: list[CaseFiles]) -> None:
        """The patient split (made once, saved in the run folder) and the preprocessed cases of each side."""
        config, info = self.config, self.info
        if info.is_main:
            load_or_make_split(self.out, [f.patient for f in files], config.validation_fraction, config.split_seed)
        ddp.barrier(info)
        self.split = load_or_make_split(
            self.out, [f.patient for f in files], config.validation_fraction, config.split_seed
        )
        self.files_by_patient = {f.patient: f for f in files}
        self.train_cases = load_cases([self.files_by_patient[p] for p in self.split["train"]], self.recipe)
        self.val_cases = load_cases([self.files_by_patient[p] for p in self.split["validation"]], self.recipe)

    # -- hooks -------------------------------------------------------------------------------------------
    def initialise_weights(self, net: nn.Module) -> None:
        """Called on the freshly built (Xavier-initialised) network, on the CPU, before a resume would load
        `last` over it. The base copies the weights of the training config's `init_weights` package when it names one
        (fine-tuning; not on resume, where `last` holds the weights) and keeps the fresh ones otherwise."""
        if self.config.init_weights and not self.resume:
            _init_from_package(net, self.config.init_weights)

    def forward_module(self, net: nn.Module) -> nn.Module:
        """The module DDP wraps: `module(x, target)` returns what `compute_loss` takes."""
        return TrainForward(net)

    def compute_loss(self, outputs: Any, labels: torch.Tensor) -> torch.Tensor:
        """The training loss of `forward_module`'s outputs (logits, in float32 for a stable softmax)."""
        return self.loss_fn(outputs.float(), labels)

    def make_scheduler(self) -> Any:
        return build_scheduler(self.optimizer, self.config.scheduler)

    def stage(self, epoch: int) -> str:
        """Name of the training stage of `epoch` (0-based); best checkpoints compete within a stage only."""
        return "full"

    def on_run_start(self) -> None:
        """After `setup`, before the first epoch."""

    def on_epoch_start(self, epoch: int, first_step: int) -> None:
        """Before the first step of `epoch` (0-based); `first_step` > 0 when a resumed run re-enters it."""

    def train_step(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Forward, loss, backward and one optimiser step (AMP and gradient scaling on CUDA); the loss."""
        x = as_input(images, self.device, self.channels_last, self.slice_offsets_mm != CENTRE_ONLY)
        y = torch.from_numpy(labels).to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.use_amp):
            outputs = self.model(x, y)
        loss = self.compute_loss(outputs, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def validation_step(self, epoch: int) -> tuple[float, dict[str, float]]:
        """(validation loss, mean 3D Dice per organ) on the validation patients; rank 0 only."""
        return validate(
            self.net,
            self.val_cases,
            self.loss_fn,
            self.device,
            self.config.validation_batch,
            self.channels_last,
            self.use_amp,
        )

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Scheduler step, best and last checkpoints, the CSV row and the printed line of `record`."""
        config, state, info = self.config, self.state, self.info
        epoch = record.epoch
        criterion = record.val_loss if math.isfinite(record.val_loss) else record.train_loss
        if self.scheduler is not None:
            self.scheduler.step(criterion)
        state.update(epoch=epoch + 1, step_in_epoch=0)
        stage = self.stage(epoch)
        best_epoch = int(state["best_epoch"])
        best_stage = state.get("best_stage") or (self.stage(best_epoch - 1) if best_epoch > 0 else stage)
        if best_stage != stage:
            # Losses of different stages are not comparable (c2f3d's coarse-only loss against the full one):
            # the best model is chosen among the current stage's epochs only.
            state["best_loss"] = math.inf
        if criterion < state["best_loss"]:
            state.update(
                best_loss=float(criterion), best_epoch=epoch + 1, validation_dice=record.dice, best_stage=stage
            )
            if info.is_main:
                self.save_checkpoint("best")
        if info.is_main:
            self.save_checkpoint("last")
            row = {
                "epoch": epoch + 1,
                "train_loss": round(record.train_loss, 5),
                "val_loss": round(record.val_loss, 5),
                "lr": current_lr(self.optimizer),
                **{f"dice_{o.key}": round(record.dice.get(o.key, math.nan), 4) for o in ORGANS},
                "seconds": round(time.perf_counter() - record.started, 1),
            }
            _append_log(self.out / LOG_FILE, row)
            if self.progress:
                organs = " ".join(f"{k}={v:.3f}" for k, v in record.dice.items())
                print(
                    f"epoch {epoch + 1}: train {record.train_loss:.4f} val {record.val_loss:.4f} {organs}", flush=True
                )
        if self.time_up and info.is_main and self.progress:
            print(
                f"time limit of {config.time_limit_minutes} min reached after epoch {epoch + 1}; stopping", flush=True
            )

    def on_run_end(self) -> TrainResult:
        """Weight digests of every rank (ranks.json), then the package export from `best` (rank 0)."""
        info, state = self.info, self.state
        ddp.barrier(info)
        digests = ddp.gather_digests(self.net, info)
        package = None
        if info.is_main:
            write_text_atomic(
                self.out / "ranks.json", json.dumps({"world_size": info.world, "digests": digests}) + "\n"
            )
            if self.export and not self.interrupted and (self.checkpoints / "best.json").is_file():
                from segthor_training.export import export_package

                split, by_name = self.split, self.files_by_patient
                package = export_package(
                    self.out,
                    self.config,
                    self.checkpoints / "best",
                    self.data_dir,
                    data_summary(Path(self.data_dir), split, self.train_cases + self.val_cases),
                    validation_files=[by_name[p] for p in split["validation"]],
                )
        return TrainResult(
            self.out,
            package,
            int(state["epoch"]),
            int(state["best_epoch"]),
            float(state["best_loss"]),
            dict(state.get("validation_dice", {})),
            digests,
        )

    # -- the loop ----------------------------------------------------------------------------------------
    def save_checkpoint(self, name: str) -> None:
        save_checkpoint(self.checkpoints / name, self.net, self.optimizer, self.state, self.scheduler, self.scaler)

    def run(self) -> TrainResult:
        """`setup`, then the epochs from the saved state to `config.epochs`, then `on_run_end`."""
        self.setup()
        self.run_started = time.perf_counter()
        for epoch in range(int(self.state["epoch"]), self.config.epochs):
            started = time.perf_counter()
            self.on_epoch_start(epoch, int(self.state["step_in_epoch"]))
            losses = self._train_epoch(epoch)
            if self.interrupted:
                break
            self.on_epoch_end(self._measure_epoch(epoch, losses, started))
            if self.time_up:
                break
        return self.on_run_end()

    def _train_epoch(self, epoch: int) -> list[float]:
        from tqdm import tqdm

        config, state, info = self.config, self.state, self.info
        self.model.train()
        limit = config.time_limit_minutes
        bar = tqdm(
            range(int(state["step_in_epoch"]), self.source.steps()),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="batch",
            disable=not (self.progress and info.is_main),
            leave=False,
            mininterval=2.0,
        )
        losses: list[float] = []
        try:
            for step in bar:
                losses.append(self.train_step(*self.source.batch(epoch, step)))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
                state["global_step"] = int(state["global_step"]) + 1
                state["step_in_epoch"] = step + 1
                self.steps_done_now += 1
                at_checkpoint = config.checkpoint_steps and state["global_step"] % config.checkpoint_steps == 0
                if self.stop_after_steps is not None and self.steps_done_now >= self.stop_after_steps:
                    self.interrupted = True
                if info.is_main and (at_checkpoint or self.interrupted):
                    self.save_checkpoint("last")
                if self.interrupted:
                    break
                if limit and ddp.broadcast_object(time.perf_counter() - self.run_started > 60 * limit, info):
                    self.time_up = True  # end this epoch early (validate, checkpoint, log), then stop
                    break
        except KeyboardInterrupt:
            # Ctrl-C: keep every finished step (state counts them); --resume continues from there.
            if info.is_main:
                self.save_checkpoint("last")
            raise
        bar.close()
        return losses

    def _measure_epoch(self, epoch: int, losses: list[float], started: float) -> EpochRecord:
        info = self.info
        ddp.sync_buffers(self.net, info)
        train_loss = ddp.mean_across(float(np.mean(losses)) if losses else math.nan, info, self.device)
        if info.is_main and self.val_cases:
            val_loss, dice = self.validation_step(epoch)
        else:
            val_loss, dice = (train_loss, {}) if not self.val_cases else (math.nan, {})
        val_loss, dice = ddp.broadcast_object((val_loss, dice), info)
        return EpochRecord(epoch, train_loss, val_loss, dice, started)


def trainer_class(config: TrainConfig, trainer: str | type[Trainer] | None = None) -> type[Trainer]:
    """The Trainer class of a run: `trainer` (a class, or a name in `registry.TRAINERS`) when given, else the
    one the architecture needs (`TRAINER_OF_ARCHITECTURE`, "default" for the others)."""
    if isinstance(trainer, type):
        return trainer
    name = trainer or TRAINER_OF_ARCHITECTURE.get(config.architecture, TRAINERS.default)
    try:
        return TRAINERS.get(name).constructor()
    except ValueError as exc:
        raise InputError(str(exc)) from exc


# Networks trained in stages; the others train in one stage ("default").
TRAINER_OF_ARCHITECTURE = {"c2f3d": "coarse_to_fine"}


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
    trainer: str | type[Trainer] | None = None,
) -> TrainResult:
    """Train a network on a SegTHOR-format folder and export a model package to OUTPUT/model.

    `recipe` (the `--recipe` flag) names a training config in segthor_training/recipes (e.g. "sunet_seed000",
    "enet_fast2d") or is a path to a JSON config; keyword options override it. `resume=True` continues
    OUTPUT's last checkpoint (same config, split and sample order). `stop_after_steps` ends the run early
    after that many optimiser steps, saving `last` (used to test resuming; it behaves like an interruption).
    `trainer` picks the `Trainer` (subclass or `registry.TRAINERS` name); by default the one the architecture
    needs.
    Raises InputError (one line) for a bad training config, option, data folder or run folder.
    """
    out = Path(output)
    info, dev = ddp.setup(device)
    try:
        _prepare_output(out, resume, info)
        ddp.barrier(info)
        overrides = {
            "epochs": epochs,
            "batch_size": batch_size,
            "steps_per_epoch": steps_per_epoch,
            "max_cases": max_cases,
            "model_id": model_id,
        }
        config = _resolve_config(recipe, out, resume, overrides, sets)
        if lr is not None:
            config.optimizer = {**config.optimizer, "lr": float(lr)}
        cls = trainer_class(config, trainer)
        return cls(
            config,
            data_dir,
            out,
            info=info,
            device=dev,
            resume=resume,
            progress=progress,
            export=export,
            stop_after_steps=stop_after_steps,
        ).run()
    finally:
        ddp.teardown(info)
