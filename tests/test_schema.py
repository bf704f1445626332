"""The JSON Schema: it covers every component, the shipped copy is current, and every spec in specs/ passes it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import tomllib

from registry.schema import dump_schema, spec_schema

from .conftest import QUICK, SPECS
from .test_cli import cli

SHIPPED = SPECS / "spec.schema.json"


@pytest.fixture(scope="module")
def schema(catalog=None):
    from registry.manager import load_catalog

    return spec_schema(load_catalog(load_entrypoints=False))


def test_schema_is_valid_draft7(schema) -> None:
    """The generated schema is itself a valid draft-07 schema."""
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_shipped_schema_is_current(catalog) -> None:
    """specs/spec.schema.json equals what `python -m registry schema` generates for the built-ins."""
    assert SHIPPED.read_text() == dump_schema(catalog)


def test_every_component_is_in_the_schema(schema, catalog) -> None:
    """Each component's name and aliases are an enum in its kind's choices, with its parameters."""
    def names(choice):
        return {n for v in choice["oneOf"] for n in v["properties"].get("type", v["properties"].get("dataset"))["enum"]}

    layers = names(schema["properties"]["model"]["properties"]["layers"]["items"])
    for c in catalog:
        where = {
            "layer": layers, "activation": layers, "loss": names(schema["properties"]["loss"]),
            "optimizer": names(schema["properties"]["optimizer"]), "dataset": names(schema["properties"]["data"]),
            "transform": names(schema["properties"]["data"]["oneOf"][0]["properties"]["transforms"]["items"]),
        }[c.kind]  # fmt: skip
        assert {c.name, *c.aliases} <= where, c.name
    linear = next(v for v in schema["properties"]["model"]["properties"]["layers"]["items"]["oneOf"] if v["title"] == "layer linear")
    assert linear["required"] == ["type", "out_features"]
    assert linear["properties"]["out_features"] == {"description": "number of outputs", "minimum": 1, "title": "Out Features", "type": "integer"}
    assert linear["additionalProperties"] is False


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.toml")))
def test_every_shipped_spec_passes_the_schema(schema, spec) -> None:
    """Each spec in specs/ validates against the schema and points editors at it on its first line."""
    text = (SPECS / spec).read_text()
    assert text.splitlines()[0] == "#:schema ./spec.schema.json"
    jsonschema.Draft7Validator(schema).validate(tomllib.loads(text))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('{ type = "relu" }', '{ type = "rleu" }'),
        ("out_features = 32 }", "out_feature = 32 }"),
        ("lr = 0.05", "lr = -1"),
        ("seed = 0", "sede = 0"),
        ('dataset = "digits"', 'dataset = "digits"\nroot = "x"'),
        ('{ type = "to_tensor" }', '{ type = "to_tensor", x = 1 }'),
    ],
)
def test_the_schema_catches_what_an_editor_should_flag(schema, old, new) -> None:
    """Unknown names, unknown parameters, out-of-range values and unknown keys fail the schema."""
    doc = tomllib.loads(QUICK.replace(old, new, 1))
    assert list(jsonschema.Draft7Validator(schema).iter_errors(doc))


def test_schema_command_writes_the_file(tmp_path) -> None:
    """`schema -o FILE` writes the same JSON that `schema` prints."""
    code, printed, _ = cli("schema")
    target = tmp_path / "s.json"
    code2, out, _ = cli("schema", "-o", str(target))
    assert code == code2 == 0
    assert json.loads(target.read_text()) == json.loads(printed)
    assert out == f"wrote {target}; point a spec at it with the first line '#:schema PATH', PATH relative to the spec\n"
