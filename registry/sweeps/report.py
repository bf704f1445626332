"""Looking at a sweep: its trials as a table sorted by the objective, the best trial's spec, and Optuna's
matplotlib plots (optimisation history, parameter importances, parallel coordinates, per-epoch values)."""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from registry.files.atomic import write_bytes, write_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

    from registry.sweeps.sweep import Sweep

__all__ = ["PLOTS", "TrialRow", "draw", "figures", "metric_label", "render_table", "rows", "write_best"]

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
    from registry.sweeps.sweep import was_cut

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
    try:
        write_text(path, header + text, root=sweep.path)
    except OSError as e:
        from registry.errors import CheckpointError

        raise CheckpointError(f"{path}: cannot be written: {e.strerror or e}") from None
    return best.number, path


def metric_label(metric: str) -> str:
    """How the plots name the objective: the metric's own name (``accuracy``), the loss as ``test loss``."""
    return "test loss" if metric == "loss" else metric


_DARK_END = 0.8
"""How far along viridis a line's colour may go: its last fifth is yellow, as pale as the light background."""

_EPOCH_LEGEND = 10
"""Up to this many trials the per-epoch plot names each in a legend; more are coloured by number, with a colorbar."""


def _need_matplotlib() -> None:
    try:
        import matplotlib
    except ImportError:
        from registry.errors import SweepError

        raise SweepError("sweep-report's plots need matplotlib: pip install 'torch-spec-registry[sweep]' "
                         "(--no-plots prints the table alone)") from None  # fmt: skip
    matplotlib.use("Agg")


def figures(sweep: Sweep) -> dict[str, Figure | str]:
    """Each plot of ``PLOTS`` as a matplotlib figure, made readable, or why it was not drawn.

    The figures stay open (pyplot's): the caller saves and closes them (``matplotlib.pyplot.close``)."""
    _need_matplotlib()
    import matplotlib
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    metric, higher = sweep.objective
    label = metric_label(metric)
    out: dict[str, Figure | str] = {}
    with matplotlib.rc_context():  # Optuna's plt.style.use("ggplot") ends here, not in the caller's later plots
        for name, function in PLOTS.items():
            known = set(plt.get_fignums())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    kwargs = {} if name == "epochs" else {"target_name": label}
                    ax = getattr(ovm, function)(sweep.study, **kwargs)
                    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
                    fig.set_size_inches(9, 5.5)
                    _READABLE[name](sweep, ax, label, higher)
                    fig.tight_layout()
                except Exception as e:  # too few trials for it (importances need two complete trials)
                    out[name] = f"not drawn: {e}"
                    for number in set(plt.get_fignums()) - known:
                        plt.close(number)
                    continue
            out[name] = fig
    return out


