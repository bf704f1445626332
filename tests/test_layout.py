"""The package's layout: stages as subpackages, imports only downward (import-linter), the public face whole."""

from __future__ import annotations

import importlib
import inspect
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import registry

from .conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE = ROOT / "registry"
TOP_LEVEL = {"__init__", "__main__", "api", "errors", "hookspecs", "kinds", "testing", "version"}


def test_the_import_contracts_hold() -> None:
    """lint-imports (import-linter, configured in pyproject.toml) keeps every contract: stages import only the stages
    below them, no circles inside a stage, no torch in the spec format, the catalog or the file checks."""
    exe = shutil.which("lint-imports")
    assert exe is not None, "import-linter is part of the test extra"
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken." in done.stdout


MAX_LINES = 60
"""No function of registry/ is longer (its def to its last line, docstring included)."""


def test_every_function_is_short_and_simple() -> None:
    """At most MAX_LINES lines, and a cyclomatic complexity of at most 15 (ruff's C901, mccabe's measure)."""
    import ast

    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
    exe = shutil.which("ruff")
    assert exe is not None, "ruff is part of the test extra"
    done = subprocess.run([exe, "check", "--no-cache", "--select", "C901", "registry"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_few_modules_at_the_top_and_every_stage_is_packaged() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL and len(top) <= 12
    stages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert stages == [
        "building", "cli", "components", "files", "inference", "resolution", "rundirs", "spec", "sweeps", "training",
    ]  # fmt: skip
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert sorted(p for p in listed if p.startswith("registry.")) == [f"registry.{s}" for s in stages]
    for stage in stages:  # each says what it holds, module by module
        doc = importlib.import_module(f"registry.{stage}").__doc__ or ""
        modules = sorted(p.stem for p in (PACKAGE / stage).glob("*.py") if p.stem != "__init__")
        assert [m for m in modules if f"``{m}``" not in doc] == [], stage


def test_no_stage_is_named_after_a_public_function() -> None:
    functions = {n for n in registry.__all__ if callable(getattr(registry, n)) and not inspect.isclass(getattr(registry, n))}
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert functions & stages == set()


@pytest.mark.parametrize("name", sorted(registry.__all__))
def test_every_public_name_is_the_documented_object(name: str) -> None:
    """No submodule hides a public name (``registry.catalog`` was the module, not the function, once)."""
    obj = getattr(registry, name)
    assert not isinstance(obj, types.ModuleType), f"registry.{name} is a module"
    if name == "__version__":
        assert obj == registry.version.__version__
        return
    if inspect.isfunction(obj) or inspect.isclass(obj):  # the object its own module defines under that name
        assert obj.__name__ == name and getattr(importlib.import_module(obj.__module__), name) is obj


def test_the_public_functions_work_as_documented(tmp_path: Path) -> None:
    assert isinstance(registry.catalog(), registry.Catalog)  # a TypeError while a submodule hid it
    assert callable(registry.load) and callable(registry.train) and callable(registry.build)
