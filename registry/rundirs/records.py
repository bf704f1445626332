"""What a run writes and reads back, as typed records: an epoch's metrics, ``run.json``, a checkpoint's state.

Every record read back from a run directory is untrusted (a file can be
truncated, edited or crafted): it is parsed with ``registry.files.untrusted`` and
validated here, types and ranges both, before anything uses it. A record that
does not validate is refused with the file's name and the first fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from registry.errors import CheckpointError, format_loc
from registry.files.untrusted import Unreadable, load_json, read_bounded

__all__ = [
    "MAX_EPOCHS",
    "Confusion",
    "EpochRow",
    "ExportRecord",
    "RunInfo",
    "SavedProgress",
    "SavedState",
    "Segment",
    "SweepRecord",
    "read_record",
]

MAX_EPOCHS = 1_000_000
MAX_BATCHES = 10**12
MAX_JSON_BYTES = 50 * 2**20

Count = Annotated[int, Field(ge=0, le=MAX_BATCHES)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EpochRow(_Record):
    """One finished epoch: the row of ``metrics.jsonl``/``metrics.csv``, a line of the log, a point of the plots."""

    epoch: Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
    train_loss: Finite
    test_loss: Finite
    test_accuracy: Annotated[float | None, Field(ge=0, le=1)]
    test_correct: Count | None
    test_total: Count
    metrics: dict[str, Finite] = {}
    lr: Finite
    train_seconds: Seconds
    seconds: Seconds
    samples_per_second: Seconds

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The fixed column names, in order (the metrics' columns come after, one per metric)."""
        return tuple(f for f in cls.model_fields if f != "metrics")

    def value(self, name: str) -> float | None:
        """The test value called *name*: ``loss``, ``accuracy`` (the seed's count) or a metric's name."""
        if name == "loss":
            return self.test_loss
        if name == "accuracy" and self.test_accuracy is not None:
            return self.test_accuracy
        return self.metrics.get(name)


class SavedProgress(_Record):
    """``progress`` in a checkpoint's ``state.json``: where training stood."""

    epoch: Annotated[int, Field(ge=1, le=MAX_EPOCHS + 1)]
    batch: Count
    loss_total: Finite
    seen: Count
    history: Annotated[list[EpochRow], Field(max_length=MAX_EPOCHS)]

    @model_validator(mode="after")
    def _one_row_per_finished_epoch(self) -> SavedProgress:
        if [row.epoch for row in self.history] != list(range(1, self.epoch)):
            raise ValueError(f"history must hold one row for each of epochs 1 to {self.epoch - 1}, in order")
        return self


Word = Annotated[int, Field(ge=0, lt=2**32)]


class SavedRng(_Record):
    """Python's and numpy's generator states, as ``random.getstate`` and ``numpy.random.get_state`` give them
    (the keys of numpy's are a tensor beside)."""

    python: tuple[Literal[3], Annotated[list[Word], Field(min_length=625, max_length=625)], Finite | None]
    numpy: tuple[Literal["MT19937"], Annotated[int, Field(ge=0, le=624)], Literal[0, 1], Finite]


class SavedState(_Record):
    """A checkpoint's ``state.json``: everything but tensors. The optimizer's and the policy's plain values
    are checked against the live optimizer and scheduler when they are applied (``checkpoint.check_like``)."""

    format: Literal[1]
    spec_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$|^$")]
    progress: SavedProgress
    optimizer: dict[str, Any]
    rng: SavedRng
    policy: dict[str, Any] = {}


class Confusion(_Record):
    """``confusion.json``: test-split counts[true class][predicted class], and the class names."""

    classes: Annotated[list[str], Field(min_length=1, max_length=100_000)]
    counts: list[list[Count]]

    @model_validator(mode="after")
    def _square(self) -> Confusion:
        n = len(self.classes)
        if len(self.counts) != n or any(len(row) != n for row in self.counts):
            raise ValueError(f"counts must be {n} rows of {n} numbers, one per class")
        return self


Status = Literal["running", "completed", "failed", "interrupted"]


class Segment(_Record):
    """One process's part of a run in ``run.json``'s ``segments``: when it started, from where, when and how it
    ended (``interrupted by SIGINT at epoch 2, batch 14``; None while it runs, or when it was killed unheard)."""

    started: str
    start: Annotated[str, Field(max_length=200)]
    ended: str | None = None
    how: Annotated[str | None, Field(max_length=400)] = None


RUN_ID = r"^[0-9a-f]{32}$"
"""A run's identity (``run.json``'s ``run_id``): kept when the directory is moved or copied."""


class RunInfo(BaseModel):
    """``run.json``: what the run is, what made it, and how it stands."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    run_id: Annotated[str | None, Field(pattern=RUN_ID)] = None
    spec_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    spec_file_hash: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    source: str | None = None
    name: str | None = None
    status: Status
    started: str
    updated: str | None = None
    error: str | None = None
    reason: str | None = None
    best_metric: str | None = None
    higher_is_better: bool | None = None
    versions: dict[str, Any] = {}
    final: dict[str, Any] | None = None
    segments: Annotated[list[Segment], Field(max_length=100_000)] = []


class ExportRecord(BaseModel):
    """``MODEL.json`` beside an export: which run and checkpoint it holds, and how to feed it."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    format: Literal["onnx", "pt2"]
    file: Annotated[str, Field(min_length=1, max_length=255)]
    run: Annotated[str, Field(max_length=4096)]
    run_id: Annotated[str | None, Field(pattern=RUN_ID)] = None
    checkpoint: Annotated[str, Field(pattern=r"^ckpt-e\d{4,}-(?:b\d{6,}|end)$")]


class SweepRecord(_Record):
    """``sweep.json``: where a sweep's study is stored, and under which name."""

    format: Literal[1]
    study: Annotated[str, Field(min_length=1, max_length=512)]
    storage: Annotated[str | None, Field(min_length=1)] = None
    created: str
    source: str | None = None


R = TypeVar("R", bound=BaseModel)


def read_record(path: Path, model: type[R], limit: int = MAX_JSON_BYTES) -> R:
    """Read the JSON file at *path* as a *model* record.

    Raises:
        CheckpointError: missing, not a regular file, too large, not JSON, nested too deeply, or not
            a valid record (the message names the first faulty key and why).
    """
    try:
        raw = read_bounded(path, limit, follow=False)
        load_json(raw)  # depth, duplicate keys, NaN: refused before pydantic sees it
        return model.model_validate_json(raw, strict=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (Unreadable, OSError) as e:
        raise CheckpointError(f"{path}: unreadable: {e}") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = format_loc(tuple(err["loc"]))
        got = f" (got {str(err['input'])[:40]!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        raise CheckpointError(f"{path}: not a valid {model.__name__} record: {where}: {err['msg']}{got}") from None
