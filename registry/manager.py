"""Build the plugin manager and, from it, the catalog of components.

``get_plugin_manager`` makes a fresh ``pluggy.PluginManager`` each call:
nothing is registered by importing ``registry``. The CLI calls it once per
process.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy

from registry import hookspecs
from registry.catalog import ALIASES_ATTR, KINDS, Catalog, Component
from registry.errors import PluginLoadError
from registry.params import first_doc_line

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "build_catalog",
    "get_plugin_manager",
    "load_catalog",
]

PROJECT = "registry"
ENTRY_POINT_GROUP = "registry.plugins"
DISABLE_AUTOLOAD_ENV = "REGISTRY_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_PLUGINS: tuple[str, ...] = ("registry_torch",)


def get_plugin_manager(load_entrypoints: bool = True) -> pluggy.PluginManager:
    """Return a fresh plugin manager with the built-ins and the installed plugins.

    Args:
        load_entrypoints: also load third-party plugins from the
            ``registry.plugins`` entry-point group (unless the environment
            variable ``REGISTRY_DISABLE_PLUGIN_AUTOLOAD`` is set).

    Raises:
        PluginLoadError: a plugin failed to import or implements an unknown hook.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for modname in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    if load_entrypoints and not os.environ.get(DISABLE_AUTOLOAD_ENV):
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as e:  # an entry point's import can raise anything
            raise PluginLoadError(f"a plugin in {ENTRY_POINT_GROUP!r} failed to load: {e!r}", "?") from e
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginLoadError(str(e), pm.get_name(e.plugin) or "?") from e
    return pm


def _impls(pm: pluggy.PluginManager, hook: str) -> Iterable[tuple[str, Callable[[], Any]]]:
    caller = getattr(pm.hook, hook)
    # get_hookimpls() is in registration order: built-ins first, then entry points.
    for impl in caller.get_hookimpls():
        yield impl.plugin_name, impl.function


def _component(kind: str, name: str, factory: Any, plugin: str) -> Component:
    if not callable(factory):
        raise PluginLoadError(
            f"plugin {plugin!r} registered {kind} {name!r} as {factory!r}, which is not callable", plugin
        )
    if not name.isidentifier() or name != name.lower():
        raise PluginLoadError(
            f"plugin {plugin!r} registered {kind} {name!r}: names must be lower_snake_case identifiers", plugin
        )
    return Component(
        kind=kind,
        name=name,
        factory=factory,
        plugin=plugin,
        aliases=tuple(getattr(factory, ALIASES_ATTR, ())),
        description=first_doc_line(factory),
    )


def build_catalog(pm: pluggy.PluginManager, check_schemas: bool = False) -> Catalog:
    """Call every plugin's hooks and index what they return.

    Args:
        pm: the plugin manager.
        check_schemas: derive every component's parameter schema now (otherwise
            each is derived when first used, so a spec pays only for its own).

    Raises:
        PluginLoadError: a hook raised or returned something unusable.
        DuplicateComponentError: two plugins claim the same kind and name.
    """
    catalog = Catalog()
    for kind, info in KINDS.items():
        for plugin, hook in _impls(pm, info.hook):
            try:
                table = hook()
            except Exception as e:  # a plugin's hook can raise anything
                raise PluginLoadError(f"plugin {plugin!r}: hook {info.hook}() raised {e!r}", plugin) from e
            if not isinstance(table, Mapping):
                raise PluginLoadError(
                    f"plugin {plugin!r}: hook {info.hook}() must return a mapping of name to factory, "
                    f"got {type(table).__name__}",
                    plugin,
                )
            for name, factory in table.items():
                catalog.add(_component(kind, name, factory, plugin))
    if check_schemas:
        for component in catalog:
            _ = component.schema
    return catalog


def load_catalog(load_entrypoints: bool = True) -> Catalog:
    """``build_catalog(get_plugin_manager(...))``: the one call most code needs."""
    return build_catalog(get_plugin_manager(load_entrypoints))
