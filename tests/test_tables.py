"""The user's own tables (CSV, Parquet) and arrays (.npz, .safetensors): encoding from the training rows only,
runs end to end, predict on rows, and every fault with its message and exit code, nothing written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from registry_specs.example_data import write_arrays, write_table

from registry.cli import ExitCode, main

from .conftest import SPECS, shipped


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_table(tmp_path / "data")  # the shipped spec reads data/table.csv from the working directory


def build_table(catalog, **params):
    return catalog.get("dataset", "table").factory(**{"test_path": None, "features": None, "categorical": (),
                                                      "test_fraction": 0.2, "split_seed": 0, "target_kind": "auto",
                                                      "standardize": True, **params})  # fmt: skip


def test_the_shipped_table_spec_trains_and_predicts(table, tmp_path) -> None:
    """specs/table_csv.toml: text labels, a one-hot city; > 80% test accuracy; predict writes a CSV per row."""
    code, out, err = cli("run", str(shipped("table_csv.toml")), "--out", "run")
    assert code == 0, err
    row = json.loads(Path("run/metrics.jsonl").read_text().splitlines()[-1])
    assert row["test_total"] == 80 and row["test_accuracy"] > 0.8
    fitted = json.loads(Path("run/data.json").read_text())
    assert fitted["categories"] == {"city": ["lyon", "nice", "paris"]} and fitted["features"] == ["age", "income", "city", "score"]
    rows = tmp_path / "new.csv"
    rows.write_text(table.read_text().split("\n", 1)[0] + "\n30,90.0,paris,0.1,,\n30,10.0,nice,0.1,,\n")
    code, out, _ = cli("predict", "run", str(rows))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "row,class,label,probability"
    assert lines[1].split(",")[:3] == ["0", "1", "yes"] and lines[2].split(",")[:3] == ["1", "0", "no"]


def test_encoding_statistics_come_from_the_training_rows_only(catalog, tmp_path) -> None:
    """Test rows with extreme values leave the means and the categories untouched: no leak."""
    import pandas as pd

    train = write_table(tmp_path, rows=200, name="train.csv")
    frame = pd.read_csv(train)
    test = frame.head(20).copy()
    test["income"] = 1e6
    test["city"] = "tokyo"
    test.to_csv(tmp_path / "test.csv", index=False)
    ds = build_table(catalog, path=str(train), test_path=str(tmp_path / "test.csv"), targets="approved",
                     categorical=("city",), unknown="ignore")  # fmt: skip
    splits = ds.load()
    assert splits.fitted["numeric"]["income"][0] == pytest.approx(frame["income"].mean())
    assert splits.fitted["categories"]["city"] == ["lyon", "nice", "paris"]
    city = slice(2, 5)  # age, income, then city's three columns
    assert torch.equal(splits.test.inputs[:, city], torch.zeros(20, 3))  # an unseen city: no column lights up
    assert splits.train.inputs[:, 1].mean().abs() < 1e-5  # standardised by the training rows' own statistics


def test_a_split_table_fits_on_its_training_part(catalog, tmp_path) -> None:
    """Without a test file, the seeded split's training rows alone give the statistics (their mean is exactly 0)."""
    ds = build_table(catalog, path=str(write_table(tmp_path)), targets="amount", features=["age", "income", "score"])
    splits = ds.load()
    assert ds.target_kind == "values" and ds.targets[0] == (1,)
    assert torch.allclose(splits.train.inputs.mean(0), torch.zeros(3), atol=1e-5)
    assert not torch.allclose(splits.test.inputs.mean(0), torch.zeros(3), atol=1e-3)


