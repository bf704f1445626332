"""Runs that survive: atomic checkpoints, exact resume after SIGKILL, signals, NaN, disk faults, untrusted files."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from registry.cli import ExitCode, main
from registry.errors import CheckpointError
from registry.rundirs.checkpoints import load_checkpoint

from .conftest import NESTED, QUICK, ROOT

AUGMENT = 'augment = [{ type = "random_crop", padding = 1 }]\n'
SPEC = (
    QUICK.replace("epochs = 1", "epochs = 3\ncheckpoint_every = 10\nkeep_checkpoints = 2")
    .replace('{ type = "relu" }', '{ type = "relu" },\n  { type = "dropout", p = 0.2 }')  # dropout: the RNG must resume too
    .replace('type = "sgd"', 'type = "adam"').replace("lr = 0.05\nmomentum = 0.9", "lr = 0.01")  # optimizer state too
    .replace("transforms = [", f"{AUGMENT}transforms = [")  # augmentation draws too, batch by batch
)
TIMING = {"train_seconds", "seconds", "samples_per_second"}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def final_state(run: Path) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Final weights, and the metrics without their timings."""
    weights = load_checkpoint(run).model
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return weights, [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """An uninterrupted run of SPEC."""
    d = tmp_path_factory.mktemp("ref")
    (d / "spec.toml").write_text(SPEC)
    code, _, err = cli("run", str(d / "spec.toml"), "--out", str(d / "run"))
    assert code == 0, err
    return final_state(d / "run")


KILLER = """
import os, signal, sys
import registry.rundirs.checkpoints as ck, registry.training.loop as rn
where, n = sys.argv[1], int(sys.argv[2])
calls = [0]
def count():
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
if where == "step":          # SIGKILL after the n-th optimizer step
    real = rn._check_finite
    def check(*a, **k):
        real(*a, **k); count()
    rn._check_finite = check
else:                        # SIGKILL in the middle of the n-th checkpoint write: weights written, rest not
    real = ck.save_file
    def save(tensors, path, *a, **k):
        real(tensors, path, *a, **k)
        if path.endswith("model.safetensors"):
            count()
    ck.save_file = save
from registry.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize(("where", "n"), [("step", 15), ("step", 57), ("step", 95), ("write", 3), ("write", 10)])
def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path, reference, where, n) -> None:
    """SIGKILL mid-epoch or mid-checkpoint-write, then --resume: bit-identical weights and metrics."""
    _killed_and_resumed(tmp_path, SPEC, reference, where, n)


NESTED_SPEC = NESTED.replace("epochs = 1", "epochs = 2\ncheckpoint_every = 10\nkeep_checkpoints = 2").replace(
    '{ type = "flatten" },', '{ type = "flatten" },\n  { type = "dropout", p = 0.2 },'
)


@pytest.fixture(scope="module")
def nested_reference(tmp_path_factory) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """An uninterrupted run of the nested spec."""
    d = tmp_path_factory.mktemp("nested_ref")
    (d / "spec.toml").write_text(NESTED_SPEC)
    code, _, err = cli("run", str(d / "spec.toml"), "--out", str(d / "run"))
    assert code == 0, err
    return final_state(d / "run")


@pytest.mark.parametrize(("where", "n"), [("step", 60), ("write", 4)])
def test_a_nested_model_resumes_bit_identically(tmp_path, nested_reference, where, n) -> None:
    """Blocks, residuals, repeat, branches, batch norm and dropout: SIGKILL, --resume, the uninterrupted result."""
    _killed_and_resumed(tmp_path, NESTED_SPEC, nested_reference, where, n)


POLICIES = {  # each policy's own state (the scheduler's; early stopping reads the history) must resume exactly
    "one_cycle-accumulate": '[scheduler]\ntype = "one_cycle"\nmax_lr = 0.02\n',
    "plateau-early_stopping": '[scheduler]\ntype = "plateau"\nmetric = "accuracy"\npatience = 0\nthreshold = 0.5\n',
}
POLICY_TRAIN = {
    "one_cycle-accumulate": 'accumulate = 3\nprecision = "bfloat16"\n[train.param_groups]\nno_decay_bias_and_norm = true\n'
    'lr_scale = { "model.layers[1].*" = 0.5 }\n',
    "plateau-early_stopping": "[train.early_stopping]\npatience = 1\n",
}


@pytest.mark.parametrize(("policy", "n"), [("one_cycle-accumulate", 14), ("plateau-early_stopping", 50)])
def test_each_training_policy_resumes_exactly(tmp_path, policy, n) -> None:
    """A scheduler's state, accumulation's step boundaries and early stopping's decision survive SIGKILL + --resume."""
    text = SPEC.replace("[train]", POLICIES[policy] + "[train]") + POLICY_TRAIN[policy]
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "spec.toml").write_text(text)
    code, _, err = cli("run", str(tmp_path / "ref" / "spec.toml"), "--out", str(tmp_path / "ref" / "run"))
    assert code == 0, err
    reference = final_state(tmp_path / "ref" / "run")
    assert len({row["lr"] for row in reference[1]}) > 1  # the scheduler moved the rate
    _killed_and_resumed(tmp_path, text, reference, "step", n)


