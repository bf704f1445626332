"""A table's empty cells and unseen categories: every one named (file, columns, counts, rows) with exit 4,
or dropped, or filled with the training rows' statistics that predict reuses; unseen categories refused or,
with unknown = "ignore", encoded as none with a warning; boolean features as numbers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from registry.cli import ExitCode, main

pytestmark = pytest.mark.usefixtures("builtins_only")

ROWS = 60


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def table(tmp_path: Path, holes: dict[int, dict[str, str]] | None = None, name: str = "t.csv",
          cities: tuple[str, ...] = ("paris", "oslo", "lima")) -> Path:  # fmt: skip
    """A table of ROWS rows: income (numbers), member (booleans), city (categories), label (yes/no); *holes*
    blanks (or sets) cells by row index (0-based) and column."""
    lines = ["income,member,city,label"]
    for i in range(ROWS):
        row = {"income": f"{20 + i % 9}.5", "member": "True" if i % 3 else "False", "city": cities[i % len(cities)],
               "label": "yes" if i % 2 else "no"}  # fmt: skip
        row.update((holes or {}).get(i, {}))
        lines.append(",".join(row[c] for c in ("income", "member", "city", "label")))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def spec(tmp_path: Path, path: Path, extra: str = "") -> Path:
    text = (f'seed = 0\n[data]\ndataset = "table"\npath = "{path}"\ntargets = "label"\ncategorical = ["city"]\n'
            f'{extra}batch_size = 16\n[model]\nlayers = [{{ type = "linear", out_features = 2 }}]\n[loss]\n'
            'type = "cross_entropy"\n[optimizer]\ntype = "sgd"\nlr = 0.1\n[train]\nepochs = 1\ndevice = "cpu"\n')  # fmt: skip
    p = tmp_path / "spec.toml"
    p.write_text(text)
    return p


HOLES = {2: {"income": ""}, 5: {"income": "", "city": ""}, 9: {"member": ""}, 11: {"label": ""}, 20: {"income": ""},
         33: {"income": ""}}  # fmt: skip


def test_every_empty_cell_in_every_column_kind_is_one_data_error_naming_the_file(tmp_path) -> None:
    path = table(tmp_path, HOLES)
    for command in ("validate", "run"):
        code, out, err = cli(command, str(spec(tmp_path, path)), "--out", str(tmp_path / "r")) if command == "run" \
            else cli(command, str(spec(tmp_path, path)))  # fmt: skip
        assert code == ExitCode.DATA, err
        assert err == (f"error: {path}: empty cells in 4 columns: income (4: rows 3, 6, 21 ...), member (1: row 10), "
                       "city (1: row 6), label (1: row 12); set data.missing = 'drop' (leave those rows out) or "
                       "'fill' (the training rows' mean or most frequent value), or fill them in the file\n")  # fmt: skip
    assert not (tmp_path / "r").exists()


def test_drop_leaves_out_the_rows_with_gaps(tmp_path) -> None:
    path = table(tmp_path, HOLES)
    code, out, err = cli("run", str(spec(tmp_path, path, 'missing = "drop"\n')), "--out", str(tmp_path / "r"), "--quiet")
    assert code == ExitCode.OK, err
    row = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert row["test_total"] == 11  # 54 rows without a gap, a fifth held out (rounded up by the split)


def test_fill_uses_the_training_rows_statistics_and_predict_fills_alike(tmp_path) -> None:
    holes = {k: v for k, v in HOLES.items() if "label" not in v}
    path = table(tmp_path, holes)
    code, out, err = cli("run", str(spec(tmp_path, path, 'missing = "fill"\ntest_fraction = 0.25\n')), "--out",
                         str(tmp_path / "r"), "--quiet")  # fmt: skip
    assert code == ExitCode.OK, err
    fitted = json.loads((tmp_path / "r" / "data.json").read_text())
    assert fitted["missing"] == "fill" and fitted["unknown"] == "error"
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(path)
    labels = frame["label"].map({"no": 0, "yes": 1}).to_numpy()
    train, _ = train_test_split(range(ROWS), test_size=0.25, random_state=0, stratify=labels)
    rows = frame.iloc[sorted(train)]
    assert fitted["fill"]["income"] == pytest.approx(rows["income"].mean())  # the training rows' mean alone
    assert fitted["fill"]["member"] == pytest.approx(rows["member"].astype(float).mean())
    assert fitted["fill"]["city"] == rows["city"].value_counts().idxmax()
    gappy = tmp_path / "new.csv"
    gappy.write_text("income,member,city\n,True,oslo\n25.5,,\n")
    by_hand = tmp_path / "filled.csv"
    by_hand.write_text(f"income,member,city\n{fitted['fill']['income']!r},1,oslo\n25.5,"  # True is 1
                       f"{fitted['fill']['member']!r},{fitted['fill']['city']}\n")  # fmt: skip
    code, filled_out, err = cli("predict", str(tmp_path / "r"), str(gappy))
    assert code == ExitCode.OK, err
    assert filled_out == cli("predict", str(tmp_path / "r"), str(by_hand))[1]


def test_predict_refuses_gaps_it_was_not_trained_to_fill(tmp_path) -> None:
    path = table(tmp_path)
    assert cli("run", str(spec(tmp_path, path)), "--out", str(tmp_path / "r"), "--quiet")[0] == ExitCode.OK
    gappy = tmp_path / "new.csv"
    gappy.write_text("income,member,city\n,True,oslo\n25.5,False,lima\n")
    code, out, err = cli("predict", str(tmp_path / "r"), str(gappy))
    assert code == ExitCode.DATA
    assert err.endswith(f"error: {gappy}: empty cells in 1 column: income (1: row 1); fill them in the file (predict "
                        "answers every row), or train with data.missing = 'fill'\n")  # fmt: skip


def test_a_category_the_training_rows_never_showed_is_named_or_ignored_with_a_warning(tmp_path) -> None:
    path = table(tmp_path)
    test = table(tmp_path, {3: {"city": "rome"}, 7: {"city": "rome"}, 8: {"city": "False"}}, name="test.csv")
    code, out, err = cli("validate", str(spec(tmp_path, path, f'test_path = "{test}"\n')))
    assert code == ExitCode.DATA
    assert err == (f"error: {test}: column 'city' holds 2 values the training rows never showed: 'rome', 'False' "
                   "(rows 4, 8, 9); set data.unknown = 'ignore' to encode them as no category (all zeros)\n")  # fmt: skip
    code, out, err = cli("run", str(spec(tmp_path, path, f'test_path = "{test}"\nunknown = "ignore"\n')), "--out",
                         str(tmp_path / "r"), "--quiet")  # fmt: skip
    assert code == ExitCode.OK, err
    assert f"warning: {tmp_path / 'spec.toml'}:2: data: {test}: column 'city' holds 2 values the training rows " \
           "never showed: 'rome', 'False' (rows 4, 8, 9): encoded as no category (all zeros), as data.unknown = " \
           "'ignore' says\n" in err
    new = tmp_path / "new.csv"
    new.write_text("income,member,city\n25.5,True,tokyo\n25.5,False,oslo\n")
    code, out, err = cli("predict", str(tmp_path / "r"), str(new))
    assert code == ExitCode.OK and len(out.splitlines()) == 3
    assert f"warning: {new}: column 'city' holds 1 value the training rows never showed: 'tokyo' (row 1)" in err
    assert cli("run", str(spec(tmp_path, path)), "--out", str(tmp_path / "strict"), "--quiet")[0] == ExitCode.OK
    code, out, err = cli("predict", str(tmp_path / "strict"), str(new))
    assert code == ExitCode.DATA and err.endswith(
        f"error: {new}: column 'city' holds 1 value the training rows never showed: 'tokyo' (row 1); set "
        "data.unknown = 'ignore' to encode them as no category (all zeros)\n")  # fmt: skip


def test_boolean_features_are_numbers_without_being_declared(tmp_path) -> None:
    path = table(tmp_path)
    code, out, err = cli("run", str(spec(tmp_path, path)), "--out", str(tmp_path / "r"), "--quiet")
    assert code == ExitCode.OK, err
    fitted = json.loads((tmp_path / "r" / "data.json").read_text())
    assert fitted["features"] == ["income", "member", "city"] and set(fitted["numeric"]) == {"income", "member"}
