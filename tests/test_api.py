"""The Python API: the same functions as the command line, with Python values in and out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import registry
from registry.resolution.resolver import resolved_dict

from .conftest import NESTED, QUICK, ROOT, SPECS
from .test_cli import cli


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    path = tmp_path / "quick.toml"
    path.write_text(QUICK.replace("epochs = 1", "epochs = 2"))
    return path


def test_load_from_a_file_text_or_dict_gives_one_spec(quick: Path) -> None:
    """A path, the same TOML as text, and the same as a dict resolve to the same spec; overrides act as --set."""
    import tomllib

    a = registry.load(quick, overrides={"optimizer.lr": 0.1, "model.layers[1].out_features": 16})
    b = registry.loads(quick.read_text(), {"optimizer.lr": 0.1, "model.layers[1].out_features": 16})
    c = registry.load(tomllib.loads(quick.read_text()), {"optimizer.lr": 0.1, "model.layers[1].out_features": 16})
    assert resolved_dict(a) == resolved_dict(b) == resolved_dict(c)
    assert resolved_dict(a)["optimizer"]["lr"] == 0.1 and resolved_dict(a)["model"]["layers"][1]["out_features"] == 16
    assert isinstance(a, registry.ResolvedSpec)


def test_errors_are_the_cli_s_typed_exceptions_with_its_messages(quick: Path) -> None:
    bad = QUICK.replace("lr = 0.05", "lr = -1.0")
    quick.write_text(bad)
    with pytest.raises(registry.SpecError) as e:
        registry.load(quick)
    code, out, err = cli("validate", str(quick))
    assert code == 2 and err == f"error: {e.value}\n"
    with pytest.raises(registry.SpecError) as e:
        registry.loads(bad)
    line = bad.splitlines().index("lr = -1.0") + 1
    assert str(e.value).splitlines()[1] == f"  <string>:{line}: optimizer.lr: must be > 0.0 (got -1.0)"
    with pytest.raises(registry.SpecError) as e:
        registry.load({"data": {"dataset": "digits"}, "model": {"layers": [{"type": "linaer"}]},
                       "loss": {"type": "nll"}, "optimizer": {"type": "sgd", "lr": -1}})  # fmt: skip
    assert str(e.value).splitlines()[2] == "  <dict>: optimizer.lr: must be > 0.0 (got -1)"  # key paths, no lines
    with pytest.raises(registry.SpecError) as e:
        registry.load(quick, overrides={"optimizer.lr": object()})
    assert str(e.value).splitlines()[1] == (
        "  overrides: (top level): overrides['optimizer.lr']: object is not a TOML value "
        "(use numbers, strings, booleans, lists, dicts)"
    )


def test_train_without_a_directory_writes_nothing(quick: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    run = registry.train(registry.load(quick), log=lines.append)
    assert run.run_dir is None and [r.epoch for r in run.history] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quick.toml"]
    assert any(line.startswith("Train Epoch: 2 [") for line in lines)
    assert lines[-1].startswith("\nTest set: Average loss: ")
    assert isinstance(run.model, torch.nn.Module)


def test_the_api_trains_as_the_command_line_does(quick: Path, tmp_path: Path) -> None:
    """The same spec through the API and through `registry run`: the same metrics, the same weights."""
    run = registry.train(registry.load(quick), run_dir=tmp_path / "api", log=None)
    code, out, err = cli("run", "--quiet", "--out", str(tmp_path / "cli"), str(quick))
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()]
    assert [(r.test_loss, r.test_accuracy) for r in run.history] == [(r["test_loss"], r["test_accuracy"]) for r in rows]
    assert (tmp_path / "api" / "spec.toml").read_text() == (tmp_path / "cli" / "spec.toml").read_text()
    opened = registry.open_run(tmp_path / "cli", checkpoint="latest")
    assert opened.checkpoint is not None and opened.checkpoint.path.name == "ckpt-e0002-end"
    for a, b in zip(run.model.state_dict().values(), opened.model.state_dict().values()):
        assert torch.equal(a, b)
    result = opened.evaluate()
    assert (result.loss, result.correct / result.total) == (run.history[-1].test_loss, run.history[-1].test_accuracy)


def test_predict_through_the_api_equals_the_command_line(quick: Path, tmp_path: Path) -> None:
    registry.train(registry.load(quick), run_dir=tmp_path / "run", log=None)
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.random.default_rng(0).integers(0, 16, size=(5, 8, 8)).astype(np.float32) / 16)
    records = registry.open_run(tmp_path / "run").predict(inputs)
    code, out, err = cli("predict", str(tmp_path / "run"), str(inputs))
    assert code == 0, err
    assert records == [json.loads(x) for x in out.splitlines()]
    assert len(records) == 5 and set(records[0]) == {"class", "label", "probability"}


def test_a_component_by_name_equals_the_torch_object() -> None:
    act = registry.component("leaky_relu", negative_slope=0.1)
    assert isinstance(act, torch.nn.LeakyReLU) and act.negative_slope == 0.1
    x = torch.randn(4, 3)
    assert torch.equal(act(x), torch.nn.LeakyReLU(0.1)(x))
    torch.manual_seed(0)
    layer = registry.component("Linear", in_features=3, out_features=2)
    torch.manual_seed(0)
    assert torch.equal(layer.weight, torch.nn.Linear(3, 2).weight)
    opt = registry.component("sgd", layer.parameters(), lr=0.1, momentum=0.9)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    assert isinstance(registry.component("mse", kind="loss"), torch.nn.MSELoss)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: registry.component("leaky_relu", negative_slope="x"),
         "component('leaky_relu'): negative_slope: must be a number (got 'x')"),
        (lambda: registry.component("linear", out_features=3),
         "component('linear'): in_features: linear's in_features is inferred from the model in a spec; give it here"),
        (lambda: registry.component("mse"),
         "component('mse'): (top level): 'mse' is a loss and a metric: say which, kind='loss'"),
        (lambda: registry.component("sgd", lr=0.1),
         "component('sgd'): (top level): optimizer 'sgd' takes 1 input before its parameters: the parameters to "
         "train (model.parameters())"),
        (lambda: registry.component("accuracy"),
         "component('accuracy'): (top level): metric 'accuracy' is built from the run's task: name it in a spec "
         "(registry.load)"),
    ],
)  # fmt: skip
def test_a_component_s_bad_parameters_are_spec_errors(call, message) -> None:
    with pytest.raises(registry.SpecError) as e:
        call()
    assert str(e.value).splitlines()[1] == "  " + message


def test_an_unknown_component_suggests_names() -> None:
    with pytest.raises(registry.UnknownComponentError) as e:
        registry.component("leaky_relux")
    assert str(e.value).startswith("unknown component 'leaky_relux'; did you mean 'leaky_relu'?")


@pytest.mark.slow
def test_the_api_is_typed_for_callers(tmp_path: Path) -> None:
    """A caller's script type-checks under mypy --strict against the installed package (py.typed)."""
    script = tmp_path / "caller.py"
    script.write_text(
        "import registry\n"
        "from registry.rundirs.records import EpochRow\n\n"
        "spec: registry.ResolvedSpec = registry.load('spec.toml', overrides={'optimizer.lr': 0.1})\n"
        "run: registry.Run = registry.train(spec, run_dir=None, log=None)\n"
        "rows: tuple[EpochRow, ...] = run.history\n"
        "accuracy: float | None = rows[-1].test_accuracy\n"
        "built: registry.Built = registry.build(spec)\n"
        "again: registry.Run = registry.open_run('runs/x', checkpoint='best')\n"
        "act: object = registry.component('leaky_relu', negative_slope=0.1)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text("import registry\n\nn: int = registry.train(registry.load('s.toml')).history\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script), str(bad)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert f"{bad}:3: error: Incompatible types in assignment" in proc.stdout, proc.stdout
    assert str(script) not in proc.stdout, proc.stdout