def _history(sweep: Sweep, ax: Axes, label: str, higher: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(f"Each trial's {label} ({'higher' if higher else 'lower'} is better)")
    ax.set_xlabel("Trial")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        said = {label: f"{label} of a complete trial", "Best Value": "best so far"}
        ax.legend(handles, [said.get(t, t) for t in labels], bbox_to_anchor=(1.02, 1.0), loc="upper left",
                  borderaxespad=0.0)  # fmt: skip


def _importances(sweep: Sweep, ax: Axes, label: str, higher: bool) -> None:
    ax.set_title(f"How much each parameter mattered to the {label}", loc="left")
    ax.set_xlabel(f"importance for {label}")
    ax.set_ylabel("parameter")
    legend = ax.get_legend()
    if legend is not None:  # one objective: the title names it
        legend.remove()


def _parallel(sweep: Sweep, ax: Axes, label: str, higher: bool) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    ax.set_title(f"The parameters of each complete trial, coloured by its {label}", y=1.03)
    for lines in (c for c in ax.collections if isinstance(c, LineCollection)):
        lines.set_cmap(_line_colours(reverse=not higher))  # the best trials at the bright end either way
        lines.set_linewidth(2.0)
        if lines.colorbar is not None:
            lines.colorbar.update_normal(lines)
            lines.colorbar.set_label(label)
    shown = [t.get_text() for t in ax.get_xticklabels()]
    complete = sweep.study.get_trials(deepcopy=False, states=(_complete(),))
    names = [label, *sorted({k for t in complete if t.value is not None and math.isfinite(t.value) for k in t.params})]
    if len(names) == len(shown) and all(_cut(n) == s for n, s in zip(names[1:], shown[1:], strict=True)):
        shown = names  # Optuna cuts a name of 20 characters or more to its first 17 and "..."
    if len(shown) < 2:
        return
    fig.tight_layout()
    room = 0.95 * ax.get_window_extent().width / (len(shown) - 1)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    font = ax.get_xticklabels()[0].get_fontproperties()

    def fits(text: str) -> bool:
        probe = Text(0, 0, text, fontproperties=font)
        probe.set_figure(fig)
        return float(probe.get_window_extent(renderer).width) <= room

    ax.set_xticks(range(len(shown)), [_wrap(s, fits) for s in shown], rotation=0, ha="center")


def _epochs(sweep: Sweep, ax: Axes, label: str, higher: bool) -> None:
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    ax.set_title(f"Each trial's {label} after each epoch (a line that stops early was pruned)")
    ax.set_xlabel("Epoch")  # Optuna's steps are the epochs each trial reported
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    states = {t.number: t.state.name for t in sweep.study.get_trials(deepcopy=False)}
    named = ((line, re.fullmatch(r"Trial(\d+)", str(line.get_label()))) for line in ax.get_lines())
    trials = [(line, int(m.group(1))) for line, m in named if m]
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    for line, number in trials:
        line.set_alpha(1.0)
        line.set_label(f"trial {number}" + (" (pruned)" if states.get(number) == "PRUNED" else ""))
        if states.get(number) == "PRUNED":
            line.set_linestyle("--")
    if 0 < len(trials) <= _EPOCH_LEGEND:
        palette = matplotlib.colormaps["tab10"]
        for i, (line, _) in enumerate(trials):
            line.set_color(palette(i))
        ax.legend(bbox_to_anchor=(1.02, 1.0), loc="upper left", borderaxespad=0.0)
    elif trials:
        numbers = [n for _, n in trials]
        colours, norm = _line_colours(reverse=False), Normalize(min(numbers), max(numbers))
        for line, number in trials:
            line.set_color(colours(norm(number)))
        fig = ax.get_figure()
        assert fig is not None
        bar = fig.colorbar(ScalarMappable(norm, colours), ax=ax, label="trial")
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


_READABLE: dict[str, Callable[[Sweep, Axes, str, bool], None]] = {
    "history": _history,
    "importances": _importances,
    "parallel": _parallel,
    "epochs": _epochs,
}


def _complete() -> Any:
    import optuna

    return optuna.trial.TrialState.COMPLETE


def _line_colours(reverse: bool) -> Colormap:
    """viridis without its pale yellow end: every value's colour stands out on a white or light grey ground."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, _DARK_END, 256)), name="viridis_dark")
    return cmap.reversed() if reverse else cmap


def _cut(name: str) -> str:
    return name if len(name) < 20 else f"{name[:17]}..."


def _wrap(text: str, fits: Callable[[str], bool]) -> str:
    """*text* on as few lines as fit, broken after a key path's dots (``model.`` ``layers[1].`` ``out_features``)."""
    lines = [""]
    for piece in re.split(r"(?<=\.)", text):
        if lines[-1] and not fits(lines[-1] + piece):
            lines.append(piece)
        else:
            lines[-1] += piece
    return "\n".join(lines)


def draw(sweep: Sweep, folder: Path) -> dict[str, str]:
    """Draw each plot of ``PLOTS`` into *folder* as PNG; return, for each, its path or why it was not drawn."""
    _need_matplotlib()
    import matplotlib.pyplot as plt

    from registry.errors import CheckpointError
    from registry.files.atomic import make_folder

    try:
        make_folder(folder, sweep.path)  # plots/ must not be a link planted in the directory
    except OSError as e:
        raise CheckpointError(f"{folder}: cannot hold the plots: {e.strerror or e}") from None
    drawn = figures(sweep)
    out: dict[str, str] = {}
    try:
        for name, fig in drawn.items():
            if isinstance(fig, str):
                out[name] = fig
                continue
            buf = io.BytesIO()
            try:
                fig.savefig(buf, format="png", dpi=100)
            except Exception as e:  # a font or backend fault: say so rather than write a broken file
                out[name] = f"not drawn: {e}"
                continue
            finally:
                plt.close(fig)
            path = folder / f"{name}.png"
            try:
                write_bytes(path, buf.getvalue(), root=sweep.path)
            except OSError as e:
                raise CheckpointError(f"{path}: cannot be written: {e.strerror or e}") from None
            out[name] = str(path)
    finally:
        for fig in drawn.values():
            if not isinstance(fig, str):
                plt.close(fig)
    return out
