"""The learning-rate scheduler: built over the optimizer once the run's length is known, stepped as it declares.

A scheduler component declares (``@registry.schedule``) whether it steps after every optimizer step
(``batch``) or after each epoch's test pass (``epoch``), and, for reduce-on-plateau, which of its
parameters names the test value it watches. A sequence of schedulers steps as its children do; they
must agree. Its factory may take the run's ``Training``: the epochs and the optimizer steps per
epoch (batches / ``train.accumulate``), so that lengths given in epochs (a warm-up, one-cycle's total)
become steps. ``validate`` knows the epochs but not the dataset's size until it is loaded: it checks
with one step per epoch, and ``run`` builds the scheduler again, for real, before its first step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from registry.building.factory import Refused, call_factory, short_message
from registry.components.contracts import ScheduleInfo, get_schedule_info
from registry.errors import Problem, SpecError
from registry.resolution.resolver import Resolved, ResolvedSpec
from registry.spec.problems import ProblemList
from registry.spec.provenance import Provenance

__all__ = ["Schedule", "Training", "build_schedule", "check_schedule", "schedule_of", "steps_per_epoch"]


@dataclass(frozen=True)
class Training:
    """What a scheduler may need to know about the run: its length, in the scheduler's own steps, and its test values.

    Attributes:
        epochs: ``train.epochs``.
        steps_per_epoch: optimizer steps per epoch (batches per epoch / ``train.accumulate``, rounded up);
            ``validate``, which reads no data, passes 1.
        per: when the scheduler being built steps: ``batch`` or ``epoch``.
        higher_is_better: the run's test values (``loss``, ``accuracy``, each metric) and their directions.
        held: the scheduler is held by another (a sequence), which decides how long it runs.
    """

    epochs: int
    steps_per_epoch: int
    per: str = "epoch"
    higher_is_better: Mapping[str, bool] = field(default_factory=lambda: {"loss": False})
    held: bool = False

    @property
    def total_steps(self) -> int:
        """The run's length in this scheduler's steps."""
        return self.steps(self.epochs)

    def steps(self, epochs: float) -> int:
        """*epochs* (possibly fractional) in this scheduler's steps (rounded, at least 1)."""
        return max(1, round(epochs * (self.steps_per_epoch if self.per == "batch" else 1)))


@dataclass(frozen=True)
class Schedule:
    """The built scheduler and when it steps.

    Attributes:
        scheduler: the torch scheduler.
        per: ``batch`` or ``epoch``.
        monitor: the test value passed to ``step()`` after each epoch (``loss``, ``accuracy``, a metric), or None.
    """

    scheduler: Any
    per: str
    monitor: str | None = None
    loc: tuple[str | int, ...] = ("scheduler",)
    source: str | None = None
    provenance: Provenance | None = None

    def after_step(self) -> None:
        if self.per == "batch":
            self._step()

    def after_epoch(self, value: float | None) -> None:
        if self.per == "epoch":
            self._step(*(() if self.monitor is None else (value,)))

    def _step(self, *value: float | None) -> None:
        try:
            self.scheduler.step(*value)
        except ValueError as e:  # torch's: stepped past its end (a one-cycle given too few steps)
            message = f"the schedule ended before the run did: {short_message(e)}; give it a length that covers the run"
            where = self.provenance.problem(self.loc, message) if self.provenance else Problem(self.loc, message)
            raise SpecError([where], self.source) from None


def steps_per_epoch(samples: int, batch_size: int, accumulate: int, max_steps: int | None = None) -> int:
    """Optimizer steps in an epoch of *samples*: batches (capped by ``max_steps_per_epoch``) over *accumulate*."""
    batches = math.ceil(samples / batch_size)
    if max_steps is not None:
        batches = min(batches, max_steps)
    return max(1, math.ceil(batches / accumulate))


def schedule_of(r: Resolved, problems: ProblemList | None = None) -> ScheduleInfo:
    """When *r* steps: its declaration, or for ``per = "children"`` its children's (which must agree)."""
    info = get_schedule_info(r.component.factory)
    if info.per != "children":
        return info
    kids = [k for v in r.nested.values() for k in (v if isinstance(v, tuple) else (v,)) if k is not None]
    pers = {schedule_of(k, problems).per for k in kids}
    if len(pers) > 1 and problems is not None:
        listed = ", ".join(f"{k.name} ({schedule_of(k).per})" for k in kids)
        problems.add(r.loc, f"{r.name}'s schedulers must all step per batch or all per epoch: {listed}")
    return ScheduleInfo(pers.pop() if len(pers) == 1 else "epoch", info.monitor)


