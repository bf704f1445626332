"""The run: load the data once, then the seed notebook's train and test loops, epoch by epoch.

The log lines are the notebook's own, character for character. SIGINT and
SIGTERM are caught for the whole run, the final test pass and the confusion
matrix included: the current step (or test pass) finishes, a checkpoint is
written, and the run stops with ``Interrupted``, leaving a directory that
``--resume`` continues.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import Tensor, nn
from torch.utils.data import Dataset as TorchDataset

from registry.building.builder import Built
from registry.building.data import (
    DatasetSplits,
    Split,
    Transform,
    apply_transforms,
    block_batches,
    iter_batches,
    split_len,
)
from registry.building.factory import plugin_fault, short_message
from registry.building.metrics import MetricSet
from registry.building.precision import autocast, make_scaler
from registry.building.schedules import Schedule, Training, build_schedule, steps_per_epoch
from registry.building.tasks import Task
from registry.errors import CheckpointError, DatasetNotFoundError, Interrupted, RegistryError, TrainingError
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
from registry.rundirs.rundir import RunDir
from registry.spec.paths import check_paths, locate_missing
from registry.training.distributed import Ranks, all_sum, shard
from registry.training.reporting import PlainReporter, Reporter
from registry.training.stopping import stop_reason

__all__ = [
    "EvalResult",
    "RunResult",
    "batch_transforms",
    "evaluate",
    "format_test",
    "load_data",
    "run",
    "train_epoch",
]

Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalResult:
    """A test pass: the mean loss, for classification the correct count, and the run's metrics."""

    loss: float
    correct: int | None
    total: int
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.total


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


def _check_splits(built: Built, splits: Any) -> DatasetSplits:
    c = built.resolved.dataset.component
    if not isinstance(splits, DatasetSplits):
        raise plugin_fault(c, f"returned {type(splits).__name__} from load(), not registry.DatasetSplits")
    for label, split in (("train", splits.train), ("test", splits.test)):
        if isinstance(split, Split):
            wrong = built.data.dataset.check(split, label)
            if wrong:
                raise plugin_fault(c, f"loaded data that differs from its declaration: {wrong}")
        elif not isinstance(split, TorchDataset):
            raise plugin_fault(c, f"gave its {label} split as {type(split).__name__}, not a Split or a torch Dataset")
    return splits


def raw_splits(built: Built) -> DatasetSplits:
    """What the dataset's ``load`` returns, its paths checked first; a missing file said where the spec writes it.

    Raises:
        DatasetNotFoundError: a path is not there (``registry.spec.paths``), or the loader found files missing.
        PluginError: its ``load`` raised something else.
    """
    r, where = built.resolved.dataset, built.resolved.provenance
    check_paths(r.path_values, where)
    try:
        return built.data.dataset.load()  # checked by the caller (_check_splits)
    except DatasetNotFoundError as e:
        raise locate_missing(e, r.path_values, where) from None
    except RegistryError:
        raise
    except Exception as e:  # a plugin's loader can raise anything: its fault, named
        raise plugin_fault(r.component, f"raised {type(e).__name__} while loading its data: {short_message(e)}") from e


def load_data(built: Built) -> DatasetSplits:
    """Load the dataset once, check it against its declaration, and move both splits to the run's device.

    With ``data.precompute`` the transforms are applied here, once, to the splits held in
    memory; otherwise ``batch_transforms`` returns them for each batch.

    Raises:
        DatasetNotFoundError: the dataset's files are missing.
        PluginError: its ``load`` raised something else, or returned data unlike what it declares.
    """
    splits = _check_splits(built, raw_splits(built))
    train, test = (_encoded(built, s) for s in (splits.train, splits.test))
    if built.resolved.spec.data.precompute and built.data.transforms:
        return DatasetSplits(_precomputed(built, train), _precomputed(built, test), splits.fitted)
    train, test = (s.to(built.device) if isinstance(s, Split) else s for s in (train, test))
    return DatasetSplits(train, test, splits.fitted)


def _encoded(built: Built, split: Split | TorchDataset[Any]) -> Split | TorchDataset[Any]:
    """*split* with its targets as the loss takes them (one-hot, a 0/1 column...), once for the whole split."""
    if not isinstance(split, Split):
        return split
    return Split(split.inputs, built.task.encode(split.targets), split.transformed)


