"""The command line end to end: run, validate, list, show, and the exit codes of each failure."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import torch

from registry.cli import ExitCode, main

from .conftest import QUICK, ROOT, SPECS


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_quickstart_reaches_90_percent() -> None:
    """specs/quickstart.toml trains through the CLI to >= 90% test accuracy on the digits."""
    code, out, err = cli("run", str(SPECS / "quickstart.toml"))
    assert code == ExitCode.OK, err
    tests = re.findall(r"Test set: Average loss: (\d+\.\d{4}), Accuracy: (\d+)/359 \((\d+)%\)", out)
    assert len(tests) == 10
    correct = int(tests[-1][1])
    assert correct / 359 >= 0.90
    assert out.rstrip().splitlines()[-3].startswith("Done: 10 epochs in ")
    assert out.rstrip().splitlines()[-2].startswith("Run directory: runs/quickstart-")
    assert out.rstrip().splitlines()[-1] == "Plots: loss.png, accuracy.png, confusion.png"


def test_run_prints_the_notebooks_log_lines(write_spec) -> None:
    """Train lines every log_interval batches and the test line, in the notebook's exact format."""
    code, out, _ = cli("run", str(write_spec(QUICK)))
    assert code == 0
    lines = out.splitlines()
    train = [ln for ln in lines if ln.startswith("Train Epoch")]
    # 1,438 samples / 32 = 45 batches: logged at batches 0, 20, 40
    assert [ln.split("\t")[0] for ln in train] == [
        "Train Epoch: 1 [0/1438 (0%)]",
        "Train Epoch: 1 [640/1438 (44%)]",
        "Train Epoch: 1 [1280/1438 (89%)]",
    ]
    assert all(re.fullmatch(r"Train Epoch: .*\tLoss: \d+\.\d{6}", ln) for ln in train)
    i = lines.index(next(ln for ln in lines if ln.startswith("Test set")))
    assert lines[i - 1] == "" and lines[i + 1] == ""
    assert re.fullmatch(r"Test set: Average loss: \d\.\d{4}, Accuracy: \d+/359 \(\d+%\)", lines[i])


def test_start_up_collects_garbage_rarely_and_training_as_the_interpreter_would(write_spec, monkeypatch) -> None:
    """Commands run under a raised gc threshold; training under the caller's, which is restored on return."""
    import gc

    import registry.cli as cli_module

    seen: dict[str, tuple[int, ...]] = {}
    real_validate, real_run = cli_module.COMMANDS["validate"], cli_module._run_ranked

    def validate(*a):
        seen["validate"] = gc.get_threshold()
        return real_validate(*a)

    def run_ranked(*a):
        seen["training"] = gc.get_threshold()
        return real_run(*a)

    monkeypatch.setitem(cli_module.COMMANDS, "validate", validate)
    monkeypatch.setattr(cli_module, "_run_ranked", run_ranked)
    before = gc.get_threshold()
    spec = str(write_spec(QUICK))
    try:
        gc.set_threshold(5000, 20, 20)  # the caller's own setting, not the interpreter's default
        assert cli("validate", spec)[0] == 0 and cli("run", spec)[0] == 0
        assert seen["validate"] == (cli_module.STARTUP_GC_THRESHOLD, 20, 20)
        assert seen["training"] == (5000, 20, 20)
        assert gc.get_threshold() == (5000, 20, 20)
        assert cli("validate", "no-such.toml")[0] == ExitCode.USAGE and gc.get_threshold() == (5000, 20, 20)
        for kept in ((0, 20, 20), (500_000, 20, 20)):  # collection switched off, or rarer already: left alone
            gc.set_threshold(*kept)
            assert cli("validate", spec)[0] == 0 and seen["validate"] == kept and gc.get_threshold() == kept
    finally:
        gc.set_threshold(*before)


def test_same_spec_and_seed_give_identical_weights(write_spec, catalog) -> None:
    """Two runs of one spec end with bit-identical weights; another seed gives other weights."""
    from registry.builder import build
    from registry.loader import load_spec
    from registry.resolve import resolve_spec
    from registry.runner import run

    def final(text: str) -> list[torch.Tensor]:
        path = write_spec(text)
        spec, src = load_spec(path)
        built = build(resolve_spec(spec, catalog, str(path), src))
        run(built, log=lambda _: None)
        return [p.detach().clone() for p in built.model.parameters()]

    a, b = final(QUICK), final(QUICK)
    c = final(QUICK.replace("seed = 0", "seed = 1"))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.toml")))
def test_every_shipped_spec_validates(spec: str) -> None:
    """Each file in specs/ validates: model built, parameters counted, no data loaded."""
    code, out, err = cli("validate", str(SPECS / spec))
    assert code == ExitCode.OK, err
    assert out.startswith(f"{SPECS / spec}: valid\nSequential(")
    assert re.search(r"^Total parameters: [\d,]+$", out, re.M)


