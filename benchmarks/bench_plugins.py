"""What plugin discovery adds to `python -m registry list`, with 1 and with 50 installed plugins.

Each fake plugin is a real installed distribution (a .dist-info folder with a
`registry.plugins` entry point, and a module registering one activation) in a
folder put on PYTHONPATH. The baseline is the same command with entry-point
loading switched off (REGISTRY_DISABLE_PLUGIN_AUTOLOAD=1), in the same run.

    python benchmarks/bench_plugins.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = '''\
from torch import nn
import registry


def act_{i}() -> nn.Module:
    """Plugin {i}'s activation."""
    return nn.ReLU()


@registry.hookimpl
def registry_activations():
    return {{"act_{i}": act_{i}}}
'''


def make_site(root: Path, n: int) -> Path:
    site = root / f"site{n}"
    site.mkdir()
    for i in range(n):
        (site / f"bench_plugin_{i}.py").write_text(MODULE.format(i=i))
        info = site / f"bench_plugin_{i}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: bench-plugin-{i}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[registry.plugins]\nbench_{i} = bench_plugin_{i}\n")
    return site


def run_list(env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "registry", "list"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - t0


def timed_pair(env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall time with autoload off and on, the two interleaved so that drift hits both alike."""
    off, on = [], []
    for _ in range(repeat):
        off.append(run_list({**env, "REGISTRY_DISABLE_PLUGIN_AUTOLOAD": "1"}))
        on.append(run_list(env))
    return statistics.median(off), statistics.median(on)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    with tempfile.TemporaryDirectory() as tmp:
        sites = {n: make_site(Path(tmp), n) for n in (1, 50)}
        rows = []
        for n, site in sites.items():
            env = {**base, "PYTHONPATH": str(site)}
            listed = subprocess.run(
                [sys.executable, "-m", "registry", "list", "activation"], env=env, capture_output=True, text=True
            ).stdout
            assert listed.count("  act_") == n, f"expected {n} plugin activations"
            off, on = timed_pair(env, args.repeat)
            rows.append((n, off, on))
    print(f"python -m registry list, median of {args.repeat} runs")
    print(f"{'plugins':>8} {'autoload off':>13} {'autoload on':>12} {'added':>8} {'per plugin':>11}")
    for n, off, on in rows:
        print(f"{n:>8} {off:>12.3f}s {on:>11.3f}s {on - off:>7.3f}s {(on - off) / n * 1000:>9.1f}ms")


if __name__ == "__main__":
    main()
