"""The command line end to end: run, validate, list, show, and the exit codes of each failure."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from registry_specs.example_data import write_example_data

from registry.cli import ExitCode, main
from registry.components.manager import load_catalog
from registry.kinds import KINDS

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

    import registry.cli.commands as cli_module
    import registry.cli.startup as startup_module
    import registry.training.launch as launch_module

    seen: dict[str, tuple[int, ...]] = {}
    real_validate, real_execute = cli_module.COMMANDS["validate"], launch_module.execute

    def validate(*a):
        seen["validate"] = gc.get_threshold()
        return real_validate(*a)

    def execute(*a):
        seen["training"] = gc.get_threshold()
        return real_execute(*a)

    monkeypatch.setitem(cli_module.COMMANDS, "validate", validate)
    monkeypatch.setattr(launch_module, "execute", execute)
    before = gc.get_threshold()
    spec = str(write_spec(QUICK))
    try:
        gc.set_threshold(5000, 20, 20)  # the caller's own setting, not the interpreter's default
        assert cli("validate", spec)[0] == 0 and cli("run", spec)[0] == 0
        assert seen["validate"] == (startup_module.STARTUP_GC_THRESHOLD, 20, 20)
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
    from registry.building.builder import build
    from registry.resolution.resolver import load_and_resolve
    from registry.training.loop import run

    def final(text: str) -> list[torch.Tensor]:
        built = build(load_and_resolve(write_spec(text), catalog))
        run(built, log=lambda _: None)
        return [p.detach().clone() for p in built.model.parameters()]

    a, b = final(QUICK), final(QUICK)
    c = final(QUICK.replace("seed = 0", "seed = 1"))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.toml")))
def test_every_shipped_spec_validates(spec: str, tmp_path: Path) -> None:
    """Each file in specs/ validates: model built, parameters counted, no data loaded (the user's own data
    that two of them read is written beside them, where their relative paths point)."""
    shutil.copytree(SPECS, tmp_path / "elsewhere")
    copy = tmp_path / "elsewhere" / spec
    write_example_data(copy.parent)
    code, out, err = cli("validate", str(copy))
    assert code == ExitCode.OK, err
    assert out.startswith(f"{copy}: valid\n  node ")
    assert re.search(r"^Total parameters: [\d,]+; output \(\d+,\) per sample", out, re.M)


def test_validate_summarises_each_layer() -> None:
    """validate prints the model as a table: each node, its output shape, parameters and key path; then the total."""
    _, out, _ = cli("validate", str(SPECS / "mnist_simple.toml"))
    assert out.splitlines()[1:7] == [
        "  node         output shape   params  spec",
        "  flatten      (784,)              0  model.layers[0]",
        "  linear       (128,)        100,480  model.layers[1]",
        "  relu         (128,)              0  model.layers[2]",
        "  linear       (10,)           1,290  model.layers[3]",
        "  log_softmax  (10,)               0  model.layers[4]",
    ]
    assert "Total parameters: 101,770; output (10,) per sample (log probabilities)" in out


def test_bad_spec_exits_2_with_file_and_key_path(write_spec) -> None:
    """An unknown layer name: exit 2, the file, line and key path, suggestions, no traceback."""
    path = write_spec(QUICK.replace('{ type = "relu" }', '{ type = "rleu" }'))
    code, out, err = cli("run", str(path))
    assert code == ExitCode.USAGE and out == ""
    line = QUICK.splitlines().index('  { type = "relu" },') + 1
    assert f"{path}:{line}: model.layers[2].type: unknown layer or activation 'rleu'; did you mean 'relu'" in err
    assert "(see: python -m registry list layers, python -m registry list activations)" in err
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
    """list prints each kind (plural) with its count, and each name with its description and plugin."""
    code, out, _ = cli("list")
    assert code == 0
    heads = [ln.split(":")[0] for ln in out.splitlines() if not ln.startswith(" ")]
    catalog = load_catalog(load_entrypoints=False)
    assert heads == [f"{info.plural} ({len(catalog.list(kind))})" for kind, info in KINDS.items()]
    assert re.search(r"^  leaky_relu +Leaky ReLU: x for x >= 0, negative_slope \* x otherwise\.  \[registry_torch\]$", out, re.M)


@pytest.mark.usefixtures("builtins_only")
@pytest.mark.parametrize("word", ["optimizer", "optimizers"])
def test_list_one_kind(word) -> None:
    """list KIND prints that kind alone; the kind may be singular or plural."""
    _, out, _ = cli("list", word)
    assert out.splitlines()[0] == "optimizers (6): optimizers over the model's parameters"
    assert [ln.split()[0] for ln in out.splitlines()[1:]] == ["adadelta", "adagrad", "adam", "adamw", "rmsprop", "sgd"]


def test_list_an_unknown_kind_names_the_kinds() -> None:
    """list with a word that is no kind: usage error 2 naming every kind, singular and plural."""
    code, _, _ = cli("list", "layerz")
    assert code == ExitCode.USAGE


def test_show_by_torch_name() -> None:
    """show LeakyReLU prints the component's parameters with types and bounds, defaults and descriptions."""
    code, out, _ = cli("show", "LeakyReLU")
    assert code == 0
    assert out.splitlines() == [
        "activation leaky_relu: Leaky ReLU: x for x >= 0, negative_slope * x otherwise.",
        "  also: LeakyReLU",
        "  from: registry_torch (built-in, torch-spec-registry 0.1.0)",
        "  negative_slope: float >= 0 = 0.01  # slope for x < 0",
    ]


