"""Model sense: does the loss fit what the model outputs and what the dataset's targets are, and what task is it?

The checks read the contracts components declare (``registry.components.contracts``),
never component names, and the suggestions they make come from the catalog.
Errors are for runs that cannot be right (a loss that needs log-probabilities
on raw scores, fewer outputs than classes); warnings for runs that work but are
probably not what was meant (a redundant normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.building.tasks import Task, TaskMismatch, resolve_task
from registry.components.catalog import Catalog
from registry.components.contracts import get_contract
from registry.resolution.resolver import Loc, ResolvedSpec

if TYPE_CHECKING:
    from registry.building.data import Dataset
    from registry.building.network import ModelPlan

__all__ = ["Finding", "check_model_and_loss"]

DESCRIBE = {
    "scores": "raw scores",
    "probabilities": "probabilities",
    "log_probabilities": "log-probabilities",
    "unit_interval": "values in [0, 1]",
}


@dataclass(frozen=True)
class Finding:
    """One check's result: an error (the run cannot be right) or a warning."""

    loc: Loc
    message: str
    is_error: bool


def _losses_for(catalog: Catalog, produced: str, num_classes: int) -> str:
    targets = "class_index" if num_classes else "same_as_output"
    names = [
        c.name
        for c in catalog.list("loss")
        if get_contract(c.factory).get("expects") == produced and get_contract(c.factory).get("targets") == targets
    ]
    return f"a loss that takes {DESCRIBE[produced]} ({', '.join(names)})" if names else "another loss"


def _final_layers(catalog: Catalog, expects: str) -> str:
    names = [c.name for c in catalog.list("activation") if get_contract(c.factory).get("produces") == expects]
    return f"end the model with {' or '.join(repr(n) for n in names)}" if names else f"make the model output {expects}"


def _last(plan: ModelPlan) -> tuple[str, Loc]:
    """The name of the spec entry that makes the model's output, and its key path (through repeats and
    containers that pass on their last layer's output)."""
    r = plan.nodes[-1].resolved
    node = plan.nodes[-1]
    assert r is not None
    while node.groups and node.groups[0][1]:
        inner = node.groups[0][1][-1]
        passes_on = node.groups[0][0] == "" or get_contract(r.component.factory).get("produces") == "last_layer"
        if inner.resolved is None or not passes_on:
            break
        node, r = inner, inner.resolved
    return r.name, r.loc


def _loss_vs_output(rs: ResolvedSpec, catalog: Catalog, plan: ModelPlan, num_classes: int) -> list[Finding]:
    loss = rs.loss.component
    wanted = get_contract(loss.factory)
    expects = wanted.get("expects")
    produced = plan.produces
    if not expects or expects == produced or (expects == "unit_interval" and produced == "probabilities"):
        return []
    loc = (*rs.loss.loc, "type")
    name, _ = _last(plan)
    ends = f"the model ends with {name!r}, which gives {DESCRIBE[produced]}"
    need = f"{loss.name} expects {DESCRIBE[expects]}, but {ends}"
    other = _losses_for(catalog, produced, num_classes)
    if expects == "scores" and produced == "log_probabilities":
        # log_softmax is idempotent: applying it again changes nothing but time.
        return [
            Finding(loc, f"{need}: redundant, since {loss.name} normalises itself; drop {name!r} or use {other}", False)
        ]
    if expects == "scores":
        return [Finding(loc, f"{need}: the outputs would be normalised twice; drop {name!r} or use {other}", True)]
    return [Finding(loc, f"{need}; {_final_layers(catalog, expects)}, or use {other}", True)]


def _width_vs_classes(rs: ResolvedSpec, plan: ModelPlan, num_classes: int) -> list[Finding]:
    loss = rs.loss.component
    _, last = _last(plan)
    output_shape = plan.output_shape
    if len(output_shape) != 1:
        return [
            Finding(
                last,
                f"the model outputs shape {output_shape} per sample, but {loss.name} with one class label per "
                f"sample needs one score per class: shape ({num_classes},); flatten before the last linear layer, "
                "or pool the other dimensions away",
                True,
            )
        ]
    width = output_shape[0]
    if width < num_classes:
        return [
            Finding(
                last,
                f"the model outputs {width} values per sample but the dataset has {num_classes} "
                f"classes; the last layer needs {num_classes} outputs",
                True,
            )
        ]
    if width > num_classes:
        return [
            Finding(
                last,
                f"the model outputs {width} values per sample but the dataset has {num_classes} "
                f"classes; {width - num_classes} of them can never be a target",
                False,
            )
        ]
    return []


def check_model_and_loss(
    rs: ResolvedSpec, catalog: Catalog, plan: ModelPlan, dataset: Dataset
) -> tuple[Task | None, list[Finding]]:
    """The run's task, and what is wrong (or doubtful) with the loss against what the model outputs (read
    through its nesting) and the dataset's targets.

    Args:
        rs: the resolved spec.
        catalog: for suggestions.
        plan: the built model's plan.
        dataset: the dataset's declaration.

    Returns:
        The task (None when the targets, the loss and the model make none), and the findings.
    """
    findings = _loss_vs_output(rs, catalog, plan, dataset.num_classes if dataset.target_kind == "classes" else 0)
    loss = rs.loss.component
    try:
        task = resolve_task(
            dataset,
            loss.name,
            get_contract(loss.factory).get("targets"),
            rs.spec.data.target_encoding,
            plan.output_shape,
        )
    except TaskMismatch as e:
        where = _last(plan)[1] if e.at_model else (*rs.loss.loc, "type")
        return None, [*findings, Finding(where, str(e), True)]
    if task.kind == "multiclass" and task.encoding == "index":
        findings += _width_vs_classes(rs, plan, dataset.num_classes)  # the task's labels name the extra outputs too
    elif task.kind == "multiclass" and plan.output_shape != task.target_shape:
        _, last = _last(plan)
        findings.append(Finding(
            last,
            f"the model outputs shape {plan.output_shape} per sample, but one-hot targets of "
            f"{task.num_classes} classes have shape {task.target_shape}",
            True,
        ))  # fmt: skip
    return task, findings
