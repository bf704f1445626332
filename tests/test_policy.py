"""Training policies: schedulers against torch's own, accumulation against one large batch, early stopping,
threads, and every misconfiguration refused at its key path."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from torch.optim import lr_scheduler as L

from registry.building.schedules import Training, build_schedule
from registry.cli import ExitCode, main
from registry.resolution.resolver import resolve_text
from registry.rundirs.checkpoints import load_checkpoint
from registry.rundirs.records import EpochRow
from registry.training.stopping import stop_reason
from registry.training.threads import choose_threads, cpus_available

from .conftest import QUICK

EPOCHS, STEPS = 6, 5


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def _sgd(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _ours(catalog, table: str, values: list[float]) -> list[float]:
    """The rate of every optimizer step of a 6-epoch run of 5 steps per epoch, under the spec's scheduler."""
    text = QUICK + table
    rs = resolve_text(text, catalog, "s.toml")
    opt = _sgd()
    schedule = build_schedule(rs, opt, Training(EPOCHS, STEPS, higher_is_better={"loss": False}))
    assert schedule is not None
    rates = []
    for epoch in range(EPOCHS):
        for _ in range(STEPS):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            schedule.after_step()
        schedule.after_epoch(values[epoch])
    return rates


def _torch(make, per: str, values: list[float]) -> list[float]:
    """The same with torch's scheduler built by hand, stepped as its kind is meant to be."""
    opt = _sgd()
    s = make(opt)
    rates = []
    for epoch in range(EPOCHS):
        for _ in range(STEPS):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            if per == "batch":
                s.step()
        if per == "epoch":
            s.step(values[epoch]) if isinstance(s, L.ReduceLROnPlateau) else s.step()
    return rates