def _precomputed(built: Built, split: Split | TorchDataset[Any]) -> Split | TorchDataset[Any]:
    if not isinstance(split, Split):  # streamed through a DataLoader, transformed batch by batch
        return split
    moved = split.to(built.device)
    return Split(apply_transforms(moved.inputs, built.data.transforms), moved.targets, transformed=True)


def batch_transforms(built: Built, split: Split | TorchDataset[Any] | None = None) -> tuple[Transform, ...]:
    """The transforms still to apply to the batches of *split*: none when ``load_data`` precomputed them.

    Without *split*: the spec's answer for a split held in memory (none with ``data.precompute``).
    """
    if split is None:
        return () if built.resolved.spec.data.precompute else built.data.transforms
    return () if isinstance(split, Split) and split.transformed else built.data.transforms


def _summed(loss_fn: Any) -> bool:
    return getattr(loss_fn, "reduction", "mean") == "sum"


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes its step (or test pass), checkpoints, and stops.

    A second signal does not wait: it stops at once, as Python's default would.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextlib.contextmanager
def _catch_signals(enabled: bool) -> Iterator[_StopFlag]:
    flag = _StopFlag()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


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


def train_epoch(
    built: Built,
    train: Split | TorchDataset[Any],
    epoch: int,
    generator: torch.Generator,
    log: Log | Reporter,
    progress: Progress | None = None,
    after_step: Callable[[Progress], None] | None = None,
    ranks: Ranks | None = None,
    model: nn.Module | None = None,
    schedule: Schedule | None = None,
    scaler: Any = None,
) -> float:
    """One pass over *train* in a fresh seeded order, from ``progress.batch`` on; returns the mean training loss.

    *progress* is updated after every batch (batches done, running loss), and *after_step* is
    called with it after every optimizer step: that is where checkpoints and signals are handled.
    With ``train.accumulate = N`` the gradients of N batches are added up before each step, each
    batch's mean loss weighted by its share of the N batches' samples, so that the step is the one
    a single N-times-larger batch gives (for a mean-reduced loss). Under torchrun (*ranks*), *model*
    is the DDP-wrapped model and each rank trains on its share of every batch, its loss scaled by
    that share so that DDP's average of the ranks' gradients is the whole batch's gradient.
    A per-batch *schedule* steps after every optimizer step. With ``train.precision`` the forward pass
    and the loss run under autocast; float16's gradient *scaler* scales the loss and skips steps whose
    gradients overflowed.
    """
    loss_fn, optimizer = built.loss, built.optimizer
    model = model or built.model
    report = _reporter(log)
    assert optimizer is not None, "built without an optimizer"
    cfg = built.resolved.spec.train
    batch_size = built.resolved.spec.data.batch_size
    p = progress or Progress(epoch=epoch)
    n = split_len(train)
    num_batches = math.ceil(n / batch_size)
    summed = _summed(loss_fn)
    model.train()
    share = (lambda idx: shard(idx, ranks)) if ranks else None
    block = block_batches(batch_size, built.data.sample_nbytes)
    steps = batch_transforms(built, train)
    batches = iter_batches(train, batch_size, generator, steps, p.batch, share, built.device, block)
    last = cfg.max_steps_per_epoch
    augments, clip, interval, group = built.data.augment, cfg.grad_clip, cfg.log_interval, cfg.accumulate
    precision = cfg.precision
    end = num_batches if last is None else min(num_batches, last)
    world = ranks.world_size if ranks else 1
    for batch_idx, (data, target, whole) in enumerate(batches, start=p.batch):
        if batch_idx >= end:
            break
        for augment in augments:  # random: drawn batch by batch, so that a resumed epoch draws the same
            data = augment(data)
        size = data.shape[0]
        first = batch_idx - batch_idx % group  # this optimizer step's batches: [first, stop)
        stop = min(first + group, end)
        if batch_idx == first:
            optimizer.zero_grad()
        syncing = ranks is None or batch_idx + 1 == stop
        with contextlib.nullcontext() if syncing else _no_sync(model):  # DDP: reduce once, at the step
            with autocast(precision, built.device):
                output = model(data)
                loss = loss_fn(output, target) if size else output.sum() * 0.0
            value = loss.item()
            if batch_idx + 1 < stop:  # the step's last batch is checked with the gradient's norm below
                _check_finite(value, epoch, batch_idx)
            samples = min(stop * batch_size, n) - first * batch_size  # the whole step's samples, all ranks
            scale = 1.0 if summed else size * world / samples
            loss = loss * scale if scale != 1.0 else loss
            (scaler.scale(loss) if scaler is not None else loss).backward()
        p.loss_total += value if summed else value * size
        p.seen += size
        p.batch = batch_idx + 1
        due = batch_idx % interval == 0
        shown = value
        if due and ranks:  # the whole batch's loss, as one process would print it
            total, count = all_sum([value if summed else value * size, size], built.device, ranks)
            shown = total if summed else total / max(count, 1)
        report.train_step(epoch, batch_idx, num_batches, batch_idx * whole, n, shown, due)
        if batch_idx + 1 < stop:
            continue
        if scaler is not None and clip is not None:
            scaler.unscale_(optimizer)  # clip the true gradients
        norm = None if clip is None else nn.utils.clip_grad_norm_(model.parameters(), clip)
        _check_finite(value, epoch, batch_idx, None if scaler is not None else norm)  # the scaler skips overflows
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if schedule is not None:
            schedule.after_step()
        if after_step is not None:
            after_step(p)
    total, seen = all_sum([p.loss_total, p.seen], built.device, ranks)
    return total / max(seen, 1)


