"""Turn a component's own signature into the pydantic model that validates its parameters.

A plugin author writes a typed function or class; this module reads its
annotations (``Annotated[float, Field(ge=0)]`` included) and builds the schema.
Markers let a component ask for what the builder knows and the user should not
have to type, or hold other components:

* ``Inferred(rule)``: a parameter the builder fills from the input shape
  (``in_features``...) or the dataset's classes (``num_classes``). The user may
  still give it; then it is checked.
* ``InputShape()``: the per-sample input shape, injected, never user-settable.
* ``Holds(kinds)`` (``registry.spec.places``): a parameter whose value in a spec is a
  component table (or an array of them, or of arrays of layers); the builder
  passes the built objects.
* ``SpecPath()`` (``registry.spec.paths``): a path; the builder passes it absolute, read by the spec's one rule
  for relative paths, and checks that it is there before the data is read.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from registry.spec.describe import describe_type
from registry.spec.paths import SpecPath
from registry.spec.places import Holds, marks

__all__ = [
    "CHANNELS",
    "FEATURES",
    "NUM_CLASSES",
    "InputShape",
    "Inferred",
    "Nested",
    "ParamSchema",
    "TaskInfo",
    "TrainingInfo",
    "derive_params",
    "describe_fields",
    "first_doc_line",
]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Inferred:
    """Marks a parameter that the builder infers when a spec leaves it out.

    Args:
        rule: maps the source (the per-sample input shape, or the number of classes) to the value.
        what: a few words for messages ("the last dimension").
        source: ``"shape"`` (the per-sample input shape, no batch dimension) or ``"classes"`` (the
            dataset's number of classes).
    """

    rule: Callable[[Any], Any]
    what: str = "the input shape"
    source: Literal["shape", "classes"] = "shape"


@dataclass(frozen=True)
class InputShape:
    """Marks a parameter that receives the per-sample input shape; hidden from specs."""


@dataclass(frozen=True)
class TaskInfo:
    """Marks a parameter that receives the run's ``registry.Task`` (a metric's); hidden from specs."""


@dataclass(frozen=True)
class TrainingInfo:
    """Marks a parameter that receives the run's ``registry.Training`` (its epochs and steps; a scheduler's);
    hidden from specs."""


def last_dim(shape: Shape) -> int:
    return shape[-1]


def channels(shape: Shape) -> int:
    return shape[0]


def _same(n: int) -> int:
    return n


FEATURES = Inferred(last_dim, "the last dimension of the previous layer's output")
CHANNELS = Inferred(channels, "the channel dimension of the previous layer's output")
NUM_CLASSES = Inferred(_same, "the dataset's number of classes", "classes")


@dataclass(frozen=True)
class Nested:
    """A parameter that holds components: how its value is written and what the builder passes.

    Attributes:
        holds: the kinds it holds.
        form: ``one`` table -> one object; ``list`` of tables -> a list of objects; ``chain``: an array
            of layers -> one ``registry.Chain``; ``chains``: an array of such arrays -> a list of them.
    """

    holds: Holds
    form: Literal["one", "list", "chain", "chains"]


@dataclass(frozen=True)
class ParamSchema:
    """What the builder needs to know about a component's parameters.

    Attributes:
        model: the pydantic model of the user-settable parameters (``extra="forbid"``); a nested
            parameter is validated there as raw tables, then resolved on its own.
        inferred: parameter name -> rule, for parameters the builder may fill in.
        input_shape: name of the parameter that receives the input shape, if any.
        nested: parameter name -> what it holds.
        task: name of the parameter that receives the run's task, if any.
        training: name of the parameter that receives the run's ``Training`` (epochs, steps), if any.
        paths: parameter name -> its ``SpecPath``, for parameters that are paths.
    """

    model: type[BaseModel]
    inferred: dict[str, Inferred]
    input_shape: str | None
    nested: dict[str, Nested]
    task: str | None = None
    training: str | None = None
    paths: dict[str, SpecPath] = field(default_factory=dict)


class SchemaDerivationError(TypeError):
    """The factory's signature cannot be turned into a schema (raised to the manager)."""