LOSSES = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5]
CASES = {
    "step": ('type = "step"\nstep_size = 2\ngamma = 0.5', "epoch", lambda o: L.StepLR(o, 2, 0.5)),
    "multistep": ('type = "multistep"\nmilestones = [2, 5]', "epoch", lambda o: L.MultiStepLR(o, [2, 5], 0.1)),
    "exponential": ('type = "exponential"\ngamma = 0.8', "epoch", lambda o: L.ExponentialLR(o, 0.8)),
    "cosine": ('type = "cosine"\neta_min = 0.1', "epoch", lambda o: L.CosineAnnealingLR(o, EPOCHS, 0.1)),
    "cosine_restarts": ('type = "cosine_restarts"\nt_0 = 2\nt_mult = 2', "epoch",
                        lambda o: L.CosineAnnealingWarmRestarts(o, 2, 2)),
    "one_cycle": ('type = "one_cycle"\nmax_lr = 2.0\npct_start = 0.25', "batch",
                  lambda o: L.OneCycleLR(o, max_lr=2.0, total_steps=EPOCHS * STEPS, pct_start=0.25)),
    "plateau": ('type = "plateau"\npatience = 1\nfactor = 0.5', "epoch",
                lambda o: L.ReduceLROnPlateau(o, "min", factor=0.5, patience=1)),
    "linear_warmup": ('type = "linear_warmup"\nepochs = 1.5\nstart_factor = 0.1', "batch",
                      lambda o: L.LinearLR(o, 0.1, 1.0, total_iters=8)),  # 1.5 epochs x 5 steps, rounded
    "sequence": ('type = "sequence"\nepochs = [2]\nschedulers = [{ type = "step", step_size = 1, gamma = 0.5 }, '
                 '{ type = "exponential", gamma = 0.9 }]', "epoch",
                 lambda o: L.SequentialLR(o, [L.StepLR(o, 1, 0.5), L.ExponentialLR(o, 0.9)], milestones=[2])),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_each_scheduler_gives_torchs_rates(catalog, name) -> None:
    """Every built-in scheduler, stepped as it declares, gives the rates of torch's scheduler with the same settings."""
    table, per, make = CASES[name]
    ours = _ours(catalog, f"[scheduler]\n{table}\n", LOSSES)
    theirs = _torch(make, per, LOSSES)
    assert len(ours) == EPOCHS * STEPS
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
    assert len(set(ours)) > 1  # it changed the rate


def test_the_rate_of_each_epoch_is_in_the_metrics_files_and_the_plot(tmp_path) -> None:
    """A per-epoch cosine over a real run: metrics.jsonl's lr is torch's sequence, and lr.png is drawn."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        QUICK.replace("epochs = 1", "epochs = 4").replace("[train]", '[scheduler]\ntype = "cosine"\n[train]')
    )
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    reference = _torch(lambda o: L.CosineAnnealingLR(o, 4), "epoch", [0.0] * 6)[::STEPS][:4]
    assert [r["lr"] for r in rows] == pytest.approx([0.05 * x for x in reference], rel=1e-12)
    assert (tmp_path / "run" / "lr.png").is_file() and "lr.png" in out.splitlines()[-1]


def test_accumulation_equals_one_larger_batch(tmp_path) -> None:
    """4 batches of 16 accumulated take the step one batch of 64 takes, the epoch's short last step included."""
    base = QUICK.replace('type = "sgd"', 'type = "adam"').replace("lr = 0.05\nmomentum = 0.9", "lr = 0.01")
    runs = {}
    for name, text in {
        "large": base.replace("batch_size = 32", "batch_size = 64"),
        "accumulated": base.replace("batch_size = 32", "batch_size = 16").replace("[train]", "[train]\naccumulate = 4"),
    }.items():
        (tmp_path / f"{name}.toml").write_text(text)
        assert cli("run", str(tmp_path / f"{name}.toml"), "--out", str(tmp_path / name))[0] == 0
        runs[name] = load_checkpoint(tmp_path / name).model
    large, accumulated = runs["large"], runs["accumulated"]
    assert all(torch.allclose(large[k], accumulated[k], atol=2e-6, rtol=1e-5) for k in large)
    plain = base.replace("batch_size = 32", "batch_size = 16")  # without accumulation: a different result
    (tmp_path / "plain.toml").write_text(plain)
    assert cli("run", str(tmp_path / "plain.toml"), "--out", str(tmp_path / "plain"))[0] == 0
    other = load_checkpoint(tmp_path / "plain").model
    assert not all(torch.allclose(large[k], other[k], atol=1e-3) for k in large)


def test_early_stopping_ends_the_run_and_says_why(tmp_path) -> None:
    """lr = 0 never improves the loss: with patience 2 the run stops after epoch 3, and run.json says why."""
    spec = tmp_path / "spec.toml"
    text = QUICK.replace("epochs = 1", "epochs = 10").replace("lr = 0.05", "lr = 1e-30")
    spec.write_text(text + '[train.early_stopping]\nmetric = "loss"\npatience = 2\n')
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    best = rows[0]["test_loss"]
    reason = f"early stopping: loss has not improved for 2 epochs (best {best:.6g} after epoch 1; patience 2)"
    assert info["status"] == "completed" and info["reason"] == reason
    assert f"Early stopping: loss has not improved for 2 epochs (best {best:.6g}" in out
    assert next(x for x in out.splitlines() if x.startswith("Done:")).endswith("(stopped early)")
    code, out, err = cli("run", "--resume", str(tmp_path / "run"))  # the decision stands: nothing more is trained
    assert code == 0 and len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3


def test_patience_running_out_on_the_last_epoch_cuts_nothing(tmp_path) -> None:
    """The same run with epochs = 3: its patience runs out on its last epoch, so nothing was stopped early."""
    spec = tmp_path / "spec.toml"
    text = QUICK.replace("epochs = 1", "epochs = 3").replace("lr = 0.05", "lr = 1e-30")
    spec.write_text(text + '[train.early_stopping]\nmetric = "loss"\npatience = 2\n')
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3
    assert "Early stopping" not in out and "stopped early" not in out
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "completed" and "reason" not in info


def _row(epoch: int, loss: float, accuracy: float) -> EpochRow:
    return EpochRow(epoch=epoch, train_loss=loss, test_loss=loss, test_accuracy=accuracy, test_correct=1,
                    test_total=1, lr=0.1, train_seconds=0, seconds=0, samples_per_second=0)  # fmt: skip


def test_a_scheduled_run_resumes_only_at_the_length_it_was_laid_out_for(tmp_path) -> None:
    """More epochs on --resume would stretch nothing: the saved schedule ends where it ends, so it is refused."""
    spec, longer = tmp_path / "spec.toml", tmp_path / "longer.toml"
    text = QUICK.replace("[train]", '[scheduler]\ntype = "cosine"\n[train]')
    spec.write_text(text)
    longer.write_text(text.replace("epochs = 1", "epochs = 2"))
    assert cli("run", str(spec), "--out", str(tmp_path / "run"))[0] == 0
    code, _, err = cli("run", "--resume", str(tmp_path / "run"), str(longer))
    assert code == ExitCode.CHECKPOINT
    assert "(train.epochs: 1 -> 2, and the scheduler's schedule was laid out for the run's length)" in err


def test_a_held_schedule_that_ends_before_the_run_stops_it_with_a_located_message(tmp_path) -> None:
    """A one-cycle inside a sequence may be shorter than the run; stepped past its end, the run fails saying so."""
    spec = tmp_path / "spec.toml"
    table = ('[scheduler]\ntype = "sequence"\nepochs = [0.5]\nschedulers = [{ type = "linear_warmup", epochs = 0.5 }, '
             '{ type = "one_cycle", max_lr = 0.1, total_steps = 10 }]\n')  # fmt: skip
    spec.write_text(QUICK.replace("[train]", table + "[train]"))
    assert cli("validate", str(spec))[0] == 0  # held by the sequence: its length is the sequence's business
    code, _, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == ExitCode.USAGE
    assert err.splitlines()[1].strip() == (
        f"{spec}:20: scheduler: the schedule ended before the run did: Tried to step 11 times. The specified "
        "number of total steps is 10; give it a length that covers the run"
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"


def test_stop_reason_follows_direction_patience_and_min_delta() -> None:
    """Larger is better for accuracy, smaller for the loss; an improvement must exceed min_delta."""
    rows = [_row(1, 1.0, 0.5), _row(2, 0.8, 0.6), _row(3, 0.79, 0.605), _row(4, 0.795, 0.604)]
    assert stop_reason(rows, ("loss", False), 2, 0.0) is None  # epoch 3 improved, one epoch since
    assert stop_reason(rows, ("loss", False), 2, 0.05) == (
        "early stopping: loss has not improved by more than 0.05 for 2 epochs (best 0.8 after epoch 2; patience 2)"
    )
    assert stop_reason(rows, ("accuracy", True), 1, 0.0) == (
        "early stopping: accuracy has not improved for 1 epochs (best 0.605 after epoch 3; patience 1)"
    )
    assert stop_reason(rows, ("accuracy", True), 2, 0.0) is None


MISTAKES = {
    "warm-up longer than the run": (
        '[scheduler]\ntype = "linear_warmup"\nepochs = 1.0\n',
        "spec.toml:22: scheduler.epochs: scheduler 'linear_warmup': a warm-up of 1 epochs is not shorter than the "
        "run (1 epochs)",
    ),
    "plateau on a value the run does not compute": (
        '[scheduler]\ntype = "plateau"\nmetric = "r2"\n',
        "spec.toml:22: scheduler.metric: scheduler 'plateau': 'r2' is not a test value of this run; one of: "
        "accuracy, loss",
    ),
    "one-cycle shorter than the run": (
        '[scheduler]\ntype = "one_cycle"\nmax_lr = 0.1\ntotal_steps = 2\n',
        "spec.toml:23: scheduler.total_steps: scheduler 'one_cycle': 2 is fewer than the run's 45 optimizer steps "
        "(1 epochs x 45); leave it out to fit the run",
    ),
    "a sequence of per-batch and per-epoch schedulers": (
        '[scheduler]\ntype = "sequence"\nepochs = [0.5]\n'
        'schedulers = [{ type = "linear_warmup", epochs = 0.5 }, { type = "exponential", gamma = 0.9 }]\n',
        "spec.toml:20: scheduler: sequence's schedulers must all step per batch or all per epoch: linear_warmup "
        "(batch), exponential (epoch)",
    ),
    "a sequence with a length too few": (
        '[scheduler]\ntype = "sequence"\nepochs = [0.5]\nschedulers = [{ type = "exponential", gamma = 0.9 }, '
        '{ type = "exponential", gamma = 0.8 }, { type = "exponential", gamma = 0.7 }]\n',
        "spec.toml:22: scheduler.epochs: scheduler 'sequence': give one length per scheduler but the last: 2, got 1",
    ),
    "a plateau inside a sequence": (
        '[scheduler]\ntype = "sequence"\nepochs = [0.5]\n'
        'schedulers = [{ type = "plateau" }, { type = "exponential", gamma = 0.9 }]\n',
        "spec.toml:23: scheduler.schedulers[0].type: plateau steps on a test value after each epoch; it cannot run "
        "inside sequence, which steps its schedulers itself",
    ),
    "early stopping on a value the run does not compute": (
        '[train.early_stopping]\nmetric = "mae"\n',
        "spec.toml:25: train.early_stopping.metric: 'mae' is not a value this run computes. It may be: auto, loss, "
        "accuracy (a metric is computed when metrics lists it)",
    ),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_misconfigured_policies_are_refused_at_their_key_path(tmp_path, builtins_only, case) -> None:
    """validate and run refuse each, naming the file, the line, the key path and what would fit; nothing is written."""
    table, message = MISTAKES[case]
    text = QUICK
    text = text + table if table.startswith("[train.") else text.replace("[train]", table + "[train]")
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    for command in ("validate", "run"):
        code, _, err = cli(command, str(spec), *(["--out", str(tmp_path / "run")] if command == "run" else []))
        assert code == ExitCode.USAGE
        assert err.splitlines()[1].strip() == f"{tmp_path}/{message}"
    assert not (tmp_path / "run").exists()


def test_bfloat16_trains_on_the_cpu_and_float16_is_refused_there(tmp_path, builtins_only) -> None:
    """bfloat16 autocast trains the quickstart network as well as float32; float16 asks for CUDA, at its line."""
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace("epochs = 1", "epochs = 3").replace("[train]", '[train]\nprecision = "bfloat16"'))
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["test_accuracy"] > 0.9
    weights = load_checkpoint(tmp_path / "run").model
    assert all(w.dtype == torch.float32 for w in weights.values())  # autocast leaves the weights in float32
    assert "Precision: bfloat16 autocast (weights and optimizer float32)" in cli("validate", str(spec))[1]
    spec.write_text(QUICK.replace("[train]", '[train]\nprecision = "float16"'))
    code, _, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and err.splitlines()[1].strip() == (
        f"{spec}:21: train.precision: float16 autocast needs CUDA (with a gradient scaler); on the CPU use 'bfloat16'"
    )


def test_a_device_without_the_precision_is_named(monkeypatch) -> None:
    """A GPU without bfloat16, or a device autocast does not serve, is refused with what to use instead."""
    from registry.building.precision import unsupported

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla T4")
    assert unsupported("bfloat16", torch.device("cuda")) == (
        "Tesla T4 does not support bfloat16; use 'float16' or 'float32'"
    )
    assert unsupported("float16", torch.device("cuda")) is None
    assert unsupported("bfloat16", torch.device("mps")) == (
        "mixed precision is supported on the CPU and on CUDA, not on 'mps'; use 'float32'"
    )
    assert unsupported("bfloat16", torch.device("cpu")) is None


PARAM_GROUPS = '[train.param_groups]\nno_decay_bias_and_norm = true\nlr_scale = { "model.layers[1].*" = 1e-6 }\n'


def test_parameter_groups_take_decay_off_biases_and_scale_rates_by_name(tmp_path) -> None:
    """No decay on biases; layers[1] at a millionth of the rate barely moves while layers[3] trains."""
    from registry.training.launch import prepare

    spec = tmp_path / "spec.toml"
    text = QUICK.replace('type = "sgd"', 'type = "adamw"\nweight_decay = 0.1').replace("momentum = 0.9", "")
    spec.write_text(text.replace("lr = 0.05", "lr = 0.01") + PARAM_GROUPS)
    from registry.building.paramgroups import parameter_names

    built = prepare(str(spec), io.StringIO())
    initial = {k: v.clone() for k, v in built.model.state_dict().items()}
    names = parameter_names(built.model_plan)
    assert built.optimizer is not None
    groups = [(g["lr_scale"], g["weight_decay"], g["lr"], [names[id(p)] for p in g["params"]])
              for g in built.optimizer.param_groups]  # fmt: skip
    assert groups == [
        (1.0, 0.1, 0.01, ["model.layers[3].weight"]), (1e-6, 0.1, pytest.approx(1e-8), ["model.layers[1].weight"]),
        (1e-6, 0.0, pytest.approx(1e-8), ["model.layers[1].bias"]), (1.0, 0.0, 0.01, ["model.layers[3].bias"]),
    ]  # fmt: skip
    code, _, err = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0, err
    w = load_checkpoint(tmp_path / "run").model
    assert torch.allclose(w["1.weight"], initial["1.weight"], atol=1e-5)
    assert not torch.allclose(w["3.weight"], initial["3.weight"], atol=1e-2)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('lr_scale = { "model.layers[7].*" = 2.0 }',
         ':25: train.param_groups.lr_scale."model.layers[7].*": \'model.layers[7].*\' matches none of the model\'s 4 '
         "parameters; they are named like model.layers[1].weight, model.layers[1].bias, model.layers[3].weight, "
         "model.layers[3].bias"),
        ('lr_scale = { "model.layers[1].*" = 2.0, "*.bias" = 0.5 }',
         ':25: train.param_groups.lr_scale."*.bias": model.layers[1].bias is matched by both \'model.layers[1].*\' '
         "and '*.bias'; make the patterns disjoint"),
    ],
)  # fmt: skip
def test_a_pattern_must_match_parameters_of_its_own(tmp_path, builtins_only, rules, message) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK + f"[train.param_groups]\n{rules}\n")
    code, _, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and err.splitlines()[1].strip() == f"{spec}{message}"


