"""Every file registry writes: atomically, and never through a link planted in the folder it writes into.

A run or sweep directory may come from elsewhere (copied, downloaded, mailed), so anything inside it can
be a symbolic link to a file of the user's, or a FIFO. Every writer goes through this module:

- a file is written under an unpredictable temporary name created exclusively (``O_EXCL | O_NOFOLLOW``),
  flushed, fsynced, then renamed over its target: a reader sees the old file or the new one, never a part;
- the folders between the directory (the *root*, which the user named) and the file are checked on the
  way: none may be a link, and a folder that is missing is made (``mkdir`` never follows a link);
- the target itself may be a regular file or missing: a link there, or a special file, is refused with
  ``UnsafePath`` naming it (nothing is written);
- a lock file is opened with ``O_NOFOLLOW | O_NONBLOCK`` and must be a regular file.

``durable=False`` keeps the atomic rename but skips the fsyncs: for files that a power cut may
lose without harm because they are made again (a sweep trial, which is rerun rather than resumed).
A crash leaves at most a ``.tmp-*`` file or folder behind, which ``remove_leftovers`` deletes.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "TMP_MARK",
    "UnsafePath",
    "fsync_dir",
    "make_folder",
    "make_temp_folder",
    "open_lock",
    "probe_lock",
    "remove_leftovers",
    "remove_tree",
    "write_bytes",
    "write_json",
    "write_text",
]

TMP_MARK = ".tmp-"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePath(OSError):
    """A path registry will not write (or lock) through: a symbolic link, or a file that is not a regular one.

    Attributes:
        path: the offending path.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        super().__init__(f"{path} is {what}; registry never writes through one: remove it, or choose another folder")


def _kind(info: os.stat_result) -> str | None:
    """What an ``lstat`` shows that registry must not write through, or None for a regular file."""
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "a folder"
    return "not a regular file (a pipe, a device or a socket)"


def _below(root: Path, path: Path) -> list[Path]:
    """The folders from just below *root* down to *path* itself (none when *path* is *root*)."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise ValueError(f"{path} is not inside {root}") from None
    return [root.joinpath(*rel.parts[: i + 1]) for i in range(len(rel.parts))]


def make_folder(folder: Path, root: Path | None = None) -> Path:
    """Make *folder* (and the folders between *root* and it), refusing a link or a file on the way.

    *root* is the directory the user named (its own path may hold links: the user chose it); without
    one, *folder*'s parent is taken as the root.

    Raises:
        UnsafePath: a part of the way below *root* is a link or not a folder.
        OSError: a folder cannot be made.
    """
    root = folder.parent if root is None else root
    if not root.exists():
        root.mkdir(parents=True, exist_ok=True)
    for part in _below(root, folder):
        try:
            os.mkdir(part)
            continue
        except FileExistsError:
            pass
        info = os.lstat(part)
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafePath(part, "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder")
    return folder


def _check_target(target: Path, root: Path | None) -> None:
    if root is not None:
        make_folder(target.parent, root)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    what = _kind(info)
    if what is not None:
        raise UnsafePath(target, what)


def fsync_dir(folder: Path) -> None:
    """Make a rename or creation in *folder* durable."""
    fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(target: Path, data: bytes, durable: bool = True, root: Path | None = None) -> None:
    """Atomically replace *target* with *data* (and, when *durable*, make it survive a power cut).

    *root* is the run or sweep directory that holds *target*: no folder between it and *target* may be a
    link. Without it, only *target* itself and its folder are checked.

    Raises:
        UnsafePath: *target*, or a folder on the way to it, is a link or a special file.
        OSError: the write failed (the disk is full...); the old file is untouched.
    """
    _check_target(target, root)
    tmp = target.with_name(f"{target.name}{TMP_MARK}{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, target)  # a rename replaces a link made meanwhile; it never writes through one
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    if durable:
        fsync_dir(target.parent)


def write_text(target: Path, text: str, durable: bool = True, root: Path | None = None) -> None:
    """Atomically replace *target* with *text* (UTF-8); see ``write_bytes``."""
    write_bytes(target, text.encode("utf-8"), durable, root)


def write_json(target: Path, obj: Any, durable: bool = True, root: Path | None = None) -> None:
    """Atomically replace *target* with *obj* as indented JSON; see ``write_bytes``."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n", durable, root)


def make_temp_folder(folder: Path, prefix: str, root: Path | None = None) -> Path:
    """A new, empty folder in *folder* under an unpredictable name that starts with *prefix* and ``TMP_MARK``.

    Raises:
        UnsafePath: *folder* or a folder on the way to it is a link.
    """
    make_folder(folder, root)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{TMP_MARK}", dir=folder))


def remove_tree(path: Path) -> None:
    """Delete the file or folder *path*; a link is removed itself, never what it points to."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)  # fd-based on Linux: it does not follow links inside
    else:
        os.unlink(path)


def open_lock(path: Path, root: Path | None = None) -> int:
    """Open (or make) the lock file *path* for writing, without following a link or blocking on a FIFO.

    Raises:
        UnsafePath: *path* is a link or not a regular file.
        OSError: it cannot be made.
    """
    if root is not None:
        make_folder(path.parent, root)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _CLOEXEC, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafePath(path, "a symbolic link") from None
        if e.errno in (errno.ENXIO, errno.EISDIR):
            raise UnsafePath(path, "not a regular file (a pipe, a device or a socket)" if e.errno == errno.ENXIO
                             else "a folder") from None  # fmt: skip
        raise
    what = _kind(os.fstat(fd))
    if what is not None:
        os.close(fd)
        raise UnsafePath(path, what)
    return fd


def probe_lock(path: Path | str) -> int | None:
    """Open the lock file *path* to look at its lock (read only, no link followed, no FIFO waited on); None
    when it is missing, a link or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    if _kind(os.fstat(fd)) is not None:
        os.close(fd)
        return None
    return fd


def remove_leftovers(folder: Path) -> list[str]:
    """Delete the ``.tmp-*`` files and folders an interrupted write left in *folder*; return their names."""
    removed = []
    if folder.is_dir() and not folder.is_symlink():
        for p in folder.iterdir():
            if TMP_MARK in p.name:
                remove_tree(p)  # a link goes, not its target
                removed.append(p.name)
    return sorted(removed)
