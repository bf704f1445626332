"""A sweep's ``study.journal`` (Optuna's journal file), checked before Optuna reads it or appends to it.

The sweep directory is untrusted, and Optuna opens the journal by path, following links, reading whole
lines: a link would have it append to another file, a FIFO would block it, ``/dev/zero`` would fill the
memory with one endless line, and a garbled line raises deep inside its replay. So the journal must be
a regular file in the directory itself, at most ``MAX_JOURNAL_BYTES``, each of its complete lines one
JSON object of Optuna's journal operations; its lock (``study.journal.lock``, a link Optuna makes while
it appends) may only be such a link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from registry.errors import SweepError
from registry.files.untrusted import Unreadable, load_json, read_bounded

__all__ = ["JOURNAL", "MAX_JOURNAL_BYTES", "check_journal", "open_journal"]

JOURNAL = "study.journal"
MAX_JOURNAL_BYTES = 1 << 30
"""A thousand trials of a hundred epochs each write a few megabytes."""
_OPERATIONS = range(0, 32)  # Optuna's JournalOperation codes (0-13 today), with room for new ones


def check_journal(path: Path, create: bool) -> None:
    """Refuse the journal of the sweep directory *path* unless it is one Optuna can safely use.

    Raises:
        SweepError: missing (without *create*), a link or special file, too large, or not a journal.
    """
    journal = path / JOURNAL
    try:
        info = os.lstat(journal)
    except FileNotFoundError:
        if create:
            return
        raise SweepError(f"{journal}: missing; the sweep's study is not there (nothing was created)") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise SweepError(f"{journal}: is {what}; a sweep's journal is read and written in its own directory only")
    lock = journal.with_name(JOURNAL + ".lock")
    if os.path.lexists(lock) and not lock.is_symlink():  # Optuna's lock is a link; anything else never goes away
        raise SweepError(f"{lock}: is not Optuna's lock (a link): remove it if no sweep is running")
    try:
        data = read_bounded(journal, MAX_JOURNAL_BYTES, follow=False)
    except (OSError, Unreadable) as e:
        raise SweepError(f"{journal}: unreadable: {getattr(e, 'strerror', None) or e}") from None
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # the last piece: empty, or a cut line Optuna skips
        try:
            record = load_json(line)
        except Unreadable as e:
            raise SweepError(f"{journal}: line {number}: not a study journal's record ({e})") from None
        if not _is_operation(record):
            raise SweepError(f"{journal}: line {number}: not a study journal's record (an object with an "
                             "op_code and a worker_id)")  # fmt: skip


def _is_operation(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and type(record.get("op_code")) is int
        and record["op_code"] in _OPERATIONS
        and isinstance(record.get("worker_id"), str)
    )


def open_journal(optuna: Any, path: Path, create: bool) -> Any:
    """Optuna's ``JournalStorage`` on the sweep directory *path*'s journal, after ``check_journal``.

    A writer holds Optuna's lock (``study.journal.lock``, a symbolic link to the journal) while it appends; a
    worker killed while holding it leaves it behind, and Optuna releases it once it has not changed for 30 s.
    Named by a relative path, the link would not resolve from its own folder, Optuna could not tell its age,
    and every other process would wait for it for ever, spinning.

    Raises:
        SweepError: the journal is refused, or Optuna cannot replay it.
    """
    from optuna.storages.journal import JournalFileBackend

    check_journal(path, create)
    try:  # an absolute path: Optuna's lock is a symbolic link to it, which must resolve from the link's own folder
        return optuna.storages.JournalStorage(JournalFileBackend(str(path.absolute() / JOURNAL)))
    except Exception as e:  # Optuna's replay of records that are JSON but not what it wrote: KeyError, TypeError...
        raise SweepError(f"{path / JOURNAL}: Optuna cannot replay it: {type(e).__name__}: {e}") from None
