"""Crash-safe file writes: write beside the target, flush, fsync, rename, fsync the folder.

A reader sees either the old file or the new one, never a part of one. A
crash leaves at most a ``.tmp-*`` file or folder behind, which
``remove_leftovers`` deletes.

``durable=False`` keeps the atomic rename but skips the fsyncs: for files that a power cut may
lose without harm because they are made again (a sweep trial, which is rerun rather than resumed).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["TMP_MARK", "fsync_dir", "remove_leftovers", "write_bytes", "write_json", "write_text"]

TMP_MARK = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """Make a rename or creation in *folder* durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(target: Path, fill: Callable[[Any], None], mode: str, durable: bool) -> None:
    tmp = target.with_name(f"{target.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, mode) as f:
            fill(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    if durable:
        fsync_dir(target.parent)


def write_bytes(target: Path, data: bytes, durable: bool = True) -> None:
    """Atomically replace *target* with *data* (and, when *durable*, make it survive a power cut)."""
    _write(target, lambda f: f.write(data), "wb", durable)


def write_text(target: Path, text: str, durable: bool = True) -> None:
    """Atomically replace *target* with *text* (UTF-8)."""
    write_bytes(target, text.encode("utf-8"), durable)


def write_json(target: Path, obj: Any, durable: bool = True) -> None:
    """Atomically replace *target* with *obj* as indented JSON."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n", durable)


def remove_leftovers(folder: Path) -> list[str]:
    """Delete the ``.tmp-*`` files and folders an interrupted write left in *folder*; return their names."""
    removed = []
    for p in folder.iterdir() if folder.is_dir() else ():
        if TMP_MARK in p.name:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()  # a link goes, not its target
            removed.append(p.name)
    return sorted(removed)
