"""What differs between the plugins and versions a run was trained with and those installed here.

A run directory records, in ``run.json``, each loaded plugin with its
distribution and version, and the versions of Python, torch and registry. When
the run is opened again (``evaluate``, ``predict``, ``run --resume``,
``registry.open_run``), a plugin that its spec needs and that is not installed
is an error that says which distribution and version to install; a plugin whose
components the spec uses at another version, and another torch, are warnings:
the model is rebuilt from the spec and may not be the one that was trained.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from registry.components.catalog import Catalog
from registry.resolution.resolver import ResolvedSpec, components

__all__ = ["VersionReport", "compare_versions", "plugins_used"]


@dataclass(frozen=True)
class VersionReport:
    """Recorded plugins missing here (``name``, ``"distribution version"``), and what runs at other versions."""

    missing: tuple[tuple[str, str], ...]
    changed: tuple[str, ...]

    def missing_message(self) -> str:
        names, install = [], []
        for name, dist in self.missing:
            distribution = dist.split(" ")[0]
            try:
                here = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                names.append(f"{name!r} ({dist})")
                install.append(repr(dist.replace(" ", "==")))
            else:  # installed, but left out (REGISTRY_PLUGINS) or failed to load
                left_out = f"{distribution} {here} is installed but not loaded: see python -m registry plugins"
                names.append(f"{name!r} ({dist}; {left_out})")
        pip = f"; install: pip install {' '.join(install)}" if install else ""
        return f"it was trained with plugins that are not loaded here: {', '.join(names)}{pip}"


def plugins_used(rs: ResolvedSpec) -> set[str]:
    """The plugins whose components *rs* names (nested ones included)."""
    return {r.component.plugin for r in components(rs)}


def compare_versions(versions: Mapping[str, Any], catalog: Catalog, used: set[str] | None = None) -> VersionReport:
    """Compare a run's recorded *versions* with what is loaded: the plugins missing here, and (among the plugins
    in *used*, or all of them) those at another version, and torch at another version."""
    recorded = versions.get("plugins", {})
    loaded = {p.name: f"{p.distribution} {p.version}" for p in catalog.plugins}
    missing = tuple((n, d) for n, d in sorted(recorded.items()) if n not in loaded and (used is None or n in used))
    changed = [
        f"plugin {name!r} was {was}, is {loaded[name]} here"
        for name, was in sorted(recorded.items())
        if name in loaded and loaded[name] != was and (used is None or name in used)
    ]
    if versions.get("torch") and versions["torch"] != torch.__version__:
        changed.append(f"torch was {versions['torch']}, is {torch.__version__} here")
    return VersionReport(missing, tuple(changed))
