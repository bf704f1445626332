"""The plugin manager and the catalog it builds: hooks, entry points, conflicts, broken plugins, switches."""

from __future__ import annotations

import importlib.metadata
import types

import pytest
from torch import nn

import registry
from registry.components.manager import (
    ENTRY_POINT_GROUP,
    _load_entry_points,
    build_catalog,
    get_plugin_manager,
    load_catalog,
    load_plugins,
)
from registry.errors import DuplicateComponentError, PluginLoadError
from registry.kinds import KINDS


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
    import registry_torch as rt

    assert len(catalog) == sum(len(getattr(rt, info.hook)()) for info in KINDS.values())  # one hook per kind
    assert [(p.name, p.source) for p in catalog.plugins] == [("registry_torch", "built-in")]


def test_each_call_builds_a_fresh_manager() -> None:
    """No global registry: registering on one manager does not show in the next."""
    plugins = load_plugins(load_entrypoints=False)
    plugins.pm.register(make_plugin("extra", registry_activations={"swish2": swish}), name="extra")
    assert build_catalog(plugins).get("activation", "swish2").plugin == "extra"
    assert load_catalog(load_entrypoints=False).find("swish2") == []
    assert get_plugin_manager(load_entrypoints=False).get_plugin("extra") is None


def test_entry_point_plugin_is_loaded_once_with_its_distribution(installed) -> None:
    """A 'registry.plugins' entry point is loaded, registered under its name with its distribution; not twice."""
    ep = FakeEntryPoint("fancy", make_plugin("fancy", registry_activations={"fancy_swish": swish}))
    other = FakeEntryPoint("unrelated", make_plugin("x"), group="console_scripts")
    installed.append(FakeDist("registry-fancy", "1.2.3", ep, other))
    plugins = load_plugins()
    assert ep.loads == 1 and other.loads == 0
    _load_entry_points(plugins, None)  # a second pass loads nothing again
    assert ep.loads == 1
    catalog = build_catalog(plugins)
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
    plugins = load_plugins(load_entrypoints=False)
    plugins.pm.register(make_plugin("other", registry_activations={"swish": swish}), name="other")
    with pytest.raises(DuplicateComponentError, match="activation 'swish' is registered by both"):
        build_catalog(plugins)


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
    plugins = load_plugins(load_entrypoints=False)
    plugins.pm.register(make_plugin("bad", registry_layers={"untyped": lambda x=1: nn.ReLU()}), name="bad")
    plugins.pm.register(make_plugin("worse", registry_layers={"variadic": lambda **kw: nn.ReLU()}), name="worse")
    catalog = build_catalog(plugins)
    assert [f.render() for f in catalog.failures] == [
        "plugin 'bad' (registered directly) failed: layer 'untyped': parameter 'x' has no type annotation",
        "plugin 'worse' (registered directly) failed: layer 'variadic': parameter 'kw' is variadic (*args/**kwargs); name each parameter",
    ]
    assert catalog.find("untyped") == [] and catalog.get("layer", "linear").plugin == "registry_torch"
    with pytest.raises(PluginLoadError, match="parameter 'x' has no type annotation"):
        build_catalog(plugins, strict=True)


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


def test_a_layer_named_like_an_activation_is_a_clash(installed) -> None:
    """Layers and activations share model.layers: a plugin layer 'relu' would silently shadow the activation."""
    installed.append(FakeDist("registry-shadow", "0.1", FakeEntryPoint("shadow", make_plugin("s", registry_layers={"relu": swish}))))
    with pytest.raises(DuplicateComponentError) as e:
        load_catalog()
    assert str(e.value) == (
        "activation and layer 'relu' is registered by both 'registry_torch' (torch-spec-registry) and 'shadow' "
        "(registry-shadow) (an activation and a layer share a place in specs); uninstall one of them, or have the "
        "plugin that means to replace the other mark its factory with @registry.replaces"
    )
    assert (e.value.kind, e.value.held_kind, e.value.plugins) == ("layer", "activation", ("registry_torch", "shadow"))


