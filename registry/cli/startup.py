"""Garbage collection while a command starts: rare, as mypy does; the caller's thresholds for training."""

from __future__ import annotations

import contextvars
import gc

__all__ = ["CALLER_GC", "STARTUP_GC_THRESHOLD", "restore_gc"]

STARTUP_GC_THRESHOLD = 100_000
"""Allocations between young-generation garbage collections while a command runs (CPython's default: 700).

Importing torch and pydantic creates hundreds of thousands of long-lived objects, and with the
default threshold the collector scans them again and again: on a 2-core machine that was most
of what ``validate`` costs beyond ``import torch``. mypy raises its threshold for the same
reason. ``run`` puts the caller's thresholds back before training, and ``main`` on return; a
caller that has switched automatic collection off (threshold 0) or set a higher one keeps it.
"""
CALLER_GC: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("registry_caller_gc")


def restore_gc() -> None:
    """Give the thresholds back to what the caller of ``main`` had (before training, and on return)."""
    gc.set_threshold(*CALLER_GC.get(gc.get_threshold()))
