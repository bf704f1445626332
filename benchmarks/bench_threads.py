"""Threads benchmark: a spec's training time with 1 intra-op thread, with torch's default, and with `auto`,
on an idle machine and beside one busy process.

    python benchmarks/bench_threads.py                                  # specs/quickstart.toml, 3 rounds
    python benchmarks/bench_threads.py --spec specs/fashion_mnist_simple.toml --epochs 1

Each run is its own `registry run` process (`--set train.threads=N`; torch's default is one thread per CPU this
process may use), alternated within a round so that drift on a shared machine hits each setting alike. The
figure is the sum of the epochs' training seconds from the run's metrics.jsonl (start-up and data loading
left out), the median over the rounds. "busy" starts one competing process that spins on one core for the
whole measurement, as another job on a shared machine would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPIN = "while True: pass"


def train_seconds(spec: str, threads: str, epochs: int, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cmd = [sys.executable, "-m", "registry", "run", spec, "--quiet", "--out", str(out),
           "--set", f"train.threads={threads}", "--set", f"train.epochs={epochs}"]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return sum(r["train_seconds"] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default="specs/quickstart.toml")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    settings = {"1 thread": "1", f"torch's default ({cpus})": str(cpus), "auto": "auto"}
    print(f"{args.spec}, {args.epochs} epochs, {args.rounds} rounds; this process may use {cpus} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for load in ("idle", "busy"):
            spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if load == "busy" else None
            try:
                times: dict[str, list[float]] = {name: [] for name in settings}
                for r in range(args.rounds):
                    for i, (name, value) in enumerate(settings.items()):
                        out = Path(tmp) / f"{load}-{r}-{i}"
                        times[name].append(train_seconds(args.spec, value, args.epochs, out))
            finally:
                if spinner is not None:
                    spinner.kill()
            for name, values in times.items():
                runs = " ".join(f"{v:.2f}" for v in values)
                print(f"  {load:4}  {name:22} training {statistics.median(values):7.2f} s  ({runs})")


if __name__ == "__main__":
    main()