def _no_sync(model: nn.Module) -> contextlib.AbstractContextManager[None]:
    """DDP's context that keeps gradients local (a batch that is not the last of an accumulated step)."""
    return model.no_sync()  # type: ignore[operator, no-any-return]


def _correct(task: Task, produces: str, output: Tensor, target: Tensor) -> int:
    """How many predictions are right: the argmax class; for 0/1 targets, every label on the right side of 0.5."""
    if task.kind == "multiclass":
        labels = target.argmax(dim=1) if task.encoding == "one_hot" else target
        return int(output.argmax(dim=1).eq(labels).sum().item())
    predicted = task.probabilities(output, produces) > 0.5
    return int((predicted == (target > 0.5)).all(dim=1).sum().item())


def evaluate(
    built: Built, test: Split | TorchDataset[Any], ranks: Ranks | None = None, metrics: MetricSet | None = None
) -> EvalResult:
    """The mean loss over *test*, for classification how many predictions are right, and the *metrics*.

    Under torchrun each rank evaluates its share of every batch and the sums are added up.
    """
    model, loss_fn, task = built.model, built.loss, built.task
    precision = built.resolved.spec.train.precision
    model.eval()
    total = 0.0
    correct: int | None = 0 if task.is_classification else None
    share = (lambda idx: shard(idx, ranks)) if ranks else None
    size = built.resolved.spec.data.test_batch_size
    if metrics is not None:
        metrics.reset()
    with torch.no_grad():
        steps, block = batch_transforms(built, test), block_batches(size, built.data.sample_nbytes)
        for data, target, _ in iter_batches(test, size, None, steps, share=share, device=built.device, block=block):
            if not len(data):
                continue
            with autocast(precision, built.device):
                output = model(data)
            if precision != "float32":
                output = output.float()  # the loss and metrics in float32, as the training loss is reported
            loss = loss_fn(output, target).item()
            total += loss if _summed(loss_fn) else loss * len(data)
            if correct is not None:
                correct += _correct(task, built.model_plan.produces, output, target)
            if metrics is not None:
                metrics.update(output, target)
    total, right = all_sum([total, -1.0 if correct is None else float(correct)], built.device, ranks)
    values = metrics.compute() if metrics is not None else {}
    return EvalResult(total / split_len(test), None if correct is None else round(right), split_len(test), values)


def format_test(result: EvalResult) -> str:
    """The notebook's test line (with its blank lines before and after), unchanged for classification, with
    the spec's metrics on a line of their own after it; for regression, the loss and the metrics on one line."""
    line = f"\nTest set: Average loss: {result.loss:.4f}"
    metrics = "".join(f", {name}: {value:.4f}" for name, value in result.metrics.items())
    if result.correct is not None:
        line += f", Accuracy: {result.correct}/{result.total} ({100.0 * result.correct / result.total:.0f}%)"
        if metrics:
            line += "\nTest metrics: " + metrics.removeprefix(", ")
    else:
        line += metrics
    return line + "\n"


