"""Looking at a sweep: its trials as a table sorted by the objective, the best trial's spec, and Optuna's
matplotlib plots (optimisation history, parameter importances, parallel coordinates, per-epoch values)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from registry.atomic import write_bytes, write_text

if TYPE_CHECKING:
    from registry.sweep import Sweep

__all__ = ["PLOTS", "TrialRow", "draw", "render_table", "rows", "write_best"]

PLOTS = {
    "history": "plot_optimization_history",
    "importances": "plot_param_importances",
    "parallel": "plot_parallel_coordinate",
    "epochs": "plot_intermediate_values",
}
"""Each PNG ``sweep-report`` draws (``plots/<name>.png``) and the Optuna function that draws it."""


@dataclass(frozen=True)
class TrialRow:
    """One trial as the table shows it."""

    number: int
    state: str
    value: float | None
    epoch: int | None
    epochs: int | None
    seconds: float | None
    params: dict[str, Any]
    reason: str | None
    run_dir: str | None


def rows(sweep: Sweep) -> list[TrialRow]:
    """The sweep's trials, best first: complete trials by the objective, then pruned ones, then failed and running."""
    from registry.sweep import was_cut

    higher = sweep.objective[1]
    out = []
    for t in sweep.study.get_trials(deepcopy=False):
        state = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(t.state.name, t.state.name.lower())
        a = t.user_attrs
        reason = a.get("reason") or ("its worker stopped sending heartbeats" if was_cut(t) else None)
        out.append(TrialRow(t.number, state, a.get("best"), a.get("best_epoch"), a.get("epochs"), a.get("seconds"),
                            dict(t.params), reason, a.get("run_dir")))  # fmt: skip
    rank = {"complete": 0, "pruned": 1, "failed": 2}

    def key(r: TrialRow) -> tuple[int, float, int]:
        value = r.value if r.value is not None else float("inf")
        return rank.get(r.state, 3), (-value if higher and r.value is not None else value), r.number

    return sorted(out, key=key)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_table(sweep: Sweep, found: Sequence[TrialRow]) -> str:
    """The trials as an aligned text table, with the counts of each state above it."""
    metric, higher = sweep.objective
    counts = {s: sum(1 for r in found if r.state == s) for s in ("complete", "pruned", "failed", "running")}
    said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    head = f"{len(found)} trials ({said}); objective: {metric}, {'maximize' if higher else 'minimize'}"
    keys = [p.key for p in sweep.space]
    header = ["trial", "state", metric, "epoch", *keys, "seconds", "run"]
    body = []
    for r in found:
        run = Path(r.run_dir).relative_to(sweep.path.resolve()).as_posix() if _inside(r.run_dir, sweep.path) else (
            r.run_dir or "-")  # fmt: skip
        body.append([str(r.number), r.state, _show(r.value), _show(r.epoch), *(_show(r.params.get(k)) for k in keys),
                     _show(r.seconds), run])  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *body]]
    failed = [r for r in found if r.state == "failed" and r.reason]
    notes = [f"trial {r.number} failed: {' '.join(r.reason.split())[:300]}" for r in failed if r.reason]
    return "\n".join([head, *lines, *notes]) + "\n"


def _inside(path: str | None, folder: Path) -> TypeGuard[str]:
    return path is not None and Path(path).is_relative_to(folder.resolve())


def write_best(sweep: Sweep) -> tuple[int, Path] | None:
    """Write the best complete trial's resolved spec to ``best.toml`` (None: no trial completed)."""
    import optuna

    complete = sweep.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    higher = sweep.objective[1]
    best = (max if higher else min)(complete, key=lambda t: (t.value, -t.number) if higher else (t.value, t.number))
    text = best.user_attrs.get("spec")
    if not isinstance(text, str):
        return None
    path = sweep.path / "best.toml"
    header = f"# The best trial ({best.number}) of the sweep {sweep.path}: python -m registry run {path}\n"
    write_text(path, header + text)
    return best.number, path


def draw(sweep: Sweep, folder: Path) -> dict[str, str]:
    """Draw each plot of ``PLOTS`` into *folder* as PNG; return, for each, its path or why it was not drawn."""
    try:
        import matplotlib
    except ImportError:
        from registry.errors import SweepError

        raise SweepError("sweep-report's plots need matplotlib: pip install 'torch-spec-registry[sweep]' "
                         "(--no-plots prints the table alone)") from None  # fmt: skip
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    for name, function in PLOTS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ax = getattr(ovm, function)(sweep.study)
            except Exception as e:  # too few trials for it (importances need two complete trials)
                out[name] = f"not drawn: {e}"
                plt.close("all")
                continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        if name == "epochs":  # Optuna's steps are the epochs each trial reported
            ax.set_xlabel("Epoch")
        fig.set_size_inches(9, 5.5)
        fig.tight_layout()
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png", dpi=100)
        except Exception as e:  # a font or backend fault: say so rather than write a broken file
            out[name] = f"not drawn: {e}"
            continue
        finally:
            plt.close("all")
        path = folder / f"{name}.png"
        write_bytes(path, buf.getvalue())
        out[name] = str(path)
    return out
