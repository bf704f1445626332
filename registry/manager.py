"""Build the plugin manager and, from it, the catalog of components.

``get_plugin_manager`` makes a fresh ``pluggy.PluginManager`` each call:
nothing is registered by importing ``registry``. The built-ins are registered
from an explicit tuple, then the third-party plugins of the ``registry.plugins``
entry-point group. The CLI does this once per process.

A third-party plugin that fails (its import raises, it targets another plugin
API, its hook raises or returns something unusable) is left out with a
``PluginFailure`` that names its distribution and entry point; the built-ins
and the other plugins keep working. ``REGISTRY_STRICT_PLUGINS=1`` (or
``strict=True``) makes any such failure an error instead.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from registry import hookspecs
from registry.catalog import ALIASES_ATTR, KINDS, REPLACES_ATTR, Catalog, Component
from registry.errors import PluginLoadError
from registry.params import first_doc_line

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "ONLY_PLUGINS_ENV",
    "PLUGIN_API_VERSIONS",
    "STRICT_ENV",
    "PluginFailure",
    "PluginInfo",
    "build_catalog",
    "get_plugin_manager",
    "load_catalog",
]

PROJECT = "registry"
ENTRY_POINT_GROUP = "registry.plugins"
DISABLE_AUTOLOAD_ENV = "REGISTRY_DISABLE_PLUGIN_AUTOLOAD"
ONLY_PLUGINS_ENV = "REGISTRY_PLUGINS"
STRICT_ENV = "REGISTRY_STRICT_PLUGINS"
API_ATTR = "REGISTRY_PLUGIN_API"
PLUGIN_API_VERSIONS: tuple[int, ...] = (1,)
BUILTIN_PLUGINS: tuple[str, ...] = ("registry_torch",)


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its name, where it came from, and which distribution ships it."""

    name: str
    source: str  # "built-in" or "entry point"
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None

    def describe(self) -> str:
        where = self.source if self.entry_point is None else f"entry point {self.entry_point!r}"
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{where}, {dist}"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was left out, and why."""

    plugin: str
    message: str
    distribution: str | None = None
    entry_point: str | None = None

    def render(self) -> str:
        where = ", ".join(
            x
            for x in (
                f"distribution {self.distribution}" if self.distribution else "",
                f"entry point {self.entry_point!r}" if self.entry_point else "",
            )
            if x
        )
        return f"plugin {self.plugin!r} ({where or 'registered directly'}) failed: {self.message}"


@dataclass
class _Loaded:
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)


def _is_strict(strict: bool | None) -> bool:
    return bool(os.environ.get(STRICT_ENV)) if strict is None else strict


def _own_distribution() -> tuple[str | None, str | None]:
    try:
        return "torch-spec-registry", importlib.metadata.version("torch-spec-registry")
    except importlib.metadata.PackageNotFoundError:
        return None, None


def _selected(only: str | None) -> set[str] | None:
    return None if not only else {n.strip() for n in only.split(",") if n.strip()}


def _api_problem(plugin: object) -> str | None:
    version = getattr(plugin, API_ATTR, PLUGIN_API_VERSIONS[-1])
    if version in PLUGIN_API_VERSIONS:
        return None
    supported = ", ".join(str(v) for v in PLUGIN_API_VERSIONS)
    return f"it targets registry plugin API {version!r}; this registry supports {supported}"


def _load_entry_points(pm: pluggy.PluginManager, loaded: _Loaded, only: set[str] | None) -> None:
    # The loop of pluggy's PluginManager.load_setuptools_entrypoints, one entry point at a
    # time: pluggy's own raises at the first broken plugin, which would take the others down.
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            dist_name = dist.metadata["name"]
            if only is not None and ep.name not in only and dist_name not in only:
                continue
            entry = f"{ep.name} = {ep.value}"
            try:
                plugin = ep.load()
            except Exception as e:  # importing a plugin can raise anything
                loaded.failures.append(PluginFailure(ep.name, f"import raised {e!r}", dist_name, entry))
                continue
            problem = _api_problem(plugin)
            if problem is None:
                try:
                    pm.register(plugin, name=ep.name)
                except (ValueError, pluggy.PluginValidationError) as e:
                    problem = str(e)
            if problem is not None:
                loaded.failures.append(PluginFailure(ep.name, problem, dist_name, entry))
                continue
            loaded.infos[ep.name] = PluginInfo(ep.name, "entry point", dist_name, dist.version, entry)