@dataclass
class _Checkpointer:
    """Writes the run's checkpoints and metrics; a no-op without a run directory."""

    built: Built
    rundir: RunDir | None
    spec_hash: str
    generator: torch.Generator
    epoch_start: Tensor
    ranks: Ranks | None = None
    schedule: Schedule | None = None
    scaler: Any = None

    def save(self, progress: Progress) -> Path | None:
        if self.ranks is not None and progress.batch:  # mid-epoch: store the whole run's running loss
            total, seen = all_sum([progress.loss_total, progress.seen], self.built.device, self.ranks)
            progress = dataclasses.replace(progress, loss_total=total, seen=int(seen))
        if self.rundir is None:
            return None
        assert self.built.optimizer is not None
        folder = self.rundir.checkpoints
        try:
            policy: dict[str, Any] = {"scheduler": self.schedule.scheduler.state_dict()} if self.schedule else {}
            if self.scaler is not None:
                policy["scaler"] = self.scaler.state_dict()
            path = save_checkpoint(
                folder, self.built.model, self.built.optimizer, self.generator, self.epoch_start, progress,
                self.spec_hash, policy, self.rundir.durable,
            )  # fmt: skip
        except (OSError, SafetensorError) as e:  # safetensors reports a full disk as its own error
            raise CheckpointError(
                f"{folder}: writing a checkpoint failed: {getattr(e, 'strerror', None) or e}; "
                "the previous checkpoint is intact"
            ) from None
        if progress.batch:
            self.rotate()
        return path

    def rotate(self) -> None:
        assert self.rundir is not None
        try:
            rotate(self.rundir.checkpoints, self.built.resolved.spec.train.keep_checkpoints)
        except OSError as e:
            raise CheckpointError(f"{self.rundir.checkpoints}: removing old checkpoints failed: {e}") from None

    def end_epoch(self, progress: Progress) -> None:
        path = self.save(progress)
        if self.rundir is None or path is None:
            return
        if _is_best(self.built.best, progress.history):
            promote_best(self.rundir.checkpoints, path, self.rundir.durable)
        self.rotate()
        self.rundir.write_metrics(progress.history)


def _is_best(best: tuple[str, bool], history: list[EpochRow]) -> bool:
    """Whether the last epoch's value of *best* (name, larger is better) is the best so far."""
    name, higher = best
    values = [v for v in (row.value(name) for row in history) if v is not None]
    return bool(values) and values[-1] == (max(values) if higher else min(values))


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


def _reporter(log: Log | Reporter) -> Reporter:
    return log if isinstance(log, Reporter) else PlainReporter(log)


