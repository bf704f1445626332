"""Looking at run directories: list them, compare two."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from registry.errors import CheckpointError, format_loc
from registry.files.untrusted import read_bounded
from registry.rundirs.rundir import RunDir
from registry.rundirs.specdiff import diff_dicts
from registry.spec.formats import FORMAT, FORMAT_KEY, RUN_DIR_FORMAT, declared_format, migrate
from registry.spec.reading import MAX_SPEC_BYTES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["describe_runs", "diff_runs"]


def _row(run: Path) -> str:
    rundir = RunDir(run)
    try:
        info, rows, status = rundir.info(), rundir.read_metrics(), rundir.status()
    except CheckpointError as e:
        return f"{run.name:<40} unreadable: {e}"
    name = info.best_metric or ("accuracy" if any(r.test_accuracy is not None for r in rows) else "loss")
    higher = info.higher_is_better if info.higher_is_better is not None else name == "accuracy"
    values = [v for v in (r.value(name) for r in rows) if v is not None]
    best = "-" if not values else f"{name} {max(values) if higher else min(values):.4g}"
    seconds = sum(r.train_seconds for r in rows)
    return (
        f"{run.name:<40} {str(info.name or '-'):<24} {status:<12} {len(rows):>6} "
        f"{best:>18} {seconds:>8.1f} {max(len(info.segments), 1):>5}  {info.started}"
    )


def describe_runs(folder: Path) -> str:
    """A table of the runs in *folder*: name, status, epochs, best value (by ``train.monitor``), time, start.

    A run whose run.json says ``running`` but that no process holds is shown as ``killed``.
    """
    runs = sorted(p for p in folder.iterdir() if (p / "run.json").is_file()) if folder.is_dir() else []
    if not runs:
        return f"no runs in {folder}\n"
    lines = [
        f"{'run':<40} {'spec name':<24} {'status':<12} {'epochs':>6} {'best':>18} {'train s':>8} {'parts':>5}  started"
    ]  # parts: the processes that ran it (a resume adds one; run.json's segments say how each ended)
    lines += [_row(run) for run in runs]
    return "\n".join(lines) + "\n"


def diff_runs(a: Path, b: Path) -> str:
    """What differs between runs *a* and *b*: every changed key of the resolved spec, then the final metrics."""
    specs = []
    for run in (a, b):
        try:
            spec = tomllib.loads(read_bounded(run / "spec.toml", MAX_SPEC_BYTES).decode())
        except (OSError, ValueError, RecursionError) as e:
            raise CheckpointError(f"{run}: no readable spec.toml ({e})") from None
        version = declared_format(spec, RUN_DIR_FORMAT)
        migrate(spec, version if isinstance(version, int) else FORMAT)  # runs from before a format change compare
        spec[FORMAT_KEY] = FORMAT  # in today's terms
        specs.append(spec)
    lines = [f"--- {a}", f"+++ {b}", "spec:"]
    changes = diff_dicts(specs[0], specs[1])
    lines += [f"  {format_loc(loc)}: {x!r} -> {y!r}" for loc, x, y in changes] or ["  (identical)"]
    lines.append("final metrics:")
    finals = [_final(run) for run in (a, b)]
    metrics = sorted({k for f in finals for k in f.get("metrics", {})})
    finals = [{**f, **f.get("metrics", {})} for f in finals]
    for key in ("epoch", "train_loss", "test_loss", "test_accuracy", *metrics):
        x, y = finals[0].get(key), finals[1].get(key)
        if isinstance(x, float) and isinstance(y, float):
            lines.append(f"  {key}: {x:.4f} -> {y:.4f} ({y - x:+.4f})")
        else:
            lines.append(f"  {key}: {x} -> {y}")
    return "\n".join(lines) + "\n"


def _final(run: Path) -> dict[str, Any]:
    rows = RunDir(run).read_metrics()
    return rows[-1].model_dump() if rows else {}