def test_a_replacement_keeps_the_aliases_of_what_it_replaces(installed) -> None:
    """A replaced built-in keeps answering to its aliases ('ReLU'), which now resolve to the replacement."""
    better = registry.replaces(lambda: nn.ReLU6())
    better.__doc__ = "ReLU capped at 6."
    installed.append(FakeDist("registry-relu6", "2.0", FakeEntryPoint("relu6", make_plugin("r", registry_activations={"relu": better}))))
    catalog = load_catalog()
    assert catalog.get("activation", "ReLU").plugin == "relu6"
    assert catalog.get("activation", "relu").aliases == ("ReLU",)


def _dataset(batch_size: int = 8, seed: int = 0) -> registry.Dataset:
    """A dataset with a parameter named like a [data] setting."""
    raise AssertionError("never built")


def test_a_parameter_named_like_a_reserved_key_is_refused_at_load(installed) -> None:
    """A dataset parameter 'batch_size' (a [data] setting) or a layer parameter 'repeat' leaves the plugin out, named."""
    def repeated(repeat: int = 2) -> nn.Module:
        """Repeats."""
        return nn.ReLU()

    installed.append(FakeDist("registry-clash", "0.1", FakeEntryPoint("clash", make_plugin("c", registry_datasets={"mine": _dataset}))))
    installed.append(FakeDist("registry-rep", "0.1", FakeEntryPoint("rep", make_plugin("r", registry_layers={"repeated": repeated}))))
    catalog = load_catalog()
    assert sorted(f.render() for f in catalog.failures) == [
        "plugin 'clash' (distribution registry-clash, entry point 'clash = clash_module:plugin') failed: dataset 'mine' "
        "has parameter 'batch_size', which a spec uses for something else where a dataset is placed (reserved there: "
        "augment, batch_size, dataset, precompute, target_encoding, test_batch_size, transforms); rename it",
        "plugin 'rep' (distribution registry-rep, entry point 'rep = rep_module:plugin') failed: layer 'repeated' has "
        "parameter 'repeat', which a spec uses for something else where a layer is placed (reserved there: block, "
        "repeat, type); rename it",
    ]


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no", "OFF", " 0 "])
def test_a_switch_set_to_off_is_off(installed, monkeypatch, value) -> None:
    """REGISTRY_DISABLE_PLUGIN_AUTOLOAD=0 (or false, no, off, empty) does not disable autoloading."""
    ep = FakeEntryPoint("a", make_plugin("a", registry_activations={"a_act": swish}))
    installed.append(FakeDist("registry-a", "1", ep))
    monkeypatch.setenv("REGISTRY_DISABLE_PLUGIN_AUTOLOAD", value)
    assert [p.name for p in load_catalog().plugins] == ["registry_torch", "a"] and ep.loads == 1


def test_an_unknown_name_in_the_plugin_selection_is_warned_about(installed, monkeypatch) -> None:
    """REGISTRY_PLUGINS=registry-aa names nothing installed: a warning with the closest installed name."""
    installed.append(FakeDist("registry-a", "1", FakeEntryPoint("a", make_plugin("a"))))
    monkeypatch.setenv("REGISTRY_PLUGINS", "registry-aa")
    catalog = load_catalog()
    assert catalog.warnings == (
        "REGISTRY_PLUGINS names 'registry-aa', but no installed plugin has that entry-point or distribution name; "
        "did you mean 'registry-a'? (installed: a, registry-a)",
    )


def test_a_clash_can_be_kept_for_the_plugins_command(installed) -> None:
    """keep_clashes records the clash and keeps the first claimant, so `plugins` can show it."""
    installed.append(FakeDist("registry-other", "0.1", FakeEntryPoint("other", make_plugin("o", registry_activations={"relu": swish}))))
    catalog = load_catalog(keep_clashes=True)
    (clash,) = catalog.clashes
    assert clash.plugins == ("registry_torch", "other")
    assert catalog.get("activation", "relu").plugin == "registry_torch"
