"""The JSON Schema: one draft, no dangling reference, every component, nested ones checked, and what real editor
clients (check-jsonschema, taplo) say about good and bad specs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomllib

from registry.resolution.schema import REFERENCE, dump_schema, spec_schema

from .conftest import NESTED, QUICK, SPECS
from .test_cli import cli

SHIPPED = SPECS / "spec.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from registry.components.manager import load_catalog

    return spec_schema(load_catalog(load_entrypoints=False))


def _walk(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


def test_one_draft_throughout(schema) -> None:
    """It declares 2020-12, is valid under it and under draft-07, and uses no keyword whose meaning differs."""
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft7Validator.check_schema(schema)
    keys = {k for node in _walk(schema) if isinstance(node, dict) for k in node}
    assert not keys & {"prefixItems", "definitions", "$dynamicRef", "dependentRequired", "unevaluatedProperties"}


def test_no_reference_dangles(schema) -> None:
    """Every $ref points at a definition that exists."""
    refs = {node["$ref"] for node in _walk(schema) if isinstance(node, dict) and "$ref" in node}
    assert refs and all(ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs)


def test_shipped_schema_is_current(catalog) -> None:
    """specs/spec.schema.json equals what `python -m registry schema` generates for the built-ins."""
    assert SHIPPED.read_text() == dump_schema(catalog)


def _names(choice: dict[str, Any], key: str = "type") -> set[str]:
    table = choice.get("else", choice)
    return set(table["properties"][key]["enum"])


def test_every_component_is_in_the_schema(schema, catalog) -> None:
    """Each component's name and aliases are in the choice of each place that holds its kind, with its parameters."""
    defs = schema["$defs"]
    where = {
        "layer": _names(defs["layer+activation"]), "activation": _names(defs["layer+activation"]),
        "model": set(schema["properties"]["model"]["then"]["properties"]["type"]["enum"]),
        "loss": _names(defs["loss"]), "optimizer": _names(defs["optimizer"]),
        "dataset": set(schema["properties"]["data"]["properties"]["dataset"]["enum"]),
        "transform": _names(defs["transform"]), "metric": _names(defs["metric"]),
        "scheduler": _names(defs["scheduler"]), "initializer": _names(defs["initializer"]),
    }  # fmt: skip
    assert schema["properties"]["metrics"]["items"] == {"$ref": "#/$defs/metric"}
    for c in catalog:
        assert {c.name, *c.aliases} <= where[c.kind], c.name
    rules = defs["layer+activation"]["else"]["allOf"]
    linear = next(r["then"] for r in rules if r["then"]["title"] == "layer linear")
    assert linear["required"] == ["out_features"] and linear["additionalProperties"] is False
    out_features = {"description": "number of outputs", "minimum": 1, "title": "Out Features", "type": "integer"}
    assert linear["properties"]["out_features"] == {  # a number may also be a "${...}" reference, replaced when composed
        "description": "number of outputs", "title": "Out Features",
        "if": {"type": "string"}, "then": {"pattern": REFERENCE}, "else": out_features,
    }  # fmt: skip
    residual = next(r["then"] for r in rules if r["then"]["title"] == "layer residual")
    assert residual["properties"]["layers"]["items"] == {"$ref": "#/$defs/layer+activation"}  # nesting, at any depth


def _docs() -> dict[str, dict[str, Any]]:
    docs = {p.name: tomllib.loads(p.read_text()) for p in sorted(SPECS.glob("*.toml"))}
    docs["nested"] = tomllib.loads(NESTED)
    return docs


@pytest.mark.parametrize("name", sorted(_docs()))
def test_every_shipped_spec_passes_the_schema(schema, name) -> None:
    """Each spec in specs/ (and a nested one) validates under 2020-12; shipped ones point editors at the schema."""
    jsonschema.Draft202012Validator(schema).validate(_docs()[name])
    if name != "nested":
        assert (SPECS / name).read_text().splitlines()[0] == "#:schema ./spec.schema.json"


def test_a_spec_with_a_base_and_references_passes_and_a_wrong_string_does_not(schema) -> None:
    """A child spec may leave out what its base sets; a number may be a reference, but not any string."""
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"base": "base.toml", "optimizer": {"type": "sgd", "lr": 0.1}})
    validator.validate(tomllib.loads(QUICK.replace("out_features = 32", 'out_features = "${vars.h}"') + "[vars]\nh = 3\n"))
    errors = [e.message for e in validator.iter_errors(tomllib.loads(QUICK.replace("out_features = 32", 'out_features = "wide"')))]
    assert errors == [f"'wide' does not match {REFERENCE!r}"]
    errors = [e.message for e in validator.iter_errors({"optimizer": {"type": "sgd", "lr": 0.1}})]
    assert sorted(errors) == ["'data' is a required property", "'loss' is a required property", "'model' is a required property"]


