"""Sweeps: a spec's [sweep] searched with Optuna, each trial a run directory; workers, faults, resume, pruning,
located search-space errors, and a real PostgreSQL server shared by two workers."""

from __future__ import annotations

import glob
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import tomllib
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from registry.cli import ExitCode, main

from .conftest import QUICK

pytestmark = pytest.mark.usefixtures("builtins_only")

SWEEP = (
    QUICK
    + """
[sweep]
trials = 4
[sweep.space]
"optimizer.lr" = { type = "float", low = 0.01, high = 0.2, log = true }
"model.layers[1].out_features" = { type = "categorical", choices = [16, 32] }
"""
)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def study_of(path: Path, storage: object | None = None) -> optuna.Study:
    """The sweep's study, read back through Optuna itself."""
    record = json.loads((path / "sweep.json").read_text())
    if storage is None:
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(path / "study.journal")))
    return optuna.load_study(study_name=record["study"], storage=storage)


def trial_spec(run_dir: str | Path) -> dict:
    return tomllib.loads((Path(run_dir) / "spec.toml").read_text())


def metrics(run_dir: str | Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def test_a_sweep_runs_each_trial_as_a_run_directory_and_writes_the_best_spec(write_spec) -> None:
    spec = write_spec(SWEEP)
    code, out, err = cli("sweep", str(spec), "--out", "sw", "--set", "train.epochs=2")
    assert code == ExitCode.OK, err
    lines = out.splitlines()
    assert lines[0] == (
        "Sweep sw: 4 trials of optimizer.lr, model.layers[1].out_features; maximize accuracy; sampler tpe, "
        "pruner median; study 'spec' in study.journal"
    )
    progress = [line for line in lines if line.startswith("trial ") and "  complete  " in line]
    assert len(progress) == 4
    study = study_of(Path("sw"))
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        run_dir = Path("sw/trials") / f"trial-{t.number:04d}"
        assert t.user_attrs["run_dir"] == str(run_dir.resolve())
        resolved = trial_spec(run_dir)
        assert "sweep" not in resolved  # a trial is an ordinary run
        assert resolved["optimizer"]["lr"] == t.params["optimizer.lr"]
        assert resolved["model"]["layers"][1]["out_features"] == t.params["model.layers[1].out_features"]
        assert 0.01 <= t.params["optimizer.lr"] <= 0.2
        rows = metrics(run_dir)
        assert [r["epoch"] for r in rows] == [1, 2]
        assert t.value == max(r["test_accuracy"] for r in rows)  # the objective: its best epoch's accuracy
        assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
        assert {"best", "latest"} <= {p.name for p in (run_dir / "checkpoints").iterdir()}
        line = next(x for x in progress if x.startswith(f"trial {t.number:>3}  "))
        assert re.fullmatch(
            rf"trial +{t.number}  complete  accuracy {t.value:.6g} \(epoch {t.user_attrs['best_epoch']}\)  "
            rf"optimizer\.lr={t.params['optimizer.lr']:.6g}  "
            rf"model\.layers\[1\]\.out_features={t.params['model.layers[1].out_features']}  \d+\.\d s",
            line,
        ), line
    # the table: best first
    table = lines[lines.index("4 trials (4 complete); objective: accuracy, maximize") + 1 :]
    assert table[0].split() == ["trial", "state", "accuracy", "epoch", "optimizer.lr",
                                "model.layers[1].out_features", "seconds", "run"]  # fmt: skip
    order = [int(row.split()[0]) for row in table[1:5]]
    ranked = sorted(trials, key=lambda t: (-t.value, t.number))
    assert order == [t.number for t in ranked]
    best = ranked[0]
    assert lines[-2] == f"Best: trial {best.number}; its spec: sw/best.toml (python -m registry run sw/best.toml)"
    # the best trial's spec reruns unchanged, to the same metric
    code, out, err = cli("run", "sw/best.toml", "--quiet", "--out", "again")
    assert code == ExitCode.OK, err
    assert max(r["test_accuracy"] for r in metrics("again")) == best.value
    assert trial_spec("again") == trial_spec(best.user_attrs["run_dir"])

    # sweep-report: the same table, and Optuna's four plots as PNG files
    code, report, err = cli("sweep-report", "sw")
    assert code == ExitCode.OK, err
    assert report.splitlines()[:6] == lines[lines.index("4 trials (4 complete); objective: accuracy, maximize") :][:6]
    for name in ("history", "importances", "parallel", "epochs"):
        assert f"{name}: sw/plots/{name}.png" in report.splitlines()
        png = Path(f"sw/plots/{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (900, 550)


def test_a_worker_loads_the_data_again_only_when_a_trial_changes_the_data_settings(write_spec, monkeypatch) -> None:
    """Trials that vary the optimizer share the resident splits; a trial with another split_seed loads its own."""
    import registry.training.splits

    loads: list[int] = []
    real = registry.training.splits.load_data

    def load_data(built):
        loads.append(built.resolved.spec.data.split_seed)
        return real(built)

    monkeypatch.setattr(registry.training.splits, "load_data", load_data)
    grid = """
[sweep]
trials = 4
sampler = "grid"
[sweep.space]
"optimizer.lr" = { type = "categorical", choices = [0.01, 0.05] }
"data.split_seed" = { type = "categorical", choices = [0, 1] }
"""
    code, _, err = cli("sweep", str(write_spec(SWEEP.split("[sweep]")[0] + grid)), "--out", "sw")
    assert code == ExitCode.OK, err
    seeds = [t.params["data.split_seed"] for t in study_of(Path("sw")).get_trials()]
    assert sorted(seeds) == [0, 0, 1, 1]
    assert loads == [seeds[0], *(b for a, b in zip(seeds, seeds[1:]) if a != b)]  # once per change, not per trial
    loads.clear()
    code, _, err = cli("sweep", str(write_spec(SWEEP)), "--out", "lr-only")
    assert code == ExitCode.OK, err
    assert loads == [0]  # four trials, one load


def test_a_trial_writes_without_fsync_while_a_run_and_the_study_stay_durable(write_spec, monkeypatch) -> None:
    """A trial cut off is run again, never resumed: its files are renamed into place (atomic) but not fsynced;
    an ordinary run's checkpoint and metrics are, and so is the study (Optuna's journal)."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(re.sub(r"\.tmp-[A-Za-z0-9_]+", "", os.readlink(f"/proc/self/fd/{fd}")))  # the name it is renamed to
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    spec = write_spec(SWEEP)
    code, _, err = cli("run", str(spec), "--quiet", "--out", "plain", "--set", "train.epochs=1")
    assert code == ExitCode.OK, err
    plain = Path("plain").resolve()
    assert {str(plain / f) for f in ("spec.toml", "run.json", "metrics.jsonl", "checkpoints/latest")} <= set(synced)
    synced.clear()
    code, _, err = cli("sweep", str(spec), "--out", "sw", "--set", "train.epochs=1", "--set", "sweep.trials=1")
    assert code == ExitCode.OK, err
    trial = Path("sw/trials/trial-0000").resolve()
    assert json.loads((trial / "run.json").read_text())["status"] == "completed"
    assert (trial / "checkpoints" / (trial / "checkpoints/latest").read_text().strip() / "model.safetensors").is_file()
    assert [p for p in synced if p.startswith(str(trial))] == []
    assert str(Path("sw/study.journal").resolve()) in synced


BAD = """\
[sweep]
sampler = "grid"
metric = "f1"
[sweep.space]
"optimizer.lrr" = { type = "float", low = 0.01, high = 0.1, step = 0.01 }
"optimizer.lr" = { type = "float", low = -0.5, high = 0.1 }
"model.layers[1].out_features" = { type = "categorical", choices = [16, "wide", 0] }
"model.layers[1]" = { type = "categorical", choices = [{ type = "relu" }] }
"sweep.trials" = { type = "int", low = 1, high = 3 }
"train.epochs" = { type = "int", low = 1, high = 6, step = 2 }
"model.layers[9].out_features" = { type = "int", low = 1, high = 6 }
"optimizer.type" = { type = "categorical", choices = ["adam", "sgd", "nope"] }
"""


def test_every_search_space_error_is_located_and_nothing_is_written(write_spec) -> None:
    spec = write_spec(QUICK.replace("momentum = 0.9\n", "") + BAD)
    n = len(QUICK.replace("momentum = 0.9\n", "").splitlines())
    expected = [
        f'  {spec}:{n + 2}: sweep.sampler: a grid needs every range to be finite: sweep.space."optimizer.lr" has no step',
        f"  {spec}:{n + 3}: sweep.metric: 'f1' is not a value this run computes. It may be: auto, loss, accuracy (a "
        "metric is computed when metrics lists it)",
        f"  {spec}:{n + 5}: sweep.space.\"optimizer.lrr\".high: 0.1 is refused: optimizer 'sgd' takes no parameter "
        "'lrr'; did you mean 'lr'? Its parameters: dampening, lr, momentum, nesterov, weight_decay",
        f"  {spec}:{n + 5}: sweep.space.\"optimizer.lrr\".low: 0.01 is refused: optimizer 'sgd' takes no parameter "
        "'lrr'; did you mean 'lr'? Its parameters: dampening, lr, momentum, nesterov, weight_decay",
        f'  {spec}:{n + 6}: sweep.space."optimizer.lr".low: -0.5 is refused: must be > 0.0 (got -0.5)',
        f'  {spec}:{n + 7}: sweep.space."model.layers[1].out_features".choices[1]: "wide" is refused: must be an '
        "integer (got 'wide')",
        f'  {spec}:{n + 7}: sweep.space."model.layers[1].out_features".choices[2]: 0 is refused: must be >= 1 (got 0)',
        f"  {spec}:{n + 8}: sweep.space.\"model.layers[1]\": overlaps 'model.layers[1].out_features': one key path "
        "may not hold another",
        f"  {spec}:{n + 9}: sweep.space.\"sweep.trials\": 'sweep' cannot be searched: vary the spec's values, not its "
        "sweep",
        f'  {spec}:{n + 10}: sweep.space."train.epochs".step: high - low (5) is not a multiple of step (2): high '
        "would never be sampled",
        f'  {spec}:{n + 11}: sweep.space."model.layers[9].out_features".high: 6 is refused: model.layers[9]: '
        "model.layers[9].out_features=6: model.layers has 5 items (indexes 0 to 4)",
        f'  {spec}:{n + 11}: sweep.space."model.layers[9].out_features".low: 1 is refused: model.layers[9]: '
        "model.layers[9].out_features=1: model.layers has 5 items (indexes 0 to 4)",
        f'  {spec}:{n + 12}: sweep.space."optimizer.type".choices[2]: "nope" is refused: unknown optimizer \'nope\'. '
        "Available: adadelta, adagrad, adam, adamw, rmsprop, sgd (see: python -m registry list optimizers)",
    ]
    for command in ("sweep", "validate", "run"):
        code, out, err = cli(command, str(spec))
        assert code == ExitCode.USAGE
        assert err.splitlines() == [f"error: {spec}: 13 problems in the spec", *expected], command
    assert not Path("sweeps").exists() and not Path("runs").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ type = "float", low = 0.2, high = 0.1 }', "low (0.2) is greater than high (0.1)"),
        ('{ type = "float", low = 0.0, high = 0.1, log = true }', "a log scale needs low > 0 (got 0.0)"),
        ('{ type = "int", low = 1, high = 8, step = 2, log = true }', "log and step cannot be used together"),
    ],
)
def test_a_distribution_that_cannot_be_sampled_is_located(write_spec, entry: str, message: str) -> None:
    spec = write_spec(QUICK + f'[sweep.space]\n"optimizer.lr" = {entry}\n')
    code, out, err = cli("sweep", str(spec))
    assert code == ExitCode.USAGE
    line = len(QUICK.splitlines()) + 2
    assert f'{spec}:{line}: sweep.space."optimizer.lr": {message}' in err, err


def test_a_spec_without_a_sweep_table_says_what_to_add(write_spec) -> None:
    code, out, err = cli("sweep", str(write_spec(QUICK)))
    assert code == ExitCode.USAGE
    assert 'sweep: is missing: say what to search, e.g. [sweep.space] "optimizer.lr" = ' in err


def test_a_failed_trial_is_recorded_with_its_reason_and_the_sweep_goes_on(write_spec) -> None:
    """A NaN loss and a shape the sampled values make impossible each fail their trial; the others complete."""
    text = (
        QUICK
        + """
[sweep]
trials = 4
sampler = "grid"
[sweep.space]
"optimizer.lr" = { type = "categorical", choices = [1e30, 0.05] }
"model.layers[3].out_features" = { type = "categorical", choices = [10, 7] }
"""
    )
    code, out, err = cli("sweep", str(write_spec(text)), "--out", "sw")
    assert code == ExitCode.OK, err
    study = study_of(Path("sw"))
    by_params = {(t.params["optimizer.lr"], t.params["model.layers[3].out_features"]): t for t in study.get_trials()}
    assert len(by_params) == 4  # the whole grid, each combination once
    for lr, width in ((1e30, 7), (0.05, 7)):
        t = by_params[(lr, width)]
        assert t.state == TrialState.FAIL
        assert t.user_attrs["reason"].endswith(
            "model.layers[4]: the model outputs 7 values per sample but the dataset has 10 classes; the last layer "
            "needs 10 outputs"
        )
        assert "run_dir" not in t.user_attrs  # refused before its run directory was made
    nan = by_params[(1e30, 10)]
    assert nan.state == TrialState.FAIL
    assert nan.user_attrs["reason"].startswith("epoch 1, batch 1: the loss is nan; lower optimizer.lr")
    run = json.loads((Path(nan.user_attrs["run_dir"]) / "run.json").read_text())
    assert run["status"] == "failed" and run["reason"].startswith("epoch 1, batch 1: the loss is nan")
    good = by_params[(0.05, 10)]
    assert good.state == TrialState.COMPLETE
    assert f"trial {nan.number} failed: epoch 1, batch 1: the loss is nan" in out
    assert "4 trials (1 complete, 3 failed); objective: accuracy, maximize" in out
    assert f"Best: trial {good.number}; its spec: sw/best.toml" in out


@pytest.mark.parametrize("warmup", [0, 1])
def test_pruning_stops_a_trial_that_is_worse_than_the_median(write_spec, catalog, warmup: int) -> None:
    """Per-epoch test values reach Optuna's median pruner: a trial below the finished ones stops after its first
    epoch past the warm-up (warmup_epochs = 1: its first epoch is never judged)."""
    from registry.resolution.searchspace import distributions
    from registry.sweeps.sweep import create, work

    text = (
        QUICK.replace("epochs = 1", "epochs = 3")
        + """
[sweep]
trials = 3
pruner = { type = "median", startup_trials = 1, warmup_epochs = WARMUP }
[sweep.space]
"optimizer.lr" = { type = "categorical", choices = [1e-6] }
""".replace("WARMUP", str(warmup))
    )
    sweep = create(str(write_spec(text)), "sw", catalog, io.StringIO())
    # a finished trial that did well at every epoch: the trials to come are judged against it
    sweep.study.add_trial(optuna.trial.create_trial(
        params={"optimizer.lr": 1e-6}, distributions=distributions(sweep.space), value=0.97,
        intermediate_values={1: 0.9, 2: 0.95, 3: 0.97},
    ))  # fmt: skip
    out = io.StringIO()
    outcomes = work(sweep, catalog, out)
    assert [o.state for o in outcomes] == ["pruned", "pruned"]
    for o in outcomes:
        trial = sweep.study.trials[o.number]
        assert trial.state == TrialState.PRUNED
        rows = metrics(trial.user_attrs["run_dir"])
        assert [r["epoch"] for r in rows] == list(range(1, warmup + 2))
        assert trial.intermediate_values == {r["epoch"]: r["test_accuracy"] for r in rows}
        reason = f"pruned after epoch {warmup + 1} (accuracy {rows[-1]['test_accuracy']:.6g})"
        assert o.reason == trial.user_attrs["reason"] == reason
        run = json.loads((Path(trial.user_attrs["run_dir"]) / "run.json").read_text())
        assert (run["status"], run["reason"]) == ("completed", reason)
        assert f"  ({reason})" in out.getvalue()


def _wait_for_running(path: Path, deadline: float = 120.0) -> optuna.trial.FrozenTrial:
    """The first trial some worker is training (its run directory has begun)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            running = study_of(path).get_trials(states=(TrialState.RUNNING,))
        except (FileNotFoundError, KeyError):  # the sweep is still making its directory and study
            running = []
        for t in running:
            if "run_dir" in t.user_attrs and "pid" in t.user_attrs:
                return t
        time.sleep(0.1)
    raise AssertionError("no trial started")


SLOW = (
    QUICK.replace("epochs = 1", "epochs = 40")
    + """
[sweep]
trials = 3
pruner = "none"
[sweep.space]
"optimizer.lr" = { type = "float", low = 0.01, high = 0.1, log = true }
"""
)


def _registry(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "registry", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


@pytest.mark.slow
def test_a_killed_sweep_resumes_its_killed_trial_failed_and_finishes_the_count(write_spec) -> None:
    """A grid of three: the combination the killed trial held is run again, so the grid is still covered."""
    spec = write_spec(
        SLOW.replace('pruner = "none"', 'pruner = "none"\nsampler = "grid"').replace(
            '{ type = "float", low = 0.01, high = 0.1, log = true }',
            '{ type = "categorical", choices = [0.01, 0.02, 0.05] }',
        )
    )
    p = _registry("sweep", str(spec), "--out", "sw")
    running = _wait_for_running(Path("sw"))
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    code, out, err = cli("sweep", "--resume", "sw")
    assert code == ExitCode.OK, err
    trials = study_of(Path("sw")).get_trials()
    cut = trials[running.number]
    assert cut.state == TrialState.FAIL
    assert cut.user_attrs["reason"] == f"its worker (process {p.pid}) ended in the middle of it"
    assert cut.user_attrs["cut"] is True
    counted = [t for t in trials if not t.user_attrs.get("cut")]
    assert len(counted) == 3 and all(t.state == TrialState.COMPLETE for t in counted)
    assert len(trials) == 4
    assert "4 trials (3 complete, 1 failed)" in out
    assert sorted(t.params["optimizer.lr"] for t in counted) == [0.01, 0.02, 0.05]
    retried = next(t for t in counted if t.user_attrs.get("retry_of") == cut.number)
    assert retried.params == cut.params


def test_an_interrupted_sweep_records_its_trial_and_says_how_to_resume(write_spec, tmp_path, monkeypatch) -> None:
    spec = write_spec(SLOW)
    (tmp_path / "elsewhere").mkdir()
    p = _registry("sweep", str(spec), "--out", "sw")
    running = _wait_for_running(Path("sw"))
    # a look from another folder does not take the live trial for a dead one
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, report, err = cli("sweep-report", "../sw", "--no-plots")
    assert code == ExitCode.OK, err
    assert study_of(Path("../sw")).trials[running.number].state == TrialState.RUNNING
    monkeypatch.chdir(tmp_path)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == ExitCode.INTERRUPTED, err
    assert err.splitlines()[-1] == (
        "error: interrupted by SIGINT; the trial it cut is recorded as failed; python -m registry sweep --resume sw "
        "continues the sweep"
    )
    trials = study_of(Path("sw")).trials
    t = trials[running.number]
    assert t.state == TrialState.FAIL and t.user_attrs["cut"] is True
    assert t.user_attrs["reason"] == "interrupted by SIGINT"
    # its values wait to be tried again, first thing on resume
    assert trials[-1].state == TrialState.WAITING
    assert trials[-1].system_attrs["fixed_params"] == t.params and trials[-1].user_attrs["retry_of"] == t.number


@pytest.mark.slow
def test_two_workers_on_one_journal_run_the_requested_distinct_trials(write_spec) -> None:
    spec = write_spec(SLOW.replace("trials = 3", "trials = 5"))
    code, out, err = cli("sweep", str(spec), "--out", "sw", "--workers", "2")
    assert code == ExitCode.OK, err
    trials = study_of(Path("sw")).get_trials()
    assert [t.number for t in trials] == list(range(5))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["run_dir"] for t in trials}) == 5
    assert len({t.params["optimizer.lr"] for t in trials}) == 5  # each worker samples with its own seed
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both workers ran trials
    assert sum(1 for line in out.splitlines() if re.match(r"trial +\d  complete  ", line)) == 5


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_a_failed_trial_and_a_completed_sweep(write_spec) -> None:
    spec = write_spec(SLOW.replace("trials = 3", "trials = 4"))
    p = _registry("sweep", str(spec), "--out", "sw", "--workers", "2")
    running = _wait_for_running(Path("sw"))
    os.kill(running.user_attrs["pid"], signal.SIGKILL)
    out, err = p.communicate(timeout=300)
    assert p.returncode == ExitCode.OK, err
    assert re.search(rf"worker \d \(process {running.user_attrs['pid']}\) was killed by SIGKILL; trial "
                     rf"{running.number} marked failed", err), err  # fmt: skip
    trials = study_of(Path("sw")).get_trials()
    cut = trials[running.number]
    assert cut.state == TrialState.FAIL
    assert cut.user_attrs["reason"] == f"its worker (process {running.user_attrs['pid']}) ended in the middle of it"
    counted = [t for t in trials if not t.user_attrs.get("cut")]
    assert len(counted) == 4 and all(t.state == TrialState.COMPLETE for t in counted)
    assert "5 trials (4 complete, 1 failed)" in out


HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
import optuna
from registry.sweeps.journal import open_journal
storage = open_journal(optuna, Path(sys.argv[1]), create=False)
storage._backend._lock.acquire()  # what a worker holds while it appends to the journal
print("held", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_a_lock_left_by_a_killed_writer_is_released_and_the_sweep_goes_on(write_spec) -> None:
    """A worker SIGKILLed while it appends to the journal leaves Optuna's lock behind: the link must resolve (the
    journal named by an absolute path; a relative one left it dangling, and every process spun on it for ever),
    so that Optuna releases it after its 30 s grace period and the next write goes through."""
    code, _, err = cli("sweep", str(write_spec(SWEEP.replace("trials = 4", "trials = 1"))), "--out", "sw")
    assert code == ExitCode.OK, err
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, "sw"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    lock = Path("sw/study.journal.lock")
    assert lock.is_symlink() and lock.resolve() == Path("sw/study.journal").resolve() and lock.exists()
    holder.kill()
    holder.wait()
    start = time.monotonic()
    from registry.sweeps.journal import open_journal

    study = optuna.load_study(study_name=None, storage=open_journal(optuna, Path("sw"), create=False))
    study.set_user_attr("after", "the lock was released")  # blocks until Optuna releases the dead writer's lock
    waited = time.monotonic() - start
    assert 25 < waited < 90 and not lock.exists()
    assert study_of(Path("sw")).user_attrs["after"] == "the lock was released"


def test_a_study_made_by_another_sweep_is_not_joined(write_spec, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spec = write_spec(SWEEP.replace("trials = 4", "trials = 1"))
    code, out, err = cli("sweep", str(spec), "--out", "a", "--storage", url, "--study", "s")
    assert code == ExitCode.OK, err
    other = write_spec(SWEEP.replace("choices = [16, 32]", "choices = [16, 64]"), "other.toml")
    code, out, err = cli("sweep", str(other), "--out", "b", "--storage", url, "--study", "s")
    assert code == ExitCode.SWEEP
    assert not Path("b").exists()  # nothing left to resume
    assert err.startswith(f"error: {url}: study 's' was made by another sweep (its spec or search space differs: ")
    assert err.rstrip().endswith("give this one another name with --study")
    code, out, err = cli("sweep", str(other), "--out", "c", "--storage", "nowhere.db")
    assert code == ExitCode.SWEEP
    assert "--storage 'nowhere.db': not a database URL (postgresql://user@host/db, sqlite:///file.db" in err


# -- a real PostgreSQL server, as workers on several machines would share it ------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own (Debian's `postgresql` programs), on a Unix socket; its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        pytest.skip("no PostgreSQL server programs (Debian: apt-get install postgresql; .ci/run installs them)")
    bindir = Path(found[-1]).parent
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run the server as")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    root.chmod(0o755)
    data, port = root / "data", _free_port()
    run = lambda *a: subprocess.run([*prefix, *a], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
            f"-k {root} -p {port} -c listen_addresses=''", "start")  # fmt: skip
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server could be started: {e.stderr.strip()[:300]}")
    try:
        run(str(bindir / "createdb"), "-h", str(root), "-p", str(port), "-U", "postgres", "sweeps")
        yield f"postgresql://postgres@/sweeps?host={root}&port={port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_machines_share_a_study_in_postgresql(write_spec, postgres: str) -> None:
    """docs/sweeps.md's two commands, one per machine: each its own sweep directory, one study in the database."""
    spec = write_spec(SLOW.replace("trials = 3", "trials = 5"))
    workers = [_registry("sweep", str(spec), "--out", name, "--storage", postgres, "--study", "shared")
               for name in ("machine-a", "machine-b")]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in workers]
    for p, (out, err) in zip(workers, outs, strict=True):
        assert p.returncode == ExitCode.OK, err
        assert "study 'shared' in postgresql://postgres@/sweeps?host=" in out
    storage = optuna.storages.RDBStorage(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    trials = study_of(Path("machine-a"), storage).get_trials()
    # Workers in different directories do not lock each other out: the last ask may overshoot by one.
    assert 5 <= len(trials) <= 6
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    dirs = [Path(t.user_attrs["run_dir"]) for t in trials]
    assert len(set(dirs)) == len(trials)
    assert {d.parent.parent.name for d in dirs} == {"machine-a", "machine-b"}  # both machines ran trials
    for t, d in zip(trials, dirs, strict=True):
        assert max(r["test_accuracy"] for r in metrics(d)) == t.value
        assert trial_spec(d)["optimizer"]["lr"] == t.params["optimizer.lr"]
    # either machine's report shows every trial of the study, the best spec from whichever ran it
    code, report, err = cli("sweep-report", "machine-b", "--no-plots")
    assert code == ExitCode.OK, err
    assert report.splitlines()[0].startswith(f"{len(trials)} trials ({len(trials)} complete)")
    best = max(trials, key=lambda t: (t.value, -t.number))
    assert f"Best: trial {best.number}; its spec: machine-b/best.toml" in report
    assert Path("machine-b/best.toml").read_text().split("\n", 1)[1] == (dirs[best.number] / "spec.toml").read_text()
