"""registry: declarative TOML specs resolved through a pluggy plugin registry into PyTorch objects.

The names below are the public surface, for spec users and plugin authors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from registry.catalog import KINDS, Catalog, Component, aliases, example, replaces
from registry.errors import (
    DatasetNotFoundError,
    DuplicateComponentError,
    PluginLoadError,
    Problem,
    RegistryError,
    SpecError,
    TrainingError,
    UnknownComponentError,
)
from registry.params import CHANNELS, FEATURES, Inferred, InputShape
from registry.semantics import contract

if TYPE_CHECKING:
    from registry.data import Dataset, DatasetSplits, Split

__version__ = "0.1.0"

_LAZY = {"Dataset", "DatasetSplits", "Split"}  # they import torch: `--help` and `list` start faster without it


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from registry import data

        return getattr(data, name)
    raise AttributeError(f"module 'registry' has no attribute {name!r}")


hookimpl = pluggy.HookimplMarker("registry")
"""Marker for plugin hook implementations: ``@registry.hookimpl``."""

__all__ = [
    "CHANNELS",
    "FEATURES",
    "KINDS",
    "Catalog",
    "Component",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSplits",
    "DuplicateComponentError",
    "Inferred",
    "InputShape",
    "PluginLoadError",
    "Problem",
    "RegistryError",
    "SpecError",
    "Split",
    "TrainingError",
    "UnknownComponentError",
    "__version__",
    "aliases",
    "contract",
    "example",
    "hookimpl",
    "replaces",
]
