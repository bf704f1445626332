"""A plugin's component that misbehaves when used: its own exit code (3), a message naming it and its plugin,
never a traceback and never reported as a problem of the spec's shapes."""

from __future__ import annotations

import io
import types
from typing import Annotated

import pytest
import torch
from pydantic import Field
from torch import nn

import registry
import registry.training.launch
from registry.building.data import Dataset, DatasetSplits, Split
from registry.building.factory import short_message
from registry.cli import ExitCode, main
from registry.components.manager import build_catalog, load_plugins

from .conftest import QUICK


def exploding_layer(width: Annotated[int, Field(ge=1)] = 4) -> nn.Module:
    """A layer whose factory divides by zero."""
    return nn.Linear(1, width // 0)


def string_layer() -> nn.Module:
    """A layer that returns a string."""
    return "not a module"  # type: ignore[return-value]


def list_optimizer(params, lr: float = 0.1) -> torch.optim.Optimizer:
    """An optimizer that returns a list."""
    return [lr]  # type: ignore[return-value]


def bad_load() -> DatasetSplits:
    raise KeyError("images.bin")


def failing_dataset() -> Dataset:
    """A dataset whose load raises."""
    return Dataset((8, 8), torch.float32, tuple("0123456789"), bad_load)


def lying_dataset() -> Dataset:
    """A dataset whose samples are not the shape it declares."""
    def load() -> DatasetSplits:
        x, y = torch.zeros(20, 7, 7), torch.zeros(20, dtype=torch.long)
        return DatasetSplits(Split(x, y), Split(x, y))

    return Dataset((8, 8), torch.float32, tuple("0123456789"), load)


class PerSampleLoss(nn.Module):
    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return out.sum(1)


def vector_loss() -> nn.Module:
    """A loss that returns one value per sample."""
    return PerSampleLoss()


class RaisingForward(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise KeyError("lookup table")


def raising_forward() -> nn.Module:
    """A layer whose forward pass raises KeyError."""
    return RaisingForward()


@pytest.fixture
def with_faulty_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see the built-ins and a plugin 'faulty' of misbehaving components."""
    plugins = load_plugins(load_entrypoints=False)
    mod = types.ModuleType("faulty")
    tables = {
        "registry_layers": {"exploding_layer": exploding_layer, "string_layer": string_layer, "raising_forward": raising_forward},
        "registry_optimizers": {"list_optimizer": list_optimizer},
        "registry_datasets": {"failing_dataset": failing_dataset, "lying_dataset": lying_dataset},
        "registry_losses": {"vector_loss": vector_loss},
    }  # fmt: skip
    for hook, table in tables.items():
        impl = registry.hookimpl(lambda table=table: table)
        impl.__name__ = hook
        setattr(mod, hook, impl)
    plugins.pm.register(mod, name="faulty")
    catalog = build_catalog(plugins)
    monkeypatch.setattr(registry.training.launch, "load_plugins_catalog", lambda err, keep_clashes=False: catalog)


CASES = [
    ("validate", '{ type = "relu" }', '{ type = "exploding_layer" }',
     "layer 'exploding_layer' of plugin 'faulty' raised ZeroDivisionError when built: integer division or modulo by zero"),
    ("validate", '{ type = "relu" }', '{ type = "string_layer" }',
     "layer 'string_layer' of plugin 'faulty' returned str ('not a module'), not a torch.nn.modules.module.Module"),
    ("validate", '{ type = "relu" }', '{ type = "raising_forward" }',
     "layer 'raising_forward' of plugin 'faulty' raised KeyError on input of shape (32,): 'lookup table'"),
    ("run", 'type = "sgd"\nlr = 0.05\nmomentum = 0.9', 'type = "list_optimizer"',
     "optimizer 'list_optimizer' of plugin 'faulty' returned list ([0.1]), not a torch.optim.optimizer.Optimizer"),
    ("run", 'dataset = "digits"', 'dataset = "failing_dataset"',
     "dataset 'failing_dataset' of plugin 'faulty' raised KeyError while loading its data: 'images.bin'"),
    ("run", 'dataset = "digits"', 'dataset = "lying_dataset"',
     "dataset 'lying_dataset' of plugin 'faulty' loaded data that differs from its declaration: its train samples "
     "have shape (7, 7), but it declares (8, 8)"),
    ("validate", 'type = "nll"', 'type = "vector_loss"',
     "loss 'vector_loss' of plugin 'faulty' returned shape (2,), not a scalar tensor, for a batch of 2"),
]  # fmt: skip


@pytest.mark.usefixtures("with_faulty_plugin")
@pytest.mark.parametrize(("command", "old", "new", "message"), CASES, ids=[c[2].split('"')[1] for c in CASES])
def test_a_misbehaving_component_is_the_plugins_fault(tmp_path, command, old, new, message) -> None:
    """Exit 3 and one line naming the component, its plugin and what it did; nothing about the spec's shapes."""
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace(old, new, 1))
    out, err = io.StringIO(), io.StringIO()
    argv = [command, str(spec)] + (["--out", str(tmp_path / "run")] if command == "run" else [])
    assert main(argv, out=out, err=err) == ExitCode.PLUGIN
    assert err.getvalue() == f"error: {message}\n"
    if command == "run" and (tmp_path / "run" / "run.json").exists():
        assert '"status": "failed"' in (tmp_path / "run" / "run.json").read_text()


def test_torch_messages_lose_their_cpp_backtrace() -> None:
    """A torch error that carries a C++ backtrace is cut to its message, on one line."""
    error = RuntimeError("shape '[2, 3]' is invalid for input of size 4\nException raised from foo at bar.cpp:12\nframe #0: baz")
    assert short_message(error) == "shape '[2, 3]' is invalid for input of size 4"
    assert short_message(ValueError("a\n  b\n")) == "a b"


class Scaled(nn.Module):
    def __init__(self, inner: nn.Module, factor: float) -> None:
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.factor * self.inner(out, target)


def scaled(
    inner: Annotated[nn.Module, registry.Holds(("loss",))], factor: Annotated[float, Field(gt=0)] = 2.0
) -> nn.Module:
    """Another loss, scaled."""
    return Scaled(inner, factor)


def optional_tail(head: registry.Layers, tail: registry.Layers | None = None) -> nn.Module:
    """head, then tail when given."""
    return nn.Sequential(head, tail) if tail is not None else head


def bad_holder(layers: registry.Layers) -> nn.Module:
    """A loss that holds layers, which a loss cannot chain."""
    return nn.MSELoss()


def _with(hooks: dict) -> object:
    plugins = load_plugins(load_entrypoints=False)
    mod = types.ModuleType("holders")
    for hook, table in hooks.items():
        impl = registry.hookimpl(lambda table=table: table)
        impl.__name__ = hook
        setattr(mod, hook, impl)
    plugins.pm.register(mod, name="holders")
    return build_catalog(plugins)


def test_components_that_hold_other_kinds_are_built(tmp_path) -> None:
    """A loss holding a loss gets the built inner loss; an optional chain left out is None, not an empty chain."""
    from registry.building.builder import build
    from registry.resolution.resolver import load_and_resolve

    catalog = _with({"registry_losses": {"scaled": scaled}, "registry_layers": {"optional_tail": optional_tail}})
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace('type = "nll"', 'type = "scaled"\nfactor = 3.0\ninner = { type = "nll" }').replace(
        '{ type = "relu" }', '{ type = "optional_tail", head = [{ type = "relu" }] }'))
    built = build(load_and_resolve(spec, catalog))
    assert isinstance(built.loss, Scaled) and isinstance(built.loss.inner, nn.NLLLoss) and built.loss.factor == 3.0
    assert isinstance(built.model[2], registry.Chain)  # tail left out: the head alone


def test_a_non_layer_holding_layers_is_refused_at_load() -> None:
    """Only layers and models are built from an input shape: a loss holding layers leaves its plugin out, named."""
    catalog = _with({"registry_losses": {"bad_holder": bad_holder}})
    (failure,) = catalog.failures
    assert failure.render() == (
        "plugin 'holders' (registered directly) failed: loss 'bad_holder': parameter 'layers' holds layers, but a "
        "loss is not built from an input shape, so layers cannot be chained in it; only layers and models hold layers"
    )