def test_every_public_name_has_a_docstring() -> None:
    for name in ("load", "loads", "build", "train", "open_run", "component", "Run", "catalog"):
        assert name in registry.__all__ and getattr(registry, name).__doc__, name


def test_the_shipped_specs_load_through_the_api() -> None:
    assert registry.load(SPECS / "mnist_simple.toml").spec.name == "mnist_simple"


def _wiggle_run(tmp_path: Path) -> Path:
    """A run trained with a plugin (its activation 'wiggle') that is not installed afterwards."""
    import types

    from registry.components.manager import build_catalog, load_plugins
    from registry.resolution.resolver import load_and_resolve

    mod = types.ModuleType("wiggle_plugin")

    def registry_activations() -> dict:
        return {"wiggle": lambda: torch.nn.Tanh()}

    mod.registry_activations = registry.hookimpl(registry_activations)  # type: ignore[attr-defined]
    plugins = load_plugins(load_entrypoints=False)
    plugins.pm.register(mod, name="wiggle")
    spec = tmp_path / "w.toml"
    spec.write_text(QUICK.replace('{ type = "relu" }', '{ type = "wiggle" }'))
    registry.train(load_and_resolve(spec, build_catalog(plugins)), run_dir=tmp_path / "run", log=None)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    info["versions"]["plugins"]["wiggle"] = "registry-wiggle 1.2.0"  # as a pip-installed plugin is recorded
    (tmp_path / "run" / "run.json").write_text(json.dumps(info))
    return tmp_path / "run"


