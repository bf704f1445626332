"""The conformance kit: the built-ins pass it, and it catches what a broken component gets wrong."""

from __future__ import annotations

import types

import pytest
import torch
from registry_specs.example_data import write_example_data
from torch import nn

import registry
from registry.components.manager import build_catalog, load_catalog, load_plugins
from registry.testing import check_component, plugin_components

CATALOG = load_catalog(load_entrypoints=False)


NEEDS_NETWORK = {"mnist", "fashion_mnist"}


QUICK_ARCHITECTURES = {
    "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet", "inception_v3", "mlp",
    "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnet18",
    "shufflenet_v2_x0_5", "squeezenet1_0", "squeezenet1_1", "swin_t", "swin_v2_t", "vit_b_16", "vit_b_32",
}  # fmt: skip
"""The smallest architecture of each torchvision family (the kit takes under a second for each): checked in every
run; the other 61, larger, variants of the same code (140 s for all 81 on 2 cores), in the slow run."""


def _marked(c):
    slow = c.kind == "model" and c.name not in QUICK_ARCHITECTURES
    return pytest.param(c, id=str(c), marks=pytest.mark.slow) if slow else pytest.param(c, id=str(c))


@pytest.mark.parametrize("component", [_marked(c) for c in plugin_components("registry_torch", CATALOG)])
def test_builtin_conforms(component, tmp_path) -> None:
    """Every built-in component passes the kit that plugin authors run; the datasets that read the user's files
    read them from the working directory, where their examples point (only downloads are not loaded)."""
    write_example_data(tmp_path)
    check_component(component, CATALOG, load_datasets=component.name not in NEEDS_NETWORK)


def _catalog_with(**hooks):
    plugins = load_plugins(load_entrypoints=False)
    mod = types.ModuleType("mine")
    for hook, table in hooks.items():
        setattr(mod, hook, registry.hookimpl(lambda table=table: table))
        getattr(mod, hook).__name__ = hook
    plugins.pm.register(mod, name="mine")
    return build_catalog(plugins)


def nan_layer() -> nn.Module:
    """Gives NaN."""
    return nn.Threshold(0.0, float("nan"))


def undocumented() -> nn.Module:
    return nn.Identity()


def frozen_optimizer(params, lr: float = 0.1) -> torch.optim.Optimizer:
    """Never moves."""
    return torch.optim.SGD(params, lr=0.0)


def stringly() -> nn.Module:
    """Returns a string."""
    return "not a module"  # type: ignore[return-value]


def batch_standardize():
    """Standardizes with the batch's own statistics: a sample's result depends on the others."""
    return lambda x: (x - x.mean()) / (x.std() + 1e-6)


@pytest.mark.parametrize(
    ("hook", "name", "factory", "message"),
    [
        ("registry_transforms", "batch_standardize", batch_standardize,
         "transform batch_standardize: sample 0 comes out differently alone than in a batch of 4"),
        ("registry_layers", "nan_layer", nan_layer, "layer nan_layer: the output is not finite"),
        ("registry_layers", "undocumented", undocumented, "layer undocumented: no description"),
        ("registry_optimizers", "frozen", frozen_optimizer, "optimizer frozen: a step changed nothing"),
        ("registry_layers", "stringly", stringly,
         r"^layer stringly: layer 'stringly' of plugin 'mine' returned str \('not a module'\), not a torch\.nn\.modules"),
    ],
)
def test_the_kit_names_what_is_wrong(hook, name, factory, message) -> None:
    """A component that gives NaN, lacks a docstring, does not step, or mixes a batch's samples fails with its name and why."""
    catalog = _catalog_with(**{hook: {name: factory}})
    (component,) = plugin_components("mine", catalog)
    with pytest.raises(AssertionError, match=message):
        check_component(component, catalog)


def test_unknown_plugin_is_reported() -> None:
    """Asking for a plugin that is not loaded names the loaded ones."""
    with pytest.raises(AssertionError, match=r"plugin 'nope' registers no component \(loaded plugins: registry_torch\)"):
        plugin_components("nope", CATALOG)


def test_components_have_stable_test_ids() -> None:
    """str(component) is kind:name, so `ids=str` gives test ids that do not change from run to run."""
    assert str(CATALOG.get("activation", "relu")) == "activation:relu"
    assert str(CATALOG.get("layer", "residual")) == "layer:residual"


def test_every_consumer_has_its_check_and_every_kind_a_consumer() -> None:
    """A kind's row picks its conformance check through its consumer: none is left without one."""
    from registry.kinds import CONSUMERS, KINDS
    from registry.testing import CHECKS

    assert set(CHECKS) == set(CONSUMERS)
    assert {info.consumer for info in KINDS.values()} <= set(CONSUMERS)