def _interrupted(stop: _StopFlag, p: Progress, path: Path | None, rundir: RunDir | None) -> Interrupted:
    assert stop.signal_name is not None
    where = f"epoch {p.epoch}, batch {p.batch}" if p.batch else f"the end of epoch {p.epoch - 1}"
    return Interrupted(
        f"interrupted by {stop.signal_name} at {where}; checkpoint saved in {path}; resume with: "
        f"python -m registry run --resume {rundir.path if rundir else 'DIR'}",
        stop.signal_name,
    )


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
    start = time.perf_counter()
    with _catch_signals(rundir is not None) as stop:
        splits = splits or load_data(built)
        if rundir is not None and (ranks is None or ranks.is_main):
            rundir.write_fitted(splits.fitted)  # what predict needs to prepare inputs as these were
        generator = torch.Generator().manual_seed(built.resolved.spec.seed)
        progress = Progress()
        epoch_start = generator.get_state()
        assert built.optimizer is not None
        cfg, data = built.resolved.spec.train, built.resolved.spec.data
        steps = steps_per_epoch(split_len(splits.train), data.batch_size, cfg.accumulate, cfg.max_steps_per_epoch)
        schedule = build_schedule(
            built.resolved, built.optimizer, Training(cfg.epochs, steps, higher_is_better=built.test_values)
        )
        scaler = make_scaler(cfg.precision, built.device)
        if resume is not None:
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
        done_before = len(progress.history)
        metrics = (
            MetricSet(built.metrics, built.task, built.model_plan.produces, built.device) if built.metrics else None
        )
        report = _reporter(log)
        ckpt = _Checkpointer(built, rundir, spec_hash, generator, epoch_start, ranks, schedule, scaler)
        model = _ddp(built, ranks)
        stopping = cfg.early_stopping

        def stop_now(epoch_ended: bool = True) -> str | None:
            if stopping is not None and built.early_stop is not None:
                reason = stop_reason(progress.history, built.early_stop, stopping.patience, stopping.min_delta)
                if reason is not None:
                    return reason
            return stop_rule(progress.history) if stop_rule is not None and epoch_ended else None

        stopped = None

        def after_step(p: Progress) -> None:
            every = built.resolved.spec.train.checkpoint_every
            if ranks and all_sum([1.0 if stop.signal_name else 0.0], built.device, ranks)[0]:
                stop.signal_name = stop.signal_name or "SIGTERM"  # another rank was signalled
            if stop.signal_name is not None:
                raise _interrupted(stop, p, ckpt.save(p), rundir)
            first = (p.batch - 1) - (p.batch - 1) % cfg.accumulate  # the step's first batch
            if every and first // every < p.batch // every:  # the step crossed a multiple of checkpoint_every
                ckpt.save(p)

        for epoch in range(progress.epoch, built.resolved.spec.train.epochs + 1):
            if progress.batch == 0 and (stopped := stop_now(epoch_ended=False)) is not None:
                break  # already decided (a resumed run that had stopped early)
            if progress.batch == 0:
                ckpt.epoch_start = generator.get_state()
            else:  # resumed mid-epoch: draw this epoch's permutation again
                generator.set_state(ckpt.epoch_start)
            t0 = time.perf_counter()
            train_epoch(
                built, splits.train, epoch, generator, report, progress, after_step, ranks, model, schedule, scaler
            )
            t1 = time.perf_counter()
            result = evaluate(built, splits.test, ranks, metrics)
            total, seen = all_sum([progress.loss_total, progress.seen], built.device, ranks)
            progress.loss_total, progress.seen = total, int(seen)
            row = _epoch_row(built, epoch, progress, result, t0, t1)
            report.test(epoch, format_test(result), row)
            progress.history.append(row)
            progress.epoch, progress.batch, progress.loss_total, progress.seen = epoch + 1, 0, 0.0, 0
            if schedule is not None:
                schedule.after_epoch(row.value(schedule.monitor) if schedule.monitor else None)
            ckpt.end_epoch(progress)
            if stop.signal_name is not None:  # arrived during the test pass: the epoch is saved whole
                raise _interrupted(stop, progress, rundir.checkpoints if rundir else None, rundir)
            verdict = stop_now()  # asked after every epoch: a sweep's rule reports the epoch's value to its pruner
            if verdict is not None and epoch < built.resolved.spec.train.epochs:  # only when there are epochs to cut
                stopped = verdict
                report.note("early_stop", stopped[:1].upper() + stopped[1:])
                break
        report.close()
        if rundir is not None:
            rundir.write_metrics(progress.history)
            if built.task.kind in ("multiclass", "binary") and isinstance(splits.test, Split):
                rundir.write_confusion(_confusion(built, splits.test), list(built.task.labels))
            if stop.signal_name is not None:
                raise _interrupted(stop, progress, rundir.checkpoints, rundir)
    return RunResult(tuple(progress.history), time.perf_counter() - start, done_before, stopped)


def _load_schedule(schedule: Schedule, ckpt: Checkpoint) -> None:
    saved = ckpt.state.get("policy", {}).get("scheduler")
    if saved is None:
        raise CheckpointError(f"{ckpt.path}: holds no scheduler state, but the spec has a scheduler")
    check_like(saved, schedule.scheduler.state_dict(), "policy.scheduler", ckpt.path / "state.json")
    try:
        schedule.scheduler.load_state_dict(saved)
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{ckpt.path}: its scheduler state does not fit this scheduler: {e}") from None


def _classes(built: Built, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """The predicted and the true class index of each sample (multiclass, or binary at 0.5)."""
    task = built.task
    if task.kind == "binary":
        predicted = task.probabilities(output, built.model_plan.produces).reshape(-1) > 0.5
        return predicted.long(), target.reshape(-1).long()
    return output.argmax(dim=1), target.argmax(dim=1) if task.encoding == "one_hot" else target


def _confusion(built: Built, test: Split) -> list[list[int]]:
    """counts[true class][predicted class] on the test split (argmax of the model's output)."""
    k = built.task.num_classes
    counts = torch.zeros(k * k, dtype=torch.long, device=built.device)
    built.model.eval()
    with torch.no_grad():
        for data, target, _ in iter_batches(
            test, built.resolved.spec.data.test_batch_size, None, batch_transforms(built, test)
        ):
            with autocast(built.resolved.spec.train.precision, built.device):  # as evaluate counts them
                output = built.model(data)
            predicted, labels = _classes(built, output.float(), target)
            counts += torch.bincount(labels * k + predicted, minlength=k * k)
    return counts.view(k, k).tolist()
