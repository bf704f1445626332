"""The plugin manager and the catalog it builds: hooks, entry points, duplicates, broken plugins."""

from __future__ import annotations

import importlib.metadata
import types

import pytest
from torch import nn

import registry
from registry.errors import DuplicateComponentError, PluginLoadError
from registry.manager import ENTRY_POINT_GROUP, build_catalog, get_plugin_manager


def _plugin(name: str, **hooks) -> types.ModuleType:
    mod = types.ModuleType(name)
    for hook, table in hooks.items():
        def impl(table=table):
            return table
        impl.__name__ = hook
        setattr(mod, hook, registry.hookimpl(impl))
    return mod


def swish(beta: float = 1.0) -> nn.Module:
    """Swish with a fixed beta."""
    return nn.SiLU()


def test_builtins_arrive_through_the_hooks() -> None:
    """The manager registers registry_torch by name; the catalog attributes every component to it."""
    pm = get_plugin_manager(load_entrypoints=False)
    assert pm.get_plugin("registry_torch") is not None
    catalog = build_catalog(pm)
    assert {c.plugin for c in catalog} == {"registry_torch"}
    assert len(catalog) == 43


def test_each_call_builds_a_fresh_manager() -> None:
    """No global registry: registering on one manager does not show in the next."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_plugin("extra", registry_activations={"swish2": swish}), name="extra")
    assert build_catalog(pm).get("activation", "swish2").plugin == "extra"
    assert build_catalog(get_plugin_manager(load_entrypoints=False)).find("swish2") == []


def test_a_name_claimed_twice_names_both_plugins() -> None:
    """A second plugin registering 'relu' is refused with both plugin names, no silent override."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_plugin("other", registry_activations={"relu": swish}), name="other")
    with pytest.raises(DuplicateComponentError, match=r"activation 'relu' is registered by both 'registry_torch' and 'other'") as e:
        build_catalog(pm)
    assert e.value.plugins == ("registry_torch", "other")
    assert (e.value.kind, e.value.name) == ("activation", "relu")


def test_an_alias_clash_is_a_duplicate_too() -> None:
    """A new component whose name equals a built-in's alias ('swish') is refused."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_plugin("other", registry_activations={"swish": swish}), name="other")
    with pytest.raises(DuplicateComponentError, match="activation 'swish' is registered by both"):
        build_catalog(pm)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"thing": 3}, r"plugin 'bad' registered layer 'thing' as 3, which is not callable"),
        ({"Bad-Name": swish}, r"plugin 'bad' registered layer 'Bad-Name': names must be lower_snake_case identifiers"),
        ({"untyped": lambda x=1: nn.ReLU()}, r"plugin 'bad', layer 'untyped': parameter 'x' has no type annotation"),
        ({"variadic": lambda **kw: nn.ReLU()}, r"plugin 'bad', layer 'variadic': parameter 'kw' is variadic"),
    ],
)
def test_unusable_registrations_are_plugin_errors(table, message) -> None:
    """Registering a non-callable, a bad name, or an unschematic signature raises PluginLoadError naming the plugin."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_plugin("bad", registry_layers=table), name="bad")
    with pytest.raises(PluginLoadError, match=message) as e:
        build_catalog(pm, check_schemas=True)
    assert e.value.plugin == "bad"


def test_a_raising_hook_is_a_plugin_error() -> None:
    """A hook that raises is reported with the plugin, the hook and the exception, chained."""
    mod = types.ModuleType("boom")

    @registry.hookimpl
    def registry_losses():
        raise ZeroDivisionError("oops")

    mod.registry_losses = registry_losses
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(mod, name="boom")
    with pytest.raises(PluginLoadError, match=r"plugin 'boom': hook registry_losses\(\) raised ZeroDivisionError\('oops'\)") as e:
        build_catalog(pm)
    assert isinstance(e.value.__cause__, ZeroDivisionError)


def test_a_hook_returning_a_list_is_refused() -> None:
    """A hook must return a mapping; a list is reported with the type it got."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_plugin("listy", registry_losses=[swish]), name="listy")
    with pytest.raises(PluginLoadError, match=r"must return a mapping of name to factory, got list"):
        build_catalog(pm)


class _FakeDist:
    metadata = {"name": "registry-fake-plugin"}
    version = "1.2.3"
    entry_points = ()
    _normalized_name = "registry_fake_plugin"


def test_entry_point_plugins_are_loaded_once(monkeypatch) -> None:
    """A plugin declared in the 'registry.plugins' group is loaded, registered under its entry-point name, once."""
    mod = _plugin("fake_mod", registry_activations={"fake_swish": swish})
    loads = []

    class EP:
        name, group, value = "fake", ENTRY_POINT_GROUP, "fake_mod"

        def load(self):
            loads.append(1)
            return mod

    dist = _FakeDist()
    dist.entry_points = (EP(),)
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: (dist,))
    pm = get_plugin_manager()
    assert pm.get_plugin("fake") is mod and len(loads) == 1
    assert pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP) == 0  # already registered: nothing loaded again
    assert len(loads) == 1
    assert build_catalog(pm).get("activation", "fake_swish").plugin == "fake"


def test_autoload_can_be_switched_off(monkeypatch) -> None:
    """REGISTRY_DISABLE_PLUGIN_AUTOLOAD=1 skips the entry-point group entirely."""
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: pytest.fail("entry points were read"))
    monkeypatch.setenv("REGISTRY_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert get_plugin_manager().get_plugins() == {get_plugin_manager(load_entrypoints=False).get_plugin("registry_torch")}