def test_a_run_opened_without_its_plugin_says_what_to_install(tmp_path: Path) -> None:
    run = _wiggle_run(tmp_path)
    with pytest.raises(registry.CheckpointError) as e:
        registry.open_run(run)
    assert str(e.value).splitlines()[0] == (
        f"{run}: it was trained with plugins that are not loaded here: 'wiggle' (registry-wiggle 1.2.0); "
        "install: pip install 'registry-wiggle==1.2.0'"
    )
    code, out, err = cli("evaluate", str(run))
    assert code == 5 and err.startswith(f"error: {run}: it was trained with plugins that are not loaded here")
    assert "unknown layer or activation 'wiggle'" in err  # and the spec's own problem, below


def test_a_run_opened_with_another_plugin_version_warns(quick: Path, tmp_path: Path) -> None:
    registry.train(registry.load(quick), run_dir=tmp_path / "run", log=None)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    now = info["versions"]["plugins"]["registry_torch"]
    info["versions"]["plugins"]["registry_torch"] = "torch-spec-registry 0.0.9"
    info["versions"]["plugins"]["gone"] = "registry-gone 2.0"  # a plugin the spec does not use: no matter
    (tmp_path / "run" / "run.json").write_text(json.dumps(info))
    code, out, err = cli("evaluate", str(tmp_path / "run"))
    assert code == 0, err
    assert err == (
        f"warning: {tmp_path / 'run'}: plugin 'registry_torch' was torch-spec-registry 0.0.9, is {now} here: "
        "the rebuilt model may differ from the trained one\n"
        "using checkpoint best: ckpt-e0002-end (epoch 2)\n"
    )


# -- found in review ---------------------------------------------------------------------------


def test_an_opened_run_answers_in_eval_mode(tmp_path: Path) -> None:
    """Batch norm and dropout as in testing: the same input gives the same output, and statistics stay."""
    spec = tmp_path / "nested.toml"
    spec.write_text(NESTED)
    registry.train(registry.load(spec), run_dir=tmp_path / "run", log=None)
    opened = registry.open_run(tmp_path / "run")
    assert not opened.model.training
    before = [b.clone() for b in opened.model.buffers()]
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(opened.model(x), opened.model(x))
    assert all(torch.equal(a, b) for a, b in zip(before, opened.model.buffers()))


