"""Every TOML block of the README and the docs is valid: it parses, and each spec or fragment of one resolves
(every name found, every parameter valid), merged onto a small spec where it is a part; a block that quotes a
shipped file (its first line ``# specs/NAME``) is that file's text. A block that is not a spec says why in
NOT_SPECS. The README's list of built-ins names every built-in component."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import sys
from typing import Any

import pytest
import tomli_w
from registry_specs.example_data import write_example_data

from registry.cli import main
from registry.components.manager import load_catalog
from registry.kinds import KINDS

from .conftest import QUICK, ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.usefixtures("builtins_only")

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```toml\n(.*?)^[ \t]*```", re.S | re.M)
NOT_SPECS = {
    '{ type = "squeeze_excite", reduction = 8,': "one entry of layers, of the example plugin (test_example_plugin "
    "builds it)",
    "# pyproject.toml": "a plugin's pyproject.toml, not a spec (test_example_plugin installs one like it)",
    "[requires]\nplugins = [\"my-registry-plugin>=0.1\"]": "the plugin guide's spec, for the plugin it writes",
}  # fmt: skip
"""The start of each block that is not a spec, and why."""


def toml_blocks() -> list[tuple[str, str]]:
    """(where, text) of every TOML block, its indentation (inside a list item) removed."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for m in FENCE.finditer(text):
            indent, body = m.group(1), m.group(2)
            line = text[: m.start()].count("\n") + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", "".join(ln.removeprefix(indent) for ln in body.splitlines(True))))
    return found


def merged(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """*part* over *base* as a child spec over its base: tables key by key, except that a component table naming
    another component (another type or dataset), or a [model] with its own layers or type, replaces the base's."""
    out = dict(base)
    for key, value in part.items():
        old = out.get(key)
        names = ("type", "dataset", "layers")
        other = isinstance(value, dict) and any(n in value and (not isinstance(old, dict) or old.get(n) != value[n])
                                                for n in names)  # fmt: skip
        out[key] = merged(old, value) if isinstance(old, dict) and isinstance(value, dict) and not other else value
    return out


SCORES = QUICK.replace('  { type = "log_softmax", dim = 1 },\n', "").replace('"nll"', '"cross_entropy"')
"""The small spec a fragment is merged onto: the quickstart's, its model giving raw scores to cross_entropy."""
BASES = {"table": "table_csv.toml", "image_folder": "image_folder.toml"}
"""The shipped spec a [data] fragment of these datasets is merged onto: their models fit their data."""


def base_for(doc: dict[str, Any]) -> dict[str, Any]:
    shipped = BASES.get(doc.get("data", {}).get("dataset"))
    if shipped is None:
        return tomllib.loads(SCORES)
    return {k: v for k, v in tomllib.loads((ROOT / "specs" / shipped).read_text()).items() if k != "base"}


@pytest.mark.parametrize(("where", "text"), toml_blocks(), ids=[w for w, _ in toml_blocks()])
def test_toml_block(where, text, tmp_path, monkeypatch) -> None:
    reason = next((why for start, why in NOT_SPECS.items() if text.startswith(start)), None)
    body = f"x = {text}" if text.startswith("{") else text
    doc = tomllib.loads(body)  # every block parses
    if reason is not None:
        return
    first = text.splitlines()[0]
    if first.startswith("# specs/"):
        shipped = ROOT / first.split()[1]
        assert text.split("\n", 1)[1] in shipped.read_text(), f"{where}: not what {shipped.name} holds"
        return
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    spec = tmp_path / "specs" / "doc.toml"  # beside the shipped specs, for a block that builds on them
    spec.write_text(text if "base" in doc else tomli_w.dumps(merged(base_for(doc), doc)))
    write_example_data(tmp_path / "specs")  # the files a data block reads: data/table.csv, data/images/...
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(spec)], out=io.StringIO(), err=err)
    assert code == 0, f"{where}: python -m registry validate refuses it:\n{err.getvalue()}"


def test_every_block_that_is_not_a_spec_is_still_there() -> None:
    starts = [t for _, t in toml_blocks()]
    for start in NOT_SPECS:
        assert any(t.startswith(start) for t in starts), start


def test_the_readme_names_every_builtin() -> None:
    """Each line of README's "Built-ins" list (``- **layers**: ...``) names every built-in of its kind, itself or
    on the page it links to."""
    text = (ROOT / "README.md").read_text()
    catalog = load_catalog(load_entrypoints=False)
    for kind, info in KINDS.items():
        line = re.search(rf"^- \*\*{info.plural}\*\*(.*)$", text, re.M)
        assert line, f"README: no line for the {info.plural}"
        words = set(re.findall(r"[a-z][a-z0-9_]*", line.group(1)))
        for page in re.findall(r"\]\((docs/[^)]+\.md)\)", line.group(1)):  # a page the line points to names them
            words |= set(re.findall(r"[a-z][a-z0-9_]*", (ROOT / page).read_text()))
        missing = sorted(c.name for c in catalog.list(kind) if c.name not in words)
        assert not missing, f"README's {info.plural} line does not name {missing}"


def test_the_command_line_page_gives_every_exit_code() -> None:
    """docs/cli.md's "Exit codes:" paragraph says each of ExitCode's values, as `N`, and no other."""
    from registry.cli import ExitCode

    text = (ROOT / "docs" / "cli.md").read_text()
    paragraph = text[text.index("Exit codes:") :].split("\n\n", 1)[0]
    assert sorted(int(n) for n in re.findall(r"`(\d+)`", paragraph)) == sorted(int(c) for c in ExitCode)


def test_every_link_between_the_docs_leads_to_a_file() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)}: a link to {target}, which is not there"
