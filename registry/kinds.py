"""The kinds of component: one row each, read by the plugin manager, the catalog, the builder, the conformance kit
and the CLI.

A kind is what a hook returns (``registry_layers`` returns layers). Its row says everything the core needs to
know about it: the hook, the class its factories return, what the builder passes them itself, and its
``consumer``: which part of the core uses its built objects (``chain``: placed in a chain of layers; ``applied``:
called once on the built model...). The consumer also picks the conformance check ``registry.testing`` runs on
each of its components. Where a spec holds components of a kind is declared once, beside the spec format, with
``Holds`` (see ``registry.spec.models`` and ``registry.spec.places``); the resolved spec reaches them by kind
(``ResolvedSpec.held(kind)``), with no property written for them.

Adding a kind: a hookspec in ``hookspecs.py`` (its contract, for plugin authors), a row here, a field with
``Holds`` in ``registry/spec/models.py``; then the components in a plugin. A kind whose consumer is one of
``CONSUMERS`` needs nothing more in the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["CONSUMERS", "KINDS", "MODULE_KINDS", "Consumer", "KindInfo", "kind_named", "kinds_for"]

Consumer = Literal["chain", "model", "applied", "loss", "optimizer", "scheduler", "metric", "dataset", "transform"]

CONSUMERS: Mapping[Consumer, str] = {
    "chain": "a torch module placed in a chain of layers, its input sizes inferred from what reaches it",
    "model": "a whole architecture built from the data's shape ([model] type = NAME)",
    "applied": "a callable applied once, in the spec's order, to the built model (seeded), before training",
    "loss": "the training objective, called as loss(output, target) on every batch",
    "optimizer": "steps the model's parameters",
    "scheduler": "sets the optimizer's learning rate, per batch or per epoch",
    "metric": "a torchmetrics Metric updated over each test pass",
    "dataset": "the train and test splits",
    "transform": "a function of a batch of samples, applied to the data (or to training batches: augment)",
}
"""Each part of the core that uses built components, and what it does with them."""


@dataclass(frozen=True)
class KindInfo:
    """What the core knows about a kind of component.

    Attributes:
        kind: the singular name (``layer``).
        plural: the plural, as ``list`` prints it and accepts it (``layers``).
        hook: the hook that returns its ``{name: factory}`` table.
        summary: one line for ``list``.
        consumer: which part of the core uses its built objects (one of ``CONSUMERS``); it also picks the
            conformance check of ``registry.testing``.
        returns: the class a factory must return, as ``module:qualname`` (checked when it is built);
            empty for "any callable".
        injected: what the builder passes the factory itself, before the spec's parameters, in words (an
            optimizer's parameters); the factory's leading positional parameters receive them.
    """

    kind: str
    plural: str
    hook: str
    summary: str
    consumer: Consumer
    returns: str = ""
    injected: tuple[str, ...] = ()

    @property
    def module(self) -> bool:
        """Its components are torch modules placed in a chain of layers: their input sizes are inferred from what
        reaches them, and an entry may repeat them or name a block instead."""
        return self.consumer == "chain"

    @property
    def shaped(self) -> bool:
        """Its components are built from the shape of their input (layers, and whole models): only these may hold
        chains of layers."""
        return self.consumer in ("chain", "model")


KINDS: Mapping[str, KindInfo] = {
    k.kind: k
    for k in (
        KindInfo("layer", "layers", "registry_layers", "model layers and containers (torch.nn.Module factories)",
                 "chain", "torch.nn:Module"),
        KindInfo("activation", "activations", "registry_activations", "activation functions, usable as layers",
                 "chain", "torch.nn:Module"),
        KindInfo("model", "models", "registry_models", "whole architectures, for [model] type = NAME",
                 "model", "torch.nn:Module"),
        KindInfo("loss", "losses", "registry_losses", "loss functions: (output, target) -> scalar", "loss"),
        KindInfo("optimizer", "optimizers", "registry_optimizers", "optimizers over the model's parameters",
                 "optimizer", "torch.optim:Optimizer", ("the parameters to train (model.parameters())",)),
        KindInfo("scheduler", "schedulers", "registry_schedulers", "learning-rate schedulers over the optimizer",
                 "scheduler", "torch.optim.lr_scheduler:LRScheduler", ("the optimizer",)),
        KindInfo("metric", "metrics", "registry_metrics", "test metrics computed after each epoch (torchmetrics)",
                 "metric", "torchmetrics:Metric"),
        KindInfo("dataset", "datasets", "registry_datasets", "datasets: train and test splits", "dataset",
                 "registry.building.data:Dataset"),
        KindInfo("transform", "transforms", "registry_transforms", "input transforms (to_tensor, normalize...)",
                 "transform"),
        KindInfo("initializer", "initializers", "registry_initializers",
                 "weight initialisers applied to the built model ([model] init)", "applied"),
    )
}  # fmt: skip

MODULE_KINDS: tuple[str, ...] = tuple(k for k, info in KINDS.items() if info.module)
"""The kinds that make up a chain of layers: ``model.layers`` and every container's children."""


def kinds_for(consumer: Consumer) -> tuple[str, ...]:
    """The kinds whose built objects *consumer* uses, in the order of the table."""
    return tuple(k for k, info in KINDS.items() if info.consumer == consumer)


def kind_named(word: str) -> str | None:
    """The kind that *word* names, singular or plural (``layers`` -> ``layer``), or None."""
    for k, info in KINDS.items():
        if word in (k, info.plural):
            return k
    return None