def test_a_built_trains_once_and_an_opened_run_is_not_trained_again(quick: Path, tmp_path: Path) -> None:
    built = registry.build(registry.load(quick))
    registry.train(built, log=None)
    with pytest.raises(registry.SpecError) as e:
        registry.train(built, log=None)
    assert str(e.value).splitlines()[1] == (
        "  train: (top level): this Built is trained already: registry.train(spec) or registry.train(registry.build(spec))"
    )
    registry.train(registry.load(quick), run_dir=tmp_path / "run", log=None)
    with pytest.raises(registry.SpecError) as e:
        registry.train(registry.open_run(tmp_path / "run").built, log=None)
    assert "it was built without an optimizer (build(spec, optimizer=False), or an opened run)" in str(e.value)


def test_predict_after_training_in_memory_applies_the_fitted_encoding(tmp_path: Path, monkeypatch) -> None:
    """A table's rows are encoded with what the training split fitted, with or without a run directory."""
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--example", "table_csv", "--output", "t.toml")[0] == 0
    spec = registry.load("t.toml", overrides={"train.epochs": 1})
    in_memory = registry.train(spec, log=None)
    on_disk = registry.train(spec, run_dir="run", log=None)
    assert in_memory.fitted and in_memory.predict("data/table.csv") == on_disk.predict("data/table.csv")
    assert sorted(p.name for p in (tmp_path / "run").glob("*.png")) == ["accuracy.png", "confusion.png", "loss.png"]


def test_python_overrides_and_dict_specs_speak_in_their_own_terms(quick: Path) -> None:
    with pytest.raises(registry.SpecError) as e:
        registry.load(quick, overrides={"optimizer": {"type": "adam", "lrr": 0.1}})
    assert str(e.value).splitlines()[1].endswith('(from overrides: optimizer={ type = "adam", lrr = 0.1 })')
    with pytest.raises(registry.SpecError) as e:
        registry.load({"base": "nope.toml"})
    assert str(e.value).splitlines()[1] == "  <dict>: base: base 'nope.toml' not found (looked for nope.toml)"


def test_a_container_is_built_in_a_spec() -> None:
    with pytest.raises(registry.SpecError) as e:
        registry.component("parallel", branches=[[{"type": "relu"}], [{"type": "tanh"}]])
    assert str(e.value).splitlines()[1] == (
        "  component('parallel'): (top level): layer 'parallel' holds layers, which a spec chains and sizes: name it in a spec"
    )


def test_a_missing_plugin_that_is_installed_says_it_is_not_loaded(tmp_path: Path) -> None:
    run = _wiggle_run(tmp_path)
    info = json.loads((run / "run.json").read_text())
    info["versions"]["plugins"]["wiggle"] = "pytest 0.0"  # a distribution that is installed, but no plugin of ours
    (run / "run.json").write_text(json.dumps(info))
    from importlib.metadata import version

    with pytest.raises(registry.CheckpointError) as e:
        registry.open_run(run)
    assert str(e.value).splitlines()[0] == (
        f"{run}: it was trained with plugins that are not loaded here: 'wiggle' (pytest 0.0; pytest {version('pytest')} "
        "is installed but not loaded: see python -m registry plugins)"
    )


def test_a_dict_with_an_old_key_is_not_told_to_upgrade_a_file(quick: Path) -> None:
    import tomllib

    doc = tomllib.loads(quick.read_text())
    doc["train"]["best_metric"] = "loss"
    with pytest.raises(registry.SpecError) as e:
        registry.load(doc)
    assert str(e.value).splitlines()[1] == (
        "  <dict>: train.best_metric: is train.monitor since spec format 2: write monitor, or add 'format = 1' at the top"
    )
