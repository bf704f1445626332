"""The run directory: the resolved spec, versions, status, metrics files and checkpoints of one run.

::

    runs/quickstart-20261128-114501/
      spec.toml         the resolved spec (every default filled in): `run` accepts it as is
      run.json          spec hash, versions, status (running/completed/failed/interrupted) and why, times
      metrics.jsonl     one JSON object per epoch
      metrics.csv       the same, as CSV
      confusion.json    test-split confusion counts (classification)
      loss.png, accuracy.png, confusion.png   with the plots extra
      checkpoints/      ckpt-e0003-end/, ckpt-e0004-b000100/ ..., `latest`, `best`
      .lock             held (flock) by the one process writing the directory

A process that writes the directory holds an exclusive lock on ``.lock`` for as
long as it runs; the system releases it when the process ends, however it ends.
So a second writer is refused naming the holder, and a ``running`` status whose
lock nobody holds is recognised as a run that was killed.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w
import torch

from registry.errors import CheckpointError
from registry.files.atomic import UnsafePath, open_lock, probe_lock, remove_leftovers, write_text
from registry.rundirs.records import EpochRow, RunInfo, read_record

__all__ = ["RunDir", "default_run_path", "spec_hash"]

LOCK = ".lock"


def spec_hash(resolved: dict[str, Any]) -> str:
    """SHA-256 of the resolved spec's canonical JSON."""
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()


def _safe_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", text).lstrip(".")[:64]
    return stem or "run"


