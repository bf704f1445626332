"""The daily loop: --set, print-config, progress formats, metrics files, plots, runs/diff, init, completion."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from PIL import Image

from registry.cli import ExitCode, main
from registry.rundirs.records import EpochRow

from .conftest import QUICK, SPECS


def cli(*argv: str, out: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = out or io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(QUICK.replace("epochs = 1", "epochs = 2"))
    return p


def test_set_changes_values_like_the_file_would(spec) -> None:
    """--set with TOML literals and a bare word lands in the resolved spec."""
    code, out, err = cli("print-config", str(spec), "--set", "optimizer.lr=3e-4", "--set", "model.layers[1].out_features=16",
                         "--set", "name=tuned", "--set", "data.transforms[1].mean=[0.5]")  # fmt: skip
    assert code == 0, err
    doc = tomllib.loads(out)
    assert doc["optimizer"]["lr"] == 3e-4 and doc["model"]["layers"][1]["out_features"] == 16
    assert doc["name"] == "tuned" and doc["data"]["transforms"][1]["mean"] == [0.5]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("model.layers[9].out_features=3", " 1 problem in the spec\n  command line: model.layers[9]: --set model.layers[9].out_features=3: model.layers has 5 items (indexes 0 to 4)\n"),
        ("optimizer.lr=-1", "optimizer.lr: must be > 0.0 (got -1) (from the command line: --set optimizer.lr=-1)"),
        ("train.epochs=\"ten\"", "train.epochs: must be an integer (got 'ten') (from the command line: --set train.epochs=\"ten\")"),
        ("optimizer.lr=1e300", "optimizer.lr: 1e+300 is beyond what torch's float32 holds (at most 3.403e+38 in size) (from the command line: --set optimizer.lr=1e300)"),
        ("optimizer.lrr=0.1", "optimizer.lrr: optimizer 'sgd' takes no parameter 'lrr'; did you mean 'lr'?"),
        ("lr", "error: command line: 1 problem in the spec\n  command line: (top level): --set lr: expected KEY.PATH=VALUE\n"),
    ],
)
def test_bad_set_says_it_came_from_the_command_line(spec, setting, message) -> None:
    """A bad path, a bad value or a bad key in --set: exit 2, and the message points at the command line."""
    code, out, err = cli("validate", str(spec), "--set", setting)
    assert code == ExitCode.USAGE and out == ""
    assert message in err
    assert not re.search(rf"{re.escape(str(spec))}:\d+", err)  # no file line is blamed for a command-line value


def test_print_config_round_trips(spec, tmp_path) -> None:
    """print-config's output is a spec that validates, resolves to itself, and runs unchanged."""
    _, printed, _ = cli("print-config", str(spec), "--set", "optimizer.lr=0.02")
    again = tmp_path / "printed.toml"
    again.write_text(printed)
    _, reprinted, _ = cli("print-config", str(again))
    assert reprinted == printed
    assert "momentum = 0.9" in printed and "dampening = 0.0" in printed  # defaults filled in
    code, out, _ = cli("run", str(again), "--out", str(tmp_path / "r"))
    assert code == 0 and "Done: 2 epochs" in out


