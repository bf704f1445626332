"""SIGINT and SIGTERM during a run: the loop finishes its step (or test pass), checkpoints, and stops."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from registry.errors import Interrupted
from registry.rundirs.checkpoints import Progress
from registry.rundirs.rundir import RunDir

__all__ = ["StopFlag", "catch_signals", "interrupted"]


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes its step (or test pass), checkpoints, and stops.

    A second signal does not wait: it stops at once, as Python's default would.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name


@contextlib.contextmanager
def catch_signals(enabled: bool) -> Iterator[StopFlag]:
    flag = StopFlag()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def interrupted(stop: StopFlag, p: Progress, path: Path | None, rundir: RunDir | None) -> Interrupted:
    assert stop.signal_name is not None
    where = f"epoch {p.epoch}, batch {p.batch}" if p.batch else f"the end of epoch {p.epoch - 1}"
    return Interrupted(
        f"interrupted by {stop.signal_name} at {where}; checkpoint saved in {path}; resume with: "
        f"python -m registry run --resume {rundir.path if rundir else 'DIR'}",
        stop.signal_name,
    )
