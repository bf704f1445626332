"""The plugin manager and the catalog it builds: hooks, entry points, conflicts, broken plugins, switches."""

from __future__ import annotations

import importlib.metadata
import types

import pytest
from torch import nn

import registry
from registry.errors import DuplicateComponentError, PluginLoadError
from registry.manager import ENTRY_POINT_GROUP, _load_entry_points, build_catalog, get_plugin_manager, load_catalog


def make_plugin(name: str, **hooks) -> types.ModuleType:
    """A plugin module whose hooks return the given tables."""
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


class FakeEntryPoint:
    def __init__(self, name: str, target, group: str = ENTRY_POINT_GROUP) -> None:
        self.name, self.group, self.value = name, group, f"{name}_module:plugin"
        self._target = target
        self.loads = 0

    def load(self):
        self.loads += 1
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


class FakeDist:
    def __init__(self, name: str, version: str, *eps: FakeEntryPoint) -> None:
        self.metadata = {"name": name}
        self.version = version
        self.entry_points = eps


@pytest.fixture
def installed(monkeypatch):
    """Pretend these distributions are installed: importlib.metadata.distributions() returns them."""
    dists: list[FakeDist] = []
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: list(dists))
    for var in ("REGISTRY_DISABLE_PLUGIN_AUTOLOAD", "REGISTRY_PLUGINS", "REGISTRY_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    return dists


def test_builtins_arrive_through_the_hooks() -> None:
    """The manager registers registry_torch by name; the catalog attributes every component to it."""
    catalog = load_catalog(load_entrypoints=False)
    assert {c.plugin for c in catalog} == {"registry_torch"}
    assert len(catalog) == 45
    assert [(p.name, p.source) for p in catalog.plugins] == [("registry_torch", "built-in")]


def test_each_call_builds_a_fresh_manager() -> None:
    """No global registry: registering on one manager does not show in the next."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(make_plugin("extra", registry_activations={"swish2": swish}), name="extra")
    assert build_catalog(pm).get("activation", "swish2").plugin == "extra"
    assert load_catalog(load_entrypoints=False).find("swish2") == []


def test_entry_point_plugin_is_loaded_once_with_its_distribution(installed) -> None:
    """A 'registry.plugins' entry point is loaded, registered under its name with its distribution; not twice."""
    ep = FakeEntryPoint("fancy", make_plugin("fancy", registry_activations={"fancy_swish": swish}))
    other = FakeEntryPoint("unrelated", make_plugin("x"), group="console_scripts")
    installed.append(FakeDist("registry-fancy", "1.2.3", ep, other))
    pm = get_plugin_manager()
    assert ep.loads == 1 and other.loads == 0
    _load_entry_points(pm, pm.registry_loaded, None)  # a second pass loads nothing again
    assert ep.loads == 1
    catalog = build_catalog(pm)
    assert catalog.get("activation", "fancy_swish").plugin == "fancy"
    info = catalog.plugins[1]
    assert (info.name, info.source, info.distribution, info.version, info.entry_point) == (
        "fancy", "entry point", "registry-fancy", "1.2.3", "fancy = fancy_module:plugin"
    )
    assert len(catalog.plugins) == 2 and catalog.failures == ()


def test_a_name_claimed_twice_names_both_distributions(installed) -> None:
    """Two plugins registering 'relu': an error naming both plugins and distributions, no silent override."""
    installed.append(FakeDist("registry-other", "0.1", FakeEntryPoint("other", make_plugin("o", registry_activations={"relu": swish}))))
    with pytest.raises(DuplicateComponentError) as e:
        load_catalog()
    assert str(e.value) == (
        "activation 'relu' is registered by both 'registry_torch' (torch-spec-registry) and 'other' (registry-other); "
        "uninstall one of them, or have the plugin that means to replace the other mark its factory with @registry.replaces"
    )
    assert e.value.plugins == ("registry_torch", "other") and (e.value.kind, e.value.name) == ("activation", "relu")


def test_an_alias_clash_is_a_duplicate_too() -> None:
    """A new component whose name equals a built-in's alias ('swish') is refused."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(make_plugin("other", registry_activations={"swish": swish}), name="other")
    with pytest.raises(DuplicateComponentError, match="activation 'swish' is registered by both"):
        build_catalog(pm)


def test_a_deliberate_replacement_is_allowed_and_recorded(installed) -> None:
    """A factory marked @registry.replaces takes over the built-in name; the catalog records who replaced whom."""
    better_relu = registry.replaces(registry.aliases("ReLU")(lambda: nn.ReLU6()))
    better_relu.__doc__ = "ReLU capped at 6."
    installed.append(FakeDist("registry-relu6", "2.0", FakeEntryPoint("relu6", make_plugin("r", registry_activations={"relu": better_relu}))))
    catalog = load_catalog()
    assert catalog.get("activation", "ReLU").plugin == "relu6"
    assert isinstance(catalog.get("activation", "relu").factory(), nn.ReLU6)
    assert catalog.replaced == [("activation", "relu", "registry_torch", "relu6")]


BROKEN = [
    ("import", ImportError("no module named 'torch_extras'"), "import raised ImportError(\"no module named 'torch_extras'\")"),
    ("api", types.SimpleNamespace(REGISTRY_PLUGIN_API=2), "it targets registry plugin API 2; this registry supports 1"),
    ("hook", "raise", "hook registry_losses() raised ZeroDivisionError('oops')"),
    ("listy", {"registry_losses": [swish]}, "hook registry_losses() must return a mapping of name to factory, got list"),
    ("notcallable", {"registry_layers": {"thing": 3}}, "registered layer 'thing' as 3, which is not callable"),
    ("badname", {"registry_layers": {"Bad-Name": swish}}, "registered layer 'Bad-Name': names must be lower_snake_case identifiers"),
]


def _broken_target(kind, target):
    if kind == "hook":
        mod = types.ModuleType("boom")

        @registry.hookimpl
        def registry_losses():
            raise ZeroDivisionError("oops")

        mod.registry_losses = registry_losses
        return mod
    return make_plugin(kind, **target) if isinstance(target, dict) else target


@pytest.mark.parametrize(("kind", "target", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_plugin_is_left_out_and_named(installed, kind, target, message) -> None:
    """Each kind of broken plugin: a failure naming distribution, entry point and cause; the rest keeps working."""
    good = FakeEntryPoint("good", make_plugin("good", registry_activations={"good_swish": swish}))
    installed.append(FakeDist("registry-broken", "0.0.1", FakeEntryPoint("broken", _broken_target(kind, target))))
    installed.append(FakeDist("registry-good", "1.0", good))
    catalog = load_catalog()
    (failure,) = catalog.failures
    assert failure.render() == (
        f"plugin 'broken' (distribution registry-broken, entry point 'broken = broken_module:plugin') failed: {message}"
    )
    assert catalog.get("activation", "good_swish").plugin == "good"
    assert catalog.get("activation", "relu").plugin == "registry_torch"
    assert [p.name for p in catalog.plugins] == ["registry_torch", "good"]
    assert all(c.plugin != "broken" for c in catalog)


@pytest.mark.parametrize(("kind", "target", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_strict_switch_makes_a_broken_plugin_an_error(installed, monkeypatch, kind, target, message) -> None:
    """REGISTRY_STRICT_PLUGINS=1 turns each failure into a PluginLoadError with the same message."""
    installed.append(FakeDist("registry-broken", "0.0.1", FakeEntryPoint("broken", _broken_target(kind, target))))
    monkeypatch.setenv("REGISTRY_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError) as e:
        load_catalog()
    assert str(e.value) == (
        f"plugin 'broken' (distribution registry-broken, entry point 'broken = broken_module:plugin') failed: {message}"
    )
    assert (e.value.plugin, e.value.distribution) == ("broken", "registry-broken")


def test_an_unschematic_signature_leaves_the_plugin_out() -> None:
    """A factory whose signature cannot become a schema: the plugin is left out, named with the parameter."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(make_plugin("bad", registry_layers={"untyped": lambda x=1: nn.ReLU()}), name="bad")
    pm.register(make_plugin("worse", registry_layers={"variadic": lambda **kw: nn.ReLU()}), name="worse")
    catalog = build_catalog(pm)
    assert [f.render() for f in catalog.failures] == [
        "plugin 'bad' (registered directly) failed: layer 'untyped': parameter 'x' has no type annotation",
        "plugin 'worse' (registered directly) failed: layer 'variadic': parameter 'kw' is variadic (*args/**kwargs); name each parameter",
    ]
    assert catalog.find("untyped") == [] and catalog.get("layer", "linear").plugin == "registry_torch"
    with pytest.raises(PluginLoadError, match="parameter 'x' has no type annotation"):
        build_catalog(pm, strict=True)


def test_only_the_named_plugins_load(installed, monkeypatch) -> None:
    """REGISTRY_PLUGINS=a loads entry point 'a' (or distribution 'a') and no other."""
    a = FakeEntryPoint("a", make_plugin("a", registry_activations={"a_act": swish}))
    b = FakeEntryPoint("b", make_plugin("b", registry_activations={"b_act": swish}))
    installed += [FakeDist("registry-a", "1", a), FakeDist("registry-b", "1", b)]
    monkeypatch.setenv("REGISTRY_PLUGINS", "registry-a")
    catalog = load_catalog()
    assert (a.loads, b.loads) == (1, 0)
    assert [p.name for p in catalog.plugins] == ["registry_torch", "a"]


def test_autoload_can_be_switched_off(installed, monkeypatch) -> None:
    """REGISTRY_DISABLE_PLUGIN_AUTOLOAD=1 skips the entry-point group entirely."""
    ep = FakeEntryPoint("a", make_plugin("a"))
    installed.append(FakeDist("registry-a", "1", ep))
    monkeypatch.setenv("REGISTRY_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert [p.name for p in load_catalog().plugins] == ["registry_torch"] and ep.loads == 0
