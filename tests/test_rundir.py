"""The run directory tells the truth: how a run ended, who holds it, whether its spec was edited, what is left to do."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from registry.cli import ExitCode, main
from registry.rundirs.checkpoints import load_checkpoint
from registry.rundirs.rundir import RunDir, default_run_path

from .conftest import QUICK, ROOT

SPEC = QUICK.replace("epochs = 1", "epochs = 3")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def info(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


# A run in a subprocess, with one of the runner's steps replaced: it signals itself there.
SIGNALLER = """
import os, signal, sys
import registry.training.loop as rn, registry.training.checkpointing as ck, registry.rundirs.rundir as rd
target, nth, signame = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = [0]
def wrap(owner, name):
    real = getattr(owner, name)
    def patched(*a, **k):
        calls[0] += 1
        if name == "write_metrics" and calls[0] == nth:  # after the checkpoint, before the rows are written
            os.kill(os.getpid(), getattr(signal, signame))
        result = real(*a, **k)
        if name != "write_metrics" and calls[0] == nth:  # while the test pass or the confusion matrix runs
            os.kill(os.getpid(), getattr(signal, signame))
        return result
    setattr(owner, name, patched)
wrap({"write_metrics": rd.RunDir, "confusion": ck}.get(target, rn), target)
from registry.cli import main
sys.exit(main(sys.argv[4:]))
"""


def signalled(run: Path, spec: Path, target: str, nth: int, signame: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SIGNALLER, target, str(nth), signame, "run", str(spec), "--out", str(run)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "spec.toml"
    p.write_text(SPEC)
    return p


def test_a_completed_run_says_so_with_its_final_metrics(spec, tmp_path) -> None:
    """status completed, the final row in run.json, no lock held afterwards."""
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    got = info(run)
    assert got["status"] == "completed" and got["final"]["epoch"] == 3
    assert RunDir(run).status() == "completed" and not RunDir(run).is_held()


def test_a_failure_is_recorded_with_its_reason(spec, tmp_path) -> None:
    """A non-finite loss: exit 1, run.json failed with the message."""
    spec.write_text(SPEC.replace("lr = 0.05", "lr = 1e6"))
    run = tmp_path / "run"
    code, _, err = cli("run", str(spec), "--out", str(run))
    assert code == ExitCode.RUN_FAILED
    got = info(run)
    assert got["status"] == "failed" and got["reason"] == err.removeprefix("error: ").strip()


def test_a_sigkilled_run_is_recognised_as_killed(spec, tmp_path) -> None:
    """SIGKILL leaves 'running' in run.json; nobody holds the lock, so every later look says 'killed'."""
    run = tmp_path / "run"
    spec.with_name("slow.toml").write_text(SPEC.replace("epochs = 3", "epochs = 1000"))
    proc = subprocess.Popen([sys.executable, "-m", "registry", "run", str(spec.with_name("slow.toml")), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Train Epoch: 2 "):
            break
    assert RunDir(run).status() == "running" and RunDir(run).is_held()
    proc.kill()
    proc.wait(timeout=30)
    assert info(run)["status"] == "running"
    assert RunDir(run).status() == "killed"
    assert " killed " in cli("runs", str(tmp_path))[1]


def test_a_second_writer_is_refused_naming_the_holder(spec, tmp_path) -> None:
    """While a run writes its directory, --resume of it is refused with the holder's pid and command."""
    slow = spec.with_name("slow.toml")
    slow.write_text(SPEC.replace("epochs = 3", "epochs = 1000\ncheckpoint_every = 5"))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "registry", "run", str(slow), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Train Epoch: 2 "):
                break
        code, out, err = cli("run", "--resume", str(run))
        assert code == ExitCode.CHECKPOINT and out == ""
        assert err.startswith(f"error: {run}: in use by process {proc.pid} on ")
        assert f"registry run {slow} --out {run}" in err and err.endswith("then try again\n")
        code, _, err = cli("run", str(slow), "--out", str(run))
        assert code == ExitCode.CHECKPOINT and "already exists and is not an empty folder" in err
    finally:
        proc.kill()
        proc.wait(timeout=30)
    epoch = load_checkpoint(run).progress.epoch  # train to the end of the epoch it was in (or the next), no more
    code, _, err = cli("run", "--resume", str(run), "--set", f"train.epochs={epoch}")  # the dead holder's lock is free
    assert code == 0, err


