"""registry: declarative TOML specs resolved through a pluggy plugin registry into PyTorch objects.

The names below are the public surface, for spec users and plugin authors.
"""

from __future__ import annotations

import pluggy

from registry.catalog import KINDS, Catalog, Component, aliases, example, replaces
from registry.data import Dataset, DatasetSplits, Split
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

__version__ = "0.1.0"

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
