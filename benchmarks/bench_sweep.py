"""Sweep benchmark: 20 trials x 3 epochs of the quickstart model (lr log-uniform in [1e-3, 0.3], hidden width
in {32, 64, 128}, TPE, no pruning), four ways, each timed from the start of its process(es) to the end:

    sweep     python -m registry sweep SPEC (one worker: one process, each trial a run directory)
    optuna    plain Optuna in one process: the digits loaded once, the same model, optimizer and loop written
              directly in torch, nothing written (the floor)
    loop      a shell loop of `python -m registry run --set optimizer.lr=... --set ...` processes, the
              values taken from the sweep's own trials (--loop-trials N runs the first N and scales to 20)
    workers2  python -m registry sweep SPEC --workers 2 (two processes on one journal file)

    python benchmarks/bench_sweep.py [--rounds 3] [--loop-trials 20]

Reported: the median seconds of each over the rounds, and the ratios sweep/optuna (target <= 1.3) and
loop/sweep (target >= 12). sweep/optuna and workers2/sweep are taken round by round (the two ran back to
back, under the same load from whatever else the machine runs) and their median reported with their range.
Every process runs torch with 1 thread (train.threads auto), as registry does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIALS = 20

SPEC = """\
base = "{root}/specs/quickstart.toml"
[train]
epochs = 3
[sweep]
trials = {trials}
pruner = "none"
[sweep.space]
"optimizer.lr" = {{ type = "float", low = 1e-3, high = 0.3, log = true }}
"model.layers[1].out_features" = {{ type = "categorical", choices = [32, 64, 128] }}
"""

OPTUNA = """\
import time, sys
import optuna, torch
from sklearn.datasets import load_digits
from torch import nn
torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)
d = load_digits()
x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
x = (x - 0.3) / 0.38
y = torch.tensor(d.target)
g = torch.Generator().manual_seed(0)
perm = torch.randperm(len(x), generator=g)
cut = len(x) - round(0.2 * len(x))
xtr, ytr, xte, yte = x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]

def objective(trial):
    lr = trial.suggest_float("lr", 1e-3, 0.3, log=True)
    width = trial.suggest_categorical("width", [32, 64, 128])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10), nn.LogSoftmax(1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    best = 0.0
    for epoch in range(3):
        model.train()
        for idx in torch.randperm(len(xtr), generator=gen).split(32):
            opt.zero_grad()
            loss = nn.functional.nll_loss(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        best = max(best, acc)
    return best

study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=int(sys.argv[1]))
print(study.best_value)
"""


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def _trial_sets(sweep_dir: Path) -> list[list[str]]:
    """The values each trial of a finished sweep ran with, as --set arguments."""
    out = []
    for trial in sorted((sweep_dir / "trials").iterdir()):
        spec = (trial / "spec.toml").read_text()
        import tomllib

        data = tomllib.loads(spec)
        lr = data["optimizer"]["lr"]
        width = data["model"]["layers"][1]["out_features"]
        out.append(["--set", f"optimizer.lr={lr!r}", "--set", f"model.layers[1].out_features={width}"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--loop-trials", type=int, default=TRIALS, help="how many `registry run` processes to time")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {"sweep": [], "optuna": [], "loop": [], "workers2": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = work / "sweep.toml"
        spec.write_text(SPEC.format(root=ROOT, trials=TRIALS))
        (work / "optuna_baseline.py").write_text(OPTUNA)
        py = sys.executable
        for r in range(args.rounds):
            times["optuna"].append(_timed([py, "optuna_baseline.py", str(TRIALS)], work, env))
            out = work / f"sweep-{r}"
            times["sweep"].append(_timed([py, "-m", "registry", "sweep", str(spec), "--out", str(out)], work, env))
            out2 = work / f"workers2-{r}"
            times["workers2"].append(
                _timed([py, "-m", "registry", "sweep", str(spec), "--out", str(out2), "--workers", "2"], work, env)
            )
            if r == 0:  # the loop is slow and steady: once is enough
                sets = _trial_sets(out)[: args.loop_trials]
                base = work / "base.toml"
                base.write_text(SPEC.format(root=ROOT, trials=TRIALS).split("[sweep]")[0])
                t0 = time.perf_counter()
                for i, s in enumerate(sets):
                    run = [py, "-m", "registry", "run", str(base), "--quiet", "--out", str(work / f"loop-{i}"), *s]
                    subprocess.run(run, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
                times["loop"].append((time.perf_counter() - t0) * TRIALS / len(sets))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    paired = {
        "sweep_over_optuna": [s / o for s, o in zip(times["sweep"], times["optuna"], strict=True)],
        "workers2_over_sweep": [w / s for w, s in zip(times["workers2"], times["sweep"], strict=True)],
    }
    result = {
        **{f"{k}_seconds": round(v, 2) for k, v in med.items()},
        **{k: round(statistics.median(v), 3) for k, v in paired.items()},
        **{f"{k}_range": [round(min(v), 3), round(max(v), 3)] for k, v in paired.items()},
        "loop_over_sweep": round(med["loop"] / med["sweep"], 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
