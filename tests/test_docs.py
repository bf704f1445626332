"""The README and the docs run as written: every Python block is executed, every `python -m registry ...`
command in a shell block or a `$ ` console line is run (in order, in a fresh folder holding the shipped
specs, training commands with a budget of two steps), and a command that cannot be run here is listed in
NOT_RUN with the reason, so that no example can rot unseen."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from registry.cli import main

from .conftest import ROOT

pytestmark = [pytest.mark.usefixtures("builtins_only"), pytest.mark.slow]

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^[ \t]*```([a-z]*)\n(.*?)^[ \t]*```", re.S | re.M)
NOT_RUN = {
    "python -m registry sweep spec.toml --storage postgresql://user:password@dbhost/sweeps --study lr-width":
        "a database on another machine (test_sweep runs the same against a real PostgreSQL server it starts)",
    "python -m registry run my-spec.toml": "the plugin guide's own spec, run by test_example_plugin",
    "python -m registry plugins": "the plugin guide's, with its plugin installed: test_example_plugin",
    "python -m registry show squareplus": "the plugin guide's plugin: test_example_plugin shows it installed",
    "python -m registry schema -o spec.schema.json": "the plugin guide's, with its plugin installed",
}  # fmt: skip
FAILS = {"python -m registry validate specs/diabetes_mse.toml --set loss.type=nll"}
"""Commands the README shows failing, to show their message."""
BUDGET = ["--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=2"]
OLD = """\
# a spec written before format 2
format = 1
seed = 0
[data]
dataset = "digits"
[model]
layers = [{ type = "flatten" }, { type = "linear", out_features = 10 }]
[loss]
type = "cross_entropy"
[optimizer]
type = "sgd"
lr = 0.1
[train]
epochs = 1
best_metric = "accuracy"
"""


def blocks(path: Path) -> list[tuple[str, str]]:
    """Each fenced code block of *path*: its language and its text."""
    return [(info, body) for info, body in FENCE.findall(path.read_text())]


def commands(path: Path) -> list[str]:
    """Every `python -m registry` command of *path*'s shell blocks and console lines, in order."""
    found = []
    for info, body in blocks(path):
        if info not in ("sh", "bash", "console", ""):
            continue
        for line in body.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("pip install") and "&& python -m registry" in line:
                line = line[line.index("python -m registry") :]
            if line.startswith("python -m registry"):
                found.append(re.sub(r"\s+#.*$", "", line).strip())
    return found


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):  # argparse's own output (--help) and the notebook-style prints
        code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _placeholders(folder: Path) -> dict[str, str]:
    """What the README's placeholders stand for, once the commands before them made it."""
    runs = sorted(p.name for p in (folder / "runs").iterdir()) if (folder / "runs").is_dir() else []
    quick = [r for r in runs if r.startswith("quickstart-")]
    table = [r for r in runs if r.startswith("table_csv-")]
    images = [r for r in runs if r.startswith("image_folder-")]
    found = {}
    if len(quick) >= 2:
        found |= {"runs/quickstart-A": f"runs/{quick[0]}", "runs/quickstart-B": f"runs/{quick[1]}"}
    if table:
        found["runs/table_csv-..."] = f"runs/{table[0]}"
    if images:
        found["runs/image_folder-..."] = f"runs/{images[0]}"
    return found


def _prepare(folder: Path) -> None:
    """The shipped specs, the example data the README's data commands read, and a spec in format 1."""
    shutil.copytree(ROOT / "specs", folder / "specs")
    (folder / "old.toml").write_text(OLD)
    for example in ("table_csv", "image_folder"):
        work = folder / f"_{example}"
        work.mkdir()
        here = os.getcwd()
        os.chdir(work)
        try:
            assert cli(["init", "--example", example])[0] == 0
        finally:
            os.chdir(here)
        shutil.copytree(work / "data", folder / "data", dirs_exist_ok=True)
        spec = work / f"{example}.toml" if (work / f"{example}.toml").exists() else work / "spec.toml"
        code, _, err = cli(["run", str(spec), "--out", str(folder / "runs" / f"{example}-x"), "--quiet", *BUDGET])
        assert code == 0, err


def test_every_command_of_the_readme_and_the_docs_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _prepare(tmp_path)
    ran, skipped = [], []
    for doc in DOCS:
        for command in commands(doc):
            if command in NOT_RUN:
                skipped.append(command)
                continue
            for placeholder, value in _placeholders(tmp_path).items():
                command = command.replace(placeholder, value)
            assert "..." not in command and "<" not in command, f"{doc.name}: a placeholder without a value: {command}"
            argv = shlex.split(command)[3:]
            if argv[:1] == ["run"]:
                argv += BUDGET
            code, out, err = cli(argv)
            assert "Traceback" not in err, f"{doc.name}: {command}\n{err}"
            if command in FAILS:
                assert code == 2 and err.startswith("error: "), f"{doc.name}: {command} was shown failing\n{err}"
            else:
                assert code == 0, f"{doc.name}: {command}\n{err}"
            ran.append(command)
    assert len(ran) >= 14 and set(skipped) <= set(NOT_RUN)


def test_every_python_block_runs_and_every_fragment_compiles(tmp_path, monkeypatch) -> None:
    """The Python blocks of the README and the docs are executed as written (in a folder with the shipped specs);
    the plugin guide's blocks are parts of one plugin module: together they compile, and its first two are that
    module."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    guide = ROOT / "docs" / "writing-plugins.md"
    ran = []
    for doc in DOCS:
        for info, body in blocks(doc):
            if info != "python":
                continue
            if doc == guide:
                compile(body, doc.name, "exec")
                continue
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(body, doc.name, "exec"), {"__name__": "docs"})  # noqa: S102 - the docs' own code
            ran.append(doc.name)
    assert "python-api.md" in ran
    guide_blocks = [body for info, body in blocks(guide) if info == "python"]
    namespace: dict[str, object] = {}
    exec(compile(guide_blocks[0] + "\n" + guide_blocks[1], "writing-plugins.md", "exec"), namespace)  # noqa: S102
    assert namespace["registry_activations"]() == {"squareplus": namespace["squareplus"]}  # type: ignore[operator]
