"""Resolved spec -> torch objects: the data pipeline, the model, the loss and the optimizer.

Shapes are worked out first by a dry run on the ``meta`` device, which
allocates nothing: every inferred size is filled in, every explicit one
checked, and a layer that cannot take its input is reported with its index
and both shapes before any real tensor exists. Only then is the real model
built, under ``torch.manual_seed(spec.seed)``, in spec order, so a spec-built
network starts from exactly the weights a hand-written one would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from registry.data import Dataset
from registry.errors import PluginLoadError, Problem, SpecError
from registry.locate import locate_line
from registry.resolve import Loc, Resolved, ResolvedSpec

__all__ = [
    "MAX_PARAMETERS",
    "Built",
    "DataPlan",
    "LayerPlan",
    "ModelPlan",
    "build",
    "build_model",
    "plan",
    "resolve_device",
]

MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights before gradients and optimizer state
Transform = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class DataPlan:
    """The dataset declaration, its transforms, and the sample shape they produce."""

    dataset: Dataset
    transforms: tuple[Transform, ...]
    sample_shape: tuple[int, ...]


@dataclass(frozen=True)
class LayerPlan:
    """One layer with its final arguments and the shapes it maps between (per sample)."""

    resolved: Resolved
    kwargs: dict[str, Any]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    num_params: int

    @property
    def name(self) -> str:
        return self.resolved.component.name


@dataclass(frozen=True)
class ModelPlan:
    """Every layer's plan, in order."""

    layers: tuple[LayerPlan, ...]

    @property
    def num_params(self) -> int:
        return sum(layer.num_params for layer in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape


@dataclass(frozen=True)
class Built:
    """Everything a run needs, as real torch objects."""

    resolved: ResolvedSpec
    data: DataPlan
    model_plan: ModelPlan
    model: nn.Module
    loss: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device


class _Problems:
    def __init__(self, rs: ResolvedSpec) -> None:
        self.rs = rs
        self.items: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        line = locate_line(self.rs.text, loc) if self.rs.text else None
        self.items.append(Problem(loc, message, line))

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items, self.rs.source)


def _call(r: Resolved, *args: Any, **overrides: Any) -> Any:
    return r.component.factory(*args, **{**r.kwargs, **overrides})


def _plan_data(rs: ResolvedSpec, problems: _Problems) -> DataPlan | None:
    dataset = _call(rs.dataset)
    if not isinstance(dataset, Dataset):
        c = rs.dataset.component
        raise PluginLoadError(
            f"plugin {c.plugin!r}: dataset {c.name!r} returned {type(dataset).__name__}, not a registry.Dataset",
            c.plugin,
        )
    batch = dataset.example_batch()
    transforms = []
    for t in rs.transforms:
        fn = _call(t)
        try:
            batch = fn(batch)
        except (ValueError, RuntimeError, TypeError) as e:
            problems.add(t.loc, f"{t.component.name} cannot take a batch of shape {tuple(batch.shape)}: {e}")
            return None
        transforms.append(fn)
    return DataPlan(dataset, tuple(transforms), tuple(batch.shape[1:]))


def _fill_shape_params(r: Resolved, shape: tuple[int, ...], problems: _Problems) -> dict[str, Any] | None:
    kwargs = r.kwargs
    schema = r.component.schema
    for name, inferred in schema.inferred.items():
        try:
            value = inferred.rule(shape)
        except IndexError:
            problems.add(r.loc, f"{r.component.name} cannot infer {name} from input shape {shape}")
            return None
        if name in r.given and kwargs[name] != value:
            problems.add(
                (*r.loc, name),
                f"{name} = {kwargs[name]} but the input here has shape {shape}, so {name} must be {value} "
                f"({inferred.what}); remove it to have it inferred",
            )
            return None
        kwargs[name] = value
    if schema.input_shape:
        kwargs[schema.input_shape] = shape
    return kwargs


def _plan_layers(rs: ResolvedSpec, shape: tuple[int, ...], problems: _Problems) -> ModelPlan | None:
    layers = []
    for i, r in enumerate(rs.layers):
        kwargs = _fill_shape_params(r, shape, problems)
        if kwargs is None:
            return None
        try:
            with torch.device("meta"):
                module = r.component.factory(**kwargs)
                out = module(torch.empty((2, *shape), device="meta"))
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            problems.add(r.loc, f"layer {i} ({r.component.name}) cannot take input of shape {shape}: {e}")
            return None
        if not isinstance(out, Tensor):
            problems.add(r.loc, f"layer {i} ({r.component.name}) returned {type(out).__name__}, not a tensor")
            return None
        n = sum(p.numel() for p in module.parameters())
        layers.append(LayerPlan(r, kwargs, shape, tuple(out.shape[1:]), n))
        shape = tuple(out.shape[1:])
    model = ModelPlan(tuple(layers))
    if model.num_params > MAX_PARAMETERS:
        i, big = max(enumerate(layers), key=lambda item: item[1].num_params)
        problems.add(
            ("model", "layers"),
            f"the model has {model.num_params:,} parameters; at most {MAX_PARAMETERS:,} are allowed "
            f"(the largest, layer {i} ({big.name}), has {big.num_params:,})",
        )
        return None
    return model


def plan(rs: ResolvedSpec) -> tuple[DataPlan, ModelPlan]:
    """Dry-run the data pipeline and the model on the meta device: shapes and sizes, no allocation.

    Raises:
        SpecError: a transform or layer that cannot take its input, a size that
            disagrees with the inferred one, or a model that is too large.
    """
    problems = _Problems(rs)
    data = _plan_data(rs, problems)
    problems.raise_if_any()
    assert data is not None
    model = _plan_layers(rs, data.sample_shape, problems)
    problems.raise_if_any()
    assert model is not None
    return data, model


def build_model(model_plan: ModelPlan) -> nn.Sequential:
    """Construct the real layers, in order, on the CPU (the caller seeds the RNG first)."""
    return nn.Sequential(*(layer.resolved.component.factory(**layer.kwargs) for layer in model_plan.layers))


def resolve_device(name: str) -> torch.device:
    """Turn the spec's ``train.device`` into a device; ``auto`` takes CUDA where present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError([Problem(("train", "device"), f"{name!r} asked for, but CUDA is not available here")])
    if name == "mps" and not torch.backends.mps.is_available():
        raise SpecError([Problem(("train", "device"), "'mps' asked for, but MPS is not available here")])
    return torch.device(name)


def build(rs: ResolvedSpec) -> Built:
    """Build the model, loss and optimizer of a resolved spec (data is loaded by the runner).

    Raises:
        SpecError: shape problems, or parameters the component itself refuses.
    """
    data, model_plan = plan(rs)
    try:
        device = resolve_device(rs.spec.train.device)
    except SpecError as e:
        raise e.with_source(rs.source or "<spec>") from None
    torch.manual_seed(rs.spec.seed)
    model = build_model(model_plan).to(device)
    problems = _Problems(rs)
    loss = optimizer = None
    try:
        loss = _call(rs.loss)
    except (ValueError, TypeError, RuntimeError) as e:
        problems.add(rs.loss.loc, f"{rs.loss.component.name}: {e}")
    try:
        optimizer = _call(rs.optimizer, model.parameters())
    except (ValueError, TypeError, RuntimeError) as e:
        problems.add(rs.optimizer.loc, f"{rs.optimizer.component.name}: {e}")
    problems.raise_if_any()
    assert loss is not None and optimizer is not None
    return Built(rs, data, model_plan, model, loss.to(device), optimizer, device)
