"""Reading what registry did not write, or cannot trust: bounded in size and in nesting, regular files only.

A spec, a checkpoint's JSON, a run's ``run.json``, predict's inputs: each is
read through ``read_bounded`` (a FIFO or ``/dev/zero`` is refused before a byte
is read, and no file is read past its limit) and JSON through ``load_json``
(at most ``MAX_DEPTH`` levels of nesting, no duplicate keys, no NaN). The
callers turn ``Unreadable`` into their own error, naming the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "MAX_ARRAY_BYTES",
    "MAX_DEPTH",
    "Unreadable",
    "check_npy_header",
    "check_npz",
    "depth",
    "load_json",
    "read_bounded",
]

MAX_DEPTH = 64
"""The deepest nesting of arrays and tables accepted anywhere: specs, --set values, JSON, safetensors headers."""


class Unreadable(ValueError):
    """A file or text that cannot be taken as input (the message says why, without the file's name)."""


def read_bounded(path: str | Path, limit: int, follow: bool = True) -> bytes:
    """The bytes of the regular file *path*, refusing anything else, or more than *limit* bytes.

    Without *follow*, a symbolic link is refused too (a record of a run or sweep directory is read only
    from the directory itself).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: as ``open`` raises them.
        Unreadable: not a regular file (or a link, without *follow*), or larger than *limit*.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)  # a FIFO must not block
    try:
        fd = os.open(path, flags if follow else flags | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        if e.errno == errno.ELOOP and not follow:
            raise Unreadable("is a symbolic link (a run's records are read from its own directory only)") from None
        raise
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
    except Unreadable:
        raise
    except ValueError as e:  # an integer of more than 4,300 digits: Python's own limit on reading one
        raise Unreadable(f"holds a number too long to read ({str(e).split(';')[0]})") from None
    if depth(value) > MAX_DEPTH:
        raise Unreadable(f"nested more than {MAX_DEPTH} levels deep")
    return value


def _memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - a platform without sysconf
        return 16 * 2**30


MAX_ARRAY_BYTES = _memory() // 2
"""The most bytes one array read from a user's file may declare: half this machine's memory."""


def check_npy_header(stream: IO[bytes], available: int, limit: int = MAX_ARRAY_BYTES) -> tuple[int, ...]:
    """Read a ``.npy`` header from *stream* and refuse it before any array is allocated: more data than the
    *available* bytes that follow the header hold, or more than *limit*. Returns the shape; *stream* is left
    after the header. (Object arrays, pickles, are refused by numpy's ``allow_pickle=False``.)

    Raises:
        Unreadable: with the reason (shape, declared and available bytes).
    """
    import numpy as np

    start = stream.tell()
    try:
        version = np.lib.format.read_magic(stream)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(stream)
    except (ValueError, OSError, SyntaxError, UnicodeDecodeError) as e:
        raise Unreadable(f"not a .npy array ({e})") from None
    declared = math.prod(shape) * dtype.itemsize
    left = available - (stream.tell() - start)
    if declared > limit:
        raise Unreadable(f"declares an array of shape {shape} ({declared:,} bytes), more than the {limit:,} allowed")
    if declared > left:
        raise Unreadable(f"declares an array of shape {shape} ({declared:,} bytes) but holds {max(left, 0):,} bytes")
    return tuple(shape)


def check_npz(path: str | Path, limit: int = MAX_ARRAY_BYTES) -> None:
    """Check every member of the ``.npz`` file *path* (``check_npy_header``) before numpy reads any of them.

    Raises:
        Unreadable: not a zip of ``.npy`` arrays, or a member that declares more than it holds or than *limit*.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                if total > limit:
                    raise Unreadable(f"its arrays unpack to more than the {limit:,} bytes allowed")
                with archive.open(info) as member:
                    check_npy_header(member, info.file_size, limit)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise Unreadable(f"not a .npz file ({e})") from None