def _build(r: Resolved, optimizer: Any, training: Training) -> Any:
    """*r* over *optimizer*; the schedulers it holds (a sequence's) are built over the same optimizer first."""
    training = dataclasses.replace(training, per=schedule_of(r).per)
    nested: dict[str, Any] = {}
    for name, value in r.nested.items():
        kids = value if isinstance(value, tuple) else (value,)
        built = [None if k is None else _build(k, optimizer, dataclasses.replace(training, held=True)) for k in kids]
        nested[name] = built if isinstance(value, tuple) else built[0]
    training_param = r.component.schema.training
    injected = {training_param: training} if training_param else {}
    return call_factory(r, optimizer, **nested, **injected)


def _monitor(r: Resolved, info: ScheduleInfo) -> str | None:
    return None if info.monitor is None else str(getattr(r.params, info.monitor))


def check_schedule(
    rs: ResolvedSpec, directions: Mapping[str, bool], train_samples: int | None, problems: ProblemList
) -> None:
    """``validate``'s checks of the scheduler: its own (against the run's length and its test values,
    *directions*), and its children stepping alike. The steps per epoch follow from the dataset's declared
    *train_samples*; a dataset that does not declare them (a table, until it is read) counts as one."""
    r = rs.scheduler
    if r is None:
        return
    schedule_of(r, problems)
    cfg, data = rs.spec.train, rs.spec.data
    steps = 1 if train_samples is None else steps_per_epoch(train_samples, data.batch_size, cfg.accumulate,
                                                             cfg.max_steps_per_epoch)  # fmt: skip
    _probe(r, Training(cfg.epochs, steps, higher_is_better=directions), problems)


def _probe(r: Resolved, training: Training, problems: ProblemList) -> None:
    """*r*'s own checks, and each held scheduler's on its own (a sequence is checked with stand-ins for them)."""
    training = dataclasses.replace(training, per=schedule_of(r).per)
    nested: dict[str, Any] = {}
    for name, value in r.nested.items():
        kids = [k for k in (value if isinstance(value, tuple) else (value,)) if k is not None]
        for k in kids:
            _probe(k, dataclasses.replace(training, held=True), problems)
            watches = get_schedule_info(k.component.factory).monitor
            if watches is not None:
                problems.add((*k.loc, "type"), f"{k.name} steps on a test value after each epoch; it cannot run "
                             f"inside {r.name}, which steps its schedulers itself")  # fmt: skip
        nested[name] = [_ProbeScheduler() for _ in kids] if isinstance(value, tuple) else _ProbeScheduler()
    training_param = r.component.schema.training
    injected = {training_param: training} if training_param else {}
    try:
        call_factory(r, _ProbeOptimizer(), **nested, **injected)
    except _ProbeStop:
        return
    except Refused as e:
        problems.add(e.loc, str(e))


class _ProbeStop(BaseException):
    """The scheduler's own checks passed and it reached for the optimizer."""


class _ProbeScheduler(torch.optim.lr_scheduler.LRScheduler):
    """A held scheduler's stand-in: the holder's own checks run, then reading it stops (``validate``)."""

    def __init__(self) -> None:  # nothing of a scheduler exists
        pass

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__init__", "__dict__"):
            return object.__getattribute__(self, name)
        raise _ProbeStop


class _ProbeOptimizer(torch.optim.Optimizer):
    """An optimizer that stops a scheduler's construction as soon as it is read (``validate``)."""

    def __init__(self) -> None:  # no super().__init__: nothing of an optimizer exists
        pass

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__init__", "__dict__"):
            return object.__getattribute__(self, name)
        raise _ProbeStop


def build_schedule(rs: ResolvedSpec, optimizer: torch.optim.Optimizer, training: Training) -> Schedule | None:
    """The spec's scheduler over *optimizer* for a run of *training*'s length; None without one.

    Raises:
        SpecError: its parameters do not fit the run (located at the scheduler).
        PluginError: its factory misbehaved.
    """
    r = rs.scheduler
    if r is None:
        return None
    problems = ProblemList(rs.source, rs.provenance)
    info = schedule_of(r, problems)
    problems.raise_if_any()
    try:
        scheduler = _build(r, optimizer, training)
    except Refused as e:
        problems.add(e.loc, str(e))
        problems.raise_if_any()
    return Schedule(scheduler, info.per, _monitor(r, info), r.loc, rs.source, rs.provenance)
