"""Every built-in component: found by both names, built with its parameters, and it works (registry-driven matrix)."""

from __future__ import annotations

import pytest
import registry_torch
import torch
from torch import nn

from registry.components.catalog import KINDS
from registry.components.manager import load_catalog

CATALOG = load_catalog(load_entrypoints=False)

TORCH_NAMES = {
    ("activation", "sigmoid"): nn.Sigmoid, ("activation", "tanh"): nn.Tanh, ("activation", "relu"): nn.ReLU,
    ("activation", "leaky_relu"): nn.LeakyReLU, ("activation", "elu"): nn.ELU, ("activation", "softmax"): nn.Softmax,
    ("activation", "log_softmax"): nn.LogSoftmax, ("activation", "gelu"): nn.GELU, ("activation", "silu"): nn.SiLU,
    ("activation", "selu"): nn.SELU, ("activation", "softplus"): nn.Softplus, ("activation", "prelu"): nn.PReLU,
    ("activation", "mish"): nn.Mish,
    ("loss", "mse"): nn.MSELoss, ("loss", "bce"): nn.BCELoss, ("loss", "bce_with_logits"): nn.BCEWithLogitsLoss,
    ("loss", "cross_entropy"): nn.CrossEntropyLoss, ("loss", "nll"): nn.NLLLoss,
    ("loss", "smooth_l1"): nn.SmoothL1Loss, ("loss", "huber"): nn.HuberLoss,
    ("optimizer", "sgd"): torch.optim.SGD, ("optimizer", "adam"): torch.optim.Adam,
    ("optimizer", "adamw"): torch.optim.AdamW, ("optimizer", "rmsprop"): torch.optim.RMSprop,
    ("optimizer", "adagrad"): torch.optim.Adagrad, ("optimizer", "adadelta"): torch.optim.Adadelta,
    ("layer", "linear"): nn.Linear, ("layer", "flatten"): nn.Flatten, ("layer", "dropout"): nn.Dropout,
    ("layer", "conv2d"): nn.Conv2d, ("layer", "max_pool2d"): nn.MaxPool2d, ("layer", "avg_pool2d"): nn.AvgPool2d,
    ("layer", "layer_norm"): nn.LayerNorm, ("layer", "unflatten"): nn.Unflatten,
}  # fmt: skip


def test_registered_names_equal_the_plugin_tables() -> None:
    """The catalog holds exactly the factories that registry_torch's tables define, nothing more."""
    tables = {kind: getattr(registry_torch, info.hook)() for kind, info in KINDS.items()}  # its hook per kind
    for kind in KINDS:
        assert [c.name for c in CATALOG.list(kind)] == sorted(tables[kind])
        assert all(CATALOG.get(kind, n).factory is f for n, f in tables[kind].items())


def test_the_seed_components_are_all_there() -> None:
    """The notebook's 7 activations, 7 losses and 6 optimizer classes (SGD twice) are registered."""
    names = {(c.kind, c.name) for c in CATALOG}
    seed = {("activation", n) for n in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softmax", "log_softmax")}
    seed |= {("loss", n) for n in ("mse", "bce", "bce_with_logits", "cross_entropy", "nll", "smooth_l1", "huber")}
    seed |= {("optimizer", n) for n in ("sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamw")}
    assert seed <= names


@pytest.mark.parametrize(("kind", "name"), sorted(TORCH_NAMES))
def test_both_names_resolve_to_the_torch_class(kind: str, name: str) -> None:
    """The snake_case name and the torch class name resolve to one component that builds that class."""
    cls = TORCH_NAMES[(kind, name)]
    comp = CATALOG.get(kind, name)
    assert CATALOG.get(kind, cls.__name__) is comp
    assert cls.__name__ in comp.aliases
    assert comp.description


def test_batch_norm_answers_to_1d_and_2d_names() -> None:
    """batch_norm picks BatchNorm1d for features and BatchNorm2d for images; both torch names resolve."""
    comp = CATALOG.get("layer", "BatchNorm2d")
    assert comp is CATALOG.get("layer", "BatchNorm1d") is CATALOG.get("layer", "batch_norm")
    assert isinstance(comp.factory(input_shape=(16,), num_features=16), nn.BatchNorm1d)
    assert isinstance(comp.factory(input_shape=(3, 8, 8), num_features=3), nn.BatchNorm2d)


@pytest.mark.parametrize(
    ("kind", "name", "params", "attrs"),
    [
        ("activation", "leaky_relu", {"negative_slope": 0.2}, {"negative_slope": 0.2}),
        ("activation", "elu", {"alpha": 0.5}, {"alpha": 0.5}),
        ("activation", "softmax", {"dim": 0}, {"dim": 0}),
        ("activation", "log_softmax", {"dim": -1}, {"dim": -1}),
        ("activation", "gelu", {"approximate": "tanh"}, {"approximate": "tanh"}),
        ("activation", "softplus", {"beta": 2.0, "threshold": 10.0}, {"beta": 2.0, "threshold": 10.0}),
        ("layer", "dropout", {"p": 0.25}, {"p": 0.25}),
        ("layer", "linear", {"out_features": 7, "in_features": 3, "bias": False}, {"in_features": 3, "out_features": 7, "bias": None}),
        ("layer", "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "in_channels": 2},
         {"in_channels": 2, "out_channels": 4, "kernel_size": (3, 3), "padding": (1, 1)}),
        ("layer", "max_pool2d", {"kernel_size": 2}, {"kernel_size": 2, "stride": 2}),
        ("loss", "cross_entropy", {"label_smoothing": 0.1, "reduction": "sum"}, {"label_smoothing": 0.1, "reduction": "sum"}),
        ("loss", "smooth_l1", {"beta": 0.5}, {"beta": 0.5}),
        ("loss", "huber", {"delta": 2.0}, {"delta": 2.0}),
        ("loss", "nll", {"ignore_index": 3}, {"ignore_index": 3}),
    ],
)  # fmt: skip
def test_parameters_reach_the_torch_object(kind, name, params, attrs) -> None:
    """Validated spec parameters are passed through to the torch object unchanged."""
    comp = CATALOG.get(kind, name)
    obj = comp.factory(**comp.schema.model.model_validate(params).model_dump())
    for attr, value in attrs.items():
        assert getattr(obj, attr) == value, attr


@pytest.mark.parametrize(
    ("name", "params", "group"),
    [
        ("sgd", {"lr": 0.01, "momentum": 0.9, "nesterov": True}, {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        ("adam", {"betas": [0.8, 0.9]}, {"lr": 0.001, "betas": (0.8, 0.9)}),
        ("adamw", {}, {"lr": 0.001, "weight_decay": 0.01}),
        ("rmsprop", {"alpha": 0.9, "centered": True}, {"lr": 0.01, "alpha": 0.9, "centered": True}),
        ("adagrad", {"lr_decay": 0.1}, {"lr": 0.01, "lr_decay": 0.1}),
        ("adadelta", {"rho": 0.95}, {"lr": 1.0, "rho": 0.95}),
    ],
)
def test_optimizer_hyperparameters_land_in_the_param_group(name, params, group) -> None:
    """Optimizer parameters (and torch's defaults, where the spec gives none) are in the param group."""
    comp = CATALOG.get("optimizer", name)
    opt = comp.factory([nn.Parameter(torch.zeros(2))], **comp.schema.model.model_validate(params).model_dump())
    for key, value in group.items():
        assert opt.param_groups[0][key] == value, key
