"""The hook contract between ``registry`` and its plugins.

A plugin is a module (or object) with functions marked ``@registry.hookimpl``
whose names are those below. The built-in torch plugin implements exactly these
hooks, the same way a third-party package does.

Each hook returns a mapping ``{name: factory}``: the canonical snake_case name a
spec uses, and a typed function or class. ``registry`` derives the parameter
schema from the factory's signature (see ``registry.components.signatures``), so every
parameter must be annotated; ``typing.Annotated[..., pydantic.Field(...)]``
adds bounds and descriptions. The first line of the factory's docstring is its
description in ``list``/``show``. ``@registry.aliases("TorchName")`` adds other
names. Every hook is called once per process, for each plugin, in registration
order; none is first-result: all the mappings are merged, and a name claimed
twice where a spec could not tell the two apart (the same kind, or kinds that
share a place, such as layers and activations) is an error naming both plugins.

A parameter may hold other components: ``Annotated[T, registry.Holds(kinds)]``.
In a spec its value is a component table (or an array of them); the builder
resolves and builds them and passes the objects. ``registry.Layers`` (an array
of layers, passed as one ``registry.Chain``) and ``registry.Branches`` (an array
of such arrays) are the ones containers use. A parameter may not be named like
a key that means something else where the component is placed (``type``;
``repeat`` and ``block`` for layers; ``[data]``'s settings for a dataset).

What a factory may raise: ``ValueError`` or ``TypeError`` when its parameters do
not work together (``nesterov`` without ``momentum``). ``registry`` reports that
as a problem of the spec, at the component's place, with the message. Anything
else it raises, or a result of the wrong kind, is reported as a fault of the
plugin, naming the component and its distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("registry")

Factories = Mapping[str, Callable[..., Any]]


@hookspec
def registry_layers() -> Factories:
    """Return layer factories: ``{name: factory(**params) -> torch.nn.Module}``.

    Parameters marked ``Annotated[int | None, registry.Inferred(rule)]`` are
    filled from the per-sample input shape when a spec omits them, and checked
    when it gives them; one marked ``Annotated[tuple[int, ...], registry.InputShape()]``
    receives that shape and is hidden from specs. A container takes its children
    as ``registry.Layers`` / ``registry.Branches`` parameters: each chain is built
    from the container's input, every child's input size inferred from what
    reaches it, and passed as a ``registry.Chain`` (an ``nn.Sequential`` that
    knows its per-sample ``in_shape`` and ``out_shape``).
    """


@hookspec
def registry_activations() -> Factories:
    """Return activation factories: ``{name: factory(**params) -> torch.nn.Module}``.

    Activations are placed in ``model.layers`` like layers; the builder also
    uses what they declare with ``@registry.contract(produces=...)`` to check
    that the loss fits the model's output.
    """


@hookspec
def registry_models() -> Factories:
    """Return model factories: ``{name: factory(**params) -> torch.nn.Module}``, whole architectures.

    A spec names one as ``[model] type = "name"`` instead of listing ``layers``.
    Its input channels and number of classes come from the data when the spec
    leaves them out: mark them ``Annotated[int | None, registry.CHANNELS]`` and
    ``Annotated[int | None, registry.NUM_CLASSES]``.
    """


@hookspec
def registry_losses() -> Factories:
    """Return loss factories: ``{name: factory(**params) -> Callable[[output, target], Tensor]}``.

    The returned callable (an ``nn.Module`` as a rule) must give a scalar for the
    default reduction. ``@registry.contract(expects=..., targets=...)`` declares
    what it needs from the model's output and the dataset's targets.
    """


@hookspec
def registry_metrics() -> Factories:
    """Return metric factories: ``{name: factory(task, **params) -> torchmetrics.Metric}``.

    The parameter marked ``Annotated[registry.Task, registry.TaskInfo()]`` receives the run's task (its
    kind, classes, outputs), hidden from specs. ``@registry.metric(tasks=..., higher_is_better=...,
    default_for=...)`` declares which tasks it measures (``validate`` checks a spec's metrics against
    them without building any), whether a larger value is better (``train.monitor`` and early
    stopping read it), and for which tasks it is computed when a spec lists no metrics. The runner
    calls ``update(predictions, targets)`` with probabilities for classification (class indices or 0/1
    targets) and the outputs for regression, then ``compute()`` once per test pass; torchmetrics sums
    the states across data-parallel processes.
    """


@hookspec
def registry_schedulers() -> Factories:
    """Return learning-rate scheduler factories: ``{name: factory(optimizer, **params) -> LRScheduler}``.

    The first positional parameter receives the optimizer. A parameter marked ``Annotated[registry.Training,
    registry.TrainingInfo()]`` receives the run's epochs and optimizer steps per epoch (known once the data
    is loaded; ``validate`` passes its best estimate), hidden from specs. ``@registry.schedule(per="batch")``
    (or ``"epoch"``, the default) declares when it steps; ``monitor="metric"`` names the parameter that
    holds the test value its ``step(value)`` watches (reduce-on-plateau). Check parameters that must
    agree with each other, or with the run's length, before touching the optimizer: ``validate`` calls
    the factory with an optimizer that stops the construction as soon as it is read.
    """


@hookspec
def registry_optimizers() -> Factories:
    """Return optimizer factories: ``{name: factory(params, **hyper) -> torch.optim.Optimizer}``.

    The first positional parameter receives the model's parameters and is not
    part of the schema: an iterable of tensors, or, with ``[train.param_groups]``, a list of torch's
    parameter-group dicts (``{"params": [...], "weight_decay": 0.0, "lr_scale": 0.1}``), as every torch
    optimizer takes them; pass it on to the optimizer unchanged. Check hyperparameters that must agree with each other
    before iterating over it: ``validate`` calls the factory with an iterable
    that stops the construction as soon as it is read.
    """


@hookspec
def registry_datasets() -> Factories:
    """Return dataset factories: ``{name: factory(**settings) -> registry.Dataset}``.

    The ``Dataset`` declares what is known without reading any file (the raw
    sample shape and dtype, the class names) and a ``load`` callable that
    returns ``registry.DatasetSplits``; ``validate`` never calls ``load``. Import
    heavy libraries (torchvision, scikit-learn) inside ``load``, not at module
    level, so that ``list`` and ``validate`` stay fast. ``load`` raises
    ``registry.DatasetNotFoundError`` when its files are missing.
    """


@hookspec
def registry_transforms() -> Factories:
    """Return transform factories: ``{name: factory(**params) -> Callable[[Tensor], Tensor]}``.

    A transform maps a batch (first dimension = samples) to a batch and must treat
    every sample alike, each on its own: the runner applies it to blocks of
    consecutive batches, or once to the whole split (``data.precompute``), and a
    sample's result may not depend on which others share its call. Random
    transforms are listed in ``data.augment`` instead: those run batch by batch
    (a random transform in ``data.transforms`` is refused).
    """


@hookspec
def registry_initializers() -> Factories:
    """Return weight-initialiser factories: ``{name: factory(**params) -> Callable[[torch.nn.Module], None]}``.

    A spec names them in ``[model] init`` (one table, or an array applied in order), beside ``layers`` or
    ``type``. The builder calls each returned callable once on the built model, under the run's seed, before
    the model is checked or trained; it sets the parameters it chooses in place (``torch.nn.init``'s
    functions under ``torch.no_grad()``) and must not replace them. It raises ``ValueError`` when the model
    has nothing it can set, which is reported at its place in the spec. A resumed run takes its weights from
    the checkpoint, not from these.
    """
