"""The public surface is pinned, and every module imports cleanly under -W error."""

from __future__ import annotations

import subprocess
import sys

import registry

from .conftest import ROOT


def test_all_is_pinned() -> None:
    """registry.__all__ lists exactly the supported names, each importable."""
    assert registry.__all__ == [
        "CHANNELS", "FEATURES", "KINDS", "MODULE_KINDS", "NUM_CLASSES", "Branches", "Built", "Catalog", "Chain",
        "CheckpointError", "Component", "DataError", "Dataset", "DatasetNotFoundError", "DatasetSplits",
        "DistributedError", "DuplicateComponentError", "ExportError", "Holds", "Inferred", "InputError", "InputShape",
        "Inputs", "Interrupted", "Layers", "ParamError", "PluginError", "PluginLoadError", "Problem", "RegistryError",
        "ResolvedSpec", "Run", "SpecError", "SpecPath", "Split", "Task", "TaskInfo", "Training", "TrainingError", "TrainingInfo",
        "UnknownComponentError", "__version__", "aliases", "build", "catalog", "component", "contract", "example",
        "hookimpl", "load", "loads", "metric", "open_run", "replaces", "schedule", "train",
    ]  # fmt: skip
    assert all(hasattr(registry, name) for name in registry.__all__)


def test_error_hierarchy() -> None:
    """Every error is a RegistryError and also the nearest builtin exception."""
    assert issubclass(registry.SpecError, (registry.RegistryError, ValueError))
    assert issubclass(registry.UnknownComponentError, LookupError)
    assert issubclass(registry.DuplicateComponentError, ValueError)
    assert issubclass(registry.PluginLoadError, ImportError)
    assert issubclass(registry.DatasetNotFoundError, FileNotFoundError)
    assert issubclass(registry.TrainingError, RuntimeError)
    assert issubclass(registry.PluginError, RuntimeError) and issubclass(registry.DistributedError, RuntimeError)
    assert issubclass(registry.InputError, ValueError) and issubclass(registry.CheckpointError, ValueError)
    assert issubclass(registry.DataError, (registry.RegistryError, ValueError))
    assert issubclass(registry.ParamError, ValueError) and not issubclass(registry.ParamError, registry.RegistryError)
    assert issubclass(registry.ExportError, (registry.RegistryError, RuntimeError))


MODULES = sorted(
    ".".join(p.relative_to(base).with_suffix("").parts)
    for base, pkg in ((ROOT, "registry"), (ROOT / "plugins", "registry_torch"))
    for p in (base / pkg).glob("*.py")
    if p.name != "__main__.py"
)


def test_every_module_imports_without_warnings() -> None:
    """Every module imports in a fresh interpreter with warnings turned into errors."""
    code = "; ".join(f"import {m}" for m in MODULES)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(MODULES) > 15


def test_importing_registry_loads_no_plugin_and_no_torchvision() -> None:
    """Importing registry registers nothing and imports neither torchvision nor scikit-learn."""
    code = "import sys, registry, registry.cli; print(sorted(m for m in ('torchvision', 'sklearn', 'registry_torch') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


