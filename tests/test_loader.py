"""Reading and validating spec files: syntax errors, unknown keys, wrong types, all located."""

from __future__ import annotations

import pytest

from registry.components.manager import load_catalog
from registry.errors import SpecError
from registry.resolution.resolver import load_and_resolve
from registry.spec.models import Spec
from registry.spec.reading import MAX_SPEC_BYTES

from .conftest import QUICK


def load_spec(path):
    """The spec at *path*, read, composed and validated (as every command reads it), and the file's text."""
    rs = load_and_resolve(path, load_catalog(load_entrypoints=False))
    return rs.spec, rs.provenance.texts[str(path)]


def test_valid_spec_becomes_typed_objects(write_spec) -> None:
    """A valid file loads into a Spec with defaults filled in and component parameters kept."""
    spec, text = load_spec(write_spec(QUICK))
    assert isinstance(spec, Spec) and text == QUICK
    assert spec.data.dataset == "digits" and spec.data.test_batch_size == 1000
    assert spec.model.layers[1] == {"type": "linear", "out_features": 32}  # resolved later, against linear's schema
    assert spec.optimizer == {"type": "sgd", "lr": 0.05, "momentum": 0.9}
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
        (("sede",), 2, "unknown key 'sede'; did you mean 'seed'? The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train"),
        (("data", "batch_size"), 5, "must be >= 1 (got 0)"),
        (("train", "epochs"), 22, "must be an integer (got 'ten')"),
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
        (b"x" * (MAX_SPEC_BYTES + 1), f"the file is {MAX_SPEC_BYTES + 1:,} bytes; at most {MAX_SPEC_BYTES:,} are read"),
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
    """Arrays nested thousands deep, or just past the bound, end in a SpecError, not a RecursionError."""
    for n in (5000, 65):
        deep = "x = " + "[" * n + "]" * n + "\n"
        with pytest.raises(SpecError, match="nested more than 64 levels deep"):
            load_spec(write_spec(deep))


def test_a_byte_order_mark_is_accepted(write_spec) -> None:
    """A UTF-8 BOM, as some editors write it, is not part of the spec; lines are unchanged."""
    path = write_spec("")
    path.write_bytes(b"\xef\xbb\xbf" + QUICK.replace("epochs = 1", "epochs = 0").encode())
    with pytest.raises(SpecError) as e:
        load_spec(path)
    (p,) = e.value.problems
    assert (p.loc, p.line) == (("train", "epochs"), 21)


def test_a_duplicate_key_is_named(write_spec) -> None:
    """A key set twice: the problem names the key and the line of the second one."""
    with pytest.raises(SpecError) as e:
        load_spec(write_spec(QUICK.replace("batch_size = 32", "batch_size = 32\nbatch_size = 64")))
    (p,) = e.value.problems
    assert (p.line, p.message) == (5, "duplicate key 'batch_size': it is already set above")
