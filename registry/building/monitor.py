"""Which test values a run watches: the one that picks the best checkpoint (``train.monitor``), the one early
stopping watches, and a sweep's objective, each a value's name and whether larger is better."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.building.metrics import MetricPlan, best_metric, test_values
from registry.building.tasks import Task
from registry.resolution.resolver import ResolvedSpec
from registry.spec.problems import ProblemList

__all__ = ["Watched", "watched_values"]

Value = tuple[str, bool]


@dataclass(frozen=True)
class Watched:
    """A run's watched values (name, larger is better).

    Attributes:
        best: what picks the best checkpoint (``train.monitor``).
        early: what early stopping watches (None: no early stopping).
        values: every test value the run reports, and whether larger is better.
        objective: what a sweep optimizes (None: not a sweep).
    """

    best: Value = ("loss", False)
    early: Value | None = None
    values: dict[str, bool] = field(default_factory=lambda: {"loss": False})
    objective: Value | None = None


def watched_values(rs: ResolvedSpec, task: Task, metrics: tuple[MetricPlan, ...], problems: ProblemList) -> Watched:
    """The values *rs* watches, each checked against what the run reports (problems added where one is not)."""
    best = best_metric(rs.spec.train.monitor, task, metrics, problems)
    early = None
    stopping = rs.spec.train.early_stopping
    if stopping is not None:
        name = best[0] if stopping.metric == "auto" else stopping.metric
        early = best_metric(name, task, metrics, problems, ("train", "early_stopping", "metric"))
    objective = None
    sweep = rs.spec.sweep
    if sweep is not None:
        objective = (
            best if sweep.metric == "auto" else best_metric(sweep.metric, task, metrics, problems, ("sweep", "metric"))
        )
        if sweep.direction != "auto":
            objective = (objective[0], sweep.direction == "maximize")
    return Watched(best, early, test_values(task, metrics), objective)
