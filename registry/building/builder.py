"""Resolved spec -> torch objects: the data plan, the model, the loss and the optimizer, each tried before use.

The transforms are tried on a small batch of the dataset's raw sample shape,
which gives the model's input shape without reading any data (and tells a
random transform placed in ``transforms`` instead of ``augment``). The model is
built node by node from that shape (``registry.building.network``). Then the loss is
tried on the model's dry-run output against targets of the dataset's declared
kind, and the optimizer's own checks are run: whatever ``run`` would refuse
before its first step, ``validate`` refuses too, at the key path that causes it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from registry.building.checks import check_model_and_loss
from registry.building.data import Dataset
from registry.building.factory import Refused, build_plain, plugin_fault, short_message
from registry.building.metrics import MetricPlan, plan_metrics
from registry.building.monitor import Watched, watched_values
from registry.building.network import MAX_PARAMETERS, ModelPlan, NodePlan, build_network, fill_inferred
from registry.building.paramgroups import plan_groups, scale_rates
from registry.building.precision import autocast, unsupported
from registry.building.schedules import check_schedule
from registry.building.tasks import Task
from registry.errors import DatasetNotFoundError, Problem, SpecError
from registry.kinds import kinds_for
from registry.resolution.resolver import Resolved, ResolvedSpec, components
from registry.spec.paths import check_paths, locate_missing
from registry.spec.problems import ProblemList

__all__ = [
    "MAX_PARAMETERS",
    "Built",
    "DataPlan",
    "ModelPlan",
    "NodePlan",
    "build",
    "fill_inferred",
    "plan_data",
    "resolve_device",
]

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
class Built:
    """Everything a run needs, as real torch objects.

    Attributes:
        task: the problem the run solves (its targets' encoding, its metrics' inputs).
        metrics: the test metrics computed after each epoch.
        best: the value that picks the best checkpoint, and whether larger is better.
        early_stop: the value early stopping watches, and whether larger is better (None: no early stopping).
        test_values: every value a test pass gives (loss, accuracy, metrics), and whether larger is better.
        objective: the value a ``[sweep]`` optimises, and whether larger is better (None: the spec has no sweep).
    """

    resolved: ResolvedSpec
    data: DataPlan
    model_plan: ModelPlan
    model: nn.Module
    loss: Callable[[Tensor, Tensor], Tensor]
    optimizer: torch.optim.Optimizer | None  # None when built for validate only
    device: torch.device
    task: Task
    metrics: tuple[MetricPlan, ...] = ()
    best: tuple[str, bool] = ("loss", False)
    warnings: tuple[Problem, ...] = ()
    early_stop: tuple[str, bool] | None = None
    test_values: dict[str, bool] = field(default_factory=lambda: {"loss": False})
    objective: tuple[str, bool] | None = None


def apply_to_model(rs: ResolvedSpec, model: nn.Module, problems: ProblemList) -> None:
    """Call each component of the kinds consumed as ``applied`` (weight initialisers) on the built *model*, in
    place, in the order of the kinds' table and the spec's, under the seed the model was built with.

    A ``ValueError`` or ``TypeError`` is a problem of the spec at the component's place; anything else, or a
    non-finite parameter left behind, the plugin's fault.
    """
    for kind in kinds_for("applied"):
        for r in rs.held(kind):
            fn = _build(r, problems)
            if fn is None:
                continue
            try:
                fn(model)
            except (ValueError, TypeError) as e:
                problems.add(r.loc, f"{r.name} cannot be applied to this model: {short_message(e)}")
                continue
            except Exception as e:  # a plugin's component can raise anything: its fault
                raise plugin_fault(r.component, f"raised {type(e).__name__} on the model: {short_message(e)}") from e
            bad = next((n for n, p in model.named_parameters() if not torch.isfinite(p).all()), None)
            if bad is not None:
                raise plugin_fault(r.component, f"left parameter {bad!r} with values that are not finite")


def _problems(rs: ResolvedSpec) -> ProblemList:
    return ProblemList(rs.source, rs.provenance)


def _build(r: Resolved, problems: ProblemList, *args: Any) -> Any:
    try:
        return build_plain(r, *args)
    except Refused as e:
        problems.add(e.loc, str(e))
        return None


def _try(t: Resolved, fn: Transform, batch: Tensor, problems: ProblemList) -> Tensor | None:
    """*fn* applied to the dry-run *batch*; None (and a problem) if it cannot take it."""
    try:
        out = fn(batch)
    except (ValueError, RuntimeError, TypeError, IndexError) as e:
        problems.add(t.loc, f"{t.name} cannot take inputs of shape {tuple(batch.shape[1:])}: {short_message(e)}")
        return None
    except Exception as e:  # a plugin's transform can raise anything: its fault
        raise plugin_fault(t.component, f"raised {type(e).__name__} on a batch: {short_message(e)}") from e
    if not isinstance(out, Tensor):
        raise plugin_fault(t.component, f"returned {type(out).__name__} for a batch, not a tensor")
    return out


def _is_random(t: Resolved, fn: Transform, x: Tensor, problems: ProblemList) -> tuple[bool, Tensor] | None:
    """Whether *fn* gives two results for one random batch *x* under two seeds, and its first result."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        a = _try(t, fn, x, problems)
        torch.manual_seed(2)
        b = _try(t, fn, x, problems)
    if a is None or b is None:
        return None
    return a.shape != b.shape or not torch.equal(a, b), a


