"""Spec -> resolved components: every name looked up, every parameter set validated.

Nothing is built here. All problems of a spec are collected and raised
together as one ``SpecError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.catalog import Catalog, Component
from registry.errors import Problem, SpecError, UnknownComponentError
from registry.loader import parse_spec, problems_from, read_text, strict_validate
from registry.locate import locate_line
from registry.overrides import Override, apply_overrides
from registry.requires import check_requires
from registry.spec import ComponentSpec, DataSpec, Spec

__all__ = ["Resolved", "ResolvedSpec", "load_and_resolve", "resolve_spec", "resolved_dict"]

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
    augment: tuple[Resolved, ...]
    layers: tuple[Resolved, ...]
    loss: Resolved
    optimizer: Resolved
    catalog: Catalog
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


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def _entry(r: Resolved, key: str = "type") -> dict[str, Any]:
    return {key: r.component.name, **_plain(r.kwargs)}


def resolved_dict(rs: ResolvedSpec) -> dict[str, Any]:
    """The spec with every name canonical and every default filled in, as plain TOML-able data.

    Inferred sizes the spec left out stay out (they are inferred again); TOML has no null.
    """
    spec = rs.spec
    data = {
        **_entry(rs.dataset, "dataset"),
        **_plain(spec.data.model_dump(exclude={"dataset", "transforms", "augment"})),
    }
    data["transforms"] = [_entry(t) for t in rs.transforms]
    data["augment"] = [_entry(t) for t in rs.augment]
    out = {
        "seed": spec.seed,
        "name": spec.name,
        "data": data,
        "model": {"layers": [_entry(layer) for layer in rs.layers]},
        "loss": _entry(rs.loss),
        "optimizer": _entry(rs.optimizer),
        "train": spec.train.model_dump(),
        "requires": spec.requires.model_dump(),
    }
    return _plain(out)  # type: ignore[no-any-return]


class _Resolver:
    def __init__(self, catalog: Catalog, text: str | None) -> None:
        self.catalog = catalog
        self.text = text
        self.problems: list[Problem] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(loc, message, locate_line(self.text, loc) if self.text else None))

    def one(
        self,
        kinds: str | tuple[str, ...],
        name: str,
        params: dict[str, Any],
        loc: Loc,
        type_loc: Loc,
        extra: Sequence[str] = (),
    ) -> Resolved | None:
        try:
            comp = self.catalog.get(kinds, name)
        except UnknownComponentError as e:
            self.problem(type_loc, str(e))
            return None
        try:
            validated = strict_validate(comp.schema.model, params)
        except ValidationError as e:
            found = problems_from(e, self.text, loc)
            unknown = [str(p.loc[-1]) for p in found if p.message == "unknown key"]
            for p in found:
                msg = p.message
                if msg == "unknown key":
                    msg = _unknown_param(comp, str(p.loc[-1]), extra)
                elif msg == "required key is missing":
                    if difflib.get_close_matches(str(p.loc[-1]), unknown, n=1):
                        continue  # a misspelling of it is reported, with its did-you-mean: one fault, one problem
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
    lines = [locate_line(text, ("requires", "plugins", i)) if text else None for i in range(len(spec.requires.plugins))]
    r.problems += check_requires(spec.requires.plugins, catalog, lines)
    dataset = r.data(spec.data)
    transforms = [r.component("transform", t, ("data", "transforms", i)) for i, t in enumerate(spec.data.transforms)]
    augment = [r.component("transform", t, ("data", "augment", i)) for i, t in enumerate(spec.data.augment)]
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
        tuple(t for t in augment if t),
        tuple(layer for layer in layers if layer),
        loss,
        optimizer,
        catalog,
        source,
        text,
    )


def _raw_components(raw: Mapping[str, Any]) -> list[tuple[str | tuple[str, ...], Mapping[str, Any], Loc]]:
    """The component tables of an unvalidated spec that at least name a type."""
    found: list[tuple[str | tuple[str, ...], Mapping[str, Any], Loc]] = []

    def table(value: Any) -> Mapping[str, Any] | None:
        return value if isinstance(value, Mapping) and isinstance(value.get("type"), str) else None

    data = raw.get("data")
    if isinstance(data, Mapping):
        for key in ("transforms", "augment"):
            items = data.get(key)
            for i, t in enumerate(items if isinstance(items, list) else []):
                if table(t):
                    found.append(("transform", t, ("data", key, i)))
    model = raw.get("model")
    layers = model.get("layers") if isinstance(model, Mapping) else None
    for i, layer in enumerate(layers if isinstance(layers, list) else []):
        if table(layer):
            found.append((LAYER_KINDS, layer, ("model", "layers", i)))
    for key in ("loss", "optimizer"):
        t = table(raw.get(key))
        if t:
            found.append((key, t, (key,)))
    return found


def _raw_problems(raw: Mapping[str, Any], catalog: Catalog, text: str) -> list[Problem]:
    r = _Resolver(catalog, text)
    data = raw.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("dataset"), str):
        params = {k: v for k, v in data.items() if k not in DataSpec.model_fields}
        r.one("dataset", data["dataset"], params, ("data",), ("data", "dataset"), extra=tuple(DataSpec.model_fields))
    for kinds, t, loc in _raw_components(raw):
        r.one(kinds, t["type"], {k: v for k, v in t.items() if k != "type"}, loc, (*loc, "type"))
    return r.problems


def _blame_overrides(problems: Sequence[Problem], overrides: Sequence[Override]) -> list[Problem]:
    """Problems at (or under) an overridden key come from the command line, not from the file's line."""
    out = []
    for p in problems:
        o = next((o for o in overrides if p.loc[: len(o.loc)] == o.loc or o.loc[: len(p.loc)] == p.loc), None)
        out.append(p if o is None else Problem(p.loc, f"{p.message} (from the command line: --set {o.text})", None))
    return out


def load_and_resolve(path: str | Path, catalog: Catalog, overrides: Sequence[Override] = ()) -> ResolvedSpec:
    """Read, parse, override, validate and resolve the spec at *path*, reporting every problem at once.

    When the spec's structure is invalid, the component tables that are
    well-formed enough are still resolved, so that a wrong key and a mistyped
    name in one file are reported together.

    Args:
        path: the spec file.
        catalog: the loaded components.
        overrides: ``--set`` values, applied to the parsed file before validation.

    Raises:
        SpecError: all the problems, in file order; those of overridden keys say so.
    """
    src = str(path)
    text = read_text(path)
    raw = apply_overrides(parse_spec(text, src), overrides)
    try:
        spec = strict_validate(Spec, raw)
    except ValidationError as e:
        problems = problems_from(e, text) + _raw_problems(raw, catalog, text)
        raise SpecError(_blame_overrides(problems, overrides), src) from None
    try:
        return resolve_spec(spec, catalog, src, text)
    except SpecError as e:
        raise SpecError(_blame_overrides(e.problems, overrides), src) from None
