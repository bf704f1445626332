"""Reading what registry did not write, or cannot trust: bounded in size and in nesting, regular files only.

A spec, a checkpoint's JSON, a run's ``run.json``, predict's inputs: each is
read through ``read_bounded`` (a FIFO or ``/dev/zero`` is refused before a byte
is read, and no file is read past its limit) and JSON through ``load_json``
(at most ``MAX_DEPTH`` levels of nesting, no duplicate keys, no NaN). The
callers turn ``Unreadable`` into their own error, naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["MAX_DEPTH", "Unreadable", "depth", "load_json", "read_bounded"]

MAX_DEPTH = 64
"""The deepest nesting of arrays and tables accepted anywhere: specs, --set values, JSON, safetensors headers."""


class Unreadable(ValueError):
    """A file or text that cannot be taken as input (the message says why, without the file's name)."""


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file *path*, refusing anything else, or more than *limit* bytes.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: as ``open`` raises them.
        Unreadable: not a regular file, or larger than *limit*.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("is not a regular file (a pipe, a device or a socket cannot be read as one)")
        if info.st_size > limit:
            raise Unreadable(f"the file is {info.st_size:,} bytes; at most {limit:,} are read")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise Unreadable(f"the file grew past {limit:,} bytes while it was read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, (list, tuple)):
        yield from value


def depth(value: Any) -> int:
    """How deeply *value* nests arrays and tables (a scalar is 0, ``[1]`` is 1)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in _children(node))
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise Unreadable(f"duplicate keys: {', '.join(dup)}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise Unreadable(f"{name} is not a JSON value")


def load_json(data: bytes | str) -> Any:
    """Parse JSON text strictly: no duplicate keys, no NaN or Infinity, at most ``MAX_DEPTH`` levels deep.

    Raises:
        Unreadable: with the reason.
    """
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        raise Unreadable(f"nested more than {MAX_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Unreadable(f"not JSON ({e})") from None
    if depth(value) > MAX_DEPTH:
        raise Unreadable(f"nested more than {MAX_DEPTH} levels deep")
    return value