BAD = [
    ('{ type = "relu" }', '{ type = "rleu" }', "'rleu' is not one of"),
    ("out_features = 32 }", "out_feature = 32 }", "'out_feature' was unexpected"),
    ("lr = 0.05", "lr = -1", "-1 is less than or equal to the minimum of 0"),
    ("seed = 0", "sede = 0", "'sede' was unexpected"),
    ('dataset = "digits"', 'dataset = "digits"\nroot = "x"', "'root' was unexpected"),
    ('{ type = "to_tensor" }', '{ type = "to_tensor", x = 1 }', "'x' was unexpected"),
    ("transforms = [", 'augment = [{ type = "random_crop", padding = 0 }]\ntransforms = [', "0 is less than the minimum of 1"),
    ('type = "sgd"\nlr = 0.05\nmomentum = 0.9', 'type = "adam"\nbetas = [1.5, 2.0]', "1.5 is greater than or equal to the maximum of 1"),
    ('type = "sgd"\nlr = 0.05\nmomentum = 0.9', 'type = "sgd"\nmomentun = 0.9', "'momentun' was unexpected"),
    ('{ type = "relu" }', '{ type = "residual", layers = [{ type = "sequential", layers = [{ type = "linear", out_feature = 3 }] }] }',
     "'out_feature' was unexpected"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), BAD, ids=[b[2][:30] for b in BAD])
def test_the_schema_names_what_an_editor_should_flag(schema, old, new, message) -> None:
    """Unknown names, parameters and keys, and out-of-range values, each with a message that names the fault."""
    doc = tomllib.loads(QUICK.replace(old, new, 1))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    assert errors and any(message in e for e in errors), errors
    assert not any("is not valid under any of the given schemas" in e for e in errors)


@pytest.fixture(scope="module")
def clients(tmp_path_factory, schema) -> tuple[Path, dict[str, str]]:
    """The schema on disk, and the installed editor clients that read it."""
    tools = {name: shutil.which(name) or str(Path(sys.executable).parent / name) for name in ("check-jsonschema", "taplo")}
    for name, path in tools.items():
        assert Path(path).exists(), f"{name} is part of the test extra: pip install -e '.[test]'"
    folder = tmp_path_factory.mktemp("schema")
    (folder / "spec.schema.json").write_text(json.dumps(schema))
    return folder, tools


def _client_errors(clients, name: str, text: str) -> tuple[int, str]:
    folder, tools = clients
    spec = folder / "spec.toml"
    spec.write_text(text)
    schema = folder / "spec.schema.json"
    if name == "taplo":
        argv = [tools["taplo"], "lint", "--no-auto-config", "--schema", schema.as_uri(), str(spec)]
    else:
        argv = [tools["check-jsonschema"], "--schemafile", str(schema), str(spec)]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=folder)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("client", ["check-jsonschema", "taplo"])
@pytest.mark.slow
def test_real_editor_clients_accept_the_shipped_and_nested_specs(clients, client) -> None:
    """check-jsonschema (2020-12) and taplo (Even Better TOML's engine, draft-07) accept every good spec."""
    for name in sorted(p.name for p in SPECS.glob("*.toml")):
        text = (SPECS / name).read_text().replace("#:schema ./spec.schema.json\n", "")
        code, output = _client_errors(clients, client, text)
        assert code == 0, (name, output)
    code, output = _client_errors(clients, client, NESTED)
    assert code == 0, output


@pytest.mark.parametrize("client", ["check-jsonschema", "taplo"])
@pytest.mark.parametrize(("old", "new", "message"), BAD, ids=[b[2][:30] for b in BAD])
def test_real_editor_clients_name_the_fault(clients, client, old, new, message) -> None:
    """Both clients refuse each bad spec, naming the fault (a tuple out of range included, for draft-07 taplo)."""
    code, output = _client_errors(clients, client, QUICK.replace(old, new, 1))
    assert code != 0 and message in output.replace('"', "'"), output  # taplo quotes strings with "


def test_schema_command_writes_the_file(tmp_path) -> None:
    """`schema -o FILE` writes the same JSON that `schema` prints."""
    code, printed, _ = cli("schema")
    target = tmp_path / "s.json"
    code2, out, _ = cli("schema", "-o", str(target))
    assert code == code2 == 0
    assert json.loads(target.read_text()) == json.loads(printed)
    assert out == f"wrote {target}; point a spec at it with the first line '#:schema PATH', PATH relative to the spec\n"


def test_the_component_reference_is_current(catalog) -> None:
    """docs/components.md is what `python -m registry reference` writes for the built-ins: it cannot drift."""
    from registry.cli.render import render_reference

    text = render_reference(catalog)
    assert (SPECS.parent / "docs" / "components.md").read_text() == text
    from registry.kinds import KINDS

    for c in catalog:  # every component, in its kind's section, with each of its parameters
        section = text.split(f"\n## {KINDS[c.kind].plural}\n", 1)[1].split("\n## ", 1)[0]
        entry = section.split(f"### `{c.name}`\n", 1)[1].split("\n### ", 1)[0]
        assert entry.startswith(f"\n{c.description}")
        assert all(f"| `{name}` |" in entry for name in c.schema.model.model_fields)
