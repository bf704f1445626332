"""Data-parallel runs under torchrun (2 CPU processes, gloo, rendezvous on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from registry.cli import main
from registry.rundirs.checkpoints import load_checkpoint
from registry.training.distributed import Ranks, from_env, result_warnings

from .conftest import NESTED, QUICK, ROOT

pytestmark = pytest.mark.slow  # torchrun processes: run by `pytest -m slow` (and .ci/run)

SPEC = QUICK.replace("batch_size = 32", "batch_size = 64").replace("epochs = 1", "epochs = 2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(*args: str, script: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc-per-node=2",
                "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{free_port()}", "--max-restarts=0"]  # fmt: skip
    target = [script] if script else ["-m", "registry"]
    return subprocess.run([*launcher, *target, *args], capture_output=True, text=True, env=env, timeout=timeout)


NESTED_SPEC = NESTED.replace('  { type = "batch_norm" },\n', "").replace("batch_size = 32", "batch_size = 64").replace(
    "epochs = 1", "epochs = 2"
)  # blocks, a residual, repeat and branches; no batch norm, which is per rank without SyncBatchNorm


METRICS = 'metrics = [{ type = "f1", average = "macro" }, { type = "auroc" }, { type = "top_k_accuracy", k = 3 }]\n'
POLICY = '[scheduler]\ntype = "one_cycle"\nmax_lr = 0.1\n[train]\naccumulate = 3\n'  # per-batch steps, 3 batches each
GROUPS = '[train.param_groups]\nlr_scale = { "model.layers[1].*" = 0.5 }\n'  # two groups, two one-cycle peaks
REGRESSION = (ROOT / "specs" / "diabetes_mse.toml").read_text().replace("epochs = 30", "epochs = 2")
REGRESSION = REGRESSION.replace("batch_size = 32", "batch_size = 64")  # MAE and R^2, the task's defaults


@pytest.mark.parametrize(
    "text",
    [METRICS + SPEC.replace("[train]\n", POLICY) + GROUPS, NESTED_SPEC, REGRESSION],
    ids=["flat-classification-metrics-policy", "nested", "regression"],
)
def test_two_processes_equal_one(tmp_path: Path, text: str) -> None:
    """2 ranks with the same global batch and seed end with the weights and metrics of 1 process; rank 0 alone writes."""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    ddp = torchrun("run", str(spec), "--out", str(tmp_path / "ddp"))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", str(spec), "--out", str(tmp_path / "one")], out=out, err=err) == 0, err.getvalue()
    a, b = load_checkpoint(tmp_path / "one").model, load_checkpoint(tmp_path / "ddp").model
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    rows = [[json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()] for d in ("one", "ddp")]
    assert [r["test_correct"] for r in rows[0]] == [r["test_correct"] for r in rows[1]]
    assert all(x["test_loss"] == pytest.approx(y["test_loss"], rel=1e-5, abs=1e-6) for x, y in zip(*rows))
    assert [list(r["metrics"]) for r in rows[1]] == [list(r["metrics"]) for r in rows[0]]  # reduced across the ranks:
    assert all(x["metrics"] == pytest.approx(y["metrics"], rel=1e-5, abs=1e-6) for x, y in zip(*rows))  # equal to one process
    assert ddp.stdout.count("data-parallel: 2 processes, global batch 64") == 1  # only rank 0 prints
    assert ddp.stdout.count("Test set: Average loss") == 2
    assert len(rows[0][-1]["metrics"]) == (0 if text is NESTED_SPEC else 2 if text is REGRESSION else 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "one", "spec.toml"]  # no stray run folders


KILL_RANK_1 = """
import os, signal, sys
import registry.training.loop as rn
real, calls = rn._check_finite, [0]
def check(*a, **k):
    real(*a, **k)
    calls[0] += 1
    if os.environ["RANK"] == "1" and calls[0] == 5:
        os.kill(os.getpid(), signal.SIGKILL)
rn._check_finite = check
from registry.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_dead_rank_stops_the_whole_run(tmp_path: Path) -> None:
    """SIGKILL on rank 1 mid-epoch: the run ends non-zero within the timeout, the log naming rank 1; no hang."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 2", "epochs = 50\ndist_timeout = 30"))
    script = tmp_path / "kill_rank_1.py"
    script.write_text(KILL_RANK_1)
    proc = torchrun("run", str(spec), "--out", str(tmp_path / "run"), script=str(script), timeout=300)  # a hang fails
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert re.search(r"Root Cause \(first observed failure\):\n\[0\]:\n.*\n.*\n\s+rank\s+: 1 \(local_rank: 1\)\n\s+exitcode\s+: -9", log)


def test_nan_on_every_rank_stops_with_the_rank_named(tmp_path: Path) -> None:
    """lr = 1e30 under torchrun: exit non-zero, each rank's error names itself; sum-reduced loss is warned about."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("lr = 0.05", "lr = 1e30").replace('type = "nll"', 'type = "nll"\nreduction = "sum"'))
    proc = torchrun("run", str(spec), "--out", str(tmp_path / "run"))
    assert proc.returncode != 0
    assert "error: [rank 0] epoch 1, batch 1: the loss is nan" in proc.stderr
    assert "error: [rank 1] epoch 1, batch 1: the loss is nan" in proc.stderr
    assert "warning: the result will differ from a single-process run: the loss is sum-reduced" in proc.stderr
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"


def test_warnings_say_why_a_result_cannot_equal_one_process() -> None:
    """Sum-reduced loss, batch_norm and dropout each get a reason; a plain model gets none."""
    ranks = Ranks(0, 2, 0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.1))
    reasons = result_warnings(model, nn.NLLLoss(reduction="sum"), ranks)
    assert [r.split(":")[0].split(" ")[0] for r in reasons] == ["the", "batch_norm", "dropout"]
    assert reasons[0].startswith("the loss is sum-reduced: DDP averages gradients over the ranks, so each step is 1/2")
    assert result_warnings(nn.Sequential(nn.Linear(4, 4)), nn.NLLLoss(), ranks) == []


def test_single_process_sets_up_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without torchrun's environment: no ranks, and a run leaves no process group behind."""
    import io

    import torch.distributed as dist

    from registry.cli import main

    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert from_env() is None
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK)
    assert main(["run", str(spec), "--out", str(tmp_path / "r")], out=io.StringIO(), err=io.StringIO()) == 0
    assert not dist.is_initialized()


def test_resume_under_torchrun_continues_exactly(tmp_path: Path) -> None:
    """A 2-rank run stopped after epoch 1 and resumed under torchrun ends like an uninterrupted 2-rank run."""
    two = tmp_path / "two.toml"
    two.write_text(SPEC)
    one = tmp_path / "one.toml"
    one.write_text(SPEC.replace("epochs = 2", "epochs = 1"))
    assert torchrun("run", str(two), "--out", str(tmp_path / "full")).returncode == 0
    assert torchrun("run", str(one), "--out", str(tmp_path / "part")).returncode == 0
    resumed = torchrun("run", str(two), "--resume", str(tmp_path / "part"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("resuming ") == 1  # rank 0 alone speaks
    a, b = load_checkpoint(tmp_path / "full").model, load_checkpoint(tmp_path / "part").model
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [[json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()] for d in ("full", "part")]
    keep = ("epoch", "train_loss", "test_loss", "test_correct")
    assert [{k: r[k] for k in keep} for r in rows[0]] == [{k: r[k] for k in keep} for r in rows[1]]
