"""The run directory as the loop writes it, and a resume read back from a checkpoint.

``Checkpointing`` is the loop's checkpoint policy (a ``Hook``): every ``train.checkpoint_every`` batches
and after every epoch a checkpoint (the best one promoted, old ones rotated), the metrics files after
every epoch, the fitted data settings at the start, the confusion matrix at the end. ``restore`` puts a
checkpoint's state back into the live objects, each value checked against them first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import Tensor

from registry.building.builder import Built
from registry.building.data import Split
from registry.building.schedules import Schedule
from registry.errors import CheckpointError
from registry.rundirs.checkpoints import (
    Checkpoint,
    Progress,
    apply_checkpoint,
    check_like,
    promote_best,
    rotate,
    save_checkpoint,
)
from registry.rundirs.records import EpochRow
from registry.training.distributed import Ranks, all_sum
from registry.training.evaluation import confusion
from registry.training.hooks import Hook, LoopState

__all__ = ["Checkpointing", "restore"]


class Checkpointing(Hook):
    """Writes the run's checkpoints, metrics and confusion matrix; a no-op without a run directory.

    Under torchrun every rank calls it (a mid-epoch checkpoint sums the ranks' running loss), and
    ``save_checkpoint`` writes on the main rank only.
    """

    def __init__(self, spec_hash: str) -> None:
        self.spec_hash = spec_hash
        self.last: tuple[tuple[int, int], Path | None] | None = None  # the progress saved last, and where

    def save(self, state: LoopState) -> Path | None:
        """A checkpoint of where training stands (written once per position: a second call returns the first's)."""
        progress = state.progress
        key = (progress.epoch, progress.batch)
        if self.last is not None and self.last[0] == key:
            return self.last[1]
        if state.ranks is not None and progress.batch:  # mid-epoch: store the whole run's running loss
            total, seen = all_sum([progress.loss_total, progress.seen], state.built.device, state.ranks)
            progress = dataclasses.replace(progress, loss_total=total, seen=int(seen))
        if state.rundir is None:
            return None
        path = _write(state, progress, self.spec_hash)
        if progress.batch:
            _rotate(state)
        self.last = (key, path)
        return path

    def run_start(self, state: LoopState) -> None:
        if state.rundir is not None and (state.ranks is None or state.ranks.is_main):
            state.rundir.write_fitted(state.splits.fitted)  # what predict needs to prepare inputs as these were

    def step_end(self, state: LoopState) -> None:
        every, p = state.built.resolved.spec.train.checkpoint_every, state.progress
        first = (p.batch - 1) - (p.batch - 1) % state.built.resolved.spec.train.accumulate  # the step's first batch
        if every and first // every < p.batch // every:  # the step crossed a multiple of checkpoint_every
            self.save(state)

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        path = self.save(state)
        if state.rundir is None or path is None:
            return
        if _is_best(state.built.best, state.progress.history):
            promote_best(state.rundir.checkpoints, path, state.rundir.durable)
        _rotate(state)
        state.rundir.write_metrics(state.progress.history)

    def run_end(self, state: LoopState) -> None:
        if state.rundir is None:
            return
        state.rundir.write_metrics(state.progress.history)
        built, test = state.built, state.splits.test
        if built.task.kind in ("multiclass", "binary") and isinstance(test, Split):
            state.rundir.write_confusion(confusion(built, test), list(built.task.labels))


def _write(state: LoopState, progress: Progress, spec_hash: str) -> Path:
    assert state.rundir is not None and state.built.optimizer is not None
    folder = state.rundir.checkpoints
    policy: dict[str, Any] = {"scheduler": state.schedule.scheduler.state_dict()} if state.schedule else {}
    if state.scaler is not None:
        policy["scaler"] = state.scaler.state_dict()
    try:
        return save_checkpoint(
            folder, state.built.model, state.built.optimizer, state.generator, state.epoch_start, progress,
            spec_hash, policy, state.rundir.durable,
        )  # fmt: skip
    except (OSError, SafetensorError) as e:  # safetensors reports a full disk as its own error
        raise CheckpointError(
            f"{folder}: writing a checkpoint failed: {getattr(e, 'strerror', None) or e}; "
            "the previous checkpoint is intact"
        ) from None


def _rotate(state: LoopState) -> None:
    assert state.rundir is not None
    try:
        rotate(state.rundir.checkpoints, state.built.resolved.spec.train.keep_checkpoints)
    except OSError as e:
        raise CheckpointError(f"{state.rundir.checkpoints}: removing old checkpoints failed: {e}") from None


def _is_best(best: tuple[str, bool], history: list[EpochRow]) -> bool:
    """Whether the last epoch's value of *best* (name, larger is better) is the best so far."""
    name, higher = best
    values = [v for v in (row.value(name) for row in history) if v is not None]
    return bool(values) and values[-1] == (max(values) if higher else min(values))


def restore(
    resume: Checkpoint,
    built: Built,
    generator: torch.Generator,
    schedule: Schedule | None,
    scaler: Any,
    ranks: Ranks | None,
) -> tuple[Tensor, Progress]:
    """Put *resume*'s weights, optimizer, generator, schedule and scaler state back; its epoch's start and progress.

    Raises:
        CheckpointError: a saved value does not fit the live object it is for.
    """
    assert built.optimizer is not None
    epoch_start = apply_checkpoint(resume, built.model, built.optimizer, generator)
    if schedule is not None:
        _load_schedule(schedule, resume)
    if scaler is not None and "scaler" in resume.state.get("policy", {}):
        saved = resume.state["policy"]["scaler"]
        check_like(saved, scaler.state_dict(), "policy.scaler", resume.path / "state.json")
        scaler.load_state_dict(saved)
    progress = resume.progress
    if ranks and not ranks.is_main:  # the saved running loss is the whole run's: count it once
        progress.loss_total, progress.seen = 0.0, 0
    return epoch_start, progress


def _load_schedule(schedule: Schedule, ckpt: Checkpoint) -> None:
    saved = ckpt.state.get("policy", {}).get("scheduler")
    if saved is None:
        raise CheckpointError(f"{ckpt.path}: holds no scheduler state, but the spec has a scheduler")
    check_like(saved, schedule.scheduler.state_dict(), "policy.scheduler", ckpt.path / "state.json")
    try:
        schedule.scheduler.load_state_dict(saved)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{ckpt.path}: its scheduler state does not fit this scheduler: {e}") from None
