"""Spec -> resolved components: every name looked up, every parameter set validated, nested ones too.

One walker serves every place of the spec (``registry.spec.places``) and every
component nested in a component's parameters (``Holds``): it looks the name up
in the place's kinds, validates the parameters against the component's own
schema, resolves the components those parameters hold, and, in chains of
layers, ``repeat = N`` and ``{ block = NAME }`` uses of ``[model.blocks]``.
Nothing is built here. All problems of a spec are collected and raised together
as one ``SpecError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from registry.components.catalog import Catalog, Component
from registry.components.requires import check_requires
from registry.errors import Problem, SpecError, UnknownComponentError, format_loc
from registry.kinds import KINDS
from registry.spec.compose import Composed, compose, compose_file
from registry.spec.formats import FORMAT, FORMAT_KEY
from registry.spec.models import RequiresSpec, Spec, places
from registry.spec.overrides import Override
from registry.spec.paths import PathValue, origin, resolve_value
from registry.spec.places import ENTRY_KEYS, Holds, Place, alternatives
from registry.spec.problems import Loc, closest, problems_from, render_value, table_name
from registry.spec.provenance import Provenance
from registry.spec.reading import check_values, strict_validate

__all__ = [
    "MAX_REPEAT",
    "Loc",
    "Resolved",
    "Walked",
    "components",
    "ResolvedSpec",
    "load_and_resolve",
    "resolve_composed",
    "resolve_entry",
    "resolve_spec",
    "resolve_text",
    "walk_components",
    "resolved_dict",
]

MAX_REPEAT = 1000
MAX_NESTING = 32
"""Components inside components (containers, block uses) at most this deep."""
MAX_MODULES = 100_000
"""Modules a model may build, repetitions and block uses counted."""


@dataclass(frozen=True)
class Resolved:
    """A component with its validated parameters, the components it holds, and where the spec named it.

    Attributes:
        component: the registered component.
        params: its validated parameters (a parameter that holds components keeps its raw tables here).
        loc: the key path of its table (inside ``[model.blocks]`` for a block's component).
        nested: for each parameter that holds components, the resolved ones: a ``Resolved``, a tuple of
            them, or (for branches of layers) a tuple of tuples.
        repeat: how many times the chain builds it (``repeat = N``), each with its own weights.
        block: the block's name, where this entry uses ``[model.blocks.NAME]``.
        used_at: the key path of that use.
        use_repeat: the use's own ``repeat`` (``repeat`` counts the block's too).
    """

    component: Component
    params: BaseModel
    loc: Loc
    nested: Mapping[str, Any] = field(default_factory=dict)
    repeat: int = 1
    block: str | None = None
    used_at: Loc | None = None
    use_repeat: int = 1

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def kwargs(self) -> dict[str, Any]:
        """The parameters as keyword arguments (defaults filled in, unset inferred ones None), nested ones left out."""
        return {n: getattr(self.params, n) for n in type(self.params).model_fields if n not in self.nested}

    @property
    def given(self) -> set[str]:
        """The parameters the spec set explicitly."""
        return set(self.params.model_fields_set)

    @property
    def path_values(self) -> list[PathValue]:
        """Its parameters that are paths (``SpecPath``) and are set: key path, mark, absolute value."""
        marks = self.component.schema.paths
        values = ((n, getattr(self.params, n)) for n in marks)
        return [((*self.loc, n), marks[n], v) for n, v in values if isinstance(v, str)]


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec whose every component is found and whose every parameter set is valid.

    Attributes:
        spec: the validated settings.
        at: for each place's key path, what it holds: a ``Resolved``, a tuple of them, a mapping of
            names to them (``model.blocks``), or None where an optional place is empty.
    """

    spec: Spec
    at: Mapping[tuple[str, ...], Any]
    catalog: Catalog
    source: str | None = None
    provenance: Provenance | None = None

    @property
    def dataset(self) -> Resolved:
        return self.at[("data",)]  # type: ignore[no-any-return]

    @property
    def transforms(self) -> tuple[Resolved, ...]:
        return self.at.get(("data", "transforms")) or ()

    @property
    def augment(self) -> tuple[Resolved, ...]:
        return self.at.get(("data", "augment")) or ()

    @property
    def model(self) -> Resolved | None:
        """The whole architecture of ``[model] type = NAME``; None when the model is ``layers``."""
        return self.at.get(("model",))

    @property
    def layers(self) -> tuple[Resolved, ...]:
        return self.at.get(("model", "layers")) or ()

    @property
    def blocks(self) -> Mapping[str, Resolved]:
        return self.at.get(("model", "blocks")) or {}

    @property
    def loss(self) -> Resolved:
        return self.at[("loss",)]  # type: ignore[no-any-return]

    @property
    def metrics(self) -> tuple[Resolved, ...]:
        """The metrics the spec lists (none: the task's defaults)."""
        return self.at.get(("metrics",)) or ()

    @property
    def optimizer(self) -> Resolved:
        return self.at[("optimizer",)]  # type: ignore[no-any-return]

    @property
    def scheduler(self) -> Resolved | None:
        return self.at.get(("scheduler",))

    def held(self, kind: str) -> tuple[Resolved, ...]:
        """Every component of *kind* that the spec's places hold (not those nested in components), in the order
        of the spec format and of each array: how the builder reaches a kind without a property of its own."""
        found: list[Resolved] = []
        for place in places():
            if kind not in place.kinds:
                continue
            value = self.at.get(place.loc)
            values = value.values() if isinstance(value, Mapping) else value if isinstance(value, tuple) else (value,)
            found += [r for r in values if isinstance(r, Resolved) and r.component.kind == kind]
        return tuple(found)

    def line(self, loc: Loc) -> int | None:
        """The line of *loc* in the file that holds its value, if known."""
        return self.provenance.line(loc) if self.provenance else None

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at *loc*, located in the file and at the line that hold its value."""
        return self.provenance.problem(loc, message) if self.provenance else Problem(loc, message)


def components(rs: ResolvedSpec) -> Iterator[Resolved]:
    """Every resolved component of *rs*, those held by others (containers, blocks) included, each as often as it
    is reached."""

    def walk(value: Any) -> Iterator[Resolved]:
        if isinstance(value, Resolved):
            yield value
            for v in value.nested.values():
                yield from walk(v)
        elif isinstance(value, (tuple, list)):
            for v in value:
                yield from walk(v)
        elif isinstance(value, Mapping):
            for v in value.values():
                yield from walk(v)

    for value in rs.at.values():
        yield from walk(value)


def _value_at(doc: Any, loc: Sequence[str | int]) -> Any:
    for part in loc:
        if not isinstance(doc, Mapping) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _blocks_place() -> Place | None:
    return next((p for p in places() if p.form == "map" and p.holds.is_module), None)


class _Resolver:
    def __init__(self, catalog: Catalog, where: Provenance | None, doc: Mapping[str, Any]) -> None:
        self.catalog = catalog
        self.where = where
        self.problems: list[Problem] = []
        blocks = _blocks_place()
        self.blocks_place = blocks
        tables = _value_at(doc, blocks.loc) if blocks else None
        self.block_tables: Mapping[str, Any] = tables if isinstance(tables, Mapping) else {}
        self.blocks: dict[str, Resolved | None] = {}
        self.resolving: list[str] = []
        self.unknown_names: list[Problem] = []  # names with no close match: a missing plugin's, perhaps
        self.depth = 0
        self.too_deep = False
        self.tables: list[tuple[Component, Loc]] = []  # every component table reached, valid or not
        self.unknown: list[tuple[Loc, str]] = []  # component names no installed plugin registers

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(self.where.problem(loc, message) if self.where else Problem(loc, message))

    # -- places -------------------------------------------------------------------------------

    def place(self, place: Place, doc: Mapping[str, Any]) -> Any:
        node = _value_at(doc, place.loc)
        if node is None:
            return None  # a required place that is missing is the spec model's problem to report
        if place.form == "list" and place.single and isinstance(node, Mapping):  # one table for an array of one
            return (self.entry(place.holds, node, place.loc),)
        if place.form == "list":
            items = node if isinstance(node, list) else []
            return tuple(self.entry(place.holds, item, (*place.loc, i)) for i, item in enumerate(items))
        if place.form == "map":
            names = node if isinstance(node, Mapping) else {}
            return (
                {name: self.use_block(name, None) for name in names}
                if place.holds.is_module
                else {name: self.entry(place.holds, t, (*place.loc, name)) for name, t in names.items()}
            )
        if place.settings and isinstance(node, Mapping) and place.holds.optional and place.holds.key not in node:
            return self.without_component(place, node)
        if place.settings and isinstance(node, Mapping) and place.holds.optional:
            self.either_or(place, node)
        return self.entry(place.holds, node, place.loc, place.settings)

    def without_component(self, place: Place, table: Mapping[str, Any]) -> None:
        """A table whose component key is optional and absent: its places must hold the components instead."""
        for key in table:
            if key not in place.settings:
                near = closest(str(key), [*place.settings, place.holds.key])
                self.problem(
                    (*place.loc, key),
                    f"unknown key {key!r}" + (f"; did you mean {near!r}?" if near else ".")
                    + f" {table_name(place.loc)} takes: {', '.join(sorted([*place.settings, place.holds.key]))} "
                    f"(and, with {place.holds.key} = NAME, that {place.what}'s parameters)",
                )  # fmt: skip
        chains = [p.loc[-1] for p in alternatives(place, places()) if p.form != "map"]
        if not any(c in table for c in chains):
            what = ", ".join(f"{c} = [...]" for c in chains)
            self.problem(
                place.loc,
                f"needs {what} or {place.holds.key} = NAME (a registered {place.what}: "
                f"python -m registry list {KINDS[place.kinds[0]].plural})",
            )

    def either_or(self, place: Place, table: Mapping[str, Any]) -> None:
        for child in alternatives(place, places()):
            if table.get(child.loc[-1]):
                self.problem(
                    (*place.loc, child.loc[-1]),
                    f"use either {child.loc[-1]} or {place.holds.key} = {render_value(table[place.holds.key])}, "
                    f"not both: a {place.what} is a whole architecture",
                )

    # -- entries ------------------------------------------------------------------------------

    def entry(self, holds: Holds, table: Any, loc: Loc, settings: Sequence[str] = ()) -> Resolved | None:
        if not isinstance(table, Mapping):
            return None  # the schema of the table holding it reports the wrong type
        if self.depth >= MAX_NESTING:
            if not self.too_deep:  # one fault, one problem: not one more for every way into the same chain
                self.problem(
                    loc, f"components are nested more than {MAX_NESTING} deep here (through containers and blocks)"
                )
            self.too_deep = True
            return None
        self.depth += 1
        try:
            return self.nested_entry(holds, table, loc, settings)
        finally:
            self.depth -= 1

    def nested_entry(
        self, holds: Holds, table: Mapping[str, Any], loc: Loc, settings: Sequence[str]
    ) -> Resolved | None:
        repeat = 1
        if holds.is_module:
            repeat = self.repeat(table, loc)
            if "block" in table:
                return self.block_entry(table, loc, repeat)
        name = table.get(holds.key)
        if name is None and settings:
            return None  # a table of settings with its component key missing: the spec model says so
        if name is None:
            self.problem(
                (*loc, holds.key),
                f"required key is missing: {holds.key} = NAME, a registered {' or '.join(holds.kinds)} "
                f"(see: {', '.join(f'python -m registry list {KINDS[k].plural}' for k in holds.kinds)})",
            )
            return None
        what = " or ".join(holds.kinds)
        if not isinstance(name, str):
            self.problem((*loc, holds.key), f"must be a string naming a {what} (got {render_value(name)})")
            return None
        if not name:
            self.problem((*loc, holds.key), f"must not be empty: name a registered {what}")
            return None
        try:
            comp = self.catalog.get(holds.kinds, name)
        except UnknownComponentError as e:
            self.unknown.append((loc, name))
            self.problem((*loc, holds.key), str(e))
            if not e.suggestions:
                self.unknown_names.append(self.problems[-1])
            return None
        reserved = {holds.key, *settings, *(ENTRY_KEYS if holds.is_module else ())}
        params = {k: v for k, v in table.items() if k not in reserved}
        return self.component(comp, params, loc, () if holds.optional else settings, repeat)

    def repeat(self, table: Mapping[str, Any], loc: Loc) -> int:
        value = table.get("repeat", 1)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPEAT:
            self.problem((*loc, "repeat"), f"must be an integer from 1 to {MAX_REPEAT} (got {render_value(value)})")
            return 1
        return value

    def component(
        self, comp: Component, params: dict[str, Any], loc: Loc, settings: Sequence[str], repeat: int
    ) -> Resolved | None:
        schema = comp.schema
        self.tables.append((comp, loc))
        try:
            validated = strict_validate(schema.model, params)
        except ValidationError as e:
            self.problems += problems_from(
                e, params, schema.model, loc, self.where, _unknown_param(comp, settings, loc), _missing_param(comp)
            )
            self.held(comp, {name: params.get(name) for name in schema.nested}, loc)  # their faults too, at once
            return None
        nested = self.held(comp, {name: getattr(validated, name) for name in schema.nested}, loc)
        return None if nested is None else Resolved(comp, self.absolute(comp, validated, loc), loc, nested, repeat)

    def absolute(self, comp: Component, validated: BaseModel, loc: Loc) -> BaseModel:
        """*validated* with each path parameter absolute, by the spec's one rule (``registry.spec.paths``)."""
        paths = {n: getattr(validated, n) for n in comp.schema.paths if isinstance(getattr(validated, n), str)}
        if not paths:
            return validated
        update = {n: resolve_value(v, origin(self.where, (*loc, n)).folder) for n, v in paths.items()}
        out = validated.model_copy(update=update)
        object.__setattr__(out, "__pydantic_fields_set__", set(validated.model_fields_set))  # a default stays one
        return out

    def held(self, comp: Component, values: Mapping[str, Any], loc: Loc) -> dict[str, Any] | None:
        """The components *comp*'s parameters hold, resolved from their raw *values*; None if any is wrong.

        A value of the wrong form (not an array where one is held) is left to the schema's own check.
        """
        nested: dict[str, Any] = {}
        ok = True
        for pname, n in comp.schema.nested.items():
            value, at = values[pname], (*loc, pname)
            if value is None:  # an optional parameter left out
                nested[pname] = None
            elif n.form == "one":
                nested[pname] = self.entry(n.holds, value, at)
                ok &= nested[pname] is not None
            elif not isinstance(value, list):
                ok = False
            elif n.form == "chains":
                nested[pname] = tuple(
                    tuple(self.entry(n.holds, t, (*at, i, j)) for j, t in enumerate(chain))
                    for i, chain in enumerate(value)
                    if isinstance(chain, list)
                )
                ok &= all(r is not None for chain in nested[pname] for r in chain)
            else:
                nested[pname] = tuple(self.entry(n.holds, t, (*at, i)) for i, t in enumerate(value))
                ok &= all(r is not None for r in nested[pname])
        return nested if ok else None

    # -- blocks -------------------------------------------------------------------------------

    def block_entry(self, table: Mapping[str, Any], loc: Loc, repeat: int) -> Resolved | None:
        extra = [k for k in table if k not in ENTRY_KEYS]
        for k in extra:
            self.problem((*loc, k), f"a block use takes block = NAME and repeat = N only (got {k!r}); "
                                    "give the block's layers their parameters where it is defined")  # fmt: skip
        name = table["block"]
        if not isinstance(name, str):
            self.problem((*loc, "block"), f"must be the name of a block of [model.blocks] (got {render_value(name)})")
            return None
        found = self.use_block(name, loc)
        if found is None or extra:
            return None
        if found.repeat * repeat > MAX_REPEAT:
            self.problem(
                (*loc, "repeat"),
                f"repeat = {repeat} of block {name!r}, which repeats {found.repeat} times itself, makes "
                f"{found.repeat * repeat:,} copies in a row; at most {MAX_REPEAT:,}",
            )
            return None
        return dataclasses.replace(found, repeat=found.repeat * repeat, block=name, used_at=loc, use_repeat=repeat)

    def use_block(self, name: str, used_at: Loc | None) -> Resolved | None:
        assert self.blocks_place is not None
        home = self.blocks_place.loc
        if name not in self.block_tables:
            near = closest(name, list(self.block_tables))
            defined = ", ".join(sorted(self.block_tables)) or "none"
            self.problem(
                (*(used_at or home), "block"),
                f"unknown block {name!r}" + (f"; did you mean {near!r}?" if near else ".")
                + f" Blocks defined under [{format_loc(home)}]: {defined}",
            )  # fmt: skip
            return None
        if name in self.resolving:
            cycle = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            self.problem(
                (*(used_at or home), "block"), f"block {name!r} uses itself ({cycle}); a block cannot contain itself"
            )
            return None
        if name not in self.blocks:
            self.resolving.append(name)
            self.blocks[name] = self.entry(self.blocks_place.holds, self.block_tables[name], (*home, name))
            self.resolving.pop()
        return self.blocks[name]


