"""pydantic's validation errors -> ``Problem``s a spec's author can act on.

One fault is one problem, at the key path the author wrote, in TOML's words:
pydantic's internal names (the branches of a union, ``function-after[...]``) are
taken out of key paths; the errors of a union's branches, and of a tuple's
positions, become one problem that says what the value should be; a
misspelt required key is reported once, as the unknown key with its
did-you-mean; an unknown key or option value gets the closest allowed ones.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from registry.errors import Problem, SpecError, format_loc
from registry.spec.describe import describe_type
from registry.spec.provenance import Provenance

__all__ = ["Loc", "ProblemList", "annotation_at", "closest", "field_at", "problems_from", "render_value", "table_name"]

Loc = tuple[str | int, ...]
UnknownKey = Callable[[Loc, str, Any], str]
"""Words the message of an unknown key: (the key path of its table, the key, its value)."""


def render_value(value: Any, limit: int = 60) -> str:
    """A value as a spec author wrote it: strings quoted, booleans lower-case, long values cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "[" + ", ".join(render_value(v, limit) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{ " + ", ".join(f"{k} = {render_value(v, limit)}" for k, v in value.items()) + " }"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The allowed word nearest to *word*, if any is near enough."""
    found = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def table_name(loc: Loc) -> str:
    """How a message names the table at *loc*: ``[train]``, ``[data.transforms[0]]``, or the top level."""
    if not loc:
        return "The top level"
    return f"[{format_loc(loc)}]"


def _clean(loc: Sequence[str | int], data: Any, kind: str) -> tuple[Loc, bool]:
    """*loc* without pydantic's internal parts (every part but a missing key's must exist in *data*), cut at
    the first of them: an error inside one branch of a union is an error of the value the union types.
    The flag says whether it was cut."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif i == len(loc) - 1 and kind in ("missing", "extra_forbidden"):
            node = None
        elif isinstance(node, Mapping) and node.get("type") == part:
            continue  # the branch of a union chosen by the table's own `type` (a discriminator): not a key
        else:
            return tuple(out), True  # a union branch, a validator's name: not a key the author wrote
        out.append(part)
    return tuple(out), False


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """*annotation* without ``Annotated`` (its metadata returned beside it) and without ``| None``."""
    meta: list[Any] = []
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            meta += list(annotation.__metadata__)
            annotation = typing.get_args(annotation)[0]
            continue
        args = typing.get_args(annotation)
        if type(None) in args and len(args) == 2:
            annotation = next(a for a in args if a is not type(None))
            continue
        return annotation, meta


def annotation_at(model: type[BaseModel], loc: Loc, data: Any = None) -> tuple[Any, list[Any]] | None:
    """The annotation (and its metadata) of the value at *loc* in *model*, or None where it is not declared.

    With the validated *data*, a union of tables is followed into the branch that the table's ``type`` names.
    """
    ann: Any = model
    meta: list[Any] = []
    for i, part in enumerate(loc):
        ann, _ = _unwrap(ann)
        ann = _branch(ann, _value_at(data, loc[:i]) if data is not None else None)
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None
            ann, meta = field.annotation, list(field.metadata)
        elif origin is list and isinstance(part, int):
            ann, meta = args[0], []
        elif origin is tuple and isinstance(part, int) and part < len(args):
            ann, meta = args[part], []
        elif origin is dict:
            ann, meta = args[1], []
        else:
            return None
    unwrapped, more = _unwrap(ann)
    return _branch(unwrapped, _value_at(data, loc) if data is not None else None), meta + more


def _branch(ann: Any, value: Any) -> Any:
    """The member of the union *ann* whose ``type`` literal is *value*'s ``type`` (else *ann*)."""
    if not isinstance(value, Mapping) or not typing.get_args(ann) or typing.get_origin(ann) in (list, dict, tuple):
        return ann
    for member in typing.get_args(ann):
        field = member.model_fields.get("type") if isinstance(member, type) and issubclass(member, BaseModel) else None
        if field is not None and value.get("type") in typing.get_args(field.annotation):
            return member
    return ann


def _is_tuple(model: type[BaseModel], loc: Loc) -> bool:
    found = annotation_at(model, loc)
    return found is not None and typing.get_origin(found[0]) is tuple


def _expected(model: type[BaseModel], loc: Loc) -> str | None:
    found = annotation_at(model, loc)
    if found is None:
        return None
    return describe_type(*found)


_WORDS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


def _word(err: Mapping[str, Any], model: type[BaseModel], loc: Loc) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f" (got {render_value(err['input'])})" if "input" in err else ""
    if kind in _WORDS:
        return _WORDS[kind] + got
    if kind == "greater_than":
        return f"must be > {ctx['gt']}{got}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}{got}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}{got}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}{got}"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"must have at least {n} item{'s' if n != 1 else ''}{got}"
    if kind == "too_long":
        n = ctx.get("max_length")
        return f"must have at most {n} item{'s' if n != 1 else ''}{got}"
    if kind == "string_too_short":
        return (
            "must not be empty" if ctx.get("min_length") == 1 else f"must have at least {ctx['min_length']} characters"
        )
    if kind == "string_too_long":
        return f"must have at most {ctx['max_length']} characters{got}"
    if kind in ("literal_error", "enum"):
        return _choice(err, ctx)
    if kind == "string_pattern_mismatch":
        field = field_at(model, loc)
        desc = field.description if field is not None else None
        return f"must be {desc}{got}" if desc else f"must match {ctx.get('pattern')}{got}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "union_tag_invalid":
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        near = closest(str(ctx.get("tag")), tags)
        return f"type must be one of: {', '.join(tags)} (got {render_value(ctx.get('tag'))})" + (
            f"; did you mean {near!r}?" if near else ""
        )
    return f"{err['msg']}{got}"


def _choice(err: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    value = err.get("input")
    expected = str(ctx.get("expected", ""))
    msg = f"must be {expected} (got {render_value(value)})"
    options = [o.strip().strip("'\"") for o in expected.replace(" or ", ", ").split(",")]
    near = closest(str(value), options) if isinstance(value, str) else None
    return msg + (f"; did you mean {near!r}?" if near else "")


def _unknown_default(model: type[BaseModel], data: Any = None) -> UnknownKey:
    def message(parent: Loc, key: str, value: Any) -> str:
        found = annotation_at(model, parent, data) if parent else (model, [])
        ann = _unwrap(found[0])[0] if found else None
        allowed = sorted(ann.model_fields) if isinstance(ann, type) and issubclass(ann, BaseModel) else []
        near = closest(key, allowed)
        if isinstance(value, Mapping):
            msg = f"unknown table [{key}]" + (f"; did you mean [{near}]?" if near else ".")
        else:
            msg = f"unknown key {key!r}" + (f"; did you mean {near!r}?" if near else ".")
        return msg + (f" {table_name(parent)} takes: {', '.join(allowed)}" if allowed else "")

    return message


def _missing(model: type[BaseModel], loc: Loc) -> str:
    found = annotation_at(model, loc)
    desc = next((m.description for m in (found[1] if found else []) if isinstance(m, FieldInfo)), None)
    field = field_at(model, loc)
    desc = desc or (field.description if field else None)
    return "required key is missing" + (f" ({desc})" if desc else "")


def field_at(model: type[BaseModel], loc: Loc, data: Any = None) -> FieldInfo | None:
    """The field declared at *loc* in *model* (through nested models, lists and dicts, and with the validated
    *data*, through the union branch a table's ``type`` names), or None."""
    parent = annotation_at(model, loc[:-1], data) if len(loc) > 1 else (model, [])
    ann = _unwrap(parent[0])[0] if parent else None
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann.model_fields.get(str(loc[-1]))
    return None


def problems_from(
    error: ValidationError,
    data: Any,
    model: type[BaseModel],
    prefix: Loc = (),
    where: Provenance | None = None,
    unknown: UnknownKey | None = None,
    missing: Callable[[Loc], str] | None = None,
) -> list[Problem]:
    """One ``Problem`` per fault in *error*, raised by validating *data* against *model*.

    Args:
        error: pydantic's error.
        data: the data that was validated (to tell the author's keys from pydantic's internal names).
        model: the model it was validated against (for what a value should be, and the allowed keys).
        prefix: the key path of *data* in the spec.
        where: gives the file and line of a key path (None: problems without a line).
        unknown: words the message of an unknown key (parent key path within *data*, key).
        missing: words the message of a missing required key (its key path within *data*).
    """
    grouped: dict[Loc, list[Mapping[str, Any]]] = {}
    for err in error.errors():
        loc, cut = _clean(err["loc"], data, err["type"])
        if cut:
            err = {**err, "type": "union"}
        elif loc and isinstance(loc[-1], int) and err["type"] in ("missing", "too_long") and _is_tuple(model, loc[:-1]):
            loc = loc[:-1]  # a position of a tuple: the tuple is what is wrong
            err = {**err, "type": "tuple_shape"}
        grouped.setdefault(loc, []).append(err)
    unknown = unknown or _unknown_default(model, data)
    unknown_keys = {(loc[:-1], str(loc[-1])) for loc, errs in grouped.items() if errs[0]["type"] == "extra_forbidden"}
    out = []
    for loc, errs in grouped.items():
        kind = errs[0]["type"]
        if kind == "missing" and len(errs) == 1:
            siblings = [k for parent, k in unknown_keys if parent == loc[:-1]]
            if closest(str(loc[-1]), siblings):
                continue  # reported as the misspelt key, with its did-you-mean: one fault, one problem
            msg = missing(loc) if missing else _missing(model, loc)
        elif kind == "extra_forbidden":
            msg = unknown(loc[:-1], str(loc[-1]), _value_at(data, loc))
        elif any(e["type"] in ("union", "tuple_shape") for e in errs):
            expected = _expected(model, loc) or "another value"
            msg = f"must be {expected} (got {render_value(_value_at(data, loc))})"
        else:
            msg = _word(errs[0], model, loc)
        full = prefix + loc
        out.append(where.problem(full, msg) if where else Problem(full, msg))
    return out


class ProblemList:
    """Problems found while building from a resolved spec, each located in the file that holds its value."""

    def __init__(self, source: str | None, where: Provenance | None) -> None:
        self.source = source
        self.where = where
        self.items: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append(self.where.problem(loc, message) if self.where else Problem(loc, message))

    def raise_if_any(self) -> None:
        """Raise every problem found so far as one ``SpecError``."""
        if self.items:
            raise SpecError(self.items, self.source)