def _killed_and_resumed(tmp_path: Path, text: str, reference, where: str, n: int) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    run = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLER, where, str(n), "run", str(spec), "--out", str(run)],
                            capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p.name for p in (run / "checkpoints").iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == (1 if where == "write" else 0)  # a write cut short leaves its temporary folder
    code, out, err = cli("run", "--resume", str(run))
    assert code == 0, err
    assert out.startswith(f"resuming {run} from ckpt-e")
    assert not [p for p in (run / "checkpoints").iterdir() if ".tmp-" in p.name]  # cleaned up
    weights, metrics = final_state(run)
    ref_weights, ref_metrics = reference
    assert metrics == ref_metrics
    assert weights.keys() == ref_weights.keys()
    assert all(torch.equal(weights[k], ref_weights[k]) for k in weights)
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_rotation_keeps_the_last_two_and_the_best(tmp_path) -> None:
    """keep_checkpoints = 2: the two newest remain, plus the one 'best' points at; 'latest' is the newest."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    assert cli("run", str(spec), "--out", str(tmp_path / "run"))[0] == 0
    ckpts = tmp_path / "run" / "checkpoints"
    names = sorted(p.name for p in ckpts.iterdir() if p.is_dir())
    best = (ckpts / "best").read_text().strip()
    assert (ckpts / "latest").read_text().strip() == "ckpt-e0003-end" == names[-1]
    assert set(names) == {best, *names[-2:]} and len(names) in (2, 3)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert best == f"ckpt-e{max(rows, key=lambda r: r['test_accuracy'])['epoch']:04d}-end"


def test_sigterm_checkpoints_and_says_how_to_resume(tmp_path, reference) -> None:
    """SIGTERM mid-run: the step finishes, a checkpoint is written, exit 130 with the resume command."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 300"))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "registry", "run", str(spec), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Train Epoch: 2 "):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: interrupted by SIGTERM at epoch 2, batch ")
    assert last.endswith(f"; resume with: python -m registry run --resume {run}")
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    ckpt = load_checkpoint(run)
    assert ckpt.progress.epoch == 2 and ckpt.progress.batch > 0


def test_nan_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path) -> None:
    """lr = 1e6: exit 1 naming epoch and batch; the checkpoint written before stays loadable and unchanged."""
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace("lr = 0.05", "lr = 1e6").replace("epochs = 1", "epochs = 3\ncheckpoint_every = 1"))
    run = tmp_path / "run"
    code, _, err = cli("run", str(spec), "--out", str(run))
    assert code == ExitCode.RUN_FAILED
    assert err.startswith("error: epoch 1, batch ")
    assert "lower optimizer.lr" in err
    ckpt = load_checkpoint(run)
    assert all(torch.isfinite(t).all() for t in ckpt.model.values())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_resume_refuses_a_changed_spec(tmp_path) -> None:
    """A run resumed with another learning rate or model is refused with each change listed."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 1"))
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    changed = tmp_path / "changed.toml"
    changed.write_text(SPEC.replace("lr = 0.01", "lr = 0.02").replace("out_features = 32", "out_features = 16"))
    code, _, err = cli("run", str(changed), "--resume", str(run))
    assert code == ExitCode.CHECKPOINT
    assert err.startswith(f"error: cannot resume {run}: the spec changed in ways that would make the result wrong (")
    assert "model.layers[1].out_features: 32 -> 16" in err and "optimizer.lr: 0.01 -> 0.02" in err
    longer = tmp_path / "longer.toml"
    longer.write_text(SPEC.replace("epochs = 3", "epochs = 2"))
    code, out, _ = cli("run", str(longer), "--resume", str(run))  # more epochs: allowed
    assert code == 0 and "Done: 2 epochs (1 in this process, after 1 before the resume: completed)" in out
    code, _, err = cli("run", str(longer), "--resume", str(run))
    assert code == ExitCode.CHECKPOINT
    assert err == f"error: nothing to resume in {run}: train.epochs = 2 and 2 epochs are done (the run completed); raise train.epochs to train longer\n"


def test_resume_without_a_checkpoint_is_refused(tmp_path) -> None:
    """--resume on a folder that is no run, or whose checkpoints are gone: exit 5 and why; never a fresh start."""
    code, _, err = cli("run", "--resume", str(tmp_path))
    assert code == ExitCode.CHECKPOINT and err == f"error: {tmp_path}: not a run directory (no run.json and spec.toml)\n"
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 1"))
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    (run / "checkpoints" / "latest").unlink()
    code, _, err = cli("run", "--resume", str(run))
    assert code == ExitCode.CHECKPOINT and "no complete checkpoint ('latest' pointer missing or broken" in err


def test_unwritable_output_is_reported_before_training(tmp_path) -> None:
    """--out under a regular file: exit 5 before anything is trained."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    code, out, err = cli("run", str(spec), "--out", str(blocker / "run"))
    assert code == ExitCode.CHECKPOINT and "Train Epoch" not in out
    assert err == f"error: {blocker / 'run'}: cannot make the run directory: Not a directory\n"