def test_show_renders_types_readably() -> None:
    """show prints tuples, unions and literals with their bounds, never pydantic's internal objects."""
    _, adam, _ = cli("show", "adam")
    assert "  betas: tuple[float in [0, 1), float in [0, 1)] = (0.9, 0.999)  # decay rates of the moment estimates" in adam.splitlines()
    _, conv, _ = cli("show", "conv2d")
    assert "  kernel_size: int >= 1 | tuple[int >= 1, int >= 1], required  # kernel height and width" in conv.splitlines()
    assert "  padding: int >= 0 | tuple[int >= 0, int >= 0] | 'same' | 'valid' = 0  # zero padding" in conv.splitlines()
    _, res, _ = cli("show", "residual")
    assert "  layers: array of layer or activation tables (a chain), required" in res.splitlines()
    assert "FieldInfo" not in adam + conv + res


def test_show_marks_inferred_parameters() -> None:
    """show linear marks in_features as inferred and out_features as required."""
    _, out, _ = cli("show", "linear")
    assert "  out_features: int >= 1, required  # number of outputs" in out
    assert "  in_features: int >= 1 | None = None (inferred)  # inferred from the previous layer" in out


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


def test_version(capsys) -> None:
    """--version prints the version and exits 0."""
    from registry import __version__

    code, _, _ = cli("--version")
    assert code == 0 and capsys.readouterr().out == f"registry {__version__} (torch-spec-registry)\n"


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    """`validate SPEC | head -1`: the first line, then a quiet end (no traceback, no 'Exception ignored')."""
    proc = subprocess.run(
        f"{sys.executable} -m registry validate {SPECS / 'quickstart.toml'} | head -1; echo \"rc=${{PIPESTATUS[0]}}\"",
        shell=True, executable="/bin/bash", capture_output=True, text=True,
    )  # fmt: skip
    assert proc.stdout == f"{SPECS / 'quickstart.toml'}: valid\nrc=141\n" or proc.stdout.endswith("rc=0\n")
    assert proc.stderr == ""


def test_the_traceback_switch_shows_where_a_plugin_failed(write_spec, monkeypatch) -> None:
    """REGISTRY_TRACEBACK=1 prints the traceback of a reported error, and its cause, before the message."""
    path = write_spec(QUICK.replace("momentum = 0.9", "nesterov = true"))
    monkeypatch.setenv("REGISTRY_TRACEBACK", "1")
    code, _, err = cli("validate", str(path))
    assert code == ExitCode.USAGE
    assert err.startswith("Traceback (most recent call last):") and "SpecError" in err
    assert err.splitlines()[-1].endswith("Nesterov momentum requires a momentum and zero dampening")
    monkeypatch.setenv("REGISTRY_TRACEBACK", "0")
    assert "Traceback" not in cli("validate", str(path))[2]


def test_json_log_format_prints_json_only(write_spec) -> None:
    """--log-format json: every line of stdout is a JSON object, the summary and run directory included."""
    import json

    code, out, _ = cli("run", str(write_spec(QUICK)), "--log-format", "json", "--out", "r")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events if e["event"] != "train"] == ["epoch", "done", "run_dir", "plots"]
    assert events[-2] == {"event": "run_dir", "message": "Run directory: r", "path": "r"}


def test_quiet_prints_the_test_lines_without_blank_lines(write_spec) -> None:
    """--quiet: the test line of each epoch, then the summary; no per-batch lines, no blank lines."""
    code, out, _ = cli("run", str(write_spec(QUICK.replace("epochs = 1", "epochs = 2"))), "--quiet", "--out", "r")
    assert code == 0
    lines = out.splitlines()
    assert all(lines) and len(lines) == 5
    assert [ln.split(":")[0] for ln in lines] == ["Test set", "Test set", "Done", "Run directory", "Plots"]
