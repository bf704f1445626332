"""How a type is said in messages and in ``show``: ``float in [0, 1)``, ``tuple[int >= 1, int >= 1]``, ``'a' | 'b'``.

Read from a pydantic annotation and its constraints (``annotated_types`` metadata), with no component in sight:
the spec's problems and the catalog's parameter tables say types the same way.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import annotated_types as at
from pydantic.fields import FieldInfo

__all__ = ["describe_type"]

_NAMES = {int: "int", float: "float", str: "str", bool: "bool", type(None): "None"}


def _bounds(metadata: list[Any]) -> str:
    lo = next(((m.ge, "[") for m in metadata if isinstance(m, at.Ge)), None) or next(
        ((m.gt, "(") for m in metadata if isinstance(m, at.Gt)), None
    )
    hi = next(((m.le, "]") for m in metadata if isinstance(m, at.Le)), None) or next(
        ((m.lt, ")") for m in metadata if isinstance(m, at.Lt)), None
    )
    if lo and hi:
        return f" in {lo[1]}{lo[0]}, {hi[0]}{hi[1]}"
    if lo:
        return f" {'>=' if lo[1] == '[' else '>'} {lo[0]}"
    if hi:
        return f" {'<=' if hi[1] == ']' else '<'} {hi[0]}"
    return ""


def _metadata(annotation: Any) -> tuple[Any, list[Any]]:
    found: list[Any] = []
    while typing.get_origin(annotation) is typing.Annotated:
        for m in annotation.__metadata__:
            found += list(m.metadata) if isinstance(m, FieldInfo) else [m]
        annotation = typing.get_args(annotation)[0]
    return annotation, found


def describe_type(annotation: Any, metadata: list[Any] | None = None) -> str:
    """A readable type with its bounds: ``float in [0, 1)``, ``tuple[int >= 1, int >= 1]``, ``'mean' | 'sum'``."""
    annotation, found = _metadata(annotation)
    for m in metadata or []:
        found += list(m.metadata) if isinstance(m, FieldInfo) else [m]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        bounds = [m for m in found if isinstance(m, (at.Ge, at.Gt, at.Le, at.Lt))]
        return " | ".join(describe_type(a, bounds if a is not type(None) else None) for a in args)
    if origin in (list, tuple, dict):
        inner = ", ".join("..." if a is Ellipsis else describe_type(a) for a in args)
        return f"{origin.__name__}[{inner}]" + _lengths(found)
    if annotation is Any:
        return "any"
    name = _NAMES.get(annotation) or getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    return name + _bounds(found)


def _lengths(metadata: list[Any]) -> str:
    lo = next((m.min_length for m in metadata if isinstance(m, at.MinLen)), None)
    hi = next((m.max_length for m in metadata if isinstance(m, at.MaxLen)), None)
    if lo and hi:
        return f" of {lo} to {hi} items"
    if lo:
        return f" of at least {lo} item{'s' if lo != 1 else ''}"
    if hi:
        return f" of at most {hi} items"
    return ""
