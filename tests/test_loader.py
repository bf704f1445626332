"""Reading and validating spec files: syntax errors, unknown keys, wrong types, all located."""

from __future__ import annotations

import pytest

from registry.errors import SpecError
from registry.loader import MAX_SPEC_BYTES, load_spec
from registry.spec import Spec

from .conftest import QUICK


def test_valid_spec_becomes_typed_objects(write_spec) -> None:
    """A valid file loads into a Spec with defaults filled in and component parameters kept."""
    spec, text = load_spec(write_spec(QUICK))
    assert isinstance(spec, Spec) and text == QUICK
    assert spec.data.dataset == "digits" and spec.data.test_batch_size == 1000
    assert spec.model.layers[1].type == "linear" and spec.model.layers[1].params == {"out_features": 32}
    assert spec.optimizer.params == {"lr": 0.05, "momentum": 0.9}
    assert spec.train.epochs == 1 and spec.train.max_steps_per_epoch is None


def test_toml_syntax_error_has_line_and_column(write_spec) -> None:
    """A TOML syntax error names the file, the line and the column."""
    path = write_spec(QUICK.replace("seed = 0", "seed = = 0"))
    with pytest.raises(SpecError) as e:
        load_spec(path)
    (problem,) = e.value.problems
    assert problem.line == 1
    assert str(e.value).splitlines()[1] == f"  {path}:1: (top level): invalid TOML: Invalid value (column 8)"


def test_unknown_and_wrong_keys_are_reported_together(write_spec) -> None:
    """An unknown top-level key, a wrong type and a bad value: three problems, each with its path and line."""
    text = QUICK.replace("seed = 0", "seed = 0\nsede = 1").replace("epochs = 1", 'epochs = "ten"')
    text = text.replace("batch_size = 32", "batch_size = 0")
    with pytest.raises(SpecError) as e:
        load_spec(write_spec(text))
    got = [(p.loc, p.line, p.message) for p in e.value.problems]
    assert got == [
        (("sede",), 2, "unknown key"),
        (("data", "batch_size"), 5, "Input should be greater than or equal to 1 (got 0)"),
        (("train", "epochs"), 22, "Input should be a valid integer (got 'ten')"),
    ]


def test_missing_section_is_named(write_spec) -> None:
    """A spec without [loss] says that loss is required."""
    text = QUICK.replace('[loss]\ntype = "nll"\n', "")
    with pytest.raises(SpecError, match=r"loss: required key is missing"):
        load_spec(write_spec(text))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe bad", "is not UTF-8 text"),
        (b"x" * (MAX_SPEC_BYTES + 1), f"a spec is at most {MAX_SPEC_BYTES:,}"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, message) -> None:
    """Binary and oversized files are refused before parsing."""
    p = tmp_path / "bad.toml"
    p.write_bytes(content)
    with pytest.raises(SpecError, match=message):
        load_spec(p)


def test_missing_file(tmp_path) -> None:
    """A path that does not exist is a SpecError naming it."""
    with pytest.raises(SpecError, match=r"nope.toml: \(top level\): no such file"):
        load_spec(tmp_path / "nope.toml")


def test_deeply_nested_toml_is_refused_cleanly(write_spec) -> None:
    """Arrays nested thousands deep end in a SpecError, not a RecursionError."""
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SpecError):
        load_spec(write_spec(deep))
