"""Model sense: does the loss fit what the model outputs and what the dataset's targets are?

The checks read the contracts components declare (``registry.semantics``),
never component names, and the suggestions they make come from the catalog.
Errors are for runs that cannot be right (a loss that needs log-probabilities
on raw scores, fewer outputs than classes); warnings for runs that work but are
probably not what was meant (a redundant normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.catalog import Catalog
from registry.resolve import Loc, ResolvedSpec
from registry.semantics import get_contract

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


def _loss_vs_output(rs: ResolvedSpec, catalog: Catalog, num_classes: int) -> list[Finding]:
    loss = rs.loss.component
    wanted = get_contract(loss.factory)
    expects = wanted.get("expects")
    last = rs.layers[-1].component
    produced = get_contract(last.factory).get("produces", "scores")
    if not expects or expects == produced or (expects == "unit_interval" and produced == "probabilities"):
        return []
    loc = (*rs.loss.loc, "type")
    ends = f"the model ends with {last.name!r}, which gives {DESCRIBE[produced]}"
    need = f"{loss.name} expects {DESCRIBE[expects]}, but {ends}"
    other = _losses_for(catalog, produced, num_classes)
    if expects == "scores" and produced == "log_probabilities":
        # log_softmax is idempotent: applying it again changes nothing but time.
        return [
            Finding(
                loc, f"{need}: redundant, since {loss.name} normalises itself; drop {last.name!r} or use {other}", False
            )
        ]
    if expects == "scores":
        return [Finding(loc, f"{need}: the outputs would be normalised twice; drop {last.name!r} or use {other}", True)]
    return [Finding(loc, f"{need}; {_final_layers(catalog, expects)}, or use {other}", True)]


def _width_vs_classes(rs: ResolvedSpec, output_shape: tuple[int, ...], num_classes: int) -> list[Finding]:
    loss = rs.loss.component
    targets = get_contract(loss.factory).get("targets")
    last = ("model", "layers", len(rs.layers) - 1)
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
    width = output_shape[0] if len(output_shape) == 1 else None
    if width is not None and width < num_classes:
        return [
            Finding(
                last,
                f"the model outputs {width} values per sample but the dataset has {num_classes} "
                f"classes; the last layer needs {num_classes} outputs",
                True,
            )
        ]
    if width is not None and width > num_classes:
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
    rs: ResolvedSpec, catalog: Catalog, output_shape: tuple[int, ...], num_classes: int
) -> list[Finding]:
    """Check the loss against the model's last layer and output shape, and the dataset's classes.

    Args:
        rs: the resolved spec.
        catalog: for suggestions.
        output_shape: the model's per-sample output shape.
        num_classes: the dataset's class count (0 for regression).
    """
    return _loss_vs_output(rs, catalog, num_classes) + _width_vs_classes(rs, output_shape, num_classes)