def _unknown_param(comp: Component, settings: Sequence[str], loc: Loc) -> Callable[[Loc, str, Any], str]:
    def message(parent: Loc, key: str, value: Any) -> str:
        own = sorted(comp.schema.model.model_fields)
        if parent:  # inside a parameter's own value
            return f"unknown key {key!r} in {comp.kind} {comp.name!r}'s parameter {format_loc(parent)}"
        near = closest(key, [*own, *settings])
        msg = f"{comp.kind} {comp.name!r} takes no parameter {key!r}" + (f"; did you mean {near!r}?" if near else ".")
        msg += f" Its parameters: {', '.join(own) or '(none)'}"
        if settings:
            msg += f"; beside them {table_name(loc)} takes: {', '.join(sorted(settings))}"
        return msg

    return message


def _missing_param(comp: Component) -> Callable[[Loc], str]:
    def message(loc: Loc) -> str:
        f = comp.schema.model.model_fields.get(str(loc[0])) if len(loc) == 1 else None
        desc = f" ({f.description})" if f is not None and f.description else ""
        return (
            f"{comp.kind} {comp.name!r} needs parameter {loc[0]!r}{desc}"
            if len(loc) == 1
            else "required key is missing"
        )

    return message


def resolve_entry(catalog: Catalog, kinds: tuple[str, ...], table: Mapping[str, Any], loc: Loc = ()) -> Resolved:
    """Resolve one component table (``{ type = "name", ... }``) of *kinds*, and the components it holds.

    Raises:
        SpecError: an unknown name, or parameters its schema refuses.
    """
    r = _Resolver(catalog, None, {})
    found = r.entry(Holds(kinds), table, loc)
    if r.problems or found is None:
        raise SpecError(r.problems or [Problem(loc, "must be a table { type = NAME, ... }")])
    return found