def _limited(limit: int, *argv: str) -> subprocess.CompletedProcess[str]:
    """python -m registry ARGV with files limited to *limit* bytes: a write past it fails as on a full disk."""
    import resource

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: the write fails

    return subprocess.run([sys.executable, "-m", "registry", *argv], capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=limit_files)  # fmt: skip


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path) -> None:
    """The safetensors write fails for real (its own error type): exit 5, the previous checkpoint intact, run.json failed."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 1").replace("checkpoint_every = 10", "checkpoint_every = 0"))
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    before = load_checkpoint(run)
    sizes = {p.name: p.stat().st_size for p in before.path.iterdir()}
    assert sizes["model.safetensors"] < 16_000 < sizes["tensors.safetensors"]
    longer = tmp_path / "longer.toml"
    longer.write_text(spec.read_text().replace("epochs = 1", "epochs = 2"))
    proc = _limited(16_000, "run", str(longer), "--resume", str(run))
    assert proc.returncode == ExitCode.CHECKPOINT, proc.stderr
    assert proc.stderr.startswith(f"error: {run / 'checkpoints'}: writing a checkpoint failed: ")
    assert "File too large" in proc.stderr and proc.stderr.endswith("; the previous checkpoint is intact\n")
    after = load_checkpoint(run)
    assert after.path == before.path and all(torch.equal(after.model[k], before.model[k]) for k in before.model)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best", "ckpt-e0001-end", "latest"]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "writing a checkpoint failed" in info["reason"]


def test_resume_checks_that_it_can_write_before_it_trains(tmp_path) -> None:
    """--resume where nothing can be written: exit 5 at once, before a step is trained."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("epochs = 3", "epochs = 1"))
    run = tmp_path / "run"
    assert cli("run", str(spec), "--out", str(run))[0] == 0
    longer = tmp_path / "longer.toml"
    longer.write_text(spec.read_text().replace("epochs = 1", "epochs = 2"))
    proc = _limited(0, "run", str(longer), "--resume", str(run))
    assert proc.returncode == ExitCode.CHECKPOINT
    assert proc.stderr == f"error: {run}: cannot be written: File too large\n" and "Train Epoch" not in proc.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("trained")
    (d / "spec.toml").write_text(SPEC.replace(AUGMENT, "").replace("epochs = 3", "epochs = 1"))
    assert cli("run", str(d / "spec.toml"), "--out", str(d / "run"))[0] == 0
    return d / "run"


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/registry-pickle-ran")


def _raw_header(path: Path, raw: bytes, data: bytes = b"") -> None:
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _header_file(path: Path, header: dict, data: bytes = b"") -> None:
    _raw_header(path, json.dumps(header).encode(), data)


