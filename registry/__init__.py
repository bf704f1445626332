"""registry: declarative TOML specs resolved through a pluggy plugin registry into PyTorch objects.

The names below are the public surface: for spec users from Python (``load``, ``build``, ``train``,
``open_run``, ``component``: see ``registry.api``) and for plugin authors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from registry.components.catalog import KINDS, Catalog, Component, aliases, example, replaces
from registry.components.contracts import contract, metric, schedule
from registry.components.signatures import CHANNELS, FEATURES, NUM_CLASSES, Inferred, InputShape, TaskInfo, TrainingInfo
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
from registry.spec.paths import SpecPath
from registry.spec.places import Holds
from registry.version import __version__

if TYPE_CHECKING:
    from registry.api import Run, build, catalog, component, load, loads, open_run, train
    from registry.building.builder import Built
    from registry.building.chain import Branches, Chain, Layers
    from registry.building.data import Dataset, DatasetSplits, Inputs, Split
    from registry.building.schedules import Training
    from registry.building.tasks import Task
    from registry.resolution.resolver import ResolvedSpec


# They import torch: `--help` and `list` start faster without it.
_LAZY = {"Dataset": "building.data", "DatasetSplits": "building.data", "Inputs": "building.data",
         "Split": "building.data", "Chain": "building.chain", "Layers": "building.chain",
         "Branches": "building.chain", "Task": "building.tasks", "Training": "building.schedules",
         "Built": "building.builder", "ResolvedSpec": "resolution.resolver", "Run": "api", "build": "api",
         "catalog": "api", "component": "api", "load": "api", "loads": "api", "open_run": "api",
         "train": "api"}  # fmt: skip


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
