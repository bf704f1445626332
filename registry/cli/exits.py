"""Exit codes: one per class of error, stable and documented in docs/cli.md."""

from __future__ import annotations

from enum import IntEnum

from registry.errors import (
    CheckpointError,
    DataError,
    DatasetNotFoundError,
    DistributedError,
    DuplicateComponentError,
    ExportError,
    Interrupted,
    PluginError,
    PluginLoadError,
    RegistryError,
    SweepError,
    TrainingError,
)

__all__ = ["EXIT_CODES", "ExitCode", "exit_code"]


class ExitCode(IntEnum):
    """Exit codes: stable, documented in docs/cli.md."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    PLUGIN = 3
    DATA = 4
    CHECKPOINT = 5
    DISTRIBUTED = 6
    EXPORT = 7
    SWEEP = 8
    INTERRUPTED = 130
    BROKEN_PIPE = 141


EXIT_CODES: tuple[tuple[tuple[type[RegistryError], ...], ExitCode], ...] = (
    ((PluginLoadError, DuplicateComponentError, PluginError), ExitCode.PLUGIN),
    ((DatasetNotFoundError, DataError), ExitCode.DATA),
    ((TrainingError,), ExitCode.RUN_FAILED),
    ((CheckpointError,), ExitCode.CHECKPOINT),
    ((DistributedError,), ExitCode.DISTRIBUTED),
    ((Interrupted,), ExitCode.INTERRUPTED),
    ((ExportError,), ExitCode.EXPORT),
    ((SweepError,), ExitCode.SWEEP),
)
"""Each error class and its exit code, the first that matches; any other ``RegistryError`` (a spec's) is USAGE."""


def exit_code(error: RegistryError) -> ExitCode:
    """The exit code for *error* (``EXIT_CODES``)."""
    return next((code for classes, code in EXIT_CODES if isinstance(error, classes)), ExitCode.USAGE)
