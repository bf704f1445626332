"""How a run reports progress: the notebook's plain lines, a progress bar on a terminal, JSON, or quiet.

The runner calls ``train_step`` after every step (cheap: a bar only redraws a
few times a second), ``test`` after every epoch's evaluation, and ``close`` at
the end. ``PlainReporter`` prints exactly the seed notebook's lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from registry.rundirs.records import EpochRow

__all__ = ["BarReporter", "JsonReporter", "PlainReporter", "QuietReporter", "Reporter", "make_reporter"]

Log = Callable[[str], None]


class Reporter:
    """The interface; the base class reports nothing."""

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        """After a training step: batch index, batches per epoch, samples seen / in the split, loss;
        *due* is true every ``train.log_interval`` batches (the loss is then the whole batch's)."""

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        """After an epoch's evaluation: the notebook's test line and the epoch's metrics row."""

    def note(self, event: str, text: str, **data: Any) -> None:
        """Something to tell besides the training lines (``resume``, ``done``, ``run_dir``...): *text* for
        people, *data* for machines."""

    def close(self) -> None:
        """At the end of the run (or when it stops)."""


class PlainReporter(Reporter):
    """The seed notebook's ``Train Epoch`` and ``Test set`` lines, and nothing else."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        if due:
            self.log(f"Train Epoch: {epoch} [{seen}/{total} ({100.0 * batch / num_batches:.0f}%)]\tLoss: {loss:.6f}")

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        self.log(line)

    def note(self, event: str, text: str, **data: Any) -> None:
        self.log(text)


class QuietReporter(PlainReporter):
    """Only the test lines (without the notebook's blank lines around them) and the notes."""

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        return

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        self.log(line.strip("\n"))


class JsonReporter(Reporter):
    """One JSON object per line: ``{"event": "train", ...}`` every log interval, ``{"event": "epoch", ...}``."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        if due:
            self.log(json.dumps({"event": "train", "epoch": epoch, "batch": batch, "seen": seen, "loss": loss}))

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        self.log(json.dumps({"event": "epoch", **row.model_dump()}, allow_nan=False))

    def note(self, event: str, text: str, **data: Any) -> None:
        self.log(json.dumps({"event": event, "message": text, **data}, allow_nan=False, default=str))


class BarReporter(Reporter):
    """A tqdm bar per epoch with the loss, samples/s and time left; the test line after each epoch."""

    def __init__(self, out: TextIO, epochs: int) -> None:
        self.out = out
        self.epochs = epochs
        self.bar: Any = None
        self.start = 0.0
        self.seen0 = 0

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        if self.bar is None:
            self.bar = tqdm(total=num_batches, initial=batch, desc=f"epoch {epoch}/{self.epochs}", unit="batch",
                            file=self.out, dynamic_ncols=True, leave=True)  # fmt: skip
            self.start, self.seen0 = time.perf_counter(), seen
        self.bar.update(1)
        rate = (seen - self.seen0) / max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix(loss=f"{loss:.4f}", samples_per_s=f"{rate:,.0f}", refresh=False)

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(line.strip("\n"), file=self.out, flush=True)

    def note(self, event: str, text: str, **data: Any) -> None:
        print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class TensorBoardReporter(Reporter):
    """Passes everything to *inner*, and writes each epoch's metrics as TensorBoard scalars."""

    def __init__(self, inner: Reporter, folder: str) -> None:
        from torch.utils.tensorboard import SummaryWriter  # needs the optional `tensorboard` package

        self.inner = inner
        self.writer = SummaryWriter(folder)

    def train_step(
        self, epoch: int, batch: int, num_batches: int, seen: int, total: int, loss: float, due: bool
    ) -> None:
        self.inner.train_step(epoch, batch, num_batches, seen, total, loss, due)
        if due:
            self.writer.add_scalar("train/batch_loss", loss, (epoch - 1) * num_batches + batch)

    def test(self, epoch: int, line: str, row: EpochRow) -> None:
        self.inner.test(epoch, line, row)
        for key in ("train_loss", "test_loss", "test_accuracy", "lr", "samples_per_second"):
            value = getattr(row, key)
            if value is not None:
                self.writer.add_scalar(f"epoch/{key}", value, epoch)
        for name, value in row.metrics.items():
            self.writer.add_scalar(f"metrics/{name}", value, epoch)
        self.writer.flush()

    def note(self, event: str, text: str, **data: Any) -> None:
        self.inner.note(event, text, **data)

    def close(self) -> None:
        self.inner.close()
        self.writer.close()


def make_reporter(fmt: str, quiet: bool, out: TextIO, epochs: int) -> Reporter:
    """The reporter for ``--log-format`` and ``--quiet``: a bar on a terminal, plain lines otherwise."""
    log: Log = lambda line: print(line, file=out, flush=True)  # noqa: E731
    if fmt == "json":
        return JsonReporter(log)
    if quiet:
        return QuietReporter(log)
    if fmt == "auto" and out.isatty():
        return BarReporter(out, epochs)
    return PlainReporter(log)