CORRUPTIONS = {
    "pickle payload": (lambda p: p.write_bytes(pickle.dumps(Payload())), "not a valid safetensors file"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:100]), "not a valid safetensors file: truncated"),
    "header too large": (lambda p: p.write_bytes(struct.pack("<Q", 2**40) + b"{}"), "header of 1,099,511,627,776 bytes declared"),
    "overlapping offsets": (lambda p: _header_file(p, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
                            "tensors 'a' and 'b' overlap"),
    "duplicate keys": (lambda p: _raw_header(p, b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32"}}', bytes(4)),
                       "the header: duplicate keys: a"),
    "non-finite weights": (lambda p: save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(str(p)).items()}, str(p)),
                           "non-finite weights in 1.bias, 1.weight, 4.bias, 4.weight"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_untrusted_checkpoints_are_refused(tmp_path, trained, kind) -> None:
    """Each corruption of model.safetensors: evaluate and resume refuse with exit 5; a pickle never runs."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    corrupt, message = CORRUPTIONS[kind]
    MARKER.unlink(missing_ok=True)
    corrupt(run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip() / "model.safetensors")
    for argv in (("evaluate", str(run)), ("run", "--resume", str(run))):
        code, out, err = cli(*argv)
        assert code == ExitCode.CHECKPOINT and message in err, err
        assert "Traceback" not in err
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(run)
    assert not MARKER.exists()


def test_evaluate_and_predict_use_the_trained_weights(trained, tmp_path) -> None:
    """evaluate prints the test line of the checkpoint; predict gives a class per input from a .npy file."""
    import numpy as np

    code, out, _ = cli("evaluate", str(trained))
    assert code == 0 and out.splitlines()[1].startswith("Test set: Average loss: ")
    row = json.loads((trained / "metrics.jsonl").read_text().splitlines()[-1])
    assert f"Accuracy: {row['test_correct']}/359" in out
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "x.npy", (digits.images[:20] / 16).astype("float32"))
    code, out, _ = cli("predict", str(trained), str(tmp_path / "x.npy"))
    preds = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(preds) == 20
    assert sum(p["class"] == t for p, t in zip(preds, digits.target[:20])) >= 15
    assert all(0 < p["probability"] <= 1 and p["label"] == str(p["class"]) for p in preds)




def _edit_state(key: str, value) -> object:
    def edit(state: dict) -> None:
        node = state
        *path, last = key.split(".")
        for part in path:
            node = node[part]
        node[last] = value

    return edit


STATES = {
    "negative epoch": (_edit_state("progress.epoch", -3), "progress.epoch: Input should be greater than or equal to 1"),
    "astronomical batch": (_edit_state("progress.batch", 10**30), "progress.batch: Input should be less than or equal to"),
    "string for a number": (_edit_state("progress.seen", "many"), "progress.seen: Input should be a valid integer"),
    "history of another run": (_edit_state("progress.epoch", 5), "history must hold one row for each of epochs 1 to 4, in order"),
    "deep nesting": (_edit_state("optimizer", {"x": json.loads("[" * 200 + "]" * 200)}), "nested more than 64 levels deep"),
    "5,000-digit integer": (_edit_state("progress.seen", "DIGITS"), "unreadable: holds a number too long to read (Exceeds the limit (4300 digits)"),
    "python rng of another shape": (_edit_state("rng.python", [3, [1, 2], None]), "rng.python[1]: List should have at least 625 items"),
}

OPTIMIZER_STATES = {
    "string lr": ("lr", "fast", "optimizer.param_groups[0].lr: must be a number within float32's range (got \"fast\")"),
    "lr past float32": ("lr", 1e308, "optimizer.param_groups[0].lr: must be a number within float32's range (got 1e+308)"),
    "lr as a boolean": ("lr", True, "optimizer.param_groups[0].lr: must be a number within float32's range (got true)"),
    "a key the optimizer lacks": ("nesterov_x", 1, "optimizer.param_groups[0]: must be a table of "),
}


@pytest.mark.parametrize("kind", list(OPTIMIZER_STATES))
def test_untrusted_optimizer_values_are_refused_before_resume_uses_them(tmp_path, trained, kind) -> None:
    """A saved optimizer value of the wrong type, past float32, or a key the live optimizer lacks: exit 5 naming
    state.json and the key path, before a step."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    path = load_checkpoint(run).path / "state.json"
    state = json.loads(path.read_text())
    key, value, message = OPTIMIZER_STATES[kind]
    state["optimizer"]["param_groups"][0][key] = value
    path.write_text(json.dumps(state))
    code, out, err = cli("run", "--resume", str(run), "--set", "train.epochs=5")
    assert code == ExitCode.CHECKPOINT and err.startswith(f"error: {path}: {message}"), err
    assert "Train Epoch" not in out


@pytest.mark.parametrize("kind", list(STATES))
def test_untrusted_checkpoint_state_is_refused(tmp_path, trained, kind) -> None:
    """A state.json edited or crafted: evaluate and resume exit 5 naming the file and the fault, never resume wrongly."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    path = load_checkpoint(run).path / "state.json"
    state = json.loads(path.read_text())
    edit, message = STATES[kind]
    edit(state)
    path.write_text(json.dumps(state).replace('"DIGITS"', "9" * 5000))  # json.dumps itself refuses such a number
    for argv in (("evaluate", str(run)), ("run", "--resume", str(run), "--set", "train.epochs=5")):
        code, _, err = cli(*argv)
        assert code == ExitCode.CHECKPOINT and err.startswith(f"error: {path}: ") and message in err, err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "unreadable: nested more than 64 levels deep"),
        ('{"status": "running"}', "not a valid RunInfo record: spec_hash: Field required"),
        ('{"spec_hash": "%s", "status": "done", "started": "x"}' % ("0" * 64), "not a valid RunInfo record: status: Input should be"),
    ],
    ids=["deep", "missing", "bad status"],
)
def test_untrusted_run_json_is_refused(tmp_path, trained, content, message) -> None:
    """A run.json edited or crafted: resume exits 5 with the reason, never a traceback."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "run.json").write_text(content)
    code, _, err = cli("run", "--resume", str(run))
    assert code == ExitCode.CHECKPOINT and err.startswith(f"error: {run / 'run.json'}: {message}"), err
