"""Turn a component's own signature into the pydantic model that validates its parameters.

A plugin author writes a typed function or class; this module reads its
annotations (``Annotated[float, Field(ge=0)]`` included) and builds the schema.
Two markers let a layer ask for what the builder knows and the user should not
have to type:

* ``Inferred(rule)``: a parameter the builder fills from the input shape
  (``in_features``...). The user may still give it; then it is checked.
* ``InputShape()``: the per-sample input shape, injected, never user-settable.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

__all__ = [
    "CHANNELS",
    "FEATURES",
    "InputShape",
    "Inferred",
    "ParamSchema",
    "derive_params",
    "describe_fields",
    "first_doc_line",
]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Inferred:
    """Marks a parameter that the builder infers from the per-sample input shape.

    Args:
        rule: maps the per-sample input shape (no batch dimension) to the value.
        what: a few words for messages ("the last dimension").
    """

    rule: Callable[[Shape], Any]
    what: str = "the input shape"


@dataclass(frozen=True)
class InputShape:
    """Marks a parameter that receives the per-sample input shape; hidden from specs."""


def last_dim(shape: Shape) -> int:
    return shape[-1]


def channels(shape: Shape) -> int:
    return shape[0]


FEATURES = Inferred(last_dim, "the last dimension of the previous layer's output")
CHANNELS = Inferred(channels, "the channel dimension of the previous layer's output")


@dataclass(frozen=True)
class ParamSchema:
    """What the builder needs to know about a component's parameters.

    Attributes:
        model: the pydantic model of the user-settable parameters (``extra="forbid"``).
        inferred: parameter name -> rule, for parameters the builder may fill in.
        input_shape: name of the parameter that receives the input shape, if any.
    """

    model: type[BaseModel]
    inferred: dict[str, Inferred]
    input_shape: str | None


class SchemaDerivationError(TypeError):
    """The factory's signature cannot be turned into a schema (raised to the manager)."""


def _markers(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return list(annotation.__metadata__)
    return []


def _signature_target(factory: Callable[..., Any]) -> Callable[..., Any]:
    return factory.__init__ if inspect.isclass(factory) else factory


def derive_params(factory: Callable[..., Any], title: str, injected: int = 0) -> ParamSchema:
    """Build the parameter schema of *factory* from its signature and annotations.

    Args:
        factory: the component's function or class.
        title: the schema's title (``"layer linear"``).
        injected: how many leading parameters the builder passes itself
            (an optimizer's ``params``).

    Returns:
        The ``ParamSchema``.

    Raises:
        SchemaDerivationError: a parameter is unannotated, variadic, or of a type
            pydantic cannot validate.
    """
    try:
        sig = inspect.signature(factory)
        hints = typing.get_type_hints(_signature_target(factory), include_extras=True)
    except (TypeError, ValueError, NameError) as e:
        raise SchemaDerivationError(f"cannot read the signature: {e}") from e
    params = list(sig.parameters.values())[injected:]
    fields: dict[str, Any] = {}
    inferred: dict[str, Inferred] = {}
    input_shape: str | None = None
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SchemaDerivationError(f"parameter {p.name!r} is variadic (*args/**kwargs); name each parameter")
        if p.name not in hints:
            raise SchemaDerivationError(f"parameter {p.name!r} has no type annotation")
        ann = hints[p.name]
        marks = _markers(ann)
        if any(isinstance(m, InputShape) for m in marks):
            input_shape = p.name
            continue
        for m in marks:
            if isinstance(m, Inferred):
                inferred[p.name] = m
        default = ... if p.default is p.empty else p.default
        if p.name in inferred and default is ...:
            default = None
        fields[p.name] = (ann, default)
    try:
        model = create_model(
            title.replace(" ", "_"),
            __config__=ConfigDict(extra="forbid", title=title, allow_inf_nan=False),
            **fields,
        )
    except Exception as e:  # pydantic raises several types for an unusable annotation
        raise SchemaDerivationError(f"cannot build a schema: {e}") from e
    return ParamSchema(model=model, inferred=inferred, input_shape=input_shape)


def first_doc_line(obj: object) -> str:
    """The first line of *obj*'s docstring, or an empty string."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def describe_fields(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) for each field of *model*, for ``show``."""
    rows = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        tname = getattr(ann, "__name__", None) if isinstance(ann, type) else None
        tname = tname or str(ann).replace("typing.", "")
        default = "(required)" if f.is_required() else repr(f.get_default(call_default_factory=True))
        rows.append((name, tname, default, f.description or ""))
    return rows