def test_a_blocks_parameters_are_named_by_the_block(tmp_path) -> None:
    """model.blocks.NAME.* selects what every use of the block built."""
    from registry.building.paramgroups import parameter_names
    from registry.training.launch import prepare

    from .conftest import NESTED

    spec = tmp_path / "spec.toml"
    spec.write_text(NESTED + '[train.param_groups]\nlr_scale = { "model.blocks.conv_bn.*" = 0.5 }\n')
    built = prepare(str(spec), io.StringIO())
    names = set(parameter_names(built.model_plan).values())
    assert "model.blocks.conv_bn.layers[0].weight" in names and "model.blocks.conv_bn.layers[1].bias" in names
    scaled = [g for g in built.optimizer.param_groups if g["lr_scale"] == 0.5]
    assert len(scaled) == 1 and all(p.dim() in (1, 4) for p in scaled[0]["params"])


def test_accumulation_needs_a_whole_number_of_batches(tmp_path, builtins_only) -> None:
    """accumulate = 0 is refused by the spec's own bounds."""
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace("[train]", "[train]\naccumulate = 0"))
    code, _, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and "train.accumulate: must be >= 1" in err


def test_threads_follow_the_setting_the_environment_and_the_cpus(monkeypatch) -> None:
    """A number in the spec (capped by the CPUs this process may use) wins; then OMP_NUM_THREADS; then 1."""
    cpus = cpus_available()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert choose_threads("auto") == (1, f"auto; this process may use {cpus} CPU{'s' if cpus != 1 else ''}")
    assert choose_threads(1) == (1, "train.threads = 1")
    assert choose_threads(10_000) == (cpus, f"train.threads = 10000, capped by the {cpus} CPUs this process may use")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert choose_threads("auto") == (1, "OMP_NUM_THREADS = 1")


