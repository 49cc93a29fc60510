"""The Trainer's hooks, the coarse-to-fine subclass and the registries of losses, optimisers and schedulers."""

from __future__ import annotations

import math

import pytest
import torch

from segthor.errors import InputError
from segthor_training.coarse_to_fine import CoarseToFineTrainer
from segthor_training.config import load_config
from segthor_training.losses import MultiClassDiceLoss, build_loss
from segthor_training.optim import build_optimizer, build_scheduler
from segthor_training.registry import LOSSES, OPTIMIZERS, SCHEDULERS, Entry, Registry
from segthor_training.trainer import CHECKPOINTS, EpochRecord, Trainer, train, trainer_class

TINY_ENET = ["arguments.base_width=8"]
TINY_C2F = [
    "arguments.widths=[4,8,8,8]",
    "sampling.crop_size=[8,32,32]",
    'preprocessing={"name": "tiny3d", "spacing": [4.0, 4.0, 5.0], "crop": "otsu_body"}',
]


class Recording(Trainer):
    """Counts what every hook saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []
        self.records: list[EpochRecord] = []
        self.steps = 0

    def on_run_start(self) -> None:
        super().on_run_start()
        self.calls.append("run_start")

    def on_epoch_start(self, epoch: int, first_step: int) -> None:
        super().on_epoch_start(epoch, first_step)
        self.calls.append(f"epoch_start {epoch} {first_step}")

    def train_step(self, images, labels) -> float:
        self.steps += 1
        return super().train_step(images, labels)

    def validation_step(self, epoch: int):
        self.calls.append(f"validation {epoch}")
        return super().validation_step(epoch)

    def on_epoch_end(self, record: EpochRecord) -> None:
        super().on_epoch_end(record)
        self.records.append(record)
        self.calls.append(f"epoch_end {record.epoch}")

    def on_run_end(self):
        self.calls.append("run_end")
        result = super().on_run_end()
        type(self).last = self  # the test reads the instance that ran
        return result


def test_hooks_see_every_epoch_and_step_in_order(tiny_cohort, tmp_path):
    result = train(
        tiny_cohort,
        tmp_path / "r",
        "enet_fast2d",
        epochs=2,
        steps_per_epoch=1,
        batch_size=2,
        sets=TINY_ENET,
        progress=False,
        export=False,
        trainer=Recording,
    )
    run = Recording.last
    assert run.calls == [
        "run_start",
        "epoch_start 0 0",
        "validation 0",
        "epoch_end 0",
        "epoch_start 1 0",
        "validation 1",
        "epoch_end 1",
        "run_end",
    ]
    assert run.steps == 2 and [r.epoch for r in run.records] == [0, 1]
    assert all(math.isfinite(r.train_loss) and math.isfinite(r.val_loss) for r in run.records)
    assert set(run.records[0].dice) == {"esophagus", "heart", "trachea", "aorta"}
    assert result.epochs_done == 2 and result.package_dir is None  # export=False


def test_an_interrupted_epoch_has_no_epoch_end_and_a_resumed_one_starts_mid_epoch(tiny_cohort, tmp_path):
    opts = dict(epochs=2, steps_per_epoch=2, batch_size=2, progress=False, export=False, trainer=Recording)
    train(tiny_cohort, tmp_path / "r", "enet_fast2d", sets=TINY_ENET, stop_after_steps=3, **opts)
    assert Recording.last.calls == [
        "run_start",
        "epoch_start 0 0",
        "validation 0",
        "epoch_end 0",
        "epoch_start 1 0",
        "run_end",
    ]
    train(tiny_cohort, tmp_path / "r", resume=True, **opts)
    assert Recording.last.calls == ["run_start", "epoch_start 1 1", "validation 1", "epoch_end 1", "run_end"]
    assert Recording.last.steps == 1


def test_trainer_is_chosen_by_architecture_or_by_name():
    assert trainer_class(load_config("c2f3d_seed001")) is CoarseToFineTrainer
    assert trainer_class(load_config("enet_fast2d")) is Trainer
    assert trainer_class(load_config("enet_fast2d"), "coarse_to_fine") is CoarseToFineTrainer
    assert trainer_class(load_config("enet_fast2d"), Recording) is Recording
    with pytest.raises(InputError, match=r"unknown trainer 'nope'; known: default, coarse_to_fine"):
        trainer_class(load_config("enet_fast2d"), "nope")


class StageRecording(CoarseToFineTrainer):
    def on_run_start(self) -> None:
        super().on_run_start()
        self.seen: list[tuple[int, str, bool, int]] = []
        self.snapshots = [self._parameters()]

    def _parameters(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.named_parameters()}

    def on_epoch_start(self, epoch: int, first_step: int) -> None:
        super().on_epoch_start(epoch, first_step)
        self.seen.append((epoch, self.stage(epoch), self.loss_fn.fine_enabled, id(self.scheduler)))

    def on_epoch_end(self, record: EpochRecord) -> None:
        super().on_epoch_end(record)
        self.snapshots.append(self._parameters())
        type(self).last = self


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], prefix: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))


def test_coarse_to_fine_trainer_trains_the_coarse_stage_then_the_whole_network(tiny_cohort, tmp_path):
    result = train(
        tiny_cohort,
        tmp_path / "c2f",
        "c2f3d_seed001",
        epochs=2,
        steps_per_epoch=2,
        batch_size=1,
        sets=[*TINY_C2F, "coarse_epochs=1", "sampling.organ_probability=1.0"],
        progress=False,
        export=False,
        trainer=StageRecording,
    )
    run = StageRecording.last
    (e0, stage0, fine0, sched0), (e1, stage1, fine1, sched1) = run.seen
    assert (e0, stage0, fine0) == (0, "coarse", False) and (e1, stage1, fine1) == (1, "full", True)
    assert sched0 != sched1  # a fresh plateau scheduler for the full loss
    start, after_coarse, after_full = run.snapshots
    assert _changed(start, after_coarse, "stem.") and not _changed(start, after_coarse, "fine.")
    assert _changed(after_coarse, after_full, "fine.")
    assert result.best_epoch == 2  # the coarse-only loss never competes with the full network's
    import json

    assert json.loads((tmp_path / "c2f" / CHECKPOINTS / "best.json").read_text())["info"]["best_stage"] == "full"


def test_registries_refuse_unknown_names_and_arguments_in_one_line():
    with pytest.raises(ValueError, match=r"^unknown loss 'nope'; known: dice, wce, dice_ce, hard_dice, c2f$"):
        build_loss({"name": "nope"})
    with pytest.raises(ValueError, match=r"^unknown optimizer 'rmsprop'; known: sgd, adam, adamw$"):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], {"name": "rmsprop"})
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], {"name": "SGD", "lr": 1})  # case-insensitive
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    with pytest.raises(ValueError, match=r"^unknown scheduler 'cosine'; known: plateau, none$"):
        build_scheduler(opt, {"name": "cosine"})
    with pytest.raises(ValueError, match=r"loss 'dice' does not take argument\(s\) gamma; it takes: include_bac"):
        build_loss({"name": "dice", "gamma": 2})
    with pytest.raises(ValueError, match=r"^optimizer 'adam': .*unexpected keyword argument 'moment'"):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], {"name": "adam", "moment": 0.9})
    assert build_scheduler(opt, {"name": "none"}) is None
    assert isinstance(build_loss({}), MultiClassDiceLoss)  # the default entry
    for registry in (LOSSES, OPTIMIZERS, SCHEDULERS):
        assert all(
            isinstance(registry.get(name).constructor(), type) or callable(registry.get(name).constructor())
            for name in registry.names()
        )


def test_registry_takes_callables_and_refuses_a_second_entry_of_a_name():
    registry = Registry("loss", "mine", (Entry("mine", "a plug-in", lambda scale=1.0: ("built", scale)),))
    assert registry.build({"scale": 2}) == ("built", 2) and registry.build(None) == ("built", 1.0)
    with pytest.raises(ValueError, match="already registered"):
        registry.add(Entry("MINE", "again", "x:y"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("optimizer.name=rmsprop", "unknown optimizer 'rmsprop'; known: sgd, adam, adamw"),
        ("scheduler.name=cosine", "unknown scheduler 'cosine'; known: plateau, none"),
        ("scheduler.patient=3", "scheduler 'plateau': .*unexpected keyword argument 'patient'"),
    ],
)
def test_a_bad_optimiser_or_scheduler_is_refused_before_the_run_folder_is_written(tiny_cohort, tmp_path, bad, message):
    with pytest.raises(InputError, match=message) as caught:
        train(tiny_cohort, tmp_path / "bad", "enet_fast2d", sets=[bad], progress=False)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "bad" / "config.json").exists()