def test_statistics_over_many_chunks_are_exact_and_stable(catalog, tmp_path) -> None:
    """A table of several chunks, one column offset by 10^9: the training rows' mean and standard deviation
    equal numpy's over those rows (a separate test file), and a split's training inputs come out with mean 0
    and deviation 1 (they would not if the held-out rows, drawn otherwise, had shaped the statistics)."""
    import pandas as pd
    from registry_torch.tables import CHUNK

    rng = np.random.default_rng(3)
    rows = 3 * CHUNK + 123
    frame = pd.DataFrame({"big": 1e9 + rng.normal(0, 2, rows), "small": rng.normal(5, 0.1, rows), "y": rng.normal(size=rows)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    shifted = frame.head(2000).assign(big=lambda f: f["big"] + 50, small=lambda f: f["small"] - 3)
    shifted.to_csv(tmp_path / "test.csv", index=False)
    fitted = build_table(catalog, path=str(tmp_path / "train.csv"), test_path=str(tmp_path / "test.csv"), targets="y").load().fitted
    for col in ("big", "small"):
        assert fitted["numeric"][col] == pytest.approx([frame[col].mean(), frame[col].std(ddof=0)], rel=1e-12)
    both = pd.concat([frame, shifted]).sample(frac=1.0, random_state=0)  # test-like rows scattered through it
    both.to_csv(tmp_path / "both.csv", index=False)
    train = build_table(catalog, path=str(tmp_path / "both.csv"), targets="y").load().train.inputs.double()
    assert torch.allclose(train.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(train.std(0, correction=0), torch.ones(2, dtype=torch.float64), atol=1e-5)


def test_parquet_and_regression(tmp_path) -> None:
    """A Parquet table with a real-valued target trains as regression (MAE, R^2)."""
    path = write_table(tmp_path / "data", name="table.parquet")
    spec = tmp_path / "spec.toml"
    spec.write_text((SPECS / "table_csv.toml").read_text().replace('"data/table.csv"', f'"{path}"')
                    .replace('targets = "approved"', 'targets = "amount"').replace('type = "cross_entropy"', 'type = "mse"')
                    .replace("out_features = 2 }", "out_features = 1 }"))  # fmt: skip
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"), "--set", "train.epochs=60", "--set", "optimizer.lr=0.05")
    assert code == 0, err
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(row["metrics"]) == {"mae", "r2"} and row["metrics"]["r2"] > 0.8


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_arrays_train(tmp_path, suffix) -> None:
    """inputs and targets arrays: integer targets are classes; the run learns them."""
    path = write_arrays(tmp_path / f"arrays{suffix}")
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
[data]
dataset = "arrays"
path = "{path}"
batch_size = 32
[model]
layers = [{{ type = "linear", out_features = 16 }}, {{ type = "relu" }}, {{ type = "linear", out_features = 3 }}]
[loss]
type = "cross_entropy"
[optimizer]
type = "adam"
lr = 0.02
[train]
epochs = 20
device = "cpu"
""")
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["test_accuracy"] > 0.85


FAULTS = [
    ('path = "data/table.csv"', 'path = "data/nope.csv"', ExitCode.DATA,
     "spec.toml:9: data.path: no such file: {cwd}/data/nope.csv ('data/nope.csv', relative to the folder of "
     "{cwd}/spec.toml, which writes it; the working directory is {cwd})\n"),
    ('targets = "approved"', 'targets = "aproved"', ExitCode.USAGE,
     "data.targets: dataset 'table': the table has no column 'aproved'; did you mean 'approved'? Its columns: age, "
     "income, city, score, approved, amount"),
    ('categorical = ["city"]', "categorical = []", ExitCode.USAGE,
     "data.categorical: dataset 'table': column 'city' is not numeric (row 1 is text): list it in categorical to "
     "one-hot encode it, or leave it out of features"),
    ('features = ["age", "income", "city", "score"]', 'features = ["age", "incme", "city"]', ExitCode.USAGE,
     "data.features: dataset 'table': the table has no column 'incme'; did you mean 'income'?"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "code", "message"), FAULTS, ids=["missing_file", "missing_column", "text_unencoded", "feature_typo"])
def test_a_table_fault_is_named_and_nothing_is_written(table, tmp_path, old, new, code, message) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text((SPECS / "table_csv.toml").read_text().replace(old, new))
    got, out, err = cli("run", str(spec))
    assert got == code and out == "" and message.format(cwd=tmp_path) in err, err
    assert not Path("runs").exists()


def test_empty_values_in_a_feature_are_refused(tmp_path) -> None:
    """A numeric feature with empty cells: exit 4 naming the column and the count, before anything is written."""
    import pandas as pd

    path = write_table(tmp_path / "data")
    frame = pd.read_csv(path)
    frame.loc[[3, 7], "income"] = np.nan
    frame.to_csv(path, index=False)
    code, _, err = cli("validate", str(shipped("table_csv.toml")))
    assert code == ExitCode.DATA and err == (
        f"error: {path}: empty cells in 1 column: income (2: rows 4, 8); set data.missing = 'drop' (leave "
        "those rows out) or 'fill' (the training rows' mean or most frequent value), or fill them in the file\n")