def test_killed_after_the_last_checkpoint_resume_finishes_the_run(spec, tmp_path) -> None:
    """SIGKILL after the last epoch's checkpoint but before its rows are written: --resume writes what is left."""
    run = tmp_path / "run"
    proc = signalled(run, spec, "write_metrics", 3, "SIGKILL")
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(run).path.name == "ckpt-e0003-end"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2 and not (run / "confusion.json").exists()
    code, out, err = cli("run", "--resume", str(run))
    assert code == 0, err
    assert "Done: 3 epochs (0 in this process, after 3 before the resume: killed: its process ended without a word (SIGKILL, a crash, a power cut))" in out
    assert [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert (run / "confusion.json").is_file() and info(run)["status"] == "completed"


@pytest.mark.parametrize("target", ["evaluate", "confusion"])
def test_a_signal_during_the_final_test_pass_or_the_confusion_matrix(spec, tmp_path, target) -> None:
    """SIGINT while the last epoch is tested, or the confusion matrix drawn: exit 130, a consistent directory, and
    --resume completes it."""
    run = tmp_path / "run"
    proc = signalled(run, spec, target, 3 if target == "evaluate" else 1, "SIGINT")
    assert proc.returncode == ExitCode.INTERRUPTED, proc.stderr
    assert proc.stderr.startswith("error: interrupted by SIGINT at the end of epoch 3; checkpoint saved in ")
    assert info(run)["status"] == "interrupted"
    assert load_checkpoint(run).path.name == "ckpt-e0003-end"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    code, out, _ = cli("run", "--resume", str(run))
    assert code == 0 and info(run)["status"] == "completed" and (run / "confusion.json").is_file()


def test_an_edited_spec_of_a_run_is_detected(spec, tmp_path) -> None:
    """The run's own spec.toml edited afterwards: resume, evaluate and predict refuse it (exit 5)."""
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    saved = run / "spec.toml"
    saved.write_text(saved.read_text().replace("lr = 0.05", "lr = 0.5"))
    for argv in (("run", "--resume", str(run)), ("evaluate", str(run))):
        code, _, err = cli(*argv)
        assert code == ExitCode.CHECKPOINT
        assert err.startswith(f"error: {saved}: edited after the run wrote it (its SHA-256 differs from the one in run.json)")


def test_checkpoint_names_count_epochs_as_the_log_does(spec, tmp_path) -> None:
    """A checkpoint 10 batches into epoch 2 is ckpt-e0002-b000010; the end of epoch 1 is ckpt-e0001-end."""
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 2\ncheckpoint_every = 10\nkeep_checkpoints = 100"))
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    names = sorted(p.name for p in (run / "checkpoints").iterdir() if p.is_dir())
    assert names == [
        "ckpt-e0001-b000010", "ckpt-e0001-b000020", "ckpt-e0001-b000030", "ckpt-e0001-b000040", "ckpt-e0001-end",
        "ckpt-e0002-b000010", "ckpt-e0002-b000020", "ckpt-e0002-b000030", "ckpt-e0002-b000040", "ckpt-e0002-end",
    ]  # fmt: skip


def test_mid_epoch_checkpoints_rotate_as_they_are_written(spec, tmp_path) -> None:
    """checkpoint_every = 1 and keep_checkpoints = 2: a run stopped mid-epoch leaves at most 3 folders, not 45."""
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 1\ncheckpoint_every = 1"))
    run = tmp_path / "run"
    proc = signalled(run, spec, "_check_finite", 30, "SIGKILL")
    assert proc.returncode == -signal.SIGKILL
    folders = [p.name for p in (run / "checkpoints").iterdir() if p.is_dir() and ".tmp-" not in p.name]
    assert len(folders) <= 3 and "ckpt-e0001-b000029" in folders


def test_default_run_names_are_one_safe_path_component(tmp_path) -> None:
    """A file stem with path characters or a leading dot still makes runs/<safe>-<time>; a spec name cannot escape."""
    assert default_run_path(None, "../../.hidden spec.toml").parent == Path("runs")
    assert default_run_path(None, "../../.hidden spec.toml").name.startswith("hidden_spec-")
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace("seed = 0", 'seed = 0\nname = "../../escape"'))
    code, _, err = cli("run", str(spec))
    assert code == ExitCode.USAGE and "name: must be a label for the run" in err
    assert not list(tmp_path.parent.parent.glob("escape*"))


