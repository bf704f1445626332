"""docs/seed-notebook.ipynb: the seed notebook redone with the Python API, executed so that it cannot rot."""

from __future__ import annotations

import time
from pathlib import Path

import nbclient
import nbformat
import pytest

from .conftest import ROOT

NOTEBOOK = ROOT / "docs" / "seed-notebook.ipynb"


def _streams(cell: nbformat.NotebookNode) -> str:
    return "".join(
        o["text"] for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o["name"] == "stdout"
    )


@pytest.mark.slow
def test_the_seed_notebook_executes_and_prints_what_it_shows(tmp_path: Path) -> None:
    """Every cell runs without an error (the notebook asserts its own accuracies), and the cells whose output
    does not depend on the data (activations, losses) print exactly what the committed notebook shows."""
    shown = nbformat.read(NOTEBOOK, as_version=4)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    seconds = time.perf_counter() - started
    print(f"seed notebook: executed in {seconds:.1f} s")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    committed = [c for c in shown.cells if c.cell_type == "code"]
    for ran, was in zip(code, committed):
        if "registry.component(name" in ran.source and "train" not in ran.source:
            assert _streams(ran) == _streams(was) and _streams(ran)
    assert sum("registry.component(name" in c.source for c in code) == 3