def test_validate_summarises_each_layer() -> None:
    """validate prints each layer's output shape and parameter count, and the total."""
    _, out, _ = cli("validate", str(SPECS / "mnist_simple.toml"))
    rows = re.findall(r"^\s+(\d)\s+(\w+)\s+(\([\d, ]*\))\s+([\d,]+)$", out, re.M)
    assert rows == [
        ("0", "flatten", "(784,)", "0"),
        ("1", "linear", "(128,)", "100,480"),
        ("2", "relu", "(128,)", "0"),
        ("3", "linear", "(10,)", "1,290"),
        ("4", "log_softmax", "(10,)", "0"),
    ]
    assert "Total parameters: 101,770" in out


def test_bad_spec_exits_2_with_file_and_key_path(write_spec) -> None:
    """An unknown layer name: exit 2, the file, line and key path, suggestions, no traceback."""
    path = write_spec(QUICK.replace('{ type = "relu" }', '{ type = "rleu" }'))
    code, out, err = cli("run", str(path))
    assert code == ExitCode.USAGE and out == ""
    line = QUICK.splitlines().index('  { type = "relu" },') + 1
    assert f"{path}:{line}: model.layers[2].type: unknown layer or activation 'rleu'; did you mean 'relu'" in err
    assert "(see: python -m registry list layer, python -m registry list activation)" in err
    assert "Traceback" not in err


def test_missing_data_exits_4(write_spec, tmp_path) -> None:
    """A dataset whose files are absent (download off): exit 4 and where it looked."""
    text = QUICK.replace('dataset = "digits"', f'dataset = "mnist"\nroot = "{tmp_path}"')
    code, _, err = cli("run", str(write_spec(text)))
    assert code == ExitCode.DATA
    assert err.startswith("error: MNIST files not found: looked for train-images-idx3-ubyte")


def test_non_finite_loss_exits_1(write_spec) -> None:
    """A learning rate that blows up the loss stops the run with exit 1, naming epoch, batch and the cause."""
    code, _, err = cli("run", str(write_spec(QUICK.replace("lr = 0.05", "lr = 1e30"))))
    assert code == ExitCode.RUN_FAILED
    assert re.match(r"error: epoch 1, batch \d+: the loss is (nan|inf); lower optimizer.lr", err)


@pytest.mark.usefixtures("builtins_only")
def test_list_shows_every_kind_with_descriptions() -> None:
    """list prints each kind with its count, and each name with its description and plugin."""
    code, out, _ = cli("list")
    assert code == 0
    for head in ("layer (9):", "activation (13):", "loss (7):", "optimizer (6):", "dataset (3):", "transform (7):"):
        assert head in out
    assert re.search(r"^  leaky_relu +Leaky ReLU: x for x >= 0, negative_slope \* x otherwise\.  \[registry_torch\]$", out, re.M)


@pytest.mark.usefixtures("builtins_only")
def test_list_one_kind() -> None:
    """list KIND prints that kind alone."""
    _, out, _ = cli("list", "optimizer")
    assert out.splitlines()[0] == "optimizer (6): optimizers over the model's parameters"
    assert [ln.split()[0] for ln in out.splitlines()[1:]] == ["adadelta", "adagrad", "adam", "adamw", "rmsprop", "sgd"]


def test_show_by_torch_name() -> None:
    """show LeakyReLU prints the component's parameters with types, defaults and descriptions."""
    code, out, _ = cli("show", "LeakyReLU")
    assert code == 0
    assert out.splitlines() == [
        "activation leaky_relu: Leaky ReLU: x for x >= 0, negative_slope * x otherwise.",
        "  also: LeakyReLU",
        "  from: registry_torch (built-in, torch-spec-registry 0.1.0)",
        "  negative_slope: float = 0.01  # slope for x < 0",
    ]


def test_show_marks_inferred_parameters() -> None:
    """show linear marks in_features as inferred and out_features as required."""
    _, out, _ = cli("show", "linear")
    assert "  out_features: int = (required)  # number of outputs" in out
    assert "  in_features: int | None = None (inferred)  # inferred from the previous layer" in out


def test_show_unknown_name_suggests() -> None:
    """show of an unknown name exits 2 with the close matches."""
    code, _, err = cli("show", "adamx")
    assert code == ExitCode.USAGE
    assert "did you mean 'adam' or 'adamw'" in err


def test_python_dash_m_entry_point() -> None:
    """python -m registry runs main() and returns its exit code (here: usage error 2)."""
    proc = subprocess.run([sys.executable, "-m", "registry", "show", "nope"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown ")