def _markers(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return list(annotation.__metadata__)
    return []


def _signature_target(factory: Callable[..., Any]) -> Callable[..., Any]:
    return factory.__init__ if inspect.isclass(factory) else factory


Table = dict[str, Any]


def _nested(annotation: Any, holds: Holds) -> tuple[Nested, Any]:
    """What a ``Holds`` parameter holds, and the raw type its spec value is validated as."""
    args = typing.get_args(annotation)
    if type(None) in args and len(args) == 2:  # optional: the raw type is optional too
        nested, inner = _nested(next(a for a in args if a is not type(None)), holds)
        return nested, inner | None
    base = annotation
    while typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    many = typing.get_origin(base) in (list, tuple) or base in (list, tuple)
    descriptions = [m for m in _markers(annotation) if isinstance(m, FieldInfo)]
    extra = tuple(descriptions)
    if holds.is_module:  # a chain holds at least one layer
        form: Literal["one", "list", "chain", "chains"] = "chains" if many else "chain"
        chain = typing.Annotated[list[Table], Field(min_length=1)]
        raw: Any = typing.Annotated[list[chain], Field(min_length=1)] if many else chain
    else:
        form = "list" if many else "one"
        raw = list[Table] if many else Table
    return Nested(holds, form), typing.Annotated[(raw, *extra)] if extra else raw


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
    parts = _Parts()
    for p in list(sig.parameters.values())[injected:]:
        parts.add(p, hints)
    try:
        model = create_model(
            title.replace(" ", "_"),
            __config__=ConfigDict(extra="forbid", title=title, allow_inf_nan=False),
            **parts.fields,
        )
    except Exception as e:  # pydantic raises several types for an unusable annotation
        raise SchemaDerivationError(f"cannot build a schema: {e}") from e
    return ParamSchema(
        model=model,
        inferred=parts.inferred,
        input_shape=parts.injected.get(InputShape),
        nested=parts.nested,
        task=parts.injected.get(TaskInfo),
        training=parts.injected.get(TrainingInfo),
        paths=parts.paths,
    )


_INJECTED = (InputShape, TaskInfo, TrainingInfo)
"""Markers of parameters the builder passes itself (the input shape, the task, the run's length)."""


@dataclass
class _Parts:
    """A schema's parts, gathered parameter by parameter."""

    fields: dict[str, Any] = field(default_factory=dict)
    inferred: dict[str, Inferred] = field(default_factory=dict)
    nested: dict[str, Nested] = field(default_factory=dict)
    paths: dict[str, SpecPath] = field(default_factory=dict)
    injected: dict[type, str] = field(default_factory=dict)

    def add(self, p: inspect.Parameter, hints: dict[str, Any]) -> None:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SchemaDerivationError(f"parameter {p.name!r} is variadic (*args/**kwargs); name each parameter")
        if p.name not in hints:
            raise SchemaDerivationError(f"parameter {p.name!r} has no type annotation")
        ann = hints[p.name]
        found = _markers(ann)
        marker = next((t for t in _INJECTED if any(isinstance(m, t) for m in found)), None)
        if marker is not None:
            self.injected[marker] = p.name
            return
        for m in found:
            if isinstance(m, Inferred):
                self.inferred[p.name] = m
            if isinstance(m, SpecPath):
                self.paths[p.name] = m
        default = ... if p.default is p.empty else p.default
        holds = marks(ann)
        if holds is not None:
            self.nested[p.name], ann = _nested(ann, holds)
            default = ... if default is ... else _raw_default(default)
        if p.name in self.inferred and default is ...:
            default = None
        self.fields[p.name] = (ann, default)


def _raw_default(default: Any) -> Any:
    if default is None or default == [] or default == ():
        return [] if default is not None else None
    raise SchemaDerivationError("a parameter that holds components may default to nothing (None or []) only")


def first_doc_line(obj: object) -> str:
    """The first line of *obj*'s docstring, or an empty string."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def describe_nested(n: Nested) -> str:
    """What a parameter holding components takes, in words: ``array of layer or activation tables``."""
    what = " or ".join(n.holds.kinds)
    return {
        "one": f"a {what} table",
        "list": f"array of {what} tables",
        "chain": f"array of {what} tables (a chain)",
        "chains": f"array of arrays of {what} tables (chains)",
    }[n.form]


def describe_fields(schema: ParamSchema) -> list[tuple[str, str, str, str]]:
    """(name, type, ``= default`` or ``required``, description) for each parameter of a component, for ``show``."""
    rows = []
    for name, f in schema.model.model_fields.items():
        if name in schema.nested:
            tname = describe_nested(schema.nested[name])
        else:
            tname = describe_type(f.annotation, list(f.metadata))
        default = "required" if f.is_required() else f"= {f.get_default(call_default_factory=True)!r}"
        rows.append((name, tname, default, f.description or ""))
    return rows
