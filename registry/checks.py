"""Model sense: does the loss fit what the model outputs and what the dataset's targets are?

The checks read the contracts components declare (``registry.semantics``),
never component names, and the suggestions they make come from the catalog.
Errors are for runs that cannot be right (a loss that needs log-probabilities
on raw scores, fewer outputs than classes); warnings for runs that work but are
probably not what was meant (a redundant normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.catalog import Catalog
from registry.resolve import Loc, ResolvedSpec
from registry.semantics import get_contract

if TYPE_CHECKING:
    from registry.network import ModelPlan

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
    targets = get_contract(loss.factory).get("targets")
    name, last = _last(plan)
    output_shape = plan.output_shape
    if not num_classes or targets is None:
        return []
    if targets == "same_as_output":
        return [
            Finding(
                (*rs.loss.loc, "type"),
                f"{loss.name} needs targets shaped like the model's output, but the "
                f"dataset gives one class label per sample ({num_classes} classes)",
                True,
            )
        ]
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


def check_model_and_loss(rs: ResolvedSpec, catalog: Catalog, plan: ModelPlan, num_classes: int) -> list[Finding]:
    """Check the loss against what the model outputs (read through its nesting) and the dataset's classes.

    Args:
        rs: the resolved spec.
        catalog: for suggestions.
        plan: the built model's plan.
        num_classes: the dataset's class count (0 when its targets are not class labels).
    """
    return _loss_vs_output(rs, catalog, plan, num_classes) + _width_vs_classes(rs, plan, num_classes)
