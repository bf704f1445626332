"""The JSON Schema of the spec format, covering every component in a catalog, nested ones included.

Editors with TOML schema support (Taplo / Even Better TOML) read it through a
``#:schema ./spec.schema.json`` first line, and then complete names and
parameters and flag mistakes as a spec is typed. It is built by walking the
places of the spec (``registry.spec.places``) and, through each component's own
parameters, the components they hold: a chain of layers inside a container
refers back to the same definition, so nesting is checked at any depth.

It declares draft 2020-12 and keeps to the keywords that mean the same in
draft-07, which some editors (Taplo) still apply: no ``prefixItems`` (a tuple is
an array of a fixed length), ``$defs`` reached by plain JSON pointers. A
component table is dispatched on its ``type`` with ``if``/``then``, so that an
editor names the fault in the chosen component ("'momentun' was unexpected")
instead of "not valid under any of the given schemas".
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

from registry.components.catalog import Catalog, Component
from registry.components.signatures import Nested
from registry.kinds import KINDS
from registry.resolution.resolver import MAX_REPEAT
from registry.spec.models import BLOCK_PATTERN, Composition, Spec, places
from registry.spec.places import Holds, Place, alternatives

__all__ = ["SCHEMA_DRAFT", "dump_schema", "spec_schema"]

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
REF = "#/$defs/{model}"

JSON = dict[str, Any]


def _draft07_safe(node: Any) -> Any:
    """*node* with ``prefixItems`` (2020-12 only) written as an array of a fixed length, recursively."""
    if isinstance(node, list):
        return [_draft07_safe(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft07_safe(v) for k, v in node.items()}
    items = out.pop("prefixItems", None)
    if items is not None:
        unique = [json.loads(s) for s in dict.fromkeys(json.dumps(i, sort_keys=True) for i in items)]
        out["items"] = unique[0] if len(unique) == 1 else {"anyOf": unique}
        out["minItems"] = out["maxItems"] = len(items)
    return out


REFERENCE = r"^(\$\$\{|[^$]|\$[^{])*\$\{[^}]+\}"
"""A string with a reference in it (``"${vars.width}"``), which composing replaces before validation."""
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "if", "then", "else", "not")


def _references_allowed(node: Any, schemas: bool = True) -> Any:
    """Every number, integer and boolean schema under *node* also accepting a string holding a reference.

    The reference is tried only for strings (``if``/``then``/``else``), so that a wrong number still
    gets the number's own message ("-1 is less than the minimum of 0"). With ``schemas=False``,
    *node* is a mapping of names to schemas (``properties``, ``$defs``).
    """
    if not schemas:
        return {k: _references_allowed(v) for k, v in node.items()}
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("properties", "$defs", "patternProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _references_allowed(out[key], schemas=False)
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_references_allowed(v) for v in out[key]]
    for key in _SCHEMA_ONE:
        if isinstance(out.get(key), dict):
            out[key] = _references_allowed(out[key])
    if out.get("type") in ("integer", "number", "boolean"):
        meta = {k: out[k] for k in ("title", "description", "default") if k in out}
        return {**meta, "if": {"type": "string"}, "then": {"pattern": REFERENCE}, "else": out}
    return out


class _Builder:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.defs: JSON = {}

    def pydantic(self, model: type[BaseModel]) -> JSON:
        schema = model.model_json_schema(ref_template=REF)
        self.defs.update(_draft07_safe(schema.pop("$defs", {})))
        return _draft07_safe(schema)  # type: ignore[no-any-return]

    # -- components ------------------------------------------------------------------------------

    def params(self, c: Component) -> tuple[JSON, list[str]]:
        schema = self.pydantic(c.schema.model)
        props: JSON = schema.get("properties", {})
        for name, nested in c.schema.nested.items():
            props[name] = {**self.nested(nested), "description": props.get(name, {}).get("description", "")}
        return props, list(schema.get("required", []))

    def nested(self, n: Nested) -> JSON:
        ref = {"$ref": self.choice(n.holds)}
        if n.form == "one":
            return ref
        if n.form == "chains":
            return {"type": "array", "minItems": 1, "items": {"type": "array", "minItems": 1, "items": ref}}
        return {"type": "array", "minItems": 1 if n.form == "chain" else 0, "items": ref}

    def dispatch(self, components: list[Component], key: str, extra: JSON) -> list[JSON]:
        """One ``if key is this component then its parameters`` rule per component."""
        rules = []
        for c in components:
            props, required = self.params(c)
            rules.append({
                "if": {"properties": {key: {"enum": [c.name, *c.aliases]}}, "required": [key]},
                "then": {
                    "title": f"{c.kind} {c.name}",
                    "description": c.description,
                    "properties": {key: True, **extra, **props},
                    "required": required,
                    "additionalProperties": False,
                },
            })  # fmt: skip
        return rules

    def names(self, kinds: tuple[str, ...], key: str) -> JSON:
        components = [c for k in kinds for c in self.catalog.list(k)]
        names = [n for c in components for n in (c.name, *c.aliases)]
        what = " or ".join(kinds)
        return {
            key: {
                "enum": names,
                "description": f"a registered {what} (python -m registry list {KINDS[kinds[0]].plural})",
            }
        }

    def choice(self, holds: Holds) -> str:
        """A ``$defs`` entry for a table naming one component of *holds*' kinds; its reference."""
        name = "+".join(holds.kinds)
        ref = f"#/$defs/{name}"
        if name in self.defs:
            return ref
        self.defs[name] = {}  # reserved first: a container's parameters refer back to it
        components = [c for k in holds.kinds for c in self.catalog.list(k)]
        repeat = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_REPEAT,
            "description": "build it N times, each with its own weights",
        }
        extra = {"repeat": repeat} if holds.is_module else {}
        table: JSON = {
            "type": "object",
            "properties": self.names(holds.kinds, holds.key),
            "required": [holds.key],
            "allOf": self.dispatch(components, holds.key, extra),
        }
        if holds.is_module:  # or a use of a block: { block = NAME, repeat = N }
            table = {
                "type": "object",
                "if": {"required": ["block"]},
                "then": {
                    "properties": {
                        "block": {"type": "string", "pattern": BLOCK_PATTERN, "description": "a [model.blocks] name"},
                        "repeat": repeat,
                    },
                    "additionalProperties": False,
                },
                "else": table,
            }  # fmt: skip
        self.defs[name] = table
        return ref

    # -- the places of the spec ------------------------------------------------------------------

    def place(self, place: Place, settings: JSON, declared: JSON) -> JSON:
        """The schema of *place*; *declared* is pydantic's schema of its field (for lengths and key patterns)."""
        holds = place.holds
        if place.form == "list":
            array: JSON = next((s for s in [declared, *declared.get("anyOf", [])] if s.get("type") == "array"), {})
            bounds: JSON = {k: array[k] for k in ("minItems", "maxItems") if k in array}
            items = {"type": "array", "items": {"$ref": self.choice(holds)}, **bounds}
            if place.single:  # one table, or an array of them
                return {"anyOf": [{"$ref": self.choice(holds)}, items], "description": place.description}
            return {**items, "description": place.description}
        if place.form == "map":
            ref = {"$ref": self.choice(holds)}
            patterns = declared.get("patternProperties")
            keys = (
                {"patternProperties": {p: ref for p in patterns}, "additionalProperties": False}
                if patterns
                else {"additionalProperties": ref}
            )
            return {"type": "object", **keys, "description": place.description}
        if not place.settings:
            return {"$ref": self.choice(holds), "description": place.description}
        components = [c for k in holds.kinds for c in self.catalog.list(k)]
        settings = {k: v for k, v in settings.items() if k != holds.key}
        instead = [p.loc[-1] for p in alternatives(place, places())]  # what the optional key excludes
        allowed = (
            {k: v for k, v in settings.items() if k not in instead} if holds.optional else dict.fromkeys(settings, True)
        )
        names = self.names(holds.kinds, holds.key)
        with_component = {"required": [holds.key], "allOf": self.dispatch(components, holds.key, allowed)}
        if not holds.optional:
            return {"type": "object", "properties": {**names, **settings}, **with_component}
        return {  # the key names a component, or the table's own places hold the components instead
            "type": "object",
            "if": {"required": [holds.key]},
            "then": {"properties": names, **with_component},
            "else": {"properties": settings, "additionalProperties": False,
                     "anyOf": [{"required": [p.loc[-1]]} for p in alternatives(place, places()) if p.form != "map"]},
        }  # fmt: skip

    def model(self, model: type[BaseModel], loc: tuple[str, ...]) -> JSON:
        schema = self.pydantic(model)
        props: JSON = schema.get("properties", {})
        for name, field in model.model_fields.items():
            at = (*loc, name)
            here = next((p for p in places() if p.loc == at), None)
            inner = _model_type(field.annotation)
            if here is not None and here.settings and inner is not None:
                settings = self.model(inner, at)["properties"]
                props[name] = {
                    **self.place(here, settings, {}),
                    "description": field.description or inner.__doc__ or "",
                }
            elif here is not None:
                props[name] = self.place(here, {}, props.get(name, {}))
            elif inner is not None:
                props[name] = {**self.model(inner, at), "description": inner.__doc__ or ""}
        schema["properties"] = props
        schema.pop("title", None)
        return schema


def _model_type(annotation: Any) -> type[BaseModel] | None:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def spec_schema(catalog: Catalog) -> JSON:
    """Return the JSON Schema (2020-12, draft-07-compatible) of specs that use the components of *catalog*."""
    b = _Builder(catalog)
    top = b.model(Spec, ())
    # The keys that compose a spec (base, unset, vars): consumed before validation, written in any spec.
    # A spec with a base may leave out what its base sets, and any number or boolean may be a reference.
    composition = Composition.model_json_schema()["properties"]
    top["properties"] = {**composition, **top["properties"]}
    required = top.pop("required", [])
    top = {**top, "if": {"required": ["base"]}, "else": {"required": required}}
    top, b.defs = _references_allowed(top), _references_allowed(b.defs, schemas=False)
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "registry spec",
        "description": "A registry spec: data, model, loss, optimizer and training (python -m registry run SPEC).",
        **top,
        "$defs": dict(sorted(b.defs.items())),
    }


def dump_schema(catalog: Catalog) -> str:
    """The schema as stable, indented JSON text (with a final newline)."""
    return json.dumps(spec_schema(catalog), indent=2, sort_keys=False) + "\n"
