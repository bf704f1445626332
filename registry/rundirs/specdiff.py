"""Compare two resolved specs: what changed, and whether a run may resume under the new one."""

from __future__ import annotations

from typing import Any

from registry.errors import CheckpointError
from registry.resolution.resolver import ResolvedSpec, resolved_dict
from registry.rundirs.checkpoints import Checkpoint

__all__ = ["RESUMABLE_CHANGES", "diff_dicts", "refuse_incompatible"]

# Keys that may change between a run and its resumption without making the result wrong.
RESUMABLE_CHANGES = {("train", "epochs"), ("train", "log_interval"), ("train", "threads")}


def diff_dicts(a: Any, b: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any, Any]]:
    """Every (key path, old value, new value) where *a* and *b* differ (``None`` for a missing key)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in diff_dicts(a.get(k), b.get(k), (*path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diff_dicts(x, y, (*path, i))]
    return [] if a == b else [(path, a, b)]


def refuse_incompatible(saved: ResolvedSpec, new: ResolvedSpec, ckpt: Checkpoint, completed: bool) -> None:
    """Raise unless *new* differs from *saved* only in keys that keep a resumed run right, and leaves work to do.

    A run whose every epoch is done but that did not complete (killed after its last checkpoint)
    has work left: its final files.

    Raises:
        CheckpointError: listing each key that changed, with both values; or nothing is left to do.
    """
    from registry.errors import format_loc

    changes = diff_dicts(resolved_dict(saved), resolved_dict(new))
    resumable = RESUMABLE_CHANGES - ({("train", "epochs")} if new.scheduler is not None else set())
    wrong = [c for c in changes if c[0] not in resumable]
    epochs = new.spec.train.epochs
    done = ckpt.progress.epoch - 1
    if wrong:
        lines = "; ".join(f"{format_loc(p)}: {a!r} -> {b!r}" for p, a, b in wrong)
        if new.scheduler is not None and any(p == ("train", "epochs") for p, _, _ in wrong):
            lines += ", and the scheduler's schedule was laid out for the run's length"
        raise CheckpointError(
            f"cannot resume {ckpt.path.parent.parent}: the spec changed in ways that would make the result wrong "
            f"({lines}); start a new run instead"
        )
    if epochs < done or (epochs == done and completed):
        raise CheckpointError(
            f"nothing to resume in {ckpt.path.parent.parent}: train.epochs = {epochs} and {done} epochs are done"
            f"{' (the run completed)' if completed else ''}; raise train.epochs to train longer"
        )
