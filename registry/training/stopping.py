"""Early stopping: whether a run should end, read from its epochs' test values alone.

The decision is a function of the history, which every checkpoint holds, so a resumed run decides
exactly as an uninterrupted one would, with no state of its own to save.
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.rundirs.records import EpochRow

__all__ = ["stop_reason"]


def stop_reason(history: Sequence[EpochRow], watched: tuple[str, bool], patience: int, min_delta: float) -> str | None:
    """Why the run should stop after the last epoch of *history*, or None to go on.

    Args:
        history: the epochs so far.
        watched: the test value's name and whether larger is better.
        patience: how many epochs in a row may pass without an improvement.
        min_delta: an improvement is a change by more than this, in the better direction.
    """
    name, higher = watched
    best: float | None = None
    best_epoch, since = 0, 0
    for row in history:
        value = row.value(name)
        if value is None:
            continue
        if best is None or (value - best > min_delta if higher else best - value > min_delta):
            best, best_epoch, since = value, row.epoch, 0
        else:
            since += 1
    if best is None or since < patience:
        return None
    by = f" by more than {min_delta:g}" if min_delta else ""
    return (
        f"early stopping: {name} has not improved{by} for {since} epochs "
        f"(best {best:.6g} after epoch {best_epoch}; patience {patience})"
    )
