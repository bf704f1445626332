"""Checkpoints: weights and optimizer tensors in safetensors, everything else in JSON; nothing unpickled.

A checkpoint is a folder named, in the log's numbering, by where training stood:
``checkpoints/ckpt-e0003-end/`` after epoch 3, ``ckpt-e0004-b000100/`` 100 batches into epoch 4. It holds
``model.safetensors``, ``tensors.safetensors`` (optimizer state and RNG states)
and ``state.json`` (progress, metrics history, optimizer hyperparameters,
Python's and numpy's RNG states as plain numbers). It is written under a
temporary name, every file fsynced (unless the run directory is not durable: a sweep
trial), then renamed; only then does the
``latest`` pointer (and ``best``, when it improved) move to it, atomically.
Rotation runs after that, so the last good checkpoint is never deleted before
the new one is complete.

Loading treats the folder as untrusted: each safetensors file is checked
structurally first (``registry.rundirs.safetensors_header``), ``state.json`` is read as a
validated record (``registry.rundirs.records``: types, ranges, nesting depth), and
weights must be finite.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from registry.errors import CheckpointError
from registry.files.atomic import UnsafePath, fsync_dir, make_temp_folder, remove_leftovers, remove_tree, write_text
from registry.files.untrusted import Unreadable, read_bounded
from registry.rundirs.records import EpochRow, SavedState, read_record
from registry.rundirs.safetensors_header import MalformedError, check_safetensors

__all__ = [
    "DEFAULT",
    "FORMAT",
    "POINTERS",
    "Checkpoint",
    "Progress",
    "apply_checkpoint",
    "check_like",
    "checkpoint_name",
    "describe",
    "load_checkpoint",
    "rotate",
    "save_checkpoint",
]

FORMAT = 1
NAME = re.compile(r"ckpt-e(\d{4,})-(?:b(\d{6,})|end)")
POINTERS = ("best", "latest")
DEFAULT = "best"
"""The checkpoint ``evaluate``, ``predict``, ``export`` and ``registry.open_run`` use unless told: the one
``train.monitor`` judged best (``run --resume`` continues from ``latest``, where training stopped)."""


@dataclass
class Progress:
    """Where training stands: the epoch in progress, batches done in it, its running loss, past epochs' rows."""

    epoch: int = 1
    batch: int = 0
    loss_total: float = 0.0
    seen: int = 0
    history: list[EpochRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batch": self.batch, "loss_total": self.loss_total, "seen": self.seen,
                "history": [row.model_dump() for row in self.history]}  # fmt: skip


def checkpoint_name(progress: Progress) -> str:
    """The folder name for *progress*, in the log's epoch numbering: ``ckpt-e0003-end`` once epoch 3 is
    done, ``ckpt-e0004-b000100`` 100 batches into epoch 4."""
    if progress.batch == 0 and progress.epoch > 1:
        return f"ckpt-e{progress.epoch - 1:04d}-end"
    return f"ckpt-e{progress.epoch:04d}-b{progress.batch:06d}"