def get_plugin_manager(load_entrypoints: bool = True, strict: bool | None = None) -> pluggy.PluginManager:
    """Return a fresh plugin manager with the built-ins and the installed plugins.

    Args:
        load_entrypoints: also load third-party plugins from the ``registry.plugins``
            entry-point group, unless ``REGISTRY_DISABLE_PLUGIN_AUTOLOAD`` is set;
            ``REGISTRY_PLUGINS=a,b`` loads only those (entry-point or distribution names).
        strict: make a failing plugin an error (default: ``REGISTRY_STRICT_PLUGINS``).

    Returns:
        The manager; ``pm.registry_loaded`` holds the ``PluginInfo`` and ``PluginFailure`` records.

    Raises:
        PluginLoadError: in strict mode, the first plugin that failed.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    loaded = _Loaded()
    dist, version = _own_distribution()
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        loaded.infos[modname] = PluginInfo(modname, "built-in", dist, version)
    if load_entrypoints and not os.environ.get(DISABLE_AUTOLOAD_ENV):
        _load_entry_points(pm, loaded, _selected(os.environ.get(ONLY_PLUGINS_ENV)))
    pm.registry_loaded = loaded  # type: ignore[attr-defined]
    if loaded.failures and _is_strict(strict):
        f = loaded.failures[0]
        raise PluginLoadError(f.render(), f.plugin, f.distribution)
    return pm


def _component(kind: str, name: str, factory: Any, plugin: str) -> Component:
    if not callable(factory):
        raise PluginLoadError(f"registered {kind} {name!r} as {factory!r}, which is not callable", plugin)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise PluginLoadError(f"registered {kind} {name!r}: names must be lower_snake_case identifiers", plugin)
    return Component(
        kind=kind,
        name=name,
        factory=factory,
        plugin=plugin,
        aliases=tuple(getattr(factory, ALIASES_ATTR, ())),
        description=first_doc_line(factory),
    )


def _plugin_components(plugin: str, hooks: Mapping[str, Callable[[], Any]]) -> list[Component]:
    """Every component one plugin declares, or a PluginLoadError for the first unusable one."""
    out = []
    for kind, hook in hooks.items():
        info = KINDS[kind]
        try:
            table = hook()
        except Exception as e:  # a plugin's hook can raise anything
            raise PluginLoadError(f"hook {info.hook}() raised {e!r}", plugin) from e
        if not isinstance(table, Mapping):
            raise PluginLoadError(
                f"hook {info.hook}() must return a mapping of name to factory, got {type(table).__name__}", plugin
            )
        out += [_component(kind, name, factory, plugin) for name, factory in table.items()]
    return out


def _hooks_by_plugin(pm: pluggy.PluginManager) -> dict[str, dict[str, Callable[[], Any]]]:
    by_plugin: dict[str, dict[str, Callable[[], Any]]] = {}
    for kind, info in KINDS.items():
        # get_hookimpls() is in registration order: built-ins first, then entry points.
        for impl in getattr(pm.hook, info.hook).get_hookimpls():
            by_plugin.setdefault(impl.plugin_name, {})[kind] = impl.function
    return by_plugin


def build_catalog(pm: pluggy.PluginManager, check_schemas: bool = False, strict: bool | None = None) -> Catalog:
    """Call every plugin's hooks and index what they return.

    A plugin whose hooks fail, or that declares an unusable component, is left
    out whole (none of its components is added) and recorded in
    ``catalog.failures``.

    Args:
        pm: the plugin manager.
        check_schemas: derive every component's parameter schema now (otherwise
            each is derived when first used, so a spec pays only for its own).
        strict: make a failing plugin an error (default: ``REGISTRY_STRICT_PLUGINS``).

    Raises:
        DuplicateComponentError: two plugins claim the same kind and name.
        PluginLoadError: in strict mode, a plugin failed.
    """
    loaded: _Loaded = getattr(pm, "registry_loaded", None) or _Loaded()
    failures = list(loaded.failures)
    catalog = Catalog()
    describe = _describer(loaded)
    for plugin, hooks in _hooks_by_plugin(pm).items():
        info = loaded.infos.get(plugin, PluginInfo(plugin, "registered directly"))
        try:
            components = _plugin_components(plugin, hooks)
            # Third-party signatures are checked now, so a bad one is a load failure naming the
            # distribution; the built-ins' are checked by their tests and derived when first used.
            if check_schemas or info.source != "built-in":
                for c in components:
                    _ = c.schema
        except PluginLoadError as e:
            failure = PluginFailure(plugin, str(e), info.distribution, info.entry_point)
            if _is_strict(strict) or info.source == "built-in":
                raise PluginLoadError(failure.render(), plugin, info.distribution) from e
            failures.append(failure)
            continue
        for c in components:
            catalog.add(c, replace=bool(getattr(c.factory, REPLACES_ATTR, False)), describe=describe)
    failed = {f.plugin for f in failures}
    catalog.plugins = tuple(i for p, i in loaded.infos.items() if pm.get_plugin(p) is not None and p not in failed)
    catalog.failures = tuple(failures)
    return catalog


def _describer(loaded: _Loaded) -> Callable[[str], str]:
    def describe(plugin: str) -> str:
        info = loaded.infos.get(plugin)
        return f"{plugin!r} ({info.distribution})" if info and info.distribution else repr(plugin)

    return describe


def load_catalog(load_entrypoints: bool = True, strict: bool | None = None) -> Catalog:
    """``build_catalog(get_plugin_manager(...))``: the one call most code needs."""
    return build_catalog(get_plugin_manager(load_entrypoints, strict), strict=strict)
