"""The kinds of component: one row each, read by the plugin manager, the catalog, the builder and the CLI.

A kind is what a hook returns (``registry_layers`` returns layers). Where a spec
holds components of a kind is declared once, beside the spec format, with
``Holds`` (see ``registry.spec.models`` and ``registry.spec.places``).

Adding a kind: a hookspec in ``hookspecs.py``, a row here, a field with
``Holds`` in ``spec.py``, the components in a plugin, and the code that uses
the built objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "MODULE_KINDS", "KindInfo", "kind_named"]


@dataclass(frozen=True)
class KindInfo:
    """What the core knows about a kind of component.

    Attributes:
        kind: the singular name (``layer``).
        plural: the plural, as ``list`` prints it and accepts it (``layers``).
        hook: the hook that returns its ``{name: factory}`` table.
        summary: one line for ``list``.
        returns: the class a factory must return, as ``module:qualname`` (checked when it is built);
            empty for "any callable".
        injected: leading factory parameters the builder passes itself (an optimizer's parameters).
        module: its components are torch modules placed in a chain of layers: their input sizes are
            inferred from what reaches them, and an entry may repeat them or name a block instead.
        shaped: its components are built from the shape of their input (layers, and whole models):
            only these may hold chains of layers.
    """

    kind: str
    plural: str
    hook: str
    summary: str
    returns: str = ""
    injected: int = 0
    module: bool = False
    shaped: bool = False


KINDS: Mapping[str, KindInfo] = {
    k.kind: k
    for k in (
        KindInfo("layer", "layers", "registry_layers", "model layers and containers (torch.nn.Module factories)",
                 "torch.nn:Module", module=True, shaped=True),
        KindInfo("activation", "activations", "registry_activations", "activation functions, usable as layers",
                 "torch.nn:Module", module=True, shaped=True),
        KindInfo("model", "models", "registry_models", "whole architectures, for [model] type = NAME",
                 "torch.nn:Module", shaped=True),
        KindInfo("loss", "losses", "registry_losses", "loss functions: (output, target) -> scalar"),
        KindInfo("optimizer", "optimizers", "registry_optimizers", "optimizers over the model's parameters",
                 "torch.optim:Optimizer", injected=1),
        KindInfo("scheduler", "schedulers", "registry_schedulers", "learning-rate schedulers over the optimizer",
                 "torch.optim.lr_scheduler:LRScheduler", injected=1),
        KindInfo("metric", "metrics", "registry_metrics", "test metrics computed after each epoch (torchmetrics)",
                 "torchmetrics:Metric"),
        KindInfo("dataset", "datasets", "registry_datasets", "datasets: train and test splits",
                 "registry.building.data:Dataset"),
        KindInfo("transform", "transforms", "registry_transforms", "input transforms (to_tensor, normalize...)"),
    )
}  # fmt: skip

MODULE_KINDS: tuple[str, ...] = tuple(k for k, info in KINDS.items() if info.module)
"""The kinds that make up a chain of layers: ``model.layers`` and every container's children."""


def kind_named(word: str) -> str | None:
    """The kind that *word* names, singular or plural (``layers`` -> ``layer``), or None."""
    for k, info in KINDS.items():
        if word in (k, info.plural):
            return k
    return None
