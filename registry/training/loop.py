"""The training loop, written as the steps in order: the seed notebook's train and test loops, epoch by epoch.

``run`` is the epochs; ``train_epoch`` is one epoch's batches: forward under autocast, loss, backward
(accumulated over ``train.accumulate`` batches), clip, step, schedule. Reporting, checkpoints, signals
and early stopping are hooks it calls at named points (``registry.training.hooks``). The log lines are
the notebook's own, character for character. SIGINT and SIGTERM are caught for the whole run, the final
test pass and the confusion matrix included: the current step (or test pass) finishes, a checkpoint is
written, and the run stops with ``Interrupted``, leaving a directory that ``--resume`` continues.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from registry.building.builder import Built
from registry.building.data import DatasetSplits, block_batches, iter_batches, split_len
from registry.building.metrics import MetricSet
from registry.building.precision import autocast, make_scaler
from registry.building.schedules import Training, build_schedule, steps_per_epoch
from registry.errors import TrainingError
from registry.rundirs.checkpoints import Checkpoint, Progress
from registry.rundirs.records import EpochRow
from registry.rundirs.rundir import RunDir
from registry.training.checkpointing import Checkpointing, restore
from registry.training.distributed import Ranks, all_sum, shard
from registry.training.evaluation import EvalResult, evaluate, summed
from registry.training.hooks import BatchEnd, Hook, Hooks, LoopState
from registry.training.policies import Reporting, SignalStop, Stopping
from registry.training.reporting import PlainReporter, Reporter
from registry.training.signals import catch_signals
from registry.training.splits import batch_transforms, load_data

__all__ = ["RunResult", "run", "start", "train_epoch"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """Every epoch of the run (those before a resume too), and this process's share of it.

    Attributes:
        epochs: one row per finished epoch, the whole run's.
        seconds: this process's wall time.
        resumed_epochs: epochs that were already done when this process resumed the run.
        stopped: why the run ended before ``train.epochs`` (early stopping), or None.
    """

    epochs: tuple[EpochRow, ...]
    seconds: float
    resumed_epochs: int = 0
    stopped: str | None = None

    @property
    def final(self) -> EpochRow:
        return self.epochs[-1]


def run(
    built: Built,
    log: Log | Reporter = print,
    rundir: RunDir | None = None,
    resume: Checkpoint | None = None,
    spec_hash: str = "",
    ranks: Ranks | None = None,
    splits: DatasetSplits | None = None,
    stop_rule: Callable[[Sequence[EpochRow]], str | None] | None = None,
) -> RunResult:
    """Train for ``train.epochs`` epochs, testing after each; return every epoch's metrics.

    A resumed run whose every epoch was already done (killed after its last checkpoint) only
    writes what is left: the metrics files and the confusion matrix.

    Args:
        built: the built spec.
        log: a Reporter, or a function that receives the notebook's plain log lines.
        rundir: where checkpoints and metrics go (none: nothing is written).
        resume: a checkpoint to continue from, exactly where it stopped.
        spec_hash: the resolved spec's hash, stored in each checkpoint.
        ranks: under torchrun, this process's rank (the process group is already set up).
        splits: the data, loaded already (``load_data``); loaded here when None.
        stop_rule: asked after each epoch, beside early stopping, whether to stop (a sweep's pruner): the
            reason to stop, or None to go on.

    Raises:
        TrainingError: the loss or a gradient became non-finite (the last checkpoint stays as it was).
        Interrupted: SIGINT/SIGTERM arrived; a checkpoint of where training stood was written first.
        CheckpointError: a checkpoint could not be written.
        DatasetNotFoundError: the data could not be loaded.
        PluginError: the dataset's loader misbehaved.
    """
    began = time.perf_counter()
    with catch_signals(rundir is not None) as flag:
        state = start(built, log, rundir, resume, ranks, splits)
        done_before = len(state.progress.history)
        checkpoints = Checkpointing(spec_hash)
        hooks = Hooks([Reporting(), checkpoints, SignalStop(flag, checkpoints), Stopping(stop_rule)])
        metrics = (
            MetricSet(built.metrics, built.task, built.model_plan.produces, built.device) if built.metrics else None
        )
        hooks.run_start(state)
        for _ in range(state.progress.epoch, built.resolved.spec.train.epochs + 1):
            _draw_order(state)
            hooks.epoch_start(state)
            if state.stopped is not None:
                break
            t0 = time.perf_counter()
            train_epoch(state, hooks)
            row = _test(state, metrics, t0, time.perf_counter())
            if state.schedule is not None:
                state.schedule.after_epoch(row.value(state.schedule.monitor) if state.schedule.monitor else None)
            hooks.epoch_end(state, row)
            if state.stopped is not None:
                break
        hooks.run_end(state)
    return RunResult(tuple(state.progress.history), time.perf_counter() - began, done_before, state.stopped)


def train_epoch(state: LoopState, hooks: Hook | None = None) -> float:
    """One pass over the training split in a fresh seeded order, from ``state.progress.batch`` on; returns the
    mean training loss.

    With ``train.accumulate = N`` the gradients of N batches are added up before each step, each
    batch's mean loss weighted by its share of the N batches' samples, so that the step is the one
    a single N-times-larger batch gives (for a mean-reduced loss). Under torchrun each rank trains on its
    share of every batch, its loss scaled by that share so that DDP's average of the ranks' gradients is
    the whole batch's gradient. A per-batch schedule steps after every optimizer step. With
    ``train.precision`` the forward pass and the loss run under autocast; float16's gradient scaler scales
    the loss and skips steps whose gradients overflowed.
    """
    hooks = hooks or Hook()
    built, p = state.built, state.progress
    cfg, batch_size = built.resolved.spec.train, built.resolved.spec.data.batch_size
    assert built.optimizer is not None, "built without an optimizer"
    n = split_len(state.train)
    batches = math.ceil(n / batch_size)
    end = batches if cfg.max_steps_per_epoch is None else min(batches, cfg.max_steps_per_epoch)
    state.model.train()
    for index, (data, target, whole) in enumerate(_batches(state), start=p.batch):
        if index >= end:
            break
        for augment in built.data.augment:  # random: drawn batch by batch, so that a resumed epoch draws the same
            data = augment(data)
        step = _Step.of(index, cfg.accumulate, end)
        if index == step.first:
            built.optimizer.zero_grad()
        value = _forward_backward(state, data, target, index, step, n)
        _count(p, value, data.shape[0], summed(built.loss), index)
        hooks.batch_end(state, BatchEnd(index, batches, value, data.shape[0], whole, n))
        if index + 1 < step.stop:
            continue
        _optimizer_step(state, value, index)
        if state.schedule is not None:
            state.schedule.after_step()
        hooks.step_end(state)
    total, seen = all_sum([p.loss_total, p.seen], built.device, state.ranks)
    return total / max(seen, 1)


@dataclass(frozen=True)
class _Step:
    """The batches of one optimizer step: ``[first, stop)``."""

    first: int
    stop: int

    @classmethod
    def of(cls, index: int, accumulate: int, end: int) -> _Step:
        first = index - index % accumulate
        return cls(first, min(first + accumulate, end))


def start(
    built: Built,
    log: Log | Reporter = print,
    rundir: RunDir | None = None,
    resume: Checkpoint | None = None,
    ranks: Ranks | None = None,
    splits: DatasetSplits | None = None,
) -> LoopState:
    """The loop's state: the data loaded, the generator seeded, the schedule and scaler built, a resume restored."""
    splits = splits or load_data(built)
    generator = torch.Generator().manual_seed(built.resolved.spec.seed)
    progress, epoch_start = Progress(), generator.get_state()
    assert built.optimizer is not None
    cfg, data = built.resolved.spec.train, built.resolved.spec.data
    steps = steps_per_epoch(split_len(splits.train), data.batch_size, cfg.accumulate, cfg.max_steps_per_epoch)
    schedule = build_schedule(
        built.resolved, built.optimizer, Training(cfg.epochs, steps, higher_is_better=built.test_values)
    )
    scaler = make_scaler(cfg.precision, built.device)
    if resume is not None:
        epoch_start, progress = restore(resume, built, generator, schedule, scaler, ranks)
    report = log if isinstance(log, Reporter) else PlainReporter(log)
    return LoopState(
        built, _ddp(built, ranks), splits, generator, epoch_start, progress, schedule, scaler, ranks, rundir, report
    )


def _draw_order(state: LoopState) -> None:
    """The epoch's order: drawn from the generator at its start, or drawn again for an epoch resumed midway."""
    if state.progress.batch == 0:
        state.epoch_start = state.generator.get_state()
    else:
        state.generator.set_state(state.epoch_start)


def _batches(state: LoopState) -> Iterator[tuple[Tensor, Tensor, int]]:
    built, ranks = state.built, state.ranks
    batch_size = built.resolved.spec.data.batch_size
    share = (lambda idx: shard(idx, ranks)) if ranks else None
    block = block_batches(batch_size, built.data.sample_nbytes)
    steps = batch_transforms(built, state.train)
    return iter_batches(
        state.train, batch_size, state.generator, steps, state.progress.batch, share, built.device, block
    )


def _forward_backward(state: LoopState, data: Tensor, target: Tensor, index: int, step: _Step, n: int) -> float:
    """The forward pass and the loss under autocast, then the backward pass of the loss scaled to its share of the
    step (DDP reduces once, at the step's last batch); the batch's loss."""
    built, model, ranks = state.built, state.model, state.ranks
    size, batch_size = data.shape[0], built.resolved.spec.data.batch_size
    syncing = ranks is None or index + 1 == step.stop
    with contextlib.nullcontext() if syncing else _no_sync(model):
        with autocast(built.resolved.spec.train.precision, built.device):
            output = model(data)
            loss = built.loss(output, target) if size else output.sum() * 0.0
        value = float(loss.item())
        if index + 1 < step.stop:  # the step's last batch is checked with the gradient's norm
            _check_finite(value, state.progress.epoch, index)
        samples = min(step.stop * batch_size, n) - step.first * batch_size  # the whole step's samples, all ranks
        scale = 1.0 if summed(built.loss) else size * (ranks.world_size if ranks else 1) / samples
        loss = loss * scale if scale != 1.0 else loss
        (state.scaler.scale(loss) if state.scaler is not None else loss).backward()
    return value


def _count(p: Progress, value: float, size: int, sums: bool, index: int) -> None:
    p.loss_total += value if sums else value * size
    p.seen += size
    p.batch = index + 1


def _optimizer_step(state: LoopState, value: float, index: int) -> None:
    """Clip (the true gradients, unscaled), check that the loss and the norm are finite, and step."""
    built, scaler = state.built, state.scaler
    assert built.optimizer is not None
    clip = built.resolved.spec.train.grad_clip
    if scaler is not None and clip is not None:
        scaler.unscale_(built.optimizer)
    norm = None if clip is None else nn.utils.clip_grad_norm_(state.model.parameters(), clip)
    _check_finite(value, state.progress.epoch, index, None if scaler is not None else norm)  # the scaler skips
    if scaler is not None:
        scaler.step(built.optimizer)
        scaler.update()
    else:
        built.optimizer.step()


def _test(state: LoopState, metrics: MetricSet | None, t0: float, t1: float) -> EpochRow:
    """The test pass; the epoch's row, recorded in the history, and the progress set to the next epoch."""
    built, p = state.built, state.progress
    state.result = evaluate(built, state.splits.test, state.ranks, metrics)
    total, seen = all_sum([p.loss_total, p.seen], built.device, state.ranks)
    p.loss_total, p.seen = total, int(seen)
    row = _epoch_row(built, p.epoch, p, state.result, t0, t1)
    p.history.append(row)
    p.epoch, p.batch, p.loss_total, p.seen = p.epoch + 1, 0, 0.0, 0
    return row


def _check_finite(value: float, epoch: int, batch_idx: int, grad_norm: Tensor | None = None) -> None:
    """Stop on a non-finite loss, or gradient norm when clipping computed it anyway.

    Without clipping, gradients are not inspected on every step (that costs a norm over all
    parameters): a non-finite gradient makes the next step's loss non-finite, which stops the
    run one step later, before any checkpoint of the damaged weights is written.
    """
    if not math.isfinite(value):
        raise TrainingError(
            f"epoch {epoch}, batch {batch_idx}: the loss is {value}; lower optimizer.lr, "
            "or check that the loss fits the model's output (e.g. nll needs a final log_softmax)"
        )
    if grad_norm is not None and not math.isfinite(float(grad_norm)):
        raise TrainingError(
            f"epoch {epoch}, batch {batch_idx}: a gradient is not finite (the loss was {value:.6g}); lower optimizer.lr"
        )


def _no_sync(model: nn.Module) -> contextlib.AbstractContextManager[None]:
    """DDP's context that keeps gradients local (a batch that is not the last of an accumulated step)."""
    return model.no_sync()  # type: ignore[operator, no-any-return]


def _ddp(built: Built, ranks: Ranks | None) -> nn.Module:
    if ranks is None:
        return built.model
    from torch.nn.parallel import DistributedDataParallel

    ids = [built.device.index] if built.device.type == "cuda" else None
    return DistributedDataParallel(built.model, device_ids=ids)


def _epoch_row(built: Built, epoch: int, progress: Progress, result: EvalResult, t0: float, t1: float) -> EpochRow:
    assert built.optimizer is not None
    return EpochRow(
        epoch=epoch,
        train_loss=progress.loss_total / max(progress.seen, 1),
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        test_correct=result.correct,
        test_total=result.total,
        metrics=result.metrics,
        lr=built.optimizer.param_groups[0]["lr"],
        train_seconds=t1 - t0,
        seconds=time.perf_counter() - t0,
        samples_per_second=progress.seen / max(t1 - t0, 1e-9),
    )
