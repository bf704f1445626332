"""Conformance kit for plugin authors: check every component a plugin registers.

In a plugin's own tests::

    import pytest
    from registry.testing import check_component, plugin_components

    @pytest.mark.parametrize("component", plugin_components("my_plugin"), ids=str)
    def test_component_conforms(component):
        check_component(component)

``plugin_components`` loads the installed plugins the way the CLI does and
returns the components of the named plugin (its entry-point name).
``check_component`` builds the component from its defaults, or from the
parameters of its ``@registry.example``, runs it once on CPU (a forward and
backward pass for a layer, activation, loss or transform, an optimizer step on
a small model, a load for a dataset, a metric over outputs of every task it
declares, a call on a small model for what is applied to the built model (an initialiser); the check is
the one ``CHECKS`` holds for the kind's consumer), checks that the results are finite and
have the right shape (and, for a transform that is not random, that each sample comes out the same
alone as in a batch), and that the component has a description and appears in
``list``, ``show`` and the JSON Schema. It raises ``AssertionError`` with the
component's name and what failed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from registry.building.data import Dataset, DatasetSplits, Split
from registry.building.tasks import Task
from registry.components.catalog import Catalog, Component
from registry.components.contracts import get_contract, get_metric_info
from registry.errors import RegistryError
from registry.kinds import KINDS, Consumer
from registry.resolution.resolver import Resolved
from registry.spec.reading import strict_validate

__all__ = ["CHECKS", "check_component", "plugin_catalog", "plugin_components"]

DEFAULT_SHAPE = (6,)
DEFAULT_IMAGE = (1, 8, 8)


def plugin_catalog(strict: bool = True) -> Catalog:
    """The catalog of the installed plugins; a plugin that fails to load is an error here."""
    from registry.components.manager import load_catalog

    return load_catalog(strict=strict)


def plugin_components(plugin: str, catalog: Catalog | None = None) -> list[Component]:
    """Every component registered by *plugin* (its entry-point or module name).

    Raises:
        AssertionError: the plugin is not loaded, or registers nothing.
    """
    catalog = catalog or plugin_catalog()
    found = [c for c in catalog if c.plugin == plugin]
    loaded = sorted(p.name for p in catalog.plugins)
    assert found, f"plugin {plugin!r} registers no component (loaded plugins: {', '.join(loaded)})"
    return found


def _resolved(c: Component, catalog: Catalog | None = None) -> Resolved:
    if not c.schema.nested:
        params = strict_validate(c.schema.model, dict(c.example.params))
        return Resolved(c, params, (c.kind, c.name))
    from registry.resolution.resolver import resolve_entry  # it holds components: resolve them as a spec would

    assert catalog is not None
    return resolve_entry(catalog, (c.kind,), {"type": c.name, **c.example.params}, (c.kind, c.name))


def _check_finite(c: Component, what: str, t: torch.Tensor) -> None:
    assert torch.isfinite(t).all(), f"{c.kind} {c.name}: {what} is not finite"


def _check_layer(c: Component, catalog: Catalog) -> None:
    from registry.building.network import build_layer

    shape = c.example.input_shape or (DEFAULT_IMAGE if KINDS[c.kind].consumer == "model" else DEFAULT_SHAPE)
    dtype = getattr(torch, c.example.input_dtype)
    floating = dtype.is_floating_point
    x = torch.randn(4, *shape, requires_grad=True) if floating else torch.randint(0, 2, (4, *shape), dtype=dtype)
    with torch.random.fork_rng(devices=[]):
        module, _ = build_layer(_resolved(c, catalog), x.detach(), num_classes=3)
    assert isinstance(module, nn.Module), f"{c.kind} {c.name}: returned {type(module).__name__}, not an nn.Module"
    out = module(x)
    assert isinstance(out, torch.Tensor) and out.shape[0] == 4, f"{c.kind} {c.name}: output is not a batch of 4"
    _check_finite(c, "the output", out)
    out.float().sum().backward()  # type: ignore[no-untyped-call]
    if floating:
        assert x.grad is not None, f"{c.kind} {c.name}: no gradient reaches the input"
        _check_finite(c, "the input gradient", x.grad)
    else:  # ids take no gradient: the component's own weights must
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads), f"{c.kind} {c.name}: no gradient reaches its weights"


def _loss_inputs(c: Component) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    contract = get_contract(c.factory)
    logits = torch.randn(4, 3, requires_grad=True)
    out = {
        "log_probabilities": lambda: logits.log_softmax(1),
        "probabilities": lambda: logits.softmax(1),
        "unit_interval": lambda: logits.sigmoid(),
    }.get(contract.get("expects", "scores"), lambda: logits)()
    target = torch.tensor([0, 2, 1, 0]) if contract.get("targets") == "class_index" else torch.rand(4, 3)
    return logits, out, target


def _check_loss(c: Component) -> None:
    logits, out, target = _loss_inputs(c)
    loss = c.factory(**_resolved(c).kwargs)(out, target)
    assert isinstance(loss, torch.Tensor) and loss.shape == (), f"loss {c.name}: does not return a scalar"
    _check_finite(c, "the loss", loss)
    loss.backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None and logits.grad.abs().sum() > 0, f"loss {c.name}: gives no gradient"


def _check_optimizer(c: Component) -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = c.factory(model.parameters(), **_resolved(c).kwargs)
    assert isinstance(opt, torch.optim.Optimizer), f"optimizer {c.name}: returned {type(opt).__name__}"
    model(torch.randn(8, 3)).pow(2).mean().backward()
    opt.step()
    after = list(model.parameters())
    for p in after:
        _check_finite(c, "a parameter after a step", p)
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), (
        f"optimizer {c.name}: a step changed nothing"
    )


def _first_items(dataset: Any, n: int = 8) -> Split:
    """The first items of a map-style dataset, stacked the way the DataLoader collates them."""
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    return Split(torch.stack([x for x, _ in items]), torch.as_tensor([y for _, y in items]))


def _check_dataset(c: Component, load: bool) -> None:
    ds = c.factory(**_resolved(c).kwargs)
    assert isinstance(ds, Dataset), f"dataset {c.name}: returned {type(ds).__name__}, not registry.Dataset"
    if not load:
        return
    splits = ds.load()
    assert isinstance(splits, DatasetSplits), f"dataset {c.name}: load() returned {type(splits).__name__}"
    for label, stored in (("train", splits.train), ("test", splits.test)):
        split = stored if isinstance(stored, Split) else _first_items(stored)
        assert len(split) > 0, f"dataset {c.name}: the {label} split is empty"
        got = tuple(split.inputs.shape[1:])
        assert got == ds.sample_shape, f"dataset {c.name}: {label} samples are {got}, declared {ds.sample_shape}"
        assert split.inputs.dtype == ds.sample_dtype, f"dataset {c.name}: {label} dtype {split.inputs.dtype}"
        if ds.classes:
            t = split.targets
            assert t.dtype == torch.long, f"dataset {c.name}: class targets must be int64, got {t.dtype}"
            assert 0 <= int(t.min()) and int(t.max()) < ds.num_classes, f"dataset {c.name}: {label} labels out of range"


EXAMPLE_TASKS = {
    "multiclass": Task("multiclass", tuple("0123456789"), (), "index", 10),
    "binary": Task("binary", ("no", "yes"), (1,), "binary", 1),
    "multilabel": Task("multilabel", ("a", "b", "c"), (3,), "none", 3),
    "regression": Task("regression", (), (2,), "none", 2),
}
"""A small task of each kind, on which a metric is built and computed."""


def _check_metric(c: Component) -> None:
    from registry.building.metrics import instantiate

    info = get_metric_info(c.factory)
    assert info is not None, f"metric {c.name}: no @registry.metric(tasks=..., higher_is_better=...) declaration"
    assert info.tasks and set(info.tasks) <= set(EXAMPLE_TASKS), f"metric {c.name}: tasks {info.tasks}"
    g = torch.Generator().manual_seed(0)
    for kind in info.tasks:
        task = EXAMPLE_TASKS[kind]
        output = torch.randn(16, task.outputs, generator=g)
        if kind == "multiclass":
            target = torch.arange(16) % 10
        elif kind == "regression":
            target = torch.randn(16, 2, generator=g)
        else:
            target = (torch.arange(16 * task.outputs).reshape(16, task.outputs) % 2).float()
        m = instantiate(_resolved(c), task)
        m.update(*task.metric_inputs(output, target, "logits"))
        value = m.compute()
        assert isinstance(value, torch.Tensor) and value.numel() == 1, f"metric {c.name}: not one value on {kind}"
        _check_finite(c, f"the value on a {kind} task", value)


def _check_scheduler(c: Component, catalog: Catalog) -> None:
    """Built over a one-parameter SGD for a 10-epoch run of 5 steps per epoch and stepped as it declares: a
    torch LRScheduler whose rates stay finite and >= 0, and whose state, saved as a checkpoint keeps it (JSON)
    and loaded into a fresh one, gives the same rates from there on."""
    import json

    from registry.building.schedules import Schedule, Training, _build, schedule_of
    from registry.rundirs.checkpoints import _tag, _untag

    r = _resolved(c, catalog)
    per = schedule_of(r).per
    assert per in ("batch", "epoch"), f"scheduler {c.name}: steps per {per!r}; declare @registry.schedule(per=...)"
    training = Training(10, 5, higher_is_better={"loss": False, "accuracy": True})

    def fresh() -> tuple[torch.optim.Optimizer, Any]:
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, _build(r, opt, training)

    opt, sched = fresh()
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler), f"scheduler {c.name}: returned {type(sched)}"
    info = schedule_of(r)
    schedule = Schedule(sched, per, None if info.monitor is None else "loss")

    def run(opt: torch.optim.Optimizer, schedule: Schedule, epochs: range) -> list[float]:
        rates = []
        for epoch in epochs:
            for _ in range(5):
                rates.append(opt.param_groups[0]["lr"])
                opt.step()
                schedule.after_step()
            schedule.after_epoch(1.0 / (epoch + 1) if epoch % 3 else 1.0)
        return rates

    first = run(opt, schedule, range(5))
    saved = json.loads(json.dumps(_tag(sched.state_dict()), allow_nan=False))
    groups = copy.deepcopy(opt.state_dict())
    rest = run(opt, schedule, range(5, 10))
    for rate in first + rest:
        assert math.isfinite(rate) and rate >= 0, f"scheduler {c.name}: a rate of {rate}"
    opt2, sched2 = fresh()
    opt2.load_state_dict(groups)
    sched2.load_state_dict(_untag(saved))
    again = run(opt2, Schedule(sched2, schedule.per, schedule.monitor), range(5, 10))
    assert again == rest, f"scheduler {c.name}: resumed from its state_dict, its rates differ: {again} != {rest}"


def _check_transform(c: Component) -> None:
    shape = c.example.input_shape or DEFAULT_IMAGE
    fn = c.factory(**_resolved(c).kwargs)
    assert callable(fn), f"transform {c.name}: returned {type(fn).__name__}, which is not callable"
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(0))
    with torch.random.fork_rng():
        torch.manual_seed(1)
        out = fn(x)
        torch.manual_seed(2)
        again = fn(x)
    assert isinstance(out, torch.Tensor) and out.shape[0] == 4, f"transform {c.name}: output is not a batch of 4"
    _check_finite(c, "the output", out)
    if torch.equal(out, again):  # not random: the runner may apply it to blocks of batches or the whole split
        for i in range(4):
            alone = fn(x[i : i + 1])
            assert torch.equal(alone, out[i : i + 1]), (
                f"transform {c.name}: sample {i} comes out differently alone than in a batch of 4; "
                "a transform must treat each sample on its own"
            )


def _check_listed(c: Component, catalog: Catalog) -> None:
    from registry.cli.render import render_list, render_show
    from registry.resolution.schema import dump_schema

    assert c.description, f"{c.kind} {c.name}: no description (give the factory a docstring)"
    assert f"  {c.name} " in render_list(catalog, c.kind), f"{c.kind} {c.name}: missing from `list`"
    assert render_show(catalog, c.name, c.kind).startswith(f"{c.kind} {c.name}: "), f"{c.name}: `show` fails"
    assert f'"{c.name}"' in dump_schema(catalog), f"{c.kind} {c.name}: missing from the JSON Schema"


def check_component(component: Component, catalog: Catalog | None = None, load_datasets: bool = True) -> None:
    """Check that *component* builds, runs on CPU with finite results, and is listed, shown and in the schema.

    Args:
        component: from ``plugin_components``.
        catalog: the catalog it came from (default: the installed plugins).
        load_datasets: also load a dataset's data and check its splits (turn off for
            datasets that need a network; one that reads files reads its example's, relative to the
            working directory).

    Raises:
        AssertionError: naming the component and what is wrong.
    """
    catalog = catalog or plugin_catalog()
    try:  # every failure is an AssertionError, as a test runner reports one: also registry's own verdicts
        _check(component, catalog, load_datasets)
    except RegistryError as e:
        raise AssertionError(f"{component.kind} {component.name}: {e}") from e


def _check_applied(c: Component, catalog: Catalog) -> None:
    """Applied to a small model of linear, convolution and normalisation layers (seeded): it keeps every parameter
    (the same tensors, the same shapes), leaves them finite, changes at least one, and gives the same values
    again under the same seed."""

    def model() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))

    def applied() -> tuple[nn.Module, list[torch.Tensor]]:
        m = model()
        params = list(m.parameters())
        torch.manual_seed(1)
        c.factory(**_resolved(c, catalog).kwargs)(m)
        after = list(m.parameters())
        assert len(after) == len(params) and all(a is b for a, b in zip(after, params, strict=True)), (
            f"{c.kind} {c.name}: replaced the model's parameters instead of setting them in place"
        )
        return m, [p.detach().clone() for p in after]

    before = [p.detach().clone() for p in model().parameters()]
    m, first = applied()
    for (name, _), t in zip(m.named_parameters(), first, strict=True):
        _check_finite(c, f"parameter {name!r} after it", t)
    assert any(not torch.equal(a, b) for a, b in zip(before, first, strict=True)), (
        f"{c.kind} {c.name}: changed no parameter of a model of Conv2d, BatchNorm2d and Linear layers"
    )
    _, again = applied()
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True)), (
        f"{c.kind} {c.name}: applied twice under the same seed, it gives different values"
    )


CHECKS: Mapping[Consumer, Callable[[Component, Catalog, bool], None]] = {
    "chain": lambda c, catalog, _: _check_layer(c, catalog),
    "model": lambda c, catalog, _: _check_layer(c, catalog),
    "applied": lambda c, catalog, _: _check_applied(c, catalog),
    "loss": lambda c, _, __: _check_loss(c),
    "optimizer": lambda c, _, __: _check_optimizer(c),
    "scheduler": lambda c, catalog, _: _check_scheduler(c, catalog),
    "metric": lambda c, _, __: _check_metric(c),
    "dataset": lambda c, _, load: _check_dataset(c, load),
    "transform": lambda c, _, __: _check_transform(c),
}
"""The conformance check of each consumer (``registry.kinds.CONSUMERS``): a kind's row picks its check."""


def _check(c: Component, catalog: Catalog, load_datasets: bool) -> None:
    _ = c.schema  # its signature must give a schema
    CHECKS[KINDS[c.kind].consumer](c, catalog, load_datasets)
    _check_listed(c, catalog)
