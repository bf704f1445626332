"""Spec -> resolved components: every name looked up, every parameter set validated.

Nothing is built here. All problems of a spec are collected and raised
together as one ``SpecError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.catalog import Catalog, Component
from registry.errors import Problem, SpecError, UnknownComponentError
from registry.loader import problems_from
from registry.locate import locate_line
from registry.spec import ComponentSpec, DataSpec, Spec

__all__ = ["Resolved", "ResolvedSpec", "resolve_spec"]

Loc = tuple[str | int, ...]
LAYER_KINDS = ("layer", "activation")


@dataclass(frozen=True)
class Resolved:
    """A component with its validated parameters and where the spec named it."""

    component: Component
    params: BaseModel
    loc: Loc

    @property
    def kwargs(self) -> dict[str, Any]:
        """The parameters as keyword arguments (defaults filled in, unset inferred ones None)."""
        return {name: getattr(self.params, name) for name in type(self.params).model_fields}

    @property
    def given(self) -> set[str]:
        """The parameters the spec set explicitly."""
        return set(self.params.model_fields_set)


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec whose every component is found and whose every parameter set is valid."""

    spec: Spec
    dataset: Resolved
    transforms: tuple[Resolved, ...]
    layers: tuple[Resolved, ...]
    loss: Resolved
    optimizer: Resolved
    source: str | None = None
    text: str | None = None


def _unknown_param(comp: Component, key: str, extra: Sequence[str]) -> str:
    own = sorted(comp.schema.model.model_fields)
    msg = f"{comp.kind} {comp.name!r} takes no parameter {key!r}"
    close = difflib.get_close_matches(key, [*own, *extra], n=1)
    msg += f"; did you mean {close[0]!r}?" if close else "."
    msg += f" Its parameters: {', '.join(own) or '(none)'}"
    if extra:
        msg += f"; beside them [data] takes: {', '.join(sorted(extra))}" if "dataset" in extra else ""
    return msg


class _Resolver:
    def __init__(self, catalog: Catalog, text: str | None) -> None:
        self.catalog = catalog
        self.text = text
        self.problems: list[Problem] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(loc, message, locate_line(self.text, loc) if self.text else None))

    def one(
        self, kinds: str | tuple[str, ...], name: str, params: dict[str, Any], loc: Loc, type_loc: Loc, extra: Sequence[str] = ()
    ) -> Resolved | None:
        try:
            comp = self.catalog.get(kinds, name)
        except UnknownComponentError as e:
            self.problem(type_loc, str(e))
            return None
        try:
            validated = comp.schema.model.model_validate(params)
        except ValidationError as e:
            for p in problems_from(e, self.text, loc):
                msg = p.message
                if msg == "unknown key":
                    msg = _unknown_param(comp, str(p.loc[-1]), extra)
                elif msg == "required key is missing":
                    msg = f"{comp.kind} {comp.name!r} needs parameter {p.loc[-1]!r}"
                self.problems.append(Problem(p.loc, msg, p.line))
            return None
        return Resolved(comp, validated, loc)

    def component(self, kinds: str | tuple[str, ...], cs: ComponentSpec, loc: Loc) -> Resolved | None:
        return self.one(kinds, cs.type, cs.params, loc, (*loc, "type"))

    def data(self, ds: DataSpec) -> Resolved | None:
        return self.one(
            "dataset", ds.dataset, ds.params, ("data",), ("data", "dataset"), extra=tuple(DataSpec.model_fields)
        )


def resolve_spec(spec: Spec, catalog: Catalog, source: str | None = None, text: str | None = None) -> ResolvedSpec:
    """Look up every component of *spec* in *catalog* and validate its parameters.

    Args:
        spec: a validated spec.
        catalog: the components the loaded plugins registered.
        source: the spec file, for messages.
        text: the spec's TOML text, to give problems a line number.

    Raises:
        SpecError: every unknown name and invalid parameter, all at once.
    """
    r = _Resolver(catalog, text)
    dataset = r.data(spec.data)
    transforms = [r.component("transform", t, ("data", "transforms", i)) for i, t in enumerate(spec.data.transforms)]
    layers = [r.component(LAYER_KINDS, layer, ("model", "layers", i)) for i, layer in enumerate(spec.model.layers)]
    loss = r.component("loss", spec.loss, ("loss",))
    optimizer = r.component("optimizer", spec.optimizer, ("optimizer",))
    if r.problems:
        raise SpecError(r.problems, source)
    assert dataset and loss and optimizer  # no problem means every part resolved
    return ResolvedSpec(
        spec,
        dataset,
        tuple(t for t in transforms if t),
        tuple(layer for layer in layers if layer),
        loss,
        optimizer,
        source,
        text,
    )
