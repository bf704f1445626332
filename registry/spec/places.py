"""Where a spec holds components: one table, read from the ``Holds`` marks of the spec format.

A field of the spec format (``registry.spec.models``) marked ``Holds(kinds)`` holds
components of those kinds: one table, an array of tables, or a table of named
tables (``[model.blocks.NAME]``). ``places()`` lists them all as ``Place`` rows;
the resolver walks these rows (and, through the same mark on a component's own
parameters, the components nested inside components), and so do the resolved
spec, the JSON Schema and ``show``. A new place is a new marked field, nothing
else.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from registry.kinds import KINDS

__all__ = ["ENTRY_KEYS", "Holds", "Place", "alternatives", "form_of", "marks", "places_of"]

Form = Literal["one", "list", "map"]

ENTRY_KEYS = ("repeat", "block")
"""Keys of an entry of a layer kind that belong to the spec, not to the component: ``repeat = N`` builds it N
times (each with its own weights), ``{ block = NAME }`` uses a block of ``[model.blocks]``."""


@dataclass(frozen=True)
class Holds:
    """Marks a spec field, or a component's parameter, as holding components of *kinds*.

    ``Annotated[dict[str, Any], Holds(("loss",))]`` is one component table;
    ``Annotated[list[...], Holds(...)]`` an array of them. On a component's own
    parameter, the builder passes the built objects: ``Annotated[registry.Chain,
    Holds(registry.MODULE_KINDS)]`` (``registry.Layers``) receives the chain of
    layers built from the array, each input size inferred from what reaches it.

    Attributes:
        kinds: the kinds whose names are looked up here, in this order.
        key: the key of the table that names the component.
        optional: the key may be absent (``[model]`` without ``type`` uses ``layers``).
    """

    kinds: tuple[str, ...]
    key: str = "type"
    optional: bool = False

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"Holds: unknown kinds {unknown}; the kinds are {', '.join(KINDS)}")

    @property
    def is_module(self) -> bool:
        """Whether entries here are layers in a chain (``repeat`` and ``block`` allowed)."""
        return all(KINDS[k].module for k in self.kinds)


@dataclass(frozen=True)
class Place:
    """A key of the spec that holds components.

    Attributes:
        loc: its key path (``("model", "layers")``).
        holds: which kinds, and the key that names them.
        form: ``one`` table, a ``list`` of tables, or a ``map`` of named tables.
        required: the spec must have it.
        settings: for a table that is both settings and a component (``[data]``, ``[model]``), the keys
            that are settings; the others are the component's parameters.
        description: for the JSON Schema and messages.
        single: a ``list`` place that also takes one table for an array of one (its field is typed
            ``Table | list[Table]``).
    """

    loc: tuple[str, ...]
    holds: Holds
    form: Form
    required: bool
    settings: tuple[str, ...] = ()
    description: str = ""
    single: bool = False

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.holds.kinds

    @property
    def what(self) -> str:
        """The kinds in words, for messages: ``layer or activation``."""
        return " or ".join(self.holds.kinds)


def _strip(annotation: Any) -> Any:
    """The annotation without ``Annotated`` and without ``| None``."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _strip(rest[0])
    return annotation


def _one_or_list(annotation: Any) -> bool:
    """Whether *annotation* is ``dict[...] | list[dict[...]]`` (optional or not): one table, or an array of them."""
    inner = _strip(annotation)
    origins = {typing.get_origin(a) or a for a in typing.get_args(inner) if a is not type(None)}
    return typing.get_origin(inner) in (typing.Union, types.UnionType) and origins == {dict, list}


def form_of(annotation: Any) -> Form:
    """``list`` for an array of tables (or one table or an array), ``map`` for a table of named tables, else
    ``one``."""
    if _one_or_list(annotation):
        return "list"
    inner = _strip(annotation)
    origin = typing.get_origin(inner)
    if origin is list:
        return "list"
    if origin is dict and typing.get_origin(_strip(typing.get_args(inner)[1])) is dict:
        return "map"
    return "one"


def marks(annotation: Any, metadata: list[Any] | None = None) -> Holds | None:
    """The ``Holds`` mark of a field (in its ``Annotated`` metadata or pydantic's ``FieldInfo.metadata``), also
    when the field is optional (``registry.Layers | None``)."""
    found = [m for m in (metadata or []) if isinstance(m, Holds)]
    while typing.get_origin(annotation) is typing.Annotated:
        found += [m for m in annotation.__metadata__ if isinstance(m, Holds)]
        annotation = typing.get_args(annotation)[0]
    args = typing.get_args(annotation)
    if not found and type(None) in args and len(args) == 2:
        return marks(next(a for a in args if a is not type(None)))
    return found[0] if found else None


def alternatives(place: Place, among: Iterable[Place]) -> tuple[Place, ...]:
    """The places inside *place* (of *among*) that build what its component would: ``model.layers`` and
    ``model.blocks`` instead of ``[model] type``, places of kinds built from a shape. Another place inside it
    (``model.init``) goes with either."""
    return tuple(p for p in among if p.loc[:-1] == place.loc and all(KINDS[k].shaped for k in p.kinds))


def places_of(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[Place]:
    """Every place of *model* (a spec's pydantic model), parents before what they contain."""
    for name, field in model.model_fields.items():
        loc = (*prefix, name)
        holds = marks(field.annotation, list(field.metadata))
        inner = _strip(field.annotation)
        host = isinstance(inner, type) and issubclass(inner, BaseModel)
        if holds is not None:
            settings = tuple(f for f in inner.model_fields if f != holds.key) if host else ()
            form: Form = "one" if host else form_of(field.annotation)
            single = _one_or_list(field.annotation)
            yield Place(loc, holds, form, field.is_required(), settings, field.description or "", single)
        if host:
            yield from places_of(inner, loc)
