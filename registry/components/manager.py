"""Build the plugin manager and, from it, the catalog of components.

``get_plugin_manager`` makes a fresh ``pluggy.PluginManager`` each call:
nothing is registered by importing ``registry``. The built-ins are registered
from an explicit tuple, then the third-party plugins of the ``registry.plugins``
entry-point group. ``load_plugins`` returns the manager with the record of what
was loaded and what failed (``Plugins``); ``build_catalog`` calls the hooks.

A third-party plugin that fails (its import raises, it targets another plugin
API, its hook raises or returns something unusable) is left out with a
``PluginFailure`` that names its distribution and entry point; the built-ins
and the other plugins keep working. ``REGISTRY_STRICT_PLUGINS=1`` (or
``strict=True``) makes any such failure an error instead.

Every ``REGISTRY_*`` switch is off when unset, empty, ``0``, ``false``, ``no`` or
``off`` (in any case), and on otherwise.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from registry import hookspecs
from registry.components.catalog import ALIASES_ATTR, KINDS, REPLACES_ATTR, Catalog, Component, reserved_params
from registry.components.signatures import first_doc_line
from registry.errors import DuplicateComponentError, PluginLoadError

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "ONLY_PLUGINS_ENV",
    "PLUGIN_API_VERSIONS",
    "STRICT_ENV",
    "PluginFailure",
    "PluginInfo",
    "Plugins",
    "build_catalog",
    "env_flag",
    "get_plugin_manager",
    "load_catalog",
    "load_plugins",
]

PROJECT = "registry"
ENTRY_POINT_GROUP = "registry.plugins"
DISABLE_AUTOLOAD_ENV = "REGISTRY_DISABLE_PLUGIN_AUTOLOAD"
ONLY_PLUGINS_ENV = "REGISTRY_PLUGINS"
STRICT_ENV = "REGISTRY_STRICT_PLUGINS"
API_ATTR = "REGISTRY_PLUGIN_API"
PLUGIN_API_VERSIONS: tuple[int, ...] = (1,)
BUILTIN_PLUGINS: tuple[str, ...] = ("registry_torch",)
_OFF = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """Whether the switch *name* is on: set to anything but empty, ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(name, "").strip().lower() not in _OFF


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its name, where it came from, and which distribution ships it."""

    name: str
    source: str  # "built-in", "entry point" or "registered directly"
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None

    def describe(self) -> str:
        where = self.source if self.entry_point is None else f"entry point {self.entry_point!r}"
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{where}, {dist}"

    def label(self) -> str:
        """How messages name it: ``'example' (registry-example-plugin)``."""
        return f"{self.name!r} ({self.distribution})" if self.distribution else repr(self.name)


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
class Plugins:
    """A plugin manager and the record of its loading.

    Attributes:
        pm: the pluggy manager, with the hookspecs and every plugin registered.
        infos: each registered plugin's name, origin and distribution, by name.
        failures: the plugins that were left out, and why.
        warnings: what the user should know about the selection (an unknown name in ``REGISTRY_PLUGINS``).
    """

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def info(self, plugin: str) -> PluginInfo:
        return self.infos.get(plugin, PluginInfo(plugin, "registered directly"))


def _is_strict(strict: bool | None) -> bool:
    return env_flag(STRICT_ENV) if strict is None else strict


def _own_distribution() -> tuple[str | None, str | None]:
    try:
        return "torch-spec-registry", importlib.metadata.version("torch-spec-registry")
    except importlib.metadata.PackageNotFoundError:
        return None, None


def _selected(only: str | None) -> set[str] | None:
    return None if not (only or "").strip() else {n.strip() for n in (only or "").split(",") if n.strip()}


def _api_problem(plugin: object) -> str | None:
    version = getattr(plugin, API_ATTR, PLUGIN_API_VERSIONS[-1])
    if version in PLUGIN_API_VERSIONS:
        return None
    supported = ", ".join(str(v) for v in PLUGIN_API_VERSIONS)
    return f"it targets registry plugin API {version!r}; this registry supports {supported}"


def _load_entry_points(plugins: Plugins, only: set[str] | None) -> None:
    # The loop of pluggy's PluginManager.load_setuptools_entrypoints, one entry point at a
    # time: pluggy's own raises at the first broken plugin, which would take the others down.
    pm = plugins.pm
    offered: set[str] = set()
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            dist_name = dist.metadata["name"]
            offered |= {ep.name, dist_name}
            if only is not None and ep.name not in only and dist_name not in only:
                continue
            entry = f"{ep.name} = {ep.value}"
            try:
                plugin = ep.load()
            except Exception as e:  # importing a plugin can raise anything
                plugins.failures.append(PluginFailure(ep.name, f"import raised {e!r}", dist_name, entry))
                continue
            problem = _api_problem(plugin)
            if problem is None:
                try:
                    pm.register(plugin, name=ep.name)
                except (ValueError, pluggy.PluginValidationError) as e:
                    problem = str(e)
            if problem is not None:
                plugins.failures.append(PluginFailure(ep.name, problem, dist_name, entry))
                continue
            plugins.infos[ep.name] = PluginInfo(ep.name, "entry point", dist_name, dist.version, entry)
    for name in sorted((only or set()) - offered):
        near = difflib.get_close_matches(name, sorted(offered), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        plugins.warnings.append(
            f"{ONLY_PLUGINS_ENV} names {name!r}, but no installed plugin has that entry-point or distribution "
            f"name{hint} (installed: {', '.join(sorted(offered)) or 'none'})"
        )


def load_plugins(load_entrypoints: bool = True, strict: bool | None = None) -> Plugins:
    """Return a fresh plugin manager with the built-ins and the installed plugins, and the record of loading.

    Args:
        load_entrypoints: also load third-party plugins from the ``registry.plugins``
            entry-point group, unless ``REGISTRY_DISABLE_PLUGIN_AUTOLOAD`` is on;
            ``REGISTRY_PLUGINS=a,b`` loads only those (entry-point or distribution names).
        strict: make a failing plugin an error (default: ``REGISTRY_STRICT_PLUGINS``).

    Raises:
        PluginLoadError: in strict mode, the first plugin that failed.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    dist, version = _own_distribution()
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
        plugins.infos[modname] = PluginInfo(modname, "built-in", dist, version)
    if load_entrypoints and not env_flag(DISABLE_AUTOLOAD_ENV):
        _load_entry_points(plugins, _selected(os.environ.get(ONLY_PLUGINS_ENV)))
    if plugins.failures and _is_strict(strict):
        f = plugins.failures[0]
        raise PluginLoadError(f.render(), f.plugin, f.distribution)
    return plugins