def _order(name: str) -> tuple[int, float]:
    m = NAME.fullmatch(name)
    assert m is not None
    return int(m.group(1)), float("inf") if m.group(2) is None else int(m.group(2))


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint, validated, ready to apply."""

    path: Path
    progress: Progress
    spec_hash: str
    model: dict[str, Tensor]
    tensors: dict[str, Tensor]
    state: dict[str, Any]


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _tag(value: Any) -> Any:
    """*value* as JSON can hold it: tuples, non-finite floats (a scheduler's ``best = inf``) and tables with
    keys that are not strings (MultiStepLR's ``Counter`` of milestones) tagged, so that they come back as they were."""
    if isinstance(value, tuple):
        return {"__tuple__": [_tag(v) for v in value]}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, dict) and (isinstance(value, Counter) or not all(isinstance(k, str) for k in value)):
        kind = "__counter__" if isinstance(value, Counter) else "__items__"
        return {kind: [[_tag(k), _tag(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": str(value)}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__tuple__"}:
        return tuple(_untag(v) for v in value["__tuple__"])
    if isinstance(value, dict) and set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
        return float(value["__float__"])
    if isinstance(value, dict) and len(value) == 1 and set(value) <= {"__items__", "__counter__"}:
        ((kind, items),) = value.items()
        pairs = {_untag(k): _untag(v) for k, v in items if isinstance(items, list)}
        return Counter(pairs) if kind == "__counter__" else pairs
    if isinstance(value, dict):
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = _tag(value)
    groups = [{k: _tag(v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _rng_parts(generator: torch.Generator, epoch_start: Tensor) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.data": generator.get_state(),
        "rng.data_epoch_start": epoch_start,
    }
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, internal, gauss = random.getstate()
    plain = {"numpy": [kind, int(pos), int(has_gauss), float(cached)], "python": [version, list(internal), gauss]}
    return tensors, plain


def save_checkpoint(
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    epoch_start: Tensor,
    progress: Progress,
    spec_hash: str,
    policy: dict[str, Any] | None = None,
    durable: bool = True,
) -> Path:
    """Write a complete checkpoint into *folder* (the run's ``checkpoints/``) and point ``latest`` at it.

    *policy* holds the training policy's own state (the scheduler's ``state_dict``), kept as JSON.
    Without *durable*, nothing is fsynced (the renames keep it atomic).

    Raises:
        OSError, SafetensorError: a write failed, the disk is full (the previous checkpoint and
            ``latest`` are untouched).
    """
    name = checkpoint_name(progress)
    tmp = make_temp_folder(folder, name, folder.parent)  # checkpoints/ itself must not be a link
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / "model.safetensors"))
        opt_tensors, opt_plain = _optimizer_parts(optimizer)
        rng_tensors, rng_plain = _rng_parts(generator, epoch_start)
        save_file({**opt_tensors, **rng_tensors}, str(tmp / "tensors.safetensors"))
        state = {"format": FORMAT, "spec_hash": spec_hash, "progress": progress.to_json(), "optimizer": opt_plain,
                 "rng": rng_plain, "policy": _tag(policy or {})}  # fmt: skip
        (tmp / "state.json").write_text(json.dumps(state, allow_nan=False))
        if durable:
            for f in tmp.iterdir():
                _fsync(f)
            fsync_dir(tmp)
        final = folder / name
        if final.is_symlink():
            raise UnsafePath(final, "a symbolic link")
        remove_tree(final)
        os.rename(tmp, final)
        if durable:
            fsync_dir(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_text(folder / "latest", name + "\n", durable, folder)
    return final


def promote_best(folder: Path, path: Path, durable: bool = True) -> None:
    """Point ``best`` at the checkpoint *path* (atomically)."""
    write_text(folder / "best", path.name + "\n", durable, folder)


def rotate(folder: Path, keep_last: int) -> list[str]:
    """Delete checkpoints beyond the newest *keep_last*, never ``latest`` or ``best``; return the deleted names."""
    remove_leftovers(folder)
    names = sorted((p.name for p in folder.iterdir() if _is_folder(p) and NAME.fullmatch(p.name)), key=_order)
    pinned = {_pointer(folder, "latest"), _pointer(folder, "best")}
    doomed = [n for n in names[:-keep_last] if n not in pinned] if keep_last else []
    for n in doomed:
        remove_tree(folder / n)
    return doomed


def _is_folder(path: Path) -> bool:
    """A real folder (a link to one is not a checkpoint of this run)."""
    return path.is_dir() and not path.is_symlink()


def _pointer(folder: Path, which: str) -> str | None:
    try:
        name = read_bounded(folder / which, 4096, follow=False).decode("utf-8", errors="replace").strip()
    except (OSError, Unreadable):
        return None
    return name if NAME.fullmatch(name) else None


def _load_tensors(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        check_safetensors(path)
        return load_file(str(path))
    except (MalformedError, SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file: {e}") from None


def resolve_checkpoint(path: Path, which: str = "latest") -> Path:
    """The checkpoint folder meant by *path*: a run directory (its ``latest`` or ``best``, or a checkpoint's
    folder name), or a checkpoint folder.

    Raises:
        CheckpointError: there is none.
    """
    if NAME.fullmatch(path.name) and _is_folder(path):
        return path
    folder = path / "checkpoints"
    if NAME.fullmatch(which):
        if not _is_folder(folder / which):
            raise CheckpointError(f"{path}: no checkpoint {which!r} in {folder}")
        return folder / which
    if which not in POINTERS:
        raise CheckpointError(f"{which!r} is not a checkpoint: say best, latest, or a folder name as ckpt-e0003-end")
    name = _pointer(folder, which)
    if name is None or not _is_folder(folder / name):
        raise CheckpointError(f"{path}: no complete checkpoint ({which!r} pointer missing or broken in {folder})")
    return folder / name


def load_checkpoint(path: Path, which: str = "latest") -> Checkpoint:
    """Load and validate the checkpoint at *path* (a run directory or a checkpoint folder).

    Raises:
        CheckpointError: missing, truncated, malformed, holding non-finite weights, or a ``state.json``
            that is not a valid record.
    """
    ckpt = resolve_checkpoint(path, which)
    state = read_record(ckpt / "state.json", SavedState)
    model = _load_tensors(ckpt / "model.safetensors")
    bad = [k for k, v in model.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{ckpt}: non-finite weights in {', '.join(bad[:5])}")
    tensors = _load_tensors(ckpt / "tensors.safetensors")
    p = state.progress
    progress = Progress(p.epoch, p.batch, p.loss_total, p.seen, list(p.history))
    plain = {"optimizer": state.optimizer, "rng": state.rng.model_dump(), "policy": _untag(state.policy)}
    return Checkpoint(ckpt, progress, state.spec_hash, model, tensors, plain)


def describe(ckpt: Path, which: str) -> str:
    """``checkpoint best: ckpt-e0005-end (epoch 5)``: which checkpoint a command uses, for its first line."""
    m = NAME.fullmatch(ckpt.name)
    where = ""
    if m is not None:
        epoch = int(m.group(1))
        where = f" (epoch {epoch})" if m.group(2) is None else f" ({int(m.group(2))} batches into epoch {epoch})"
    return f"checkpoint {which}: {ckpt.name}{where}" if which in POINTERS else f"checkpoint {ckpt.name}{where}"


FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_INT = 2**53


def check_like(saved: Any, live: Any, where: str, path: Path) -> None:
    """Refuse a value read back from *path* unless it has the shape and types of *live*, the value this
    process's optimizer, scheduler or scaler holds now: the same keys, the same lengths, booleans where it has
    booleans, integers within 2**53 where it has integers, finite numbers within float32's range where it has
    numbers. (A scheduler's ``load_state_dict`` sets every key it is given as an attribute: none may be new.)

    Raises:
        CheckpointError: naming *path* and the key path *where* of the first value that does not fit.
    """

    if isinstance(live, dict):
        if not isinstance(saved, dict) or set(map(str, saved)) != set(map(str, live)):
            raise CheckpointError(
                f"{path}: {where}: must be a table of {', '.join(sorted(map(str, live))) or 'nothing'}"
            )
        by_name = {str(k): v for k, v in saved.items()}
        for key, value in live.items():
            check_like(by_name[str(key)], value, f"{where}.{key}", path)
    elif isinstance(live, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(live):
            raise CheckpointError(f"{path}: {where}: must be a list of {len(live)} values")
        for i, (s, v) in enumerate(zip(saved, live, strict=True)):
            check_like(s, v, f"{where}[{i}]", path)
    else:
        why = _unlike(saved, live)
        if why is not None:
            raise CheckpointError(f"{path}: {where}: {why} (got {_shown(saved)})")


def _unlike(saved: Any, live: Any) -> str | None:
    """Why the plain value *saved* cannot stand for *live* (None: it can)."""
    number = not isinstance(saved, bool) and isinstance(saved, (int, float))
    if isinstance(live, bool):
        return None if isinstance(saved, bool) else "must be true or false"
    if isinstance(live, int):
        return (
            None if number and isinstance(saved, int) and abs(saved) <= MAX_INT else "must be an integer within 2**53"
        )
    if isinstance(live, float):
        return None if number and _in_float32(saved, live) else "must be a number within float32's range"
    if isinstance(live, str):
        return None if isinstance(saved, str) and len(saved) <= 256 else "must be a string"
    if live is None and not (saved is None or isinstance(saved, (bool, int, float, str))):
        return "must be a plain value"
    return None


def _in_float32(value: float, live: float) -> bool:
    if math.isnan(value):
        return math.isnan(live)
    if math.isinf(value):  # a scheduler's best = inf until it improves: only where the live value is infinite too
        return math.isinf(live)
    return abs(value) <= FLOAT32_MAX


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (set, Counter)) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _optimizer_state(ckpt: Checkpoint) -> dict[str, Any]:
    plain = ckpt.state["optimizer"]
    state: dict[int, dict[str, Any]] = {}
    for key, value in ckpt.tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, scalars in plain["scalars"].items():
        state.setdefault(int(index), {}).update({k: _untag(v) for k, v in scalars.items()})
    groups = [{k: _untag(v) for k, v in g.items()} for g in plain["param_groups"]]
    return {"state": state, "param_groups": groups}


def apply_checkpoint(
    ckpt: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> Tensor:
    """Load weights, optimizer state and every RNG state; return the data generator's state at the epoch's start.

    Raises:
        CheckpointError: the checkpoint does not fit this model or optimizer.
    """
    live = optimizer.state_dict()
    saved = _untag(ckpt.state["optimizer"])
    where = ckpt.path / "state.json"
    if not isinstance(saved, dict) or set(saved) != {"param_groups", "scalars"}:
        raise CheckpointError(f"{where}: optimizer: must be a table of param_groups and scalars")
    check_like(saved["param_groups"], live["param_groups"], "optimizer.param_groups", where)
    for index, scalars in saved["scalars"].items() if isinstance(saved["scalars"], dict) else ():
        for name, value in scalars.items() if isinstance(scalars, dict) else ():
            check_like(value, 0.0, f"optimizer.scalars.{index}.{name}", where)  # a step count, a running value
    try:
        model.load_state_dict(ckpt.model, strict=True)
        optimizer.load_state_dict(_optimizer_state(ckpt))
        t = ckpt.tensors
        torch.set_rng_state(t["rng.torch"])
        generator.set_state(t["rng.data"])
        cuda = [t[k] for k in sorted(t) if k.startswith("rng.cuda.")]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        kind, pos, has_gauss, cached = ckpt.state["rng"]["numpy"]
        np.random.set_state((kind, t["rng.numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = ckpt.state["rng"]["python"]
        random.setstate((version, tuple(internal), gauss))
        return t["rng.data_epoch_start"]
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{ckpt.path}: does not fit this model and optimizer: {e}") from None
