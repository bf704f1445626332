"""The line finder: every key path of a corpus of legal TOML, at the line its file says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from registry.errors import SpecError
from registry.resolution.resolver import load_and_resolve
from registry.spec.positions import key_lines, locate_line
from registry.spec.references import parse_path

from .conftest import QUICK

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = sorted((Path(__file__).parent / "toml_corpus").glob("*.toml"))
MARK = "#@ "


def _expected(text: str) -> dict[tuple[str | int, ...], int]:
    """The key paths each line declares in its ``#@`` comment: the lines where they are written."""
    out = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if MARK in line:
            for path in line.split(MARK, 1)[1].rstrip(" \\").split(", "):
                loc = parse_path(path)
                assert loc is not None, path
                assert loc not in out, f"{path} is marked twice"
                out[loc] = n
    return out


def _paths(value: Any, loc: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    out = {loc} if loc else set()
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _paths(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out |= _paths(v, (*loc, i))
    return out


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) == 5
    assert sum(len(_expected(p.read_text(encoding="utf-8"))) for p in CORPUS) == 104


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
@pytest.mark.parametrize("variant", ["lf", "crlf"])
def test_every_key_is_at_its_line(path: Path, variant: str) -> None:
    """Each key path the file marks is found at its line, and the finder knows every path the document has.

    A table's line is its own header; one without a header is at the first key or header that passes through it.
    """
    text = path.read_text(encoding="utf-8")
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    doc = tomllib.loads(text)
    lines = key_lines(text)
    expected = _expected(text)
    assert {loc: lines.get(loc) for loc in expected} == expected
    assert set(lines) == _paths(doc) == set(expected)


def test_the_deepest_written_part_locates_a_missing_key() -> None:
    text = (Path(__file__).parent / "toml_corpus" / "keys.toml").read_text(encoding="utf-8")
    assert locate_line(text, ("model", "blocks", "my.block", "layers", 3)) == 12
    assert locate_line(text, ("optimizer", "momentum")) == 1
    assert locate_line(text, ("loss", "type")) is None


def test_a_located_error_after_a_multiline_string_and_in_a_dotted_key(tmp_path: Path, catalog) -> None:
    """The two cases the old scanner got wrong: a multi-line string holding [loss], a top-level dotted key."""
    spec = tmp_path / "s.toml"
    optimizer = '[optimizer]\ntype = "sgd"\nlr = 0.05\nmomentum = 0.9\n'
    assert optimizer in QUICK
    text = 'note = """\n[loss]\n"""\noptimizer.type = "sgd"\noptimizer.lr = -0.05\n' + QUICK.replace(optimizer, "")
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    assert [p.render(str(spec)) for p in e.value.problems] == [
        f"{spec}:1: note: unknown key 'note'. The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train",
        f"{spec}:5: optimizer.lr: must be > 0.0 (got -0.05)",
    ]


def test_a_bom_and_crlf_are_accepted_and_lines_are_unchanged(tmp_path: Path, catalog) -> None:
    spec = tmp_path / "s.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + QUICK.replace("lr = 0.05", "lr = -1.0").replace("\n", "\r\n").encode())
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    line = QUICK.splitlines().index("lr = 0.05") + 1
    assert [p.render(str(spec)) for p in e.value.problems] == [f"{spec}:{line}: optimizer.lr: must be > 0.0 (got -1.0)"]