def get_plugin_manager(load_entrypoints: bool = True, strict: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins and the installed plugins (``load_plugins(...).pm``)."""
    return load_plugins(load_entrypoints, strict).pm


def _component(kind: str, name: str, factory: Any, plugin: str, distribution: str | None) -> Component:
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
        distribution=distribution,
    )


def check_params(c: Component) -> None:
    """Derive *c*'s parameter schema and refuse parameter names that mean something else where it is placed.

    Raises:
        PluginLoadError: the signature gives no schema, or a parameter is named like a reserved key.
    """
    chains = [name for name, n in c.schema.nested.items() if n.form in ("chain", "chains")]
    if chains and not KINDS[c.kind].shaped:
        raise PluginLoadError(
            f"{c.kind} {c.name!r}: parameter {chains[0]!r} holds layers, but a {c.kind} is not built from an input "
            "shape, so layers cannot be chained in it; only layers and models hold layers",
            c.plugin,
        )
    taken = sorted(set(c.schema.model.model_fields) & set(reserved_params(c.kind)))
    if taken:
        raise PluginLoadError(
            f"{c.kind} {c.name!r} has parameter{'s' if len(taken) > 1 else ''} {', '.join(map(repr, taken))}, "
            f"which a spec uses for something else where a {c.kind} is placed "
            f"(reserved there: {', '.join(reserved_params(c.kind))}); rename {'them' if len(taken) > 1 else 'it'}",
            c.plugin,
        )


def _plugin_components(
    plugin: str, hooks: Mapping[str, Callable[[], Any]], distribution: str | None
) -> list[Component]:
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
        out += [_component(kind, name, factory, plugin, distribution) for name, factory in table.items()]
    return out


def _hooks_by_plugin(pm: pluggy.PluginManager) -> dict[str, dict[str, Callable[[], Any]]]:
    by_plugin: dict[str, dict[str, Callable[[], Any]]] = {}
    for kind, info in KINDS.items():
        # get_hookimpls() is in registration order: built-ins first, then entry points.
        for impl in getattr(pm.hook, info.hook).get_hookimpls():
            by_plugin.setdefault(impl.plugin_name, {})[kind] = impl.function
    return by_plugin


def build_catalog(
    plugins: Plugins,
    check_schemas: bool = False,
    strict: bool | None = None,
    keep_clashes: bool = False,
) -> Catalog:
    """Call every plugin's hooks and index what they return.

    A plugin whose hooks fail, or that declares an unusable component, is left
    out whole (none of its components is added) and recorded in ``catalog.failures``.

    Args:
        plugins: the loaded plugins (``load_plugins``; more may be registered on ``plugins.pm`` by hand).
        check_schemas: derive every component's parameter schema now (otherwise a built-in's is
            derived when first used, so a spec pays only for its own; a third-party plugin's
            are always checked now, so that a bad one is a load failure naming its distribution).
        strict: make a failing plugin an error (default: ``REGISTRY_STRICT_PLUGINS``).
        keep_clashes: record a name claimed twice in ``catalog.clashes`` (the first claim kept) instead
            of raising; ``registry plugins`` shows them.

    Raises:
        DuplicateComponentError: two plugins claim a name where a spec could not tell them apart.
        PluginLoadError: in strict mode, a plugin failed.
    """
    loaded = plugins
    failures = list(loaded.failures)
    catalog = Catalog()
    for plugin, hooks in _hooks_by_plugin(loaded.pm).items():
        info = loaded.info(plugin)
        try:
            components = _plugin_components(plugin, hooks, info.distribution)
            if check_schemas or info.source != "built-in":
                for c in components:
                    check_params(c)
        except PluginLoadError as e:
            failure = PluginFailure(plugin, str(e), info.distribution, info.entry_point)
            if _is_strict(strict) or info.source == "built-in":
                raise PluginLoadError(failure.render(), plugin, info.distribution) from e
            failures.append(failure)
            continue
        for c in components:
            try:
                catalog.add(c, replace=bool(getattr(c.factory, REPLACES_ATTR, False)), describe=_describe(loaded))
            except DuplicateComponentError as e:
                if not keep_clashes:
                    raise
                catalog.clashes.append(e)
    failed = {f.plugin for f in failures}
    catalog.plugins = tuple(
        i for p, i in loaded.infos.items() if loaded.pm.get_plugin(p) is not None and p not in failed
    )
    catalog.failures = tuple(failures)
    catalog.warnings = tuple(loaded.warnings)
    return catalog


def _describe(loaded: Plugins) -> Callable[[str], str]:
    return lambda plugin: loaded.info(plugin).label()


def load_catalog(load_entrypoints: bool = True, strict: bool | None = None, keep_clashes: bool = False) -> Catalog:
    """``build_catalog(load_plugins(...))``: the one call most code needs."""
    return build_catalog(load_plugins(load_entrypoints, strict), strict=strict, keep_clashes=keep_clashes)
