"""predict on untrusted inputs: numbers only, finite only, a clear message naming the file, valid JSON out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from registry.cli import ExitCode, main

from .conftest import NESTED, QUICK

USING = "using checkpoint best: ckpt-e0001-end (epoch 1)\n"  # every command says which checkpoint it uses


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("predict")
    (d / "spec.toml").write_text(QUICK)
    assert cli("run", str(d / "spec.toml"), "--out", str(d / "run"))[0] == 0
    return d / "run"


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([["a"] * 8] * 8), "holds <U1 values; inputs are arrays of booleans, integers or real numbers"),
        (np.zeros((2, 8, 8), dtype=np.complex64), "holds complex64 values; inputs are arrays of booleans, integers or real numbers"),
        (np.full((2, 8, 8), np.nan, dtype=np.float32), "inputs hold NaN or infinite values"),
        (np.zeros((2, 9, 9), dtype=np.float32), "inputs have shape (2, 9, 9); expected (N, 8, 8)"),
    ],
    ids=["strings", "complex", "nan", "shape"],
)
def test_unusable_inputs_are_refused_naming_the_file(run, tmp_path, array, message) -> None:
    """Strings, complex numbers, NaN or the wrong shape: exit 2 and a message about the inputs, not a spec."""
    path = tmp_path / "x.npy"
    np.save(path, array)
    code, out, err = cli("predict", str(run), str(path))
    assert code == ExitCode.USAGE and out == ""
    assert err == f"{USING}error: {path}: {message}\n"


def test_unreadable_inputs_are_refused(run, tmp_path) -> None:
    """A missing file, a pickle, another suffix: each a clear refusal naming the file."""
    assert cli("predict", str(run), str(tmp_path / "none.npy"))[2] == f"{USING}error: {tmp_path / 'none.npy'}: no such file\n"
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = cli("predict", str(run), str(pickled))
    assert code == ExitCode.USAGE and err.startswith(f"{USING}error: {pickled}: cannot read inputs: ")
    code, _, err = cli("predict", str(run), str(tmp_path / "x.csv"))
    assert err == f"{USING}error: {tmp_path / 'x.csv'}: give the inputs as a .npy or .safetensors file\n"


def test_the_output_is_valid_json(run, tmp_path) -> None:
    """Every line parses with a strict JSON parser (no bare NaN), one per input."""
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).random((5, 8, 8), dtype=np.float32))
    code, out, _ = cli("predict", str(run), str(path))
    assert code == 0
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c}")) for line in out.splitlines()]
    assert len(rows) == 5 and all(set(r) == {"class", "label", "probability"} for r in rows)


def test_predict_through_a_nested_model(tmp_path) -> None:
    """A model of blocks and containers predicts a class per input, its output read through the nesting."""
    (tmp_path / "spec.toml").write_text(NESTED)
    assert cli("run", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "run"))[0] == 0
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "x.npy", (digits.images[:50] / 16).astype("float32"))
    code, out, _ = cli("predict", str(tmp_path / "run"), str(tmp_path / "x.npy"))
    preds = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(preds) == 50
    assert sum(p["class"] == t for p, t in zip(preds, digits.target[:50])) >= 35
