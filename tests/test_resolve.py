"""Resolving names through the catalog and validating each component's parameters."""

from __future__ import annotations

import pytest

from registry.errors import SpecError
from registry.resolution.resolver import resolve_text

from .conftest import QUICK


def resolve(catalog, text):
    return resolve_text(text, catalog, "s.toml")


def test_names_resolve_by_either_name(catalog) -> None:
    """Canonical and torch names resolve to the same component; parameters are validated and typed."""
    text = QUICK.replace('type = "relu"', 'type = "ReLU"').replace('type = "sgd"', 'type = "SGD"')
    rs = resolve(catalog, text)
    assert [r.component.name for r in rs.layers] == ["flatten", "linear", "relu", "linear", "log_softmax"]
    assert rs.optimizer.component.name == "sgd"
    assert rs.optimizer.kwargs == {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
    assert rs.layers[1].given == {"out_features"}


def test_every_component_problem_is_reported_at_once(catalog) -> None:
    """Unknown names, unknown parameters and bad values in one spec: all reported, in order; a misspelt
    required parameter is one problem (the unknown key, with its did-you-mean), not two."""
    text = (
        QUICK.replace('{ type = "relu" }', '{ type = "rleu" }')
        .replace("out_features = 10", "out_feature = 10")
        .replace('type = "nll"', 'type = "nlll"')
        .replace("lr = 0.05", "lr = -1")
        .replace('dataset = "digits"', 'dataset = "digits"\nrooot = "x"')
    )
    with pytest.raises(SpecError) as e:
        resolve(catalog, text)
    msgs = [(p.loc, p.message.split(" Available")[0].split(" (see:")[0]) for p in e.value.problems]
    assert msgs == [
        (("data", "rooot"), "dataset 'digits' takes no parameter 'rooot'. Its parameters: split_seed, test_fraction; beside them [data] takes: augment, batch_size, precompute, target_encoding, test_batch_size, transforms"),
        (("model", "layers", 2, "type"), "unknown layer or activation 'rleu'; did you mean 'relu' or 'rrelu' or 'relu6'?"),
        (("model", "layers", 3, "out_feature"), "layer 'linear' takes no parameter 'out_feature'; did you mean 'out_features'? Its parameters: bias, in_features, out_features"),
        (("loss", "type"), "unknown loss 'nlll'; did you mean 'nll'?"),
        (("optimizer", "lr"), "must be > 0.0 (got -1)"),
    ]
    assert [p.line for p in e.value.problems] == [4, 11, 12, 16, 19]


def test_a_name_of_another_kind_says_so(catalog) -> None:
    """An optimizer named as a layer: the message says it is an optimizer, not a layer."""
    with pytest.raises(SpecError, match=r"unknown layer or activation 'adam' \('adam' is an optimizer, not a layer or activation\)"):
        resolve(catalog, QUICK.replace('{ type = "relu" }', '{ type = "adam" }'))


def test_no_import_path_resolves(catalog) -> None:
    """Dotted paths and torch attribute names never resolve: only registered names do."""
    for name in ("torch.nn.Linear", "os.system", "builtins.eval", "nn.ReLU"):
        with pytest.raises(SpecError, match=f"unknown layer or activation '{name}'"):
            resolve(catalog, QUICK.replace('{ type = "relu" }', f'{{ type = "{name}" }}'))


def test_structure_and_name_problems_are_reported_together(catalog, write_spec) -> None:
    """A bad [train] value does not hide an unknown layer: both come out of load_and_resolve, in file order."""
    from registry.resolution.resolver import load_and_resolve

    text = QUICK.replace("epochs = 1", "epochs = 0").replace('{ type = "relu" }', '{ type = "rleu" }')
    with pytest.raises(SpecError) as e:
        load_and_resolve(write_spec(text), catalog)
    assert [(p.loc, p.line) for p in e.value.problems] == [(("model", "layers", 2, "type"), 10), (("train", "epochs"), 21)]
