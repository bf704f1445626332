"""The hook contract between ``registry`` and its plugins.

A plugin is a module (or object) with functions marked ``@registry.hookimpl``
whose names are those below. The built-in torch plugin implements exactly these
hooks, the same way a third-party package does.

Each hook returns a mapping ``{name: factory}``: the canonical snake_case name a
spec uses, and a typed function or class. ``registry`` derives the parameter
schema from the factory's signature (see ``registry.params``), so every
parameter must be annotated; ``typing.Annotated[..., pydantic.Field(...)]``
adds bounds and descriptions. The first line of the factory's docstring is its
description in ``list``/``show``. ``@registry.aliases("TorchName")`` adds other
names. Every hook is called once per process, for each plugin, in registration
order; none is first-result: all the mappings are merged, and a name claimed
twice is an error naming both plugins.
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
    receives that shape and is hidden from specs.
    """


@hookspec
def registry_activations() -> Factories:
    """Return activation factories: ``{name: factory(**params) -> torch.nn.Module}``.

    Activations are placed in ``model.layers`` like layers; the builder also
    uses their kind to check that the loss fits the model's last activation.
    """


@hookspec
def registry_losses() -> Factories:
    """Return loss factories: ``{name: factory(**params) -> Callable[[output, target], Tensor]}``.

    The returned module must give a scalar for the default reduction.
    """


@hookspec
def registry_optimizers() -> Factories:
    """Return optimizer factories: ``{name: factory(params, **hyper) -> torch.optim.Optimizer}``.

    The first positional parameter receives the model's parameters and is not
    part of the schema.
    """


@hookspec
def registry_datasets() -> Factories:
    """Return dataset factories: ``{name: factory(**settings) -> registry.DatasetSplits}``.

    Import heavy libraries (torchvision, scikit-learn) inside the factory, not
    at module level, so that ``list`` and ``validate`` stay fast.
    """


@hookspec
def registry_transforms() -> Factories:
    """Return transform factories: ``{name: factory(**params) -> Callable[[Tensor], Tensor]}``.

    A transform maps a batch (first dimension = samples) to a batch and must treat
    every sample alike, each on its own: the runner applies it to blocks of
    consecutive batches, or once to the whole split (``data.precompute``), and a
    sample's result may not depend on which others share its call. Random
    transforms are listed in ``data.augment`` instead: those run batch by batch.
    """
