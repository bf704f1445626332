"""A run's test metrics: which ones (the spec's, or its task's defaults), their names and directions, and
computing them over a test pass.

A metric's name in logs, files and ``train.monitor`` is its component name, followed by the values of the
parameters the spec gave it (``f1_micro``, ``top_k_accuracy_3``). ``validate`` checks each metric against the
run's task from what the metric declares (``@registry.metric``), and builds the ones a spec lists, so that
their own refusals are caught; the task's defaults need no check and cost no import of torchmetrics there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from registry.building.factory import Refused, build_plain, plugin_fault, short_message
from registry.building.tasks import Task
from registry.components.catalog import Catalog
from registry.components.contracts import get_metric_info
from registry.errors import DataError
from registry.resolution.resolver import Resolved, resolve_entry
from registry.spec.problems import Loc, ProblemList, closest

__all__ = ["BUILT_IN_VALUES", "MetricPlan", "MetricSet", "best_metric", "plan_metrics", "test_values"]

BUILT_IN_VALUES = {"loss": False, "accuracy": True}
"""What ``train.monitor`` may name besides metrics: the test loss (lower is better) and, for
classification, the seed's accuracy (the share of argmax predictions that are right)."""


@dataclass(frozen=True)
class MetricPlan:
    """One metric of the run: its entry, its name and whether larger is better."""

    resolved: Resolved
    name: str
    higher_is_better: bool
    given: bool  # listed in the spec (not one of the task's defaults)


def _name(r: Resolved) -> str:
    given = [str(getattr(r.params, p)) for p in type(r.params).model_fields if p in r.given]
    return "_".join([r.component.name, *given])


def _defaults(catalog: Catalog, task: Task) -> list[Resolved]:
    found = []
    for c in catalog.list("metric"):
        info = get_metric_info(c.factory)
        if info is not None and task.kind in info.default_for:
            found.append(resolve_entry(catalog, ("metric",), {"type": c.name}, ("metrics",)))
    return found


def plan_metrics(
    listed: Sequence[Resolved], catalog: Catalog, task: Task, problems: ProblemList, build: bool = True
) -> tuple[MetricPlan, ...]:
    """The run's metrics: *listed* (the spec's) or the task's defaults, each checked against the task.

    Args:
        listed: the metrics the spec lists (none: the task's defaults).
        catalog: for the defaults and for suggestions.
        task: the run's task.
        problems: where a metric that does not apply, or that refuses its parameters, is reported.
        build: also build the listed ones (their own checks of their parameters against the task).
    """
    plans = []
    entries = list(listed) or _defaults(catalog, task)
    for r in entries:
        info = get_metric_info(r.component.factory)
        if info is None:
            raise plugin_fault(r.component, "declares no @registry.metric(tasks=..., higher_is_better=...)")
        if task.kind not in info.tasks:
            fits = [
                c.name for c in catalog.list("metric") if task.kind in getattr(get_metric_info(c.factory), "tasks", ())
            ]
            problems.add(
                (*r.loc, "type"),
                f"metric {r.name!r} measures {' and '.join(info.tasks)} tasks, but this run's task is "
                f"{task.describe()}; metrics for it: {', '.join(fits) or '(none installed)'}",
            )
            continue
        if build and listed:
            try:
                instantiate(r, task)
            except Refused as e:
                problems.add(e.loc, str(e))
                continue
        plans.append(MetricPlan(r, _name(r), info.higher_is_better, bool(listed)))
    names = [p.name for p in plans]
    for p in plans:
        if names.count(p.name) > 1 and p is plans[names.index(p.name)]:
            problems.add(p.resolved.loc, f"metric {p.name!r} is listed twice")
    return tuple(plans)


def test_values(task: Task, plans: Sequence[MetricPlan]) -> dict[str, bool]:
    """The test values a run computes after each epoch (loss, accuracy, its metrics), and whether larger is better."""
    values = {"loss": False, **({"accuracy": True} if task.is_classification else {})}
    return {**values, **{p.name: p.higher_is_better for p in plans}}


def best_metric(
    setting: str, task: Task, plans: Sequence[MetricPlan], problems: ProblemList, loc: Loc = ("train", "monitor")
) -> tuple[str, bool]:
    """``train.monitor`` (or another setting at *loc* that names a test value) resolved: the value, and
    whether larger is better; ``auto`` is accuracy for classification, else the loss."""
    if setting == "auto":
        return ("accuracy", True) if task.is_classification else ("loss", False)
    if setting == "accuracy" and task.is_classification:
        return "accuracy", True
    if setting in BUILT_IN_VALUES and setting != "accuracy":
        return setting, BUILT_IN_VALUES[setting]
    for p in plans:
        if p.name == setting:
            return p.name, p.higher_is_better
    allowed = ["auto", "loss", *(["accuracy"] if task.is_classification else []), *(p.name for p in plans)]
    near = closest(setting, allowed)
    problems.add(
        loc,
        f"{setting!r} is not a value this run computes" + (f"; did you mean {near!r}?" if near else ".")
        + f" It may be: {', '.join(dict.fromkeys(allowed))} (a metric is computed when metrics lists it)",
    )  # fmt: skip
    return "loss", False


def instantiate(r: Resolved, task: Task) -> Any:
    """Build the metric of *r* for *task* (its factory receives the task).

    Raises:
        Refused, PluginError: as ``build_plain``.
    """
    schema = r.component.schema
    return build_plain(r, **({schema.task: task} if schema.task else {}))


class MetricSet:
    """The run's metrics, built, updated batch by batch on a test pass, and computed at its end.

    Under torchrun each process updates with its share and ``compute`` sums the states of all processes
    (torchmetrics' own synchronisation), so the values equal one process's.
    """

    def __init__(self, plans: Sequence[MetricPlan], task: Task, produces: str, device: torch.device) -> None:
        self.task, self.produces = task, produces
        self.metrics = [(p, instantiate(p.resolved, task).to(device)) for p in plans]

    def reset(self) -> None:
        for _, m in self.metrics:
            m.reset()

    def update(self, output: Tensor, target: Tensor) -> None:
        preds, targets = self.task.metric_inputs(output, target, self.produces)
        for p, m in self.metrics:
            try:
                m.update(preds, targets)
            except (RuntimeError, ValueError, TypeError) as e:  # a metric's own checks of what it is given
                raise plugin_fault(p.resolved.component, f"could not take a batch: {short_message(e)}") from e

    def compute(self) -> dict[str, float]:
        """Each metric's value over the test pass.

        Raises:
            DataError: a metric cannot be computed on this test split (r2 of a single sample).
        """
        out = {}
        for p, m in self.metrics:
            try:
                out[p.name] = float(m.compute())
            except ValueError as e:  # torchmetrics' checks of the whole split: too few samples, one class only
                raise DataError(f"metric {p.name!r} cannot be computed on this test split: {short_message(e)}") from e
        return out
