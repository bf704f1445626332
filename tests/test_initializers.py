"""Weight initialisers, the kind ``[model] init`` holds: applied to the built model under the run's seed, beside
``layers`` or ``type``, located when they cannot apply; and a plugin's initialiser is named like a built-in."""

from __future__ import annotations

import json
import math
import sys

import jsonschema
import pytest
import torch
from torch import nn

from registry.building.builder import build, plan_data
from registry.building.network import build_network
from registry.components.manager import build_catalog, load_plugins
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text
from registry.resolution.schema import dump_schema
from registry.spec.problems import ProblemList

from .conftest import QUICK

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib
from .test_manager import make_plugin

CONV = QUICK.replace(
    '  { type = "flatten" },',
    '  { type = "conv2d", out_channels = 4, kernel_size = 3 },\n  { type = "batch_norm" },\n  { type = "flatten" },',
)


def with_init(text: str, init: str) -> str:
    return text.replace("[loss]", f"init = {init}\n[loss]")


def built(catalog, text: str) -> nn.Module:
    return build(resolve_text(text, catalog, "s.toml"), with_optimizer=False).model


def test_kaiming_normal_equals_torch_on_the_builders_seed(catalog) -> None:
    """The model with init = kaiming_normal is the model without it, then torch.nn.init.kaiming_normal_ on each
    parameter of 2 or more dimensions, in order, drawn where the builder left the generator."""
    got = built(catalog, with_init(CONV, '{ type = "kaiming_normal", nonlinearity = "relu" }'))
    rs = resolve_text(CONV, catalog, "s.toml")
    data = plan_data(rs)
    torch.manual_seed(0)
    plan = build_network(rs, data.example, data.dataset.num_classes, ProblemList("s.toml", None))
    assert plan is not None
    want = plan.model
    with torch.no_grad():
        for p in want.parameters():
            if p.dim() >= 2:
                nn.init.kaiming_normal_(p, nonlinearity="relu")
    names = [n for n, _ in got.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]
    for (name, a), b in zip(got.named_parameters(), want.parameters(), strict=True):
        assert torch.equal(a, b), name
    plain = built(catalog, CONV)
    changed = [n for (n, a), b in zip(got.named_parameters(), plain.parameters(), strict=True) if not torch.equal(a, b)]
    assert changed == ["0.weight", "3.weight", "5.weight"]  # biases and the batch norm's scale and shift kept


def test_an_array_applies_in_order_and_biases_are_selected_by_name(catalog) -> None:
    model = built(catalog, with_init(CONV, '[{ type = "constant", val = 0.5 }, { type = "zeros", to = "biases" }]'))
    plain = built(catalog, CONV)
    for (name, p), q in zip(model.named_parameters(), plain.parameters(), strict=True):
        if p.dim() >= 2:
            assert torch.all(p == 0.5), name
        elif name.endswith("bias"):
            assert torch.all(p == 0), name
        else:  # the batch norm's scale: left as torch made it
            assert name == "1.weight" and torch.equal(p, q)


def test_kaiming_gives_its_variance(catalog) -> None:
    """std = gain / sqrt(fan_in): sqrt(2 / 64) for the 64 inputs of the first linear layer after a ReLU."""
    w = built(catalog, with_init(QUICK, '{ type = "kaiming_normal_", nonlinearity = "relu" }'))[1].weight
    assert w.shape == (32, 64)
    assert abs(w.std().item() - math.sqrt(2 / 64)) < 0.01 and abs(w.mean().item()) < 0.01


def test_orthogonal_gives_orthonormal_rows(catalog) -> None:
    w = built(catalog, with_init(QUICK, '{ type = "orthogonal" }'))[1].weight
    torch.testing.assert_close(w @ w.T, torch.eye(32), atol=1e-5, rtol=0)


