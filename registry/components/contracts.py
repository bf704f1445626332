"""What a component says about its values, so the builder can check that a model and its loss fit.

An activation declares what it ``produces``; a loss declares what it
``expects`` from the model and what ``targets`` it takes. The core checks these
words, never component names, so a plugin's components are checked exactly
like the built-ins (``@registry.contract(...)`` on the factory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONTRACT_ATTR",
    "METRIC_ATTR",
    "SCHEDULE_ATTR",
    "Contract",
    "MetricInfo",
    "ScheduleInfo",
    "Output",
    "PassesOn",
    "Targets",
    "contract",
    "get_contract",
    "get_metric_info",
    "get_schedule_info",
    "metric",
    "schedule",
]

Output = Literal["scores", "probabilities", "log_probabilities", "unit_interval"]
"""scores: any real values (logits); probabilities: >= 0 and summing to 1 along the class
dimension (softmax); log_probabilities: their logarithm (log_softmax); unit_interval: each
value in [0, 1] on its own (sigmoid)."""

PassesOn = Literal["last_layer"]
"""For a container: its output is what the last layer of its (first) chain produces (``sequential``)."""

Targets = Literal["class_index", "same_as_output"]
"""class_index: one integer class label per sample; same_as_output: a tensor shaped like the
model's output (regression, multi-label)."""

CONTRACT_ATTR = "__registry_contract__"


class Contract(dict[str, Any]):
    """``produces``, ``expects`` and ``targets``, each possibly absent."""


def contract(
    *, produces: Output | PassesOn | None = None, expects: Output | None = None, targets: Targets | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare what a factory's component produces (activations) or expects (losses).

    Args:
        produces: the kind of values an activation outputs (``last_layer`` for a container that
            outputs what the last layer of its chain outputs).
        expects: the kind of model output a loss needs.
        targets: the kind of targets a loss needs.
    """

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        declared = {k: v for k, v in (("produces", produces), ("expects", expects), ("targets", targets)) if v}
        setattr(factory, CONTRACT_ATTR, Contract(declared))
        return factory

    return mark


def get_contract(factory: Callable[..., Any]) -> Contract:
    """The contract declared on *factory* (empty if none)."""
    found = getattr(factory, CONTRACT_ATTR, None)
    return found if isinstance(found, Contract) else Contract()


METRIC_ATTR = "__registry_metric__"


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures: the tasks it applies to, its direction, and where it is a default."""

    tasks: tuple[str, ...]
    higher_is_better: bool
    default_for: tuple[str, ...] = ()


def metric(
    *, tasks: tuple[str, ...], higher_is_better: bool, default_for: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare what a metric factory's metric measures.

    Args:
        tasks: the tasks it applies to (``multiclass``, ``binary``, ``multilabel``, ``regression``).
        higher_is_better: whether a larger value is better (accuracy) or worse (an error).
        default_for: the tasks for which it is computed when a spec lists no metrics.
    """

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        setattr(factory, METRIC_ATTR, MetricInfo(tuple(tasks), higher_is_better, tuple(default_for)))
        return factory

    return mark


def get_metric_info(factory: Callable[..., Any]) -> MetricInfo | None:
    """The metric declaration on *factory*, if any."""
    found = getattr(factory, METRIC_ATTR, None)
    return found if isinstance(found, MetricInfo) else None


SCHEDULE_ATTR = "__registry_schedule__"


@dataclass(frozen=True)
class ScheduleInfo:
    """When a learning-rate scheduler steps, and what it watches.

    Attributes:
        per: ``batch`` (after every optimizer step) or ``epoch`` (after each epoch's test pass);
            ``children``: as the schedulers it holds, which must agree (a sequence of them).
        monitor: the parameter naming the test value passed to ``step()`` (reduce-on-plateau), or None.
    """

    per: Literal["batch", "epoch", "children"]
    monitor: str | None = None


def schedule(
    *, per: Literal["batch", "epoch", "children"], monitor: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare when a scheduler factory's scheduler steps (``per``) and which parameter names the test
    value it watches (``monitor``: its ``step(value)`` then receives that value after each epoch)."""

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        setattr(factory, SCHEDULE_ATTR, ScheduleInfo(per, monitor))
        return factory

    return mark


def get_schedule_info(factory: Callable[..., Any]) -> ScheduleInfo:
    """The schedule declared on *factory* (per epoch when none is)."""
    found = getattr(factory, SCHEDULE_ATTR, None)
    return found if isinstance(found, ScheduleInfo) else ScheduleInfo("epoch")