def test_plain_output_is_the_notebooks_line_for_line(spec, tmp_path) -> None:
    """Not a terminal: the model, then only the seed's Train/Test lines, then the closing three lines."""
    code, out, _ = cli("run", str(spec), "--out", str(tmp_path / "r"))
    lines = out.splitlines()
    body = lines[lines.index(")") + 1 : -3]
    train = re.compile(r"Train Epoch: \d+ \[\d+/1438 \(\d+%\)\]\tLoss: \d+\.\d{6}")
    test = re.compile(r"Test set: Average loss: \d+\.\d{4}, Accuracy: \d+/359 \(\d+%\)")
    assert all(train.fullmatch(x) or test.fullmatch(x) or x == "" for x in body)
    assert sum(bool(test.fullmatch(x)) for x in body) == 2 and sum(bool(train.fullmatch(x)) for x in body) == 6
    assert [x.split(":")[0] for x in lines[-3:]] == ["Done", "Run directory", "Plots"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_progress_bar(spec, tmp_path) -> None:
    """On a terminal: a tqdm bar per epoch with loss and samples/s, and the test line after it."""
    code, out, _ = cli("run", str(spec), "--out", str(tmp_path / "r"), out=Terminal())
    assert code == 0
    assert "epoch 1/2: 100%" in out and "epoch 2/2: 100%" in out and "45/45" in out
    assert "loss=" in out and "samples_per_s=" in out
    assert "Train Epoch:" not in out and "Test set: Average loss:" in out


def test_json_and_quiet_formats(spec, tmp_path) -> None:
    """--log-format json: one JSON object per line; --quiet: only the test lines between model and summary."""
    _, out, _ = cli("run", str(spec), "--out", str(tmp_path / "j"), "--log-format", "json")
    events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert [e["event"] for e in events].count("epoch") == 2 and events[0] == {**events[0], "event": "train", "epoch": 1}
    assert not any(x.startswith("Train Epoch") for x in out.splitlines())
    _, quiet, _ = cli("run", str(spec), "--out", str(tmp_path / "q"), "--quiet")
    assert "Train Epoch" not in quiet and quiet.count("Test set:") == 2 and "Sequential(" not in quiet


def test_metrics_files_and_pictures(spec, tmp_path) -> None:
    """metrics.jsonl/.csv: one row per epoch with the documented columns; three PNGs that decode."""
    run = tmp_path / "r"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and set(rows[0]) == {*EpochRow.fields(), "metrics"} and rows[0]["metrics"] == {}
    with open(run / "metrics.csv") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == list(EpochRow.fields()) and len(table) == 2
    assert float(table[1]["test_accuracy"]) == rows[1]["test_accuracy"]
    sizes = {name: Image.open(run / name).size for name in ("loss.png", "accuracy.png", "confusion.png")}
    assert sizes == {"loss.png": (640, 420), "accuracy.png": (640, 420), "confusion.png": (750, 750)}
    confusion = json.loads((run / "confusion.json").read_text())
    assert sum(map(sum, confusion["counts"])) == 359
    assert sum(confusion["counts"][i][i] for i in range(10)) == rows[-1]["test_correct"]
    (run / "loss.png").unlink()
    code, out, _ = cli("plot", str(run))
    assert code == 0 and out.splitlines()[0] == f"wrote {run / 'loss.png'}" and (run / "loss.png").is_file()


def test_runs_and_diff(spec, tmp_path) -> None:
    """runs lists each run with name, status and best accuracy; diff shows changed keys and final metrics."""
    a, b = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    assert cli("run", str(spec), "--out", str(a))[0] == 0
    assert cli("run", str(spec), "--out", str(b), "--set", "optimizer.lr=0.1", "--set", "name=faster")[0] == 0
    _, listing, _ = cli("runs", str(tmp_path / "runs"))
    lines = listing.splitlines()
    assert lines[0].split() == ["run", "spec", "name", "status", "epochs", "best", "train", "s", "parts", "started"]
    assert lines[1].split()[:4] == ["a", "-", "completed", "2"] and lines[2].split()[:4] == ["b", "faster", "completed", "2"]
    _, diff, _ = cli("diff", str(a), str(b))
    assert diff.splitlines()[:5] == [f"--- {a}", f"+++ {b}", "spec:", "  name: None -> 'faster'", "  optimizer.lr: 0.05 -> 0.1"]
    assert re.search(r"^  test_accuracy: 0\.\d{4} -> 0\.\d{4} \([+-]0\.\d{4}\)$", diff, re.M)


def test_init_writes_a_ready_spec(tmp_path) -> None:
    """init writes the quickstart and its schema; it refuses to overwrite; an unknown example lists the real ones."""
    code, out, _ = cli("init")
    assert code == 0 and Path("spec.toml").read_text() == (SPECS / "quickstart.toml").read_text()
    assert json.loads(Path("spec.schema.json").read_text())["title"] == "registry spec"
    assert cli("init")[0] == ExitCode.USAGE
    code, _, err = cli("init", "--example", "nope", "--output", "x.toml")
    assert code == ExitCode.USAGE and "choose one of: breast_cancer_bce, breast_cancer_bce_with_logits, diabetes_huber," in err and "quickstart" in err
    assert cli("validate", "spec.toml")[0] == 0


@pytest.mark.parametrize(("example", "data"), [("table_csv", "data/table.csv"), ("image_folder", "data/images")])
def test_init_writes_the_data_an_example_reads(tmp_path, example, data) -> None:
    """An example on the user's own data comes with that data, so it runs as written; existing data is kept."""
    code, out, _ = cli("init", "--example", example)
    assert code == 0 and out.splitlines()[1:] == [
        f"wrote the example data it reads: {data}", "run it with:", "  python -m registry run spec.toml"
    ]
    assert cli("run", "spec.toml", "--out", "r", "--set", "train.epochs=1", "--quiet")[0] == 0
    before = {p: p.stat().st_mtime_ns for p in Path("data").rglob("*")}
    code, out, _ = cli("init", "--example", example, "--output", "again.toml")
    assert code == 0 and "example data" not in out
    assert {p: p.stat().st_mtime_ns for p in Path("data").rglob("*")} == before


def test_completion_scripts() -> None:
    """bash completion names every command; zsh's loads bashcompinit first."""
    _, bash, _ = cli("completion", "bash")
    assert "complete -o filenames -o bashdefault -F _registry registry" in bash
    assert all(c in bash for c in ("run", "validate", "print-config", "runs", "diff", "plot", "init", "evaluate"))
    _, zsh, _ = cli("completion", "zsh")
    assert zsh.splitlines()[1] == "autoload -U +X bashcompinit && bashcompinit"


def test_help_does_not_import_torch() -> None:
    """`--help` (and argument errors) answer without importing torch."""
    code = "import sys; from registry.cli import main; main(['--help']); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_tensorboard_event_files(spec, tmp_path) -> None:
    """train.tensorboard = true writes event files whose scalars are the epochs' metrics."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "r"
    assert cli("run", str(spec), "--out", str(run), "--set", "train.tensorboard=true")[0] == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    accuracy = [e.value for e in events.Scalars("epoch/test_accuracy")]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert accuracy == pytest.approx([r["test_accuracy"] for r in rows])
    assert [e.step for e in events.Scalars("epoch/train_loss")] == [1, 2]
