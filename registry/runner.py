"""The run: load the data once, then the seed notebook's train and test loops, epoch by epoch.

The log lines are the notebook's own, character for character.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from registry.builder import Built
from registry.data import DatasetSplits, Split, Transform, apply_transforms, iter_batches
from registry.errors import PluginLoadError, TrainingError

__all__ = [
    "EpochResult",
    "EvalResult",
    "RunResult",
    "batch_transforms",
    "evaluate",
    "load_data",
    "run",
    "train_epoch",
]

Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalResult:
    """Test-split metrics: the mean loss, and for classification the correct count."""

    loss: float
    correct: int | None
    total: int

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.total


@dataclass(frozen=True)
class EpochResult:
    """One epoch: mean training loss, test metrics, and wall time (training alone, and with the test)."""

    epoch: int
    train_loss: float
    test: EvalResult
    train_seconds: float
    seconds: float


@dataclass(frozen=True)
class RunResult:
    epochs: tuple[EpochResult, ...]
    seconds: float

    @property
    def final(self) -> EpochResult:
        return self.epochs[-1]


def load_data(built: Built) -> DatasetSplits:
    """Load the dataset once and move both splits to the run's device.

    With ``data.precompute`` the transforms are applied here, once; otherwise
    ``batch_transforms`` returns them for each batch.
    """
    splits = built.data.dataset.load()
    if not isinstance(splits, DatasetSplits):
        c = built.resolved.dataset.component
        raise PluginLoadError(
            f"dataset {c.name!r}: load() returned {type(splits).__name__}, not DatasetSplits", c.plugin
        )

    def prepare(split: Split) -> Split:
        moved = split.to(built.device)
        if built.resolved.spec.data.precompute:
            return Split(apply_transforms(moved.inputs, built.data.transforms), moved.targets)
        return moved

    return DatasetSplits(prepare(splits.train), prepare(splits.test))


def batch_transforms(built: Built) -> tuple[Transform, ...]:
    """The transforms still to apply to each batch (none when they were precomputed)."""
    return () if built.resolved.spec.data.precompute else built.data.transforms


def _summed(loss_fn: nn.Module) -> bool:
    return getattr(loss_fn, "reduction", "mean") == "sum"


def train_epoch(built: Built, train: Split, epoch: int, generator: torch.Generator, log: Log) -> float:
    """One pass over *train* in a fresh seeded order; returns the mean training loss."""
    model, loss_fn, optimizer = built.model, built.loss, built.optimizer
    assert optimizer is not None, "built without an optimizer"
    cfg = built.resolved.spec.train
    batch_size = built.resolved.spec.data.batch_size
    n = len(train)
    num_batches = math.ceil(n / batch_size)
    model.train()
    total = 0.0
    seen = 0
    summed = _summed(loss_fn)
    for batch_idx, (data, target) in enumerate(iter_batches(train, batch_size, generator, batch_transforms(built))):
        if cfg.max_steps_per_epoch is not None and batch_idx >= cfg.max_steps_per_epoch:
            break
        optimizer.zero_grad()
        output = model(data)
        loss = loss_fn(output, target)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(
                f"epoch {epoch}, batch {batch_idx}: the loss is {value}; lower optimizer.lr, "
                "or check that the loss fits the model's output (e.g. nll needs a final log_softmax)"
            )
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        total += value * (1 if summed else len(data))
        seen += len(data)
        if batch_idx % cfg.log_interval == 0:
            log(
                f"Train Epoch: {epoch} [{batch_idx * len(data)}/{n} "
                f"({100.0 * batch_idx / num_batches:.0f}%)]\tLoss: {value:.6f}"
            )
    return total / max(seen, 1)


def _correct(output: Tensor, target: Tensor) -> int | None:
    if target.dtype in (torch.int64, torch.int32) and output.dim() == 2:
        return int(output.argmax(dim=1).eq(target).sum().item())
    return None


def evaluate(built: Built, test: Split) -> EvalResult:
    """The mean loss over *test* and, for class targets, how many argmax predictions are right."""
    model, loss_fn = built.model, built.loss
    model.eval()
    total = 0.0
    correct: int | None = 0
    with torch.no_grad():
        for data, target in iter_batches(test, built.resolved.spec.data.test_batch_size, None, batch_transforms(built)):
            output = model(data)
            loss = loss_fn(output, target).item()
            total += loss if _summed(loss_fn) else loss * len(data)
            c = _correct(output, target)
            correct = None if c is None or correct is None else correct + c
    return EvalResult(total / len(test), correct, len(test))


def format_test(result: EvalResult) -> str:
    """The notebook's test line (with its blank lines before and after)."""
    line = f"\nTest set: Average loss: {result.loss:.4f}"
    if result.correct is not None:
        line += f", Accuracy: {result.correct}/{result.total} ({100.0 * result.correct / result.total:.0f}%)"
    return line + "\n"


def run(built: Built, log: Log = print) -> RunResult:
    """Train for ``train.epochs`` epochs, testing after each; return every epoch's metrics.

    Raises:
        TrainingError: the loss became non-finite.
        DatasetNotFoundError: the data could not be loaded.
    """
    start = time.perf_counter()
    splits = load_data(built)
    generator = torch.Generator().manual_seed(built.resolved.spec.seed)
    epochs = []
    for epoch in range(1, built.resolved.spec.train.epochs + 1):
        t0 = time.perf_counter()
        train_loss = train_epoch(built, splits.train, epoch, generator, log)
        t1 = time.perf_counter()
        result = evaluate(built, splits.test)
        log(format_test(result))
        epochs.append(EpochResult(epoch, train_loss, result, t1 - t0, time.perf_counter() - t0))
    return RunResult(tuple(epochs), time.perf_counter() - start)