def _plan_data(rs: ResolvedSpec, problems: ProblemList) -> DataPlan | None:
    paths = {v[0]: v for r in components(rs) for v in r.path_values}  # every component's, each once
    check_paths(paths.values(), rs.provenance)  # before a factory reads a file: said where the spec writes it
    try:
        dataset = _build(rs.dataset, problems)
    except DatasetNotFoundError as e:
        raise locate_missing(e, rs.dataset.path_values, rs.provenance) from None
    if dataset is None:
        return None
    batch, probe = dataset.example_batch(), dataset.random_batch()
    transforms = []
    for t in rs.transforms:
        fn = _build(t, problems)
        out = None if fn is None else _try(t, fn, batch, problems)
        if fn is None or out is None:
            return None
        tried = _is_random(t, fn, probe, problems)
        if tried is None:
            return None
        if tried[0]:
            problems.add(
                (*t.loc, "type"),
                f"{t.name} is random (two calls on the same batch differ); list it in data.augment, which "
                "applies random transforms to training batches only, drawn batch by batch",
            )
            return None
        transforms.append(fn)
        batch, probe = out, tried[1]
    augment = []
    for t in rs.augment:
        fn = _build(t, problems)
        out = None if fn is None else _try(t, fn, batch, problems)
        if fn is None or out is None:
            return None
        if out.shape != batch.shape:
            problems.add(
                t.loc,
                f"{t.name} changes the sample shape {tuple(batch.shape[1:])} -> {tuple(out.shape[1:])}; an "
                "augmentation must keep it (the test split is not augmented): put shape changes in transforms",
            )
            return None
        augment.append(fn)
    return DataPlan(dataset, tuple(transforms), batch, tuple(augment))


def plan_data(rs: ResolvedSpec) -> DataPlan:
    """Build the dataset declaration and transforms and find the model's input shape, reading no data.

    Raises:
        SpecError: a transform that cannot take the dataset's samples, or a random one in ``transforms``.
        PluginError: the dataset's or a transform's factory misbehaved.
    """
    problems = _problems(rs)
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
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise SpecError([Problem(("train", "device"), f"{name!r} asked for, but this machine has {count} GPUs")])
    if name == "mps" and not torch.backends.mps.is_available():
        raise SpecError([Problem(("train", "device"), "'mps' asked for, but MPS is not available here")])
    return torch.device(name)


def _try_loss(rs: ResolvedSpec, loss: Any, output: Tensor, data: DataPlan, task: Task, problems: ProblemList) -> None:
    """Run the loss once on the model's dry-run output against targets of the dataset's kind, encoded for the task."""
    target = task.encode(data.dataset.example_targets(len(output)))
    where = (*rs.loss.loc, "type")
    c = rs.loss.component
    try:
        value = loss(output, target)
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        width = output.shape[1] if output.dim() > 1 else 1
        sized = [k for k, v in rs.loss.kwargs.items() if isinstance(v, (list, tuple)) and len(v) != width]
        if len(sized) == 1:  # a class weight of the wrong length: said at that parameter, in our words
            n = len(rs.loss.kwargs[sized[0]])
            problems.add((*rs.loss.loc, sized[0]), f"has {n} value{'s' if n != 1 else ''}, but the model's output "
                         f"has {width} per sample: give one for each (the dataset's "
                         f"{data.dataset.describe_targets()})")  # fmt: skip
            return
        problems.add(
            where,
            f"{c.name} cannot take the model's output (shape {tuple(output.shape[1:])} per sample) with the "
            f"dataset's targets ({data.dataset.describe_targets()}): {short_message(e)}",
        )
        return
    except Exception as e:  # a plugin's loss can raise anything: its fault
        raise plugin_fault(c, f"raised {type(e).__name__} on the model's output: {short_message(e)}") from e
    if not isinstance(value, Tensor) or value.dim() != 0:
        got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
        raise plugin_fault(c, f"returned {got}, not a scalar tensor, for a batch of {output.shape[0]}")


class _StopBeforeParameters(BaseException):
    """Raised by ``_ProbeParameters`` once the optimizer's own checks have passed (a BaseException, so
    that the factory's callers do not take it for the factory's own failure)."""


class _ProbeParameters:
    """Parameters that stop the optimizer's construction when it reads them: its own checks (the
    ones torch runs before touching the parameters) run, and nothing else does."""

    def __iter__(self) -> Any:
        raise _StopBeforeParameters


