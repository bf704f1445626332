"""Property: any mutation of a valid spec ends in exit 0 or a clean exit 2, never an uncaught exception."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import registry.training.launch
from registry.cli import main
from registry.components.manager import load_catalog

from .conftest import NESTED, SPECS

BASE_TEXT = (SPECS / "quickstart.toml").read_text()
BASES = [tomllib.loads(BASE_TEXT), tomllib.loads(NESTED)]  # a flat model, and one with blocks and containers
CATALOG = load_catalog(load_entrypoints=False)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) if not math.isfinite(v) else repr(v)
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"


def dump(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


def get_parent(doc: Any, path: tuple) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.sampled_from(["relu", "linear", "ReLU", "nll", "sgd", "digits", "mnist", "adam", "torch.nn.Linear", "",
                     "residual", "parallel", "sequential", "res", "conv_bn", "resnet18", "mlp"]),
)
values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def mutated_docs(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = paths(doc)
        if not all_paths:
            break
        path = draw(st.sampled_from(all_paths))
        parent = get_parent(doc, path)
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
        else:
            parent.append(draw(values))
    return dump(doc)


@st.composite
def broken_texts(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["truncate", "bytes", "splice"]))
    raw = BASE_TEXT.encode()
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def check(path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["validate", str(path)], out=out, err=err)  # an uncaught exception fails the test here
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("error: ") and "Traceback" not in err.getvalue()


@pytest.fixture(autouse=True)
def shared_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.training.launch, "load_plugins_catalog", lambda err, keep_clashes=False: CATALOG)


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=mutated_docs())
def test_mutated_specs_never_crash(tmp_path: Path, text: str) -> None:
    """Deleted keys, swapped types, random names and values: exit 0 or a clean exit 2."""
    p = tmp_path / "m.toml"
    p.write_text(text)
    check(p)


@FUZZ
@given(data=broken_texts())
def test_truncated_and_random_files_never_crash(tmp_path: Path, data: bytes) -> None:
    """Truncated files, random bytes and spliced garbage: exit 0 or a clean exit 2."""
    p = tmp_path / "b.toml"
    p.write_bytes(data)
    check(p)