def test_run_prints_its_threads_in_the_header(tmp_path) -> None:
    """The first line of a plain run says how many threads torch uses and why."""
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace("[train]", "[train]\nthreads = 1"))
    code, out, _ = cli("run", str(spec), "--out", str(tmp_path / "run"))
    assert code == 0 and out.splitlines()[0] == "Threads: 1 (train.threads = 1)"
    assert torch.get_num_threads() == 1


def test_validate_describes_the_policy(tmp_path) -> None:
    """validate prints the scheduler with when it steps, accumulation and early stopping."""
    spec = tmp_path / "spec.toml"
    text = QUICK.replace("[train]", '[scheduler]\ntype = "plateau"\nmetric = "accuracy"\n[train]\naccumulate = 2')
    spec.write_text(text + "[train.early_stopping]\npatience = 4\n")
    code, out, _ = cli("validate", str(spec))
    lines = out.splitlines()
    assert code == 0
    assert any(x.startswith("Scheduler: plateau {'metric': 'accuracy'") and x.endswith("stepping per epoch, on accuracy")
               for x in lines)  # fmt: skip
    assert "Accumulation: 2 batches per optimizer step (as one batch of 64)" in lines
    assert "Early stopping: on accuracy, patience 4, min_delta 0" in lines


def test_show_says_when_a_scheduler_steps() -> None:
    code, out, _ = cli("show", "one_cycle")
    assert code == 0 and "  steps: per batch" in out.splitlines()
    assert "  steps: as the schedulers it holds" in cli("show", "sequence")[1].splitlines()


def test_the_built_in_schedulers_arrive_through_the_scheduler_hook(catalog) -> None:
    """Every scheduler the built-in plugin defines is in the catalog under the scheduler kind, and nothing else."""
    names = sorted(c.name for c in catalog.list("scheduler"))
    assert names == sorted(CASES)


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_the_shipped_policy_spec_trains(tmp_path) -> None:
    """specs/fashion_mnist_onecycle.toml, cut to 100 steps: every policy on at once, the rate rising as one-cycle's."""
    spec = Path(__file__).resolve().parent.parent / "specs" / "fashion_mnist_onecycle.toml"
    sets = ["train.epochs=2", "train.max_steps_per_epoch=100"]
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"), *[x for s in sets for x in ("--set", s)])
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["test_accuracy"] > 0.75
    opt = _sgd()
    cycle, after = L.OneCycleLR(opt, max_lr=0.004, total_steps=200), []
    for _ in range(200):  # the rate after each step, as the epoch's row records it after its last
        opt.step()
        cycle.step()
        after.append(opt.param_groups[0]["lr"])
    assert [r["lr"] for r in rows] == pytest.approx([after[99], after[199]], rel=1e-9)