def test_init_goes_beside_a_whole_architecture(catalog) -> None:
    """init with type = "mlp" (refused before as 'use either init or type'): each hidden weight is set."""
    text = with_init(QUICK.replace("layers = [", 'type = "mlp"\nhidden = [16]\nXX = [', 1), '{ type = "zeros" }')
    text = text[: text.index("XX = [")] + text[text.index("]\n", text.index("XX = [")) + 2 :]
    text = text.replace('type = "nll"', 'type = "cross_entropy"')
    model = built(catalog, text)
    weights = [p for p in model.parameters() if p.dim() >= 2]
    assert len(weights) == 2 and all(torch.all(p == 0) for p in weights)


def test_init_alone_is_a_located_problem(catalog) -> None:
    """init without layers or type (it crashed with an IndexError in the network builder before)."""
    text = QUICK[: QUICK.index("layers = [")] + 'init = { type = "zeros" }\n' + QUICK[QUICK.index("[loss]") :]
    with pytest.raises(SpecError) as e:
        resolve_text(text, catalog, "s.toml")
    assert [p.render("s.toml") for p in e.value.problems] == [
        "s.toml:6: model: needs layers = [...] or type = NAME (a registered model: python -m registry list models)"
    ]


@pytest.mark.parametrize(
    ("init", "message"),
    [
        (
            '[{ type = "xavier_uniform" }, { type = "zeros", to = "biases" }]',
            "s.toml:14: model.init[1]: zeros cannot be applied to this model: the model has no parameters named bias "
            "to set",
        ),
        ('{ type = "uniform", a = 1.0, b = 0.0 }',
         "s.toml:14: model.init: initializer 'uniform' refused its parameters: a (1.0) must be below b (0.0)"),
        ('{ type = "kaiming_normal", mode = "fan" }', "s.toml:14: model.init.mode: must be 'fan_in' or "
         "'fan_out' (got 'fan'); did you mean 'fan_in'?"),
    ],
)  # fmt: skip
def test_what_cannot_apply_is_located(catalog, init, message) -> None:
    text = with_init(QUICK.replace('out_features = 32 }', 'out_features = 32, bias = false }')
                     .replace('out_features = 10 }', 'out_features = 10, bias = false }'), init)  # fmt: skip
    with pytest.raises(SpecError) as e:
        built(catalog, text)
    assert [p.render("s.toml") for p in e.value.problems] == [message]


def test_one_table_and_an_array_of_one_are_the_same_spec(catalog) -> None:
    one = resolve_text(with_init(QUICK, '{ type = "zeros" }'), catalog, "s.toml")
    array = resolve_text(with_init(QUICK, '[{ type = "zeros" }]'), catalog, "s.toml")
    assert [r.loc for r in one.held("initializer")] == [("model", "init")]
    assert [r.loc for r in array.held("initializer")] == [("model", "init", 0)]
    assert [(r.name, r.kwargs) for r in one.held("initializer")] == [("zeros", {"to": "weights"})]
    assert [(r.name, r.kwargs) for r in array.held("initializer")] == [("zeros", {"to": "weights"})]


def test_the_schema_takes_init_beside_either_and_not_alone(catalog) -> None:
    schema = json.loads(dump_schema(catalog))
    ok = tomllib.loads(with_init(QUICK, '{ type = "kaiming_uniform" }'))
    jsonschema.validate(ok, schema)
    ok["model"] = {"type": "mlp", "hidden": [16], "init": [{"type": "zeros"}]}
    jsonschema.validate(ok, schema)
    for bad in ({"init": {"type": "zeros"}}, {"layers": [{"type": "flatten"}], "init": {"type": "kaiming"}}):
        ok["model"] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(ok, schema)


def test_a_plugins_initializer_is_named_like_a_builtin() -> None:
    def halves() -> object:
        """Halve every parameter."""

        def apply(model: nn.Module) -> None:
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(0.5)

        return apply

    plugins = load_plugins(load_entrypoints=False)
    plugins.pm.register(make_plugin("halving", registry_initializers={"halves": halves}), name="halving")
    catalog = build_catalog(plugins)
    assert catalog.get("initializer", "halves").plugin == "halving"
    model, plain = built(catalog, with_init(QUICK, '{ type = "halves" }')), built(catalog, QUICK)
    for a, b in zip(model.parameters(), plain.parameters(), strict=True):
        assert torch.equal(a, b * 0.5)