def default_run_path(name: str | None, source: str | None, folder: str = "runs") -> Path:
    """Make and return ``runs/<spec name or file stem>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... if taken), or
    the same under *folder* (``sweeps``).

    The folder is made here, atomically, so two runs started in the same second never share one.
    The spec's ``name`` is already one safe path component (the spec format allows nothing else); a file
    stem is made one (characters other than letters, digits, ``_ . -`` become ``_``; no leading dot).

    Raises:
        CheckpointError: *folder* cannot be written.
    """
    stem = f"{_safe_stem(name or (Path(source).stem if source else 'run'))}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        path = Path(folder) / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
        except OSError as e:
            raise CheckpointError(f"{path}: cannot make the run directory: {e.strerror or e}") from None
    raise CheckpointError(f"{folder}/{stem}: 10,000 directories of that name exist; choose --out")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class RunDir:
    """One run's folder. Every write is atomic; only the process holding its lock writes.

    A *durable* one (the default) fsyncs every write, so a power cut cannot lose a finished epoch; a
    sweep's trials are not durable (a trial cut off is run again, never resumed), which saves each
    trial dozens of fsyncs.
    """

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self.checkpoints = path / "checkpoints"
        self._lock_fd: int | None = None

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, durable: bool = True) -> RunDir:
        """Make (or reuse, when empty) *path*, lock it and prove it writable, before any training.

        Raises:
            CheckpointError: it exists and is not empty, is held by another process, or cannot be written.
        """
        if path.exists() and (not path.is_dir() or any(p.name != LOCK for p in path.iterdir())):
            raise CheckpointError(f"{path}: already exists and is not an empty folder; choose another run directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"{path}: cannot make the run directory: {e.strerror or e}") from None
        rd = cls(path, durable)
        rd.lock()
        try:
            rd.check_writable()
        except BaseException:
            rd.release()
            raise
        return rd

    @classmethod
    def open(cls, path: Path, writer: bool = True) -> RunDir:
        """An existing run directory (to resume it, or to read it for evaluate, predict and plot).

        With *writer*, the directory is locked, proven writable and cleared of the leftovers of an
        interrupted write: what ``--resume`` needs before it trains.

        Raises:
            CheckpointError: *path* is not a run directory, another process writes it, or it cannot be written.
        """
        if not (path / "run.json").is_file() or not (path / "spec.toml").is_file():
            raise CheckpointError(f"{path}: not a run directory (no run.json and spec.toml)")
        rd = cls(path)
        if writer:
            rd.lock()
            try:
                rd.check_writable()
                remove_leftovers(path)
                remove_leftovers(rd.checkpoints)
            except OSError as e:
                rd.release()
                raise CheckpointError(f"{path}: cannot clear what an interrupted write left: {e}") from None
            except BaseException:
                rd.release()
                raise
        return rd

    def check_writable(self) -> None:
        """Raise ``CheckpointError`` unless a file can be written into the directory (and its checkpoints)."""
        for folder in (self.path, self.checkpoints) if os.path.lexists(self.checkpoints) else (self.path,):
            try:
                if folder.is_symlink() or not folder.is_dir():
                    raise UnsafePath(folder, "a symbolic link" if folder.is_symlink() else "not a folder")
                fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)  # an unpredictable, new name
                os.close(fd)
                os.unlink(probe)
            except OSError as e:
                raise CheckpointError(f"{folder}: cannot be written: {e.strerror or e}") from None

    # -- the lock --------------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the directory's lock for this process (released when the process ends, however).

        Raises:
            CheckpointError: another live process holds it (named), or the lock file cannot be made.
        """
        try:
            fd = open_lock(self.path / LOCK)
        except OSError as e:
            raise CheckpointError(f"{self.path}: cannot lock the run directory: {e.strerror or e}") from None
        if not _take(fd):
            holder = _holder(fd)
            os.close(fd)
            raise CheckpointError(
                f"{self.path}: in use by {holder}; one process writes a run directory at a time: wait for it "
                "to end (or stop it), then try again"
            ) from None
        command = " ".join(["registry", *sys.argv[1:]])[:200]
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now(), "command": command}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(me).encode())
        except OSError as e:
            os.close(fd)
            raise CheckpointError(f"{self.path}: cannot be written: {e.strerror or e}") from None
        self._lock_fd = fd

    def release(self) -> None:
        """Give the lock back (the process ending does the same)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def is_held(self) -> bool:
        """Whether some process (this one included) holds the directory's lock now."""
        if self._lock_fd is not None:
            return True
        fd = probe_lock(self.path / LOCK)
        if fd is None:
            return False
        try:  # a shared lock is refused while a writer holds its exclusive one, and keeps no writer out for long
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return True  # cannot tell (a file system without flock): do not call a live run killed
        finally:
            os.close(fd)
        return False

    # -- run.json --------------------------------------------------------------------------------

    def _write_text(self, name: str, text: str) -> None:
        """Write the directory's file *name* (atomically, never through a link planted there)."""
        try:
            write_text(self.path / name, text, self.durable, self.path)
        except OSError as e:
            raise CheckpointError(f"{self.path}: writing {name} failed: {e.strerror or e}") from None

    def _write_json(self, name: str, obj: Any) -> None:
        self._write_text(name, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")

    def start(
        self, resolved: dict[str, Any], source: str | None, plugins: Sequence[Any], best: tuple[str, bool]
    ) -> str:
        """Write spec.toml and run.json (status running, and the value that picks the best checkpoint); return
        the spec hash."""
        digest = spec_hash(resolved)
        text = tomli_w.dumps(resolved)
        info = {
            "run_id": uuid.uuid4().hex,
            "spec_hash": digest,
            "spec_file_hash": hashlib.sha256(text.encode()).hexdigest(),
            "source": source,
            "name": resolved.get("name"),
            "status": "running",
            "started": _now(),
            "segments": [{"started": _now(), "start": "the beginning"}],
            "best_metric": best[0],
            "higher_is_better": best[1],
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "registry": _registry_version(),
                "plugins": {p.name: f"{p.distribution} {p.version}" for p in plugins},
            },
        }
        self._write_text("spec.toml", text)
        self._write_json("run.json", info)
        return digest

    def info(self) -> RunInfo:
        """run.json, validated.

        Raises:
            CheckpointError: missing, unreadable, or not a valid record.
        """
        return read_record(self.path / "run.json", RunInfo)

    def status(self) -> str:
        """The run's status: run.json's, except that ``running`` with nobody holding the lock is ``killed``."""
        status = self.info().status
        return "killed" if status == "running" and not self.is_held() else status

    def set_status(self, status: str, **extra: Any) -> None:
        """Record the run's status (and why it ended) in run.json; ``running`` and ``completed`` drop an old reason.
        An ending status closes the open segment with how it ended."""
        info = self.info().model_dump(exclude_none=True)
        if status in ("running", "completed"):
            info.pop("reason", None)
        segments = info.get("segments", [])
        if status != "running" and segments and "how" not in segments[-1]:
            reason = str(extra.get("reason") or "").split(";")[0].splitlines()[0] if extra.get("reason") else ""
            how = reason if status == "interrupted" and reason else f"{status}{f': {reason}' if reason else ''}"
            segments[-1] = {**segments[-1], "ended": _now(), "how": how[:400]}
        info = {**info, "status": status, "updated": _now(), **extra}
        self._write_json("run.json", info)

    def resume(self, start: str) -> str | None:
        """Record that this process takes the run on from *start* (a checkpoint): a new segment, the run
        running again. Returns how the previous segment ended (a killed one is said so now).

        Raises:
            CheckpointError: run.json cannot be read or written.
        """
        info = self.info().model_dump(exclude_none=True)
        segments = info.get("segments", []) or [{"started": info["started"], "start": "the beginning"}]
        if "how" not in segments[-1]:
            segments[-1] = {**segments[-1], "how": "killed: its process ended without a word (SIGKILL, a crash, a "
                            "power cut)"}  # fmt: skip
        before = segments[-1]["how"]
        segments.append({"started": _now(), "start": start})
        info.pop("reason", None)
        self._write_json("run.json", {**info, "status": "running", "updated": _now(), "segments": segments})
        return str(before)

    def check_spec_file(self) -> None:
        """Refuse a ``spec.toml`` edited since the run wrote it (its hash is in run.json).

        Raises:
            CheckpointError: it differs from what the run trained with.
        """
        stored = self.info().spec_file_hash
        if stored is None:  # a run directory from before the hash was kept
            return
        try:
            actual = hashlib.sha256((self.path / "spec.toml").read_bytes()).hexdigest()
        except OSError as e:
            raise CheckpointError(f"{self.path / 'spec.toml'}: unreadable: {e.strerror or e}") from None
        if actual != stored:
            raise CheckpointError(
                f"{self.path / 'spec.toml'}: edited after the run wrote it (its SHA-256 differs from the one in "
                "run.json); it must stay the spec the run trained with: restore it, or start a new run from your "
                "edited copy"
            )

    # -- results ---------------------------------------------------------------------------------

    def write_fitted(self, fitted: dict[str, Any]) -> None:
        """data.json: what the dataset learnt from its training split, for predict (when it learnt anything)."""
        if fitted:
            self._write_json("data.json", fitted)

    def read_fitted(self) -> dict[str, Any]:
        """data.json, or nothing when the dataset learnt nothing.

        Raises:
            CheckpointError: it is not a readable JSON object.
        """
        path = self.path / "data.json"
        if not path.is_file():
            return {}
        from registry.files.untrusted import Unreadable, load_json, read_bounded

        try:
            value = load_json(read_bounded(path, 50 * 2**20))
        except (Unreadable, OSError) as e:
            raise CheckpointError(f"{path}: unreadable: {e}") from None
        if not isinstance(value, dict):
            raise CheckpointError(f"{path}: not a JSON object")
        return value

    def write_confusion(self, counts: list[list[int]], classes: list[str]) -> None:
        """confusion.json: test-split counts[true][predicted] and the class names."""
        self._write_json("confusion.json", {"classes": classes, "counts": counts})

    def write_metrics(self, history: Sequence[EpochRow]) -> None:
        """Rewrite metrics.jsonl and metrics.csv from *history* (one row per finished epoch)."""
        lines = "".join(row.model_dump_json() + "\n" for row in history)
        buf = io.StringIO()
        metrics = sorted({name for row in history for name in row.metrics})
        writer = csv.DictWriter(buf, fieldnames=[*EpochRow.fields(), *metrics], lineterminator="\n")
        writer.writeheader()
        for row in history:
            flat = {k: v for k, v in row.model_dump().items() if k != "metrics"} | row.metrics
            writer.writerow({k: ("" if v is None else v) for k, v in flat.items()})
        self._write_text("metrics.jsonl", lines)
        self._write_text("metrics.csv", buf.getvalue())

    def read_metrics(self) -> list[EpochRow]:
        """The rows of metrics.jsonl, validated (none when the file is missing).

        Raises:
            CheckpointError: a row is not valid.
        """
        path = self.path / "metrics.jsonl"
        if not path.is_file():
            return []
        from registry.files.untrusted import Unreadable, load_json, read_bounded

        rows: list[EpochRow] = []
        try:
            for line in read_bounded(path, 50 * 2**20).decode().splitlines():
                if line.strip():
                    load_json(line)
                    rows.append(EpochRow.model_validate_json(line, strict=True))
        except (Unreadable, UnicodeDecodeError, ValueError) as e:
            where = f"line {len(rows) + 1}"
            raise CheckpointError(f"{path}: {where}: not a valid metrics row ({str(e).splitlines()[0]})") from None
        return rows


def _take(fd: int, tries: int = 10) -> bool:
    """Take the exclusive lock on *fd*, retrying for a moment (a reader's look holds a shared one briefly)."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.02)
    return False


def _holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        who = json.loads(raw)
        return f"process {who['pid']} on {who['host']} (since {who['since']}: {who['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _registry_version() -> str:
    from registry.version import __version__

    return __version__
