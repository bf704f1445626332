"""registry: declarative TOML specs resolved through a pluggy plugin registry into PyTorch objects.

The names below are the public surface: for spec users from Python (``load``, ``build``, ``train``,
``open_run``, ``component``: see ``registry.api``) and for plugin authors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from registry.catalog import KINDS, Catalog, Component, aliases, example, replaces
from registry.errors import (
    CheckpointError,
    DataError,
    DatasetNotFoundError,
    DistributedError,
    DuplicateComponentError,
    ExportError,
    InputError,
    Interrupted,
    ParamError,
    PluginError,
    PluginLoadError,
    Problem,
    RegistryError,
    SpecError,
    TrainingError,
    UnknownComponentError,
)
from registry.kinds import MODULE_KINDS
from registry.params import CHANNELS, FEATURES, NUM_CLASSES, Inferred, InputShape, TaskInfo, TrainingInfo
from registry.paths import SpecPath
from registry.places import Holds
from registry.semantics import contract, metric, schedule

if TYPE_CHECKING:
    from registry.api import Run, build, catalog, component, load, loads, open_run, train
    from registry.builder import Built
    from registry.chain import Branches, Chain, Layers
    from registry.data import Dataset, DatasetSplits, Inputs, Split
    from registry.resolve import ResolvedSpec
    from registry.schedules import Training
    from registry.tasks import Task

__version__ = "0.1.0"

# They import torch: `--help` and `list` start faster without it.
_LAZY = {"Dataset": "data", "DatasetSplits": "data", "Inputs": "data", "Split": "data", "Chain": "chain",
         "Layers": "chain", "Branches": "chain", "Task": "tasks", "Training": "schedules", "Built": "builder",
         "ResolvedSpec": "resolve", "Run": "api", "build": "api", "catalog": "api", "component": "api",
         "load": "api", "loads": "api", "open_run": "api", "train": "api"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"registry.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'registry' has no attribute {name!r}")


hookimpl = pluggy.HookimplMarker("registry")
"""Marker for plugin hook implementations: ``@registry.hookimpl``."""

__all__ = [
    "CHANNELS",
    "FEATURES",
    "KINDS",
    "MODULE_KINDS",
    "NUM_CLASSES",
    "Branches",
    "Built",
    "Catalog",
    "Chain",
    "CheckpointError",
    "Component",
    "DataError",
    "Dataset",
    "DatasetNotFoundError",
    "DatasetSplits",
    "DistributedError",
    "DuplicateComponentError",
    "ExportError",
    "Holds",
    "Inferred",
    "InputError",
    "InputShape",
    "Inputs",
    "Interrupted",
    "Layers",
    "ParamError",
    "PluginError",
    "PluginLoadError",
    "Problem",
    "RegistryError",
    "ResolvedSpec",
    "Run",
    "SpecError",
    "SpecPath",
    "Split",
    "Task",
    "TaskInfo",
    "Training",
    "TrainingError",
    "TrainingInfo",
    "UnknownComponentError",
    "__version__",
    "aliases",
    "build",
    "catalog",
    "component",
    "contract",
    "example",
    "hookimpl",
    "load",
    "loads",
    "metric",
    "open_run",
    "replaces",
    "schedule",
    "train",
]