def _check_optimizer(rs: ResolvedSpec, problems: ProblemList) -> None:
    """The optimizer's own checks of its hyperparameters, without building it (``validate``).

    A real optimizer costs a first import of torch._dynamo (1.4 s): ``run`` pays that, ``validate`` need not.
    An optimizer that builds without reading its parameters has nothing more to tell without them.
    """
    try:
        build_plain(rs.optimizer, _ProbeParameters())
    except _StopBeforeParameters:
        return
    except Refused as e:
        problems.add(e.loc, str(e))


def _dry_output(plan: ModelPlan, example: Tensor) -> Tensor:
    plan.model.eval()
    with torch.no_grad():
        out = plan.model(example)
    plan.model.train()
    return out  # type: ignore[no-any-return]


def _check_precision(
    rs: ResolvedSpec, plan: ModelPlan, loss: Any, data: DataPlan, task: Task | None, device: torch.device,
    problems: ProblemList,
) -> None:  # fmt: skip
    """``train.precision`` on this device, and (on the CPU, where the dry run is) the model and loss under it."""
    precision = rs.spec.train.precision
    why = unsupported(precision, device)
    if why is not None:
        problems.add(("train", "precision"), why)
        return
    if precision == "float32" or device.type != "cpu" or loss is None or task is None or problems.items:
        return
    target = task.encode(data.dataset.example_targets(len(data.example)))
    try:
        with autocast(precision, device):
            loss(_dry_output(plan, data.example), target)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as e:
        problems.add(("train", "precision"), f"the model or loss cannot run in {precision} on {device}: "
                     f"{short_message(e)}; use 'float32'")  # fmt: skip


def build(rs: ResolvedSpec, with_optimizer: bool = True, cuda_index: int | None = None) -> Built:
    """Build the data plan, then the model (seeded), the loss and the optimizer; the runner loads the data.

    Args:
        rs: the resolved spec.
        with_optimizer: construct the optimizer too. ``validate`` passes False: the optimizer's own
            checks still run, but its first construction costs about 1.4 s of imports (torch._dynamo).
        cuda_index: the GPU for ``device = "auto"``/``"cuda"`` (torchrun's local rank).

    Raises:
        SpecError: every problem found: shapes, a model too large, a loss that cannot take the model's
            output with the dataset's targets, parameters a component itself refuses.
        PluginError: a plugin's component misbehaved (raised, or returned the wrong kind of object).
    """
    data = plan_data(rs)
    try:
        device = resolve_device(rs.spec.train.device, cuda_index)
    except SpecError as e:  # located where the device is written (a base file, perhaps)
        raise SpecError([rs.problem(p.loc, p.message) for p in e.problems], rs.source or "<spec>") from None
    problems = _problems(rs)
    if rs.spec.train.tensorboard and importlib.util.find_spec("tensorboard") is None:
        problems.add(("train", "tensorboard"), "needs TensorBoard: pip install 'torch-spec-registry[tensorboard]'")
    torch.manual_seed(rs.spec.seed)
    plan = build_network(rs, data.example, data.dataset.num_classes, problems)
    problems.raise_if_any()
    assert plan is not None
    apply_to_model(rs, plan.model, problems)
    if plan.num_params == 0:
        problems.add(("model",), f"the model has no parameters for optimizer {rs.optimizer.name!r} to train")
    warnings = [rs.problem(rs.dataset.loc, text) for text in data.dataset.warnings]
    task, findings = check_model_and_loss(rs, rs.catalog, plan, data.dataset)
    for f in findings:
        if f.is_error:
            problems.add(f.loc, f.message)
        else:
            warnings.append(rs.problem(f.loc, f.message))
    loss = _build(rs.loss, problems)
    if loss is not None and task is not None and not problems.items:
        _try_loss(rs, loss, _dry_output(plan, data.example), data, task, problems)
    _check_precision(rs, plan, loss, data, task, device, problems)
    metrics: tuple[MetricPlan, ...] = ()
    watched = Watched()
    if task is not None:
        metrics = plan_metrics(rs.metrics, rs.catalog, task, problems)
        watched = watched_values(rs, task, metrics, problems)
        check_schedule(rs, watched.values, data.dataset.train_samples, problems)
    optimizer = _optimizer(rs, plan, device, problems, with_optimizer)
    problems.raise_if_any()
    assert loss is not None and task is not None
    model = plan.model.to(device)
    loss = loss.to(device) if isinstance(loss, nn.Module) else loss
    return Built(
        rs, data, plan, model, loss, optimizer, device, task, metrics, watched.best, tuple(warnings), watched.early,
        watched.values, watched.objective,
    )  # fmt: skip


def _optimizer(rs: ResolvedSpec, plan: ModelPlan, device: torch.device, problems: ProblemList, make: bool) -> Any:
    """The optimizer over the model's parameter groups, its rates scaled; without *make* (or with problems found)
    only its parameters are checked, and None is returned."""
    if not plan.num_params:
        return None
    groups = plan_groups(rs, plan, problems)
    if not make or problems.items:
        _check_optimizer(rs, problems)
        return None
    model = plan.model.to(device)
    optimizer = _build(rs.optimizer, problems, groups if groups is not None else model.parameters())
    if optimizer is not None:
        scale_rates(optimizer)
    return optimizer
