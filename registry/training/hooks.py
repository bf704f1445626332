"""The loop's named points, and what it shares at them: where reporting, checkpoints, signals and stopping act.

The loop (``registry.training.loop``) is the steps in order; at each named point it calls every hook in its
list, in order, with the ``LoopState``:

- ``run_start``: the state is set up (resumed, if it is a resume), before the first epoch;
- ``epoch_start``: before an epoch's first batch (a hook may set ``state.stopped`` to end the run here);
- ``batch_end``: after a batch's backward pass (``BatchEnd`` says which batch, its loss and size);
- ``step_end``: after an optimizer step and the per-step schedule;
- ``epoch_end``: after the test pass, the epoch's row recorded, the per-epoch schedule stepped;
- ``run_end``: after the last epoch, or when the run stopped early.

A hook changes the run only through the state (``stopped``) or by raising (``Interrupted``). The built-in
policies are hooks (``registry.training.policies``); a later callback system adds hooks to the same list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset as TorchDataset

from registry.building.builder import Built
from registry.building.data import DatasetSplits, Split
from registry.building.schedules import Schedule
from registry.rundirs.checkpoints import Progress
from registry.rundirs.records import EpochRow
from registry.rundirs.rundir import RunDir
from registry.training.distributed import Ranks
from registry.training.evaluation import EvalResult
from registry.training.reporting import Reporter

__all__ = ["BatchEnd", "Hook", "Hooks", "LoopState"]


@dataclass
class LoopState:
    """What the loop and its hooks share.

    Attributes:
        built: the built spec.
        model: the model the loop trains (DDP-wrapped under torchrun).
        splits: the data.
        generator: the seeded generator that draws each epoch's order.
        epoch_start: the generator's state when the epoch in progress began (a resume draws it again).
        progress: where training stands (epoch, batch, running loss, past epochs' rows).
        schedule: the learning-rate schedule, if any.
        scaler: float16's gradient scaler, if any.
        ranks: this process's rank under torchrun.
        rundir: where the run is written (None: nothing is).
        report: how the run reports progress.
        result: the last test pass.
        stopped: why the run ends before ``train.epochs`` (set by a hook), or None.
    """

    built: Built
    model: nn.Module
    splits: DatasetSplits
    generator: torch.Generator
    epoch_start: Tensor
    progress: Progress
    schedule: Schedule | None
    scaler: Any
    ranks: Ranks | None
    rundir: RunDir | None
    report: Reporter
    result: EvalResult | None = None
    stopped: str | None = None

    @property
    def train(self) -> Split | TorchDataset[Any]:
        return self.splits.train


@dataclass(frozen=True)
class BatchEnd:
    """A batch done: its index in the epoch, the epoch's batches, its loss, its samples (this rank's), the
    batch's samples on all ranks, and the epoch's samples."""

    index: int
    batches: int
    loss: float
    size: int
    whole: int
    samples: int


class Hook:
    """A policy the loop calls at its named points; each method does nothing unless a subclass says."""

    def run_start(self, state: LoopState) -> None:
        """Before the first epoch."""

    def epoch_start(self, state: LoopState) -> None:
        """Before an epoch's first batch (also when a resumed epoch goes on)."""

    def batch_end(self, state: LoopState, batch: BatchEnd) -> None:
        """After a batch's backward pass."""

    def step_end(self, state: LoopState) -> None:
        """After an optimizer step."""

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        """After the test pass; *row* is the epoch's, already in ``state.progress.history``."""

    def run_end(self, state: LoopState) -> None:
        """After the last epoch."""


class Hooks(Hook):
    """Several hooks called in order at each point."""

    def __init__(self, hooks: Sequence[Hook]) -> None:
        self.hooks = tuple(hooks)

    def run_start(self, state: LoopState) -> None:
        for h in self.hooks:
            h.run_start(state)

    def epoch_start(self, state: LoopState) -> None:
        for h in self.hooks:
            h.epoch_start(state)

    def batch_end(self, state: LoopState, batch: BatchEnd) -> None:
        for h in self.hooks:
            h.batch_end(state, batch)

    def step_end(self, state: LoopState) -> None:
        for h in self.hooks:
            h.step_end(state)

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        for h in self.hooks:
            h.epoch_end(state, row)

    def run_end(self, state: LoopState) -> None:
        for h in self.hooks:
            h.run_end(state)
