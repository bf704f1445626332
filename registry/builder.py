"""Resolved spec -> torch objects: the data pipeline, the model, the loss and the optimizer.

The transforms are tried on a small zero batch of the dataset's raw sample
shape, which gives the model's input shape without reading any data. The
layers are then built one by one, in spec order, under
``torch.manual_seed(spec.seed)``, so a spec-built network starts from exactly
the weights a hand-written one would: each layer's inferred sizes come from
the previous layer's output on that zero batch (an explicit size is checked
against them), and each layer is first made on the ``meta`` device, which
allocates nothing, so that a model too large for the machine is refused before
any real tensor exists. A layer that cannot take its input is reported with
its index and both shapes, at build time, never mid-training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from registry.checks import check_model_and_loss
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
    "fill_shape_params",
    "plan_data",
    "resolve_device",
]

MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights before gradients and optimizer state
Transform = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class DataPlan:
    """The dataset declaration, its transforms, and the sample shape they produce."""

    dataset: Dataset
    transforms: tuple[Transform, ...]
    example: Tensor
    augment: tuple[Transform, ...] = ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one transformed sample: the model's input shape."""
        return tuple(self.example.shape[1:])

    @property
    def sample_nbytes(self) -> int:
        """The bytes of one transformed sample."""
        return self.example[0].nbytes


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
    optimizer: torch.optim.Optimizer | None  # None when built for validate only
    device: torch.device
    warnings: tuple[Problem, ...] = ()


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


def _try(t: Resolved, batch: Tensor, problems: _Problems) -> tuple[Transform, Tensor] | None:
    """Build transform *t* and apply it to the dry-run *batch*; None (and a problem) if it cannot take it."""
    fn = _call(t)
    try:
        return fn, fn(batch)
    except (ValueError, RuntimeError, TypeError) as e:
        problems.add(t.loc, f"{t.component.name} cannot take inputs of shape {tuple(batch.shape[1:])}: {e}")
        return None


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
        tried = _try(t, batch, problems)
        if tried is None:
            return None
        fn, batch = tried
        transforms.append(fn)
    augment = []
    for t in rs.augment:
        tried = _try(t, batch, problems)
        if tried is None:
            return None
        if tried[1].shape != batch.shape:
            problems.add(
                t.loc,
                f"{t.component.name} changes the sample shape {tuple(batch.shape[1:])} -> "
                f"{tuple(tried[1].shape[1:])}; an augmentation must keep it (the test split is not augmented): "
                "put shape changes in transforms",
            )
            return None
        augment.append(tried[0])
    return DataPlan(dataset, tuple(transforms), batch, tuple(augment))


def fill_shape_params(r: Resolved, shape: tuple[int, ...]) -> dict[str, Any]:
    """The layer's keyword arguments with its inferred sizes filled in from the per-sample input *shape*.

    Raises:
        ShapeParamError: a size cannot be inferred, or an explicit one disagrees.
    """
    kwargs = r.kwargs
    schema = r.component.schema
    for name, inferred in schema.inferred.items():
        try:
            value = inferred.rule(shape)
        except IndexError:
            raise ShapeParamError(r.loc, f"{r.component.name} cannot infer {name} from input shape {shape}") from None
        if name in r.given and kwargs[name] != value:
            raise ShapeParamError(
                (*r.loc, name),
                f"{name} = {kwargs[name]} but the input here has shape {shape}, so {name} must be {value} "
                f"({inferred.what}); remove it to have it inferred",
            )
        kwargs[name] = value
    if schema.input_shape:
        kwargs[schema.input_shape] = shape
    return kwargs


class ShapeParamError(ValueError):
    """An inferred size that cannot be filled (internal: the builder turns it into a Problem)."""

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        super().__init__(message)


def _count_params(r: Resolved, kwargs: dict[str, Any]) -> int:
    with torch.device("meta"):  # no allocation, whatever the size
        module = r.component.factory(**kwargs)
    return sum(p.numel() for p in module.parameters())


