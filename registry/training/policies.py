"""The loop's policies besides checkpoints, each a ``Hook``: reporting, signals, and when to stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from registry.rundirs.records import EpochRow
from registry.training.checkpointing import Checkpointing
from registry.training.distributed import all_sum
from registry.training.evaluation import format_test, summed
from registry.training.hooks import BatchEnd, Hook, LoopState
from registry.training.signals import StopFlag, interrupted
from registry.training.stopping import stop_reason

__all__ = ["Reporting", "SignalStop", "Stopping"]

StopRule = Callable[[Sequence[EpochRow]], "str | None"]


class Reporting(Hook):
    """The run's reporter: a line (or bar update) per batch, every ``log_interval`` shown, the test line per epoch."""

    def batch_end(self, state: LoopState, batch: BatchEnd) -> None:
        built = state.built
        due = batch.index % built.resolved.spec.train.log_interval == 0
        shown = batch.loss
        if due and state.ranks:  # the whole batch's loss, as one process would print it
            sums = summed(built.loss)
            total, count = all_sum(
                [batch.loss if sums else batch.loss * batch.size, batch.size], built.device, state.ranks
            )
            shown = total if sums else total / max(count, 1)
        epoch = state.progress.epoch
        state.report.train_step(epoch, batch.index, batch.batches, batch.index * batch.whole, batch.samples, shown, due)

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        assert state.result is not None
        state.report.test(row.epoch, format_test(state.result), row)

    def run_end(self, state: LoopState) -> None:
        state.report.close()


class SignalStop(Hook):
    """SIGINT/SIGTERM: after the step (or the epoch) it arrived in, a checkpoint, then ``Interrupted``.

    Under torchrun the ranks agree after every step: one rank signalled stops them all at the same step.
    """

    def __init__(self, flag: StopFlag, checkpoints: Checkpointing) -> None:
        self.flag, self.checkpoints = flag, checkpoints

    def step_end(self, state: LoopState) -> None:
        flag, ranks = self.flag, state.ranks
        if ranks and all_sum([1.0 if flag.signal_name else 0.0], state.built.device, ranks)[0]:
            flag.signal_name = flag.signal_name or "SIGTERM"  # another rank was signalled
        if flag.signal_name is not None:
            raise interrupted(flag, state.progress, self.checkpoints.save(state), state.rundir)

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        if self.flag.signal_name is not None:  # arrived during the test pass: the epoch is saved whole
            where = state.rundir.checkpoints if state.rundir else None
            raise interrupted(self.flag, state.progress, where, state.rundir)

    def run_end(self, state: LoopState) -> None:
        if state.rundir is not None and self.flag.signal_name is not None:
            raise interrupted(self.flag, state.progress, state.rundir.checkpoints, state.rundir)


class Stopping(Hook):
    """Early stopping (``train.early_stopping``) and a caller's rule (a sweep's pruner), asked after every epoch;
    the run ends there when epochs are left to cut."""

    def __init__(self, rule: StopRule | None = None) -> None:
        self.rule = rule

    def _early(self, state: LoopState) -> str | None:
        stopping, watched = state.built.resolved.spec.train.early_stopping, state.built.early_stop
        if stopping is None or watched is None:
            return None
        return stop_reason(state.progress.history, watched, stopping.patience, stopping.min_delta)

    def epoch_start(self, state: LoopState) -> None:
        if state.progress.batch == 0 and state.stopped is None:  # already decided (a resumed run that had stopped)
            state.stopped = self._early(state)

    def epoch_end(self, state: LoopState, row: EpochRow) -> None:
        verdict = self._early(state)  # asked after every epoch: a sweep's rule reports the value to its pruner
        if verdict is None and self.rule is not None:
            verdict = self.rule(state.progress.history)
        if verdict is not None and row.epoch < state.built.resolved.spec.train.epochs:
            state.stopped = verdict
            state.report.note("early_stop", verdict[:1].upper() + verdict[1:])