def _resolve_places(r: _Resolver, doc: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    return {p.loc: r.place(p, doc) for p in places()}


def _requires(doc: Mapping[str, Any], r: _Resolver) -> bool:
    """Check ``[requires]`` (when it is well-formed); True when a required plugin is missing."""
    try:
        plugins = strict_validate(RequiresSpec, doc.get("requires", {})).plugins
    except ValidationError:
        return False  # the spec model reports what is wrong with it
    unmet = check_requires(plugins, r.catalog, r.where)
    r.problems += unmet
    return bool(unmet)


def _modules(value: Any, seen: dict[int, int]) -> int:
    """How many modules *value* (a resolved entry, or a tuple of them) builds, repetitions and block uses counted."""
    if isinstance(value, tuple):
        return sum(_modules(v, seen) for v in value)
    if not isinstance(value, Resolved):
        return 0
    if id(value) not in seen:
        seen[id(value)] = value.repeat * (1 + sum(_modules(v, seen) for v in value.nested.values()))
    return seen[id(value)]


def _resolve_all(r: _Resolver, doc: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """Every place resolved; the problems in *r*. A missing required plugin explains its unknown names."""
    missing = _requires(doc, r)
    at = _resolve_places(r, doc)
    if missing:  # one message for the plugin, not one per name it would have brought
        r.problems = [p for p in r.problems if not any(p is u for u in r.unknown_names)]
    size = _modules(tuple(v for v in at.values() if isinstance(v, (Resolved, tuple))), {})
    if size > MAX_MODULES:
        r.problem(("model",), f"builds {size:,} modules (repetitions and block uses counted); at most {MAX_MODULES:,}")
    return at


def resolve_spec(
    spec: Spec,
    catalog: Catalog,
    source: str | None = None,
    text: str | None = None,
    doc: Mapping[str, Any] | None = None,
    provenance: Provenance | None = None,
) -> ResolvedSpec:
    """Look up every component of *spec* in *catalog* and validate its parameters, nested ones included.

    Args:
        spec: a validated spec.
        catalog: the components the loaded plugins registered.
        source: the spec file, for messages.
        text: the spec's TOML text, to give problems a line number.
        doc: the parsed document *spec* was validated from (default: the spec's own dump).
        provenance: where each value was written (default: all of them in *text*).

    Raises:
        SpecError: every unknown name and invalid parameter, all at once. When a plugin the spec
            requires is missing, its unknown names are not reported one by one: the requirement is.
    """
    data = doc if doc is not None else spec.model_dump(exclude_none=True)
    where = provenance or Provenance.of_text(source, text)
    r = _Resolver(catalog, where, data)
    at = _resolve_all(r, data)
    if r.problems:
        raise SpecError(r.problems, source)
    return ResolvedSpec(spec, at, catalog, source, where)


@dataclass(frozen=True)
class Walked:
    """A composed spec's components as far as they resolve: what ``upgrade`` needs to know which values are paths.

    Attributes:
        tables: every component table reached (its component and key path), its parameters valid or not.
        unknown: each table whose name no installed plugin registers (key path, name).
    """

    tables: tuple[tuple[Component, Loc], ...]
    unknown: tuple[tuple[Loc, str], ...]


def walk_components(composed: Composed, catalog: Catalog) -> Walked:
    """Every component table of a composed spec, its problems ignored (a base need not be a whole spec)."""
    r = _Resolver(catalog, composed.provenance, composed.doc)
    _resolve_all(r, composed.doc)
    return Walked(tuple(r.tables), tuple(r.unknown))


def _blame_overrides(problems: Sequence[Problem], overrides: Sequence[Override]) -> list[Problem]:
    """Problems at (or under) an overridden key come from the override (the command line's, or the API's), not
    from the file's line."""
    out = []
    for p in problems:
        o = next((o for o in overrides if p.loc[: len(o.loc)] == o.loc or o.loc[: len(p.loc)] == p.loc), None)
        out.append(p if o is None else Problem(p.loc, f"{p.message} (from {o.origin}: {o.said})", None))
    return out


def load_and_resolve(
    path: str | Path, catalog: Catalog, overrides: Sequence[Override] = (), default_format: int = FORMAT
) -> ResolvedSpec:
    """Read, parse, override, validate and resolve the spec at *path*, reporting every problem at once.

    When the spec's settings are invalid, its components are still resolved, so that a wrong key
    and a mistyped name in one file are reported together.

    Args:
        path: the spec file.
        catalog: the loaded components.
        overrides: ``--set`` values, applied to the parsed file before validation.
        default_format: the spec format of a file that does not say (``registry.spec.formats``).

    Raises:
        SpecError: all the problems, in file order; those of overridden keys say so.
    """
    return resolve_composed(compose_file(path, overrides, default_format), catalog, str(path), overrides)


def resolve_text(
    text: str, catalog: Catalog, source: str = "<spec>", overrides: Sequence[Override] = (), folder: Path | None = None
) -> ResolvedSpec:
    """As ``load_and_resolve``, for a spec given as TOML text (its bases found relative to *folder*, or here)."""
    path = (folder or Path.cwd()) / source
    return resolve_composed(compose(text, source, path, overrides), catalog, source, overrides)


def resolve_composed(
    composed: Composed, catalog: Catalog, src: str, overrides: Sequence[Override] = ()
) -> ResolvedSpec:
    """Validate and resolve a composed spec, every problem at once (those of overridden keys say so)."""
    doc, where = composed.doc, composed.provenance
    problems = check_values(doc, where)
    if problems:
        raise SpecError(_blame_overrides(problems, overrides), src)
    try:
        spec = strict_validate(Spec, doc)
    except ValidationError as e:
        found = problems_from(e, doc, Spec, where=where)
        r = _Resolver(catalog, where, doc)
        _resolve_all(r, doc)
        located = {p.loc for p in found}
        found += [p for p in r.problems if p.loc not in located]  # one fault, one problem
        raise SpecError(_blame_overrides(found, overrides), src) from None
    try:
        return resolve_spec(spec, catalog, src, doc=doc, provenance=where)
    except SpecError as e:
        raise SpecError(_blame_overrides(e.problems, overrides), src) from None


# -- the resolved spec, as data ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    return value


def _emit(r: Resolved, key: str = "type") -> dict[str, Any]:
    if r.block is not None:
        return {"block": r.block, **({"repeat": r.use_repeat} if r.use_repeat != 1 else {})}
    out: dict[str, Any] = {key: r.component.name}
    out.update(_plain(r.kwargs))
    for name, value in r.nested.items():
        out[name] = _emit_nested(value)
    if r.repeat != 1:
        out["repeat"] = r.repeat
    return out


def _emit_nested(value: Any) -> Any:
    if isinstance(value, Resolved):
        return _emit(value)
    if isinstance(value, tuple):
        return [_emit_nested(v) for v in value]
    return value


def resolved_dict(rs: ResolvedSpec) -> dict[str, Any]:
    """The spec with every name canonical and every default filled in, as plain TOML-able data.

    It says its spec format (``format = N``), so that a later registry reads it as written.

    Inferred sizes the spec left out stay out (they are inferred again); TOML has no null.
    Block uses stay uses of their block, so the result is the same model written the same way.
    A ``${`` in a string is written ``$${``, so that reading it back takes it literally again.
    """
    out: dict[str, Any] = {FORMAT_KEY: FORMAT, **_plain(rs.spec.model_dump(exclude_none=True))}
    for place in places():
        parent = out
        for part in place.loc[:-1]:
            parent = parent.setdefault(part, {})
        last = place.loc[-1]
        value = rs.at.get(place.loc)
        if place.settings:
            table = {k: parent[last][k] for k in place.settings if k in parent.get(last, {})}
            parent[last] = {**(_emit(value, place.holds.key) if value is not None else {}), **table}
        elif value is None or (place.form == "map" and not value):
            parent.pop(last, None)
        elif place.form == "map":
            parent[last] = {name: _emit(r) for name, r in value.items()}
        else:
            parent[last] = _emit_nested(value)
    return _escaped(_plain(out))  # type: ignore[no-any-return]


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value