def _build_layers(rs: ResolvedSpec, example: Tensor, problems: _Problems) -> tuple[ModelPlan, nn.Sequential] | None:
    layers: list[LayerPlan] = []
    modules: list[nn.Module] = []
    x = example
    total = 0
    for i, r in enumerate(rs.layers):
        shape = tuple(x.shape[1:])
        try:
            kwargs = fill_shape_params(r, shape)
        except ShapeParamError as e:
            problems.add(e.loc, str(e))
            return None
        try:
            n = _count_params(r, kwargs)
            if total + n > MAX_PARAMETERS:
                problems.add(
                    ("model", "layers", i),
                    f"layer {i} ({r.component.name}) has {n:,} parameters, which brings the model to "
                    f"{total + n:,}; at most {MAX_PARAMETERS:,} are allowed",
                )
                return None
            module = r.component.factory(**kwargs)
            module.eval()  # the dry run must not draw dropout masks or move batch-norm statistics
            with torch.no_grad():
                out = module(x)
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            problems.add(r.loc, f"layer {i} ({r.component.name}) cannot take input of shape {shape}: {e}")
            return None
        if not isinstance(out, Tensor):
            problems.add(r.loc, f"layer {i} ({r.component.name}) returned {type(out).__name__}, not a tensor")
            return None
        total += n
        layers.append(LayerPlan(r, kwargs, shape, tuple(out.shape[1:]), n))
        modules.append(module)
        x = out
    return ModelPlan(tuple(layers)), nn.Sequential(*modules).train()


def plan_data(rs: ResolvedSpec) -> DataPlan:
    """Build the dataset declaration and transforms and find the model's input shape, reading no data.

    Raises:
        SpecError: a transform that cannot take the dataset's samples.
    """
    problems = _Problems(rs)
    data = _plan_data(rs, problems)
    problems.raise_if_any()
    assert data is not None
    return data


def resolve_device(name: str, cuda_index: int | None = None) -> torch.device:
    """Turn the spec's ``train.device`` into a device; ``auto`` takes CUDA where present.

    *cuda_index* (a torchrun process's local rank) picks the GPU when the spec names none.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and cuda_index is not None and torch.cuda.is_available():
        name = f"cuda:{cuda_index}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError([Problem(("train", "device"), f"{name!r} asked for, but CUDA is not available here")])
    if name == "mps" and not torch.backends.mps.is_available():
        raise SpecError([Problem(("train", "device"), "'mps' asked for, but MPS is not available here")])
    return torch.device(name)


def build(rs: ResolvedSpec, with_optimizer: bool = True, cuda_index: int | None = None) -> Built:
    """Build the data plan, then the model (seeded), the loss and the optimizer; the runner loads the data.

    Args:
        rs: the resolved spec.
        with_optimizer: construct the optimizer too. ``validate`` passes False: its
            parameters are already validated, and torch's first optimizer costs
            about 3 s of imports (torch._dynamo).
        cuda_index: the GPU for ``device = "auto"``/``"cuda"`` (torchrun's local rank).

    Raises:
        SpecError: shape problems, a model too large, or parameters the component itself refuses.
    """
    data = plan_data(rs)
    try:
        device = resolve_device(rs.spec.train.device, cuda_index)
    except SpecError as e:
        raise e.with_source(rs.source or "<spec>") from None
    problems = _Problems(rs)
    torch.manual_seed(rs.spec.seed)
    made = _build_layers(rs, data.example, problems)
    problems.raise_if_any()
    assert made is not None
    model_plan, model = made
    warnings = []
    for f in check_model_and_loss(rs, rs.catalog, model_plan.output_shape, data.dataset.num_classes):
        if f.is_error:
            problems.add(f.loc, f.message)
        else:
            warnings.append(Problem(f.loc, f.message, locate_line(rs.text, f.loc) if rs.text else None))
    problems.raise_if_any()
    model = model.to(device)
    loss = optimizer = None
    try:
        loss = _call(rs.loss)
    except (ValueError, TypeError, RuntimeError) as e:
        problems.add(rs.loss.loc, f"{rs.loss.component.name}: {e}")
    try:
        optimizer = _call(rs.optimizer, model.parameters()) if with_optimizer else None
    except (ValueError, TypeError, RuntimeError) as e:
        problems.add(rs.optimizer.loc, f"{rs.optimizer.component.name}: {e}")
    problems.raise_if_any()
    assert loss is not None
    return Built(rs, data, model_plan, model, loss.to(device), optimizer, device, tuple(warnings))
