"""The JSON Schema of the spec format, covering every component in a catalog.

Editors with TOML schema support (Taplo / Even Better TOML) read it through a
``#:schema ./spec.schema.json`` first line, and then complete names and
parameters and flag mistakes as a spec is typed. It is draft-07, the most
widely supported draft. Component names (and aliases) are enums; each
component's parameters are typed, with defaults and descriptions, exactly as
its pydantic model validates them.
"""

from __future__ import annotations

import json
from typing import Any

from registry.catalog import Catalog, Component
from registry.resolve import LAYER_KINDS
from registry.spec import DataSpec, ModelSpec, RequiresSpec, Spec, TrainSpec

__all__ = ["SCHEMA_DRAFT", "dump_schema", "spec_schema"]

SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
REF = "#/definitions/{model}"

JSON = dict[str, Any]


def _params(c: Component, definitions: JSON) -> tuple[JSON, list[str]]:
    schema = c.schema.model.model_json_schema(ref_template=REF)
    definitions.update(schema.pop("$defs", {}))
    return schema.get("properties", {}), list(schema.get("required", []))


def _variant(c: Component, definitions: JSON, key: str = "type", base: JSON | None = None) -> JSON:
    props, required = _params(c, definitions)
    names = [c.name, *c.aliases]
    return {
        "type": "object",
        "title": f"{c.kind} {c.name}",
        "description": c.description,
        "properties": {key: {"enum": names, "description": c.description}, **(base or {}), **props},
        "required": [key, *required],
        "additionalProperties": False,
    }


def _choice(components: list[Component], definitions: JSON) -> JSON:
    return {"oneOf": [_variant(c, definitions) for c in components]}


def spec_schema(catalog: Catalog) -> JSON:
    """Return the JSON Schema (draft-07) of specs that use the components of *catalog*."""
    definitions: JSON = {}
    top = Spec.model_json_schema(ref_template=REF)
    data_fields = DataSpec.model_json_schema(ref_template=REF)["properties"]
    data_fields.pop("dataset")
    data_fields["transforms"] = {
        "type": "array",
        "description": data_fields["transforms"].get("description", ""),
        "items": _choice(catalog.list("transform"), definitions),
        "default": [],
    }
    data = {"oneOf": [_variant(c, definitions, "dataset", data_fields) for c in catalog.list("dataset")]}
    layers = ModelSpec.model_json_schema(ref_template=REF)["properties"]["layers"]
    layer_kinds = [c for k in LAYER_KINDS for c in catalog.list(k)]
    model = {
        "type": "object",
        "description": ModelSpec.__doc__,
        "properties": {"layers": {**layers, "items": _choice(layer_kinds, definitions)}},
        "required": ["layers"],
        "additionalProperties": False,
    }
    train = TrainSpec.model_json_schema(ref_template=REF)
    props = top["properties"]
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "registry spec",
        "description": "A registry spec: data, model, loss, optimizer and training (python -m registry run SPEC).",
        "type": "object",
        "properties": {
            "seed": props["seed"],
            "name": props["name"],
            "data": {**data, "description": DataSpec.__doc__},
            "model": model,
            "loss": {**_choice(catalog.list("loss"), definitions), "description": "the loss: { type = NAME, ... }"},
            "optimizer": {**_choice(catalog.list("optimizer"), definitions), "description": "the optimizer"},
            "train": {**train, "description": TrainSpec.__doc__},
            "requires": {**RequiresSpec.model_json_schema(ref_template=REF), "description": RequiresSpec.__doc__},
        },
        "required": ["data", "model", "loss", "optimizer"],
        "additionalProperties": False,
        "definitions": definitions,
    }


def dump_schema(catalog: Catalog) -> str:
    """The schema as stable, indented JSON text (with a final newline)."""
    return json.dumps(spec_schema(catalog), indent=2, sort_keys=False) + "\n"