def test_runs_lists_an_unreadable_run_without_failing(tmp_path, spec) -> None:
    """A run.json that is not a record: `runs` names it unreadable and still lists the others."""
    good, bad = tmp_path / "runs" / "good", tmp_path / "runs" / "bad"
    assert cli("run", str(spec), "--out", str(good))[0] == 0
    bad.mkdir()
    (bad / "run.json").write_text('{"status": 3}')
    (bad / "spec.toml").write_text("")
    code, out, _ = cli("runs", str(tmp_path / "runs"))
    assert code == 0
    assert out.splitlines()[1].startswith("bad") and "unreadable: " in out.splitlines()[1]
    assert " completed " in out.splitlines()[2]


def test_a_resumed_run_is_running_again_and_completes_without_the_old_reason(spec, tmp_path) -> None:
    """--resume marks the run running (a kill of the resumed process shows as killed), and a completed run
    keeps no reason of an earlier interruption."""
    run = tmp_path / "run"
    proc = signalled(run, spec, "evaluate", 1, "SIGINT")
    assert proc.returncode == ExitCode.INTERRUPTED and info(run)["reason"].startswith("interrupted by SIGINT")
    from registry.training.launch import RunOptions, start

    session = start(RunOptions(resume=str(run)), io.StringIO())
    assert session.rundir is not None
    assert info(run)["status"] == "running" and "reason" not in info(run)
    session.rundir.release()
    assert RunDir(run).status() == "killed"  # as if the resumed process had died
    code, out, err = cli("run", "--resume", str(run))
    assert code == 0, err
    assert info(run)["status"] == "completed" and "reason" not in info(run)
    # the record is whole: each process's segment, how it started and how it ended
    segments = info(run)["segments"]
    assert [(s["start"], s.get("how")) for s in segments] == [
        ("the beginning", "interrupted by SIGINT at the end of epoch 1"),
        ("ckpt-e0001-end (the end of epoch 1)", "killed: its process ended without a word (SIGKILL, a crash, a power cut)"),
        ("ckpt-e0001-end (the end of epoch 1)", "completed"),
    ]
    assert all("ended" in s for s in (segments[0], segments[2])) and "ended" not in segments[1]
    done = next(line for line in out.splitlines() if line.startswith("Done: "))
    assert done.startswith("Done: 3 epochs (2 in this process, after 1 before the resume: killed: its process ended "
                           "without a word (SIGKILL, a crash, a power cut)) in ")  # fmt: skip
    code, out, _ = cli("runs", str(tmp_path))
    header, row = out.splitlines()
    assert header.split()[-2:] == ["parts", "started"] and row.split()[-2] == "3"


def test_a_run_directory_that_cannot_be_opened_keeps_no_lock(tmp_path, monkeypatch) -> None:
    """When opening fails after the lock was taken, the lock is given back: the same process can open it again."""
    from registry.errors import CheckpointError

    calls = []

    def fail(self) -> None:
        calls.append(1)
        raise CheckpointError("cannot be written: test")

    monkeypatch.setattr(RunDir, "check_writable", fail)
    with pytest.raises(CheckpointError):
        RunDir.create(tmp_path / "run")
    monkeypatch.undo()
    rd = RunDir.create(tmp_path / "run")
    assert rd.is_held() and calls == [1]
    rd.release()
    assert not RunDir(tmp_path / "run").is_held()
