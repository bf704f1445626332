"""The run directory: the resolved spec, versions, status, metrics files and checkpoints of one run.

::

    runs/quickstart-20261128-114501/
      spec.toml         the resolved spec (every default filled in): `run` accepts it as is
      run.json          spec hash, versions, status (running/completed/failed/interrupted), times
      metrics.jsonl     one JSON object per epoch
      metrics.csv       the same, as CSV
      checkpoints/      ckpt-e0003-b000000/ ..., `latest`, `best`
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w
import torch

from registry.atomic import remove_leftovers, write_json, write_text
from registry.errors import CheckpointError

__all__ = ["METRIC_FIELDS", "RunDir", "default_run_path", "spec_hash"]

METRIC_FIELDS = (
    "epoch", "train_loss", "test_loss", "test_accuracy", "test_correct", "test_total", "lr", "train_seconds",
    "seconds", "samples_per_second",
)  # fmt: skip


def spec_hash(resolved: dict[str, Any]) -> str:
    """SHA-256 of the resolved spec's canonical JSON."""
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()


def default_run_path(name: str | None, source: str | None) -> Path:
    """``runs/<spec name or file stem>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... if that is taken."""
    stem = f"{name or (Path(source).stem if source else 'run')}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = Path("runs") / stem, 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{stem}-{n}"
    return path


class RunDir:
    """One run's folder. Every write is atomic or an fsynced append."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checkpoints = path / "checkpoints"

    @classmethod
    def create(cls, path: Path) -> RunDir:
        """Make (or reuse, when empty) *path* and prove it writable, before any training.

        Raises:
            CheckpointError: it exists and is not empty, or cannot be written.
        """
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise CheckpointError(f"{path}: already exists and is not an empty folder; choose another --out")
        try:
            path.mkdir(parents=True, exist_ok=True)
            write_text(path / ".write-test", "ok\n")
            (path / ".write-test").unlink()
        except OSError as e:
            raise CheckpointError(f"{path}: cannot write the run directory: {e.strerror or e}") from None
        return cls(path)

    @classmethod
    def open(cls, path: Path, clean: bool = True) -> RunDir:
        """An existing run directory (for resume, evaluate, predict).

        Raises:
            CheckpointError: *path* is not a run directory.
        """
        if not (path / "run.json").is_file() or not (path / "spec.toml").is_file():
            raise CheckpointError(f"{path}: not a run directory (no run.json and spec.toml)")
        rd = cls(path)
        if clean:  # only the process that writes tidies up
            remove_leftovers(path)
            remove_leftovers(rd.checkpoints)
        return rd

    def _guard(self, what: str, write: Any) -> None:
        try:
            write()
        except OSError as e:
            raise CheckpointError(f"{self.path}: writing {what} failed: {e.strerror or e}") from None

    def start(self, resolved: dict[str, Any], source: str | None, plugins: Sequence[Any]) -> str:
        """Write spec.toml and run.json (status running); return the spec hash."""
        digest = spec_hash(resolved)
        info = {
            "spec_hash": digest,
            "source": source,
            "name": resolved.get("name"),
            "status": "running",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "registry": _registry_version(),
                "plugins": {p.name: f"{p.distribution} {p.version}" for p in plugins},
            },
        }
        self._guard("spec.toml", lambda: write_text(self.path / "spec.toml", tomli_w.dumps(resolved)))
        self._guard("run.json", lambda: write_json(self.path / "run.json", info))
        return digest

    def info(self) -> dict[str, Any]:
        """run.json, parsed."""
        try:
            return json.loads((self.path / "run.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{self.path / 'run.json'}: unreadable: {e}") from None

    def set_status(self, status: str, **extra: Any) -> None:
        """Record the run's status (and e.g. the message of a failure) in run.json."""
        info = {**self.info(), "status": status, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
        self._guard("run.json", lambda: write_json(self.path / "run.json", info))

    def write_confusion(self, counts: list[list[int]], classes: list[str]) -> None:
        """confusion.json: test-split counts[true][predicted] and the class names."""
        self._guard(
            "confusion.json", lambda: write_json(self.path / "confusion.json", {"classes": classes, "counts": counts})
        )

    def write_metrics(self, history: Sequence[dict[str, Any]]) -> None:
        """Rewrite metrics.jsonl and metrics.csv from *history* (one row per finished epoch)."""
        lines = "".join(json.dumps(row, sort_keys=True) + "\n" for row in history)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if row.get(k) is None else row[k]) for k in METRIC_FIELDS} for row in history)
        self._guard("metrics.jsonl", lambda: write_text(self.path / "metrics.jsonl", lines))
        self._guard("metrics.csv", lambda: write_text(self.path / "metrics.csv", buf.getvalue()))


def _registry_version() -> str:
    from registry import __version__

    return __version__
