"""sweep-report's plots a person can read: every text inside the figure, the metric named on the axes, whole epochs
and trial numbers on the axes, and every trial's line visible on the background. Two real sweeps: one maximising
accuracy over 3 epochs, one minimising the loss with more trials than the per-epoch legend names."""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backend_bases import RendererBase  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from registry.cli import ExitCode, main  # noqa: E402
from registry.components.manager import DISABLE_AUTOLOAD_ENV, load_catalog  # noqa: E402
from registry.sweeps.report import PLOTS, draw, figures, metric_label  # noqa: E402
from registry.sweeps.sweep import Sweep, open_sweep  # noqa: E402

from .conftest import QUICK  # noqa: E402

SPACE = """
[sweep.space]
"optimizer.lr" = { type = "float", low = 0.001, high = 0.3, log = true }
"model.layers[1].out_features" = { type = "categorical", choices = [16, 32, 64] }
"""
SWEEPS = {  # metric -> the sweep's spec
    "accuracy": QUICK.replace("epochs = 1", "epochs = 3") + "[sweep]\ntrials = 6\n" + SPACE,
    "loss": QUICK.replace("epochs = 1", "epochs = 2") + '[sweep]\ntrials = 11\nmetric = "loss"\n' + SPACE,
}
KEYS = ["model.layers[1].out_features", "optimizer.lr"]  # Optuna's order: sorted
WHITE = (1.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Sweep]]:
    """Each sweep of SWEEPS run once through the CLI, built-in plugins only, and opened again."""
    root = tmp_path_factory.mktemp("sweeps")
    opened = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DISABLE_AUTOLOAD_ENV, "1")
        mp.chdir(root)
        for metric, text in SWEEPS.items():
            spec = root / f"{metric}.toml"
            spec.write_text(text)
            out, err = io.StringIO(), io.StringIO()
            assert main(["sweep", str(spec), "--out", str(root / metric)], out=out, err=err) == ExitCode.OK, err
            opened[metric] = open_sweep(root / metric, load_catalog(load_entrypoints=False), io.StringIO())
        yield opened


@pytest.fixture(scope="module")
def drawn(sweeps: dict[str, Sweep]) -> Iterator[dict[str, dict[str, Figure]]]:
    """Each sweep's figures, as ``draw`` saves them."""
    said = {metric: figures(sweep) for metric, sweep in sweeps.items()}
    made = {metric: {name: f for name, f in figs.items() if isinstance(f, Figure)} for metric, figs in said.items()}
    assert made == said  # every plot drawn
    yield made
    for figs in made.values():
        for fig in figs.values():
            plt.close(fig)


def main_axes(fig: Figure) -> Axes:
    return fig.axes[0]


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def renderer(fig: Figure) -> RendererBase:
    fig.canvas.draw()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined,no-any-return]


def ticks_in_view(ax: Axes) -> list[float]:
    low, high = sorted(ax.get_xlim())
    return [float(t) for t in ax.get_xticks() if low <= t <= high]


def distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.dist(a[:3], b[:3])


def test_metric_label_names_the_metric_and_says_the_loss_is_the_test_sets() -> None:
    assert metric_label("accuracy") == "accuracy"
    assert metric_label("f1") == "f1"
    assert metric_label("loss") == "test loss"


@pytest.mark.parametrize("metric", list(SWEEPS))
def test_every_plot_names_the_metric_not_objective_or_intermediate_value(drawn, metric: str) -> None:
    label = metric_label(metric)
    figs = drawn[metric]
    assert set(figs) == set(PLOTS)
    history, epochs, parallel = (main_axes(figs[n]) for n in ("history", "epochs", "parallel"))
    assert (history.get_xlabel(), history.get_ylabel()) == ("Trial", label)
    assert (epochs.get_xlabel(), epochs.get_ylabel()) == ("Epoch", label)
    assert main_axes(figs["importances"]).get_xlabel() == f"importance for {label}"
    lines = next(c for c in parallel.collections if isinstance(c, LineCollection))
    assert lines.colorbar is not None and lines.colorbar.ax.get_ylabel() == label
    assert parallel.get_xticklabels()[0].get_text() == label  # the objective's own axis
    for name, fig in figs.items():
        said = " ".join(texts(fig))
        for default in ("Objective Value", "Intermediate Value", "Best Value", "Step"):
            assert default not in said, (name, default, said)
        assert label in said, name


def test_the_epoch_and_trial_axes_tick_whole_numbers_only(drawn) -> None:
    for metric, figs in drawn.items():
        for name in ("epochs", "history"):
            ax = main_axes(figs[name])
            renderer(figs[name])
            shown = ticks_in_view(ax)
            assert shown and all(t.is_integer() for t in shown), (metric, name, shown)
        epochs = ticks_in_view(main_axes(figs["epochs"]))
        assert {1.0, 2.0} <= set(epochs), epochs
    assert ticks_in_view(main_axes(drawn["accuracy"]["epochs"])) == [1.0, 2.0, 3.0]


def test_the_parallel_plot_shows_each_key_path_whole(drawn) -> None:
    for metric, figs in drawn.items():
        labels = [t.get_text() for t in main_axes(figs["parallel"]).get_xticklabels()]
        assert [s.replace("\n", "") for s in labels] == [metric_label(metric), *KEYS]  # wrapped at most, never cut
        assert not any(s.endswith("...") for s in labels)
        assert all(t.get_rotation() == 0 for t in main_axes(figs["parallel"]).get_xticklabels())


@pytest.mark.parametrize("metric", list(SWEEPS))
def test_no_text_is_cut_off_by_the_figures_edge(drawn, metric: str, monkeypatch) -> None:
    drawn_texts: list[tuple[str, Bbox]] = []
    draw_text = Text.draw

    def record(self: Text, renderer: RendererBase) -> None:
        draw_text(self, renderer)
        if self.get_visible() and self.get_text():
            drawn_texts.append((self.get_text(), self.get_window_extent(renderer)))

    monkeypatch.setattr(Text, "draw", record)
    for name, fig in drawn[metric].items():
        drawn_texts.clear()
        fig.savefig(io.BytesIO(), format="png", dpi=100)  # as draw saves it
        edge = fig.bbox
        said = {text for text, _ in drawn_texts}
        assert {"Trial", "Epoch"} & said or name in ("importances", "parallel"), (name, said)
        if name == "parallel":
            assert {"optimizer.lr", "model.layers[1].\nout_features", "model.layers[1].out_features"} & said, said
        for text, box in drawn_texts:
            inside = box.x0 >= edge.x0 - 1 and box.y0 >= edge.y0 - 1 and box.x1 <= edge.x1 + 1 and box.y1 <= edge.y1 + 1
            assert inside, (name, text, box, edge)
        tight = fig.get_tightbbox(renderer(fig))
        assert tight is not None
        assert tight.x0 >= -0.01 and tight.y0 >= -0.01, (name, tight)
        assert tight.x1 <= fig.get_figwidth() + 0.01 and tight.y1 <= fig.get_figheight() + 0.01, (name, tight)


@pytest.mark.parametrize("metric", list(SWEEPS))
def test_every_trials_line_stands_out_from_the_background(drawn, sweeps, metric: str) -> None:
    figs = drawn[metric]
    ax = main_axes(figs["parallel"])
    renderer(figs["parallel"])
    lines = next(c for c in ax.collections if isinstance(c, LineCollection))
    colours = [tuple(float(v) for v in c) for c in lines.get_colors()]
    complete = [t for t in sweeps[metric].study.get_trials() if t.state.name == "COMPLETE"]
    assert len(colours) == len(complete) >= 2
    ground = to_rgb(ax.get_facecolor())
    for colour in colours:
        assert distance(colour, WHITE) > 0.5 and distance(colour, ground) > 0.4, (colour, ground)
        assert colour[3] == 1.0
    coloured_by = lines.get_array()
    assert coloured_by is not None
    by = [float(v) for v in coloured_by]
    assert sorted(by) == sorted(float(t.value) for t in complete if t.value is not None)  # coloured by the metric
    worst, best = by.index(min(by)), by.index(max(by))
    if metric == "loss":
        worst, best = best, worst
    assert distance(colours[worst], colours[best]) > 0.5  # the colours still tell best from worst

    epochs = main_axes(figs["epochs"])
    trial_lines = [line for line in epochs.get_lines() if str(line.get_label()).startswith("trial ")]
    assert len(trial_lines) == len([t for t in sweeps[metric].study.get_trials() if t.intermediate_values])
    for line in trial_lines:
        colour = to_rgb(line.get_color())
        assert distance(colour, WHITE) > 0.5 and distance(colour, ground) > 0.3, (line.get_label(), colour)
        assert line.get_alpha() in (None, 1.0)


def test_the_epochs_plot_names_a_few_trials_in_a_legend_and_colours_many_by_number(drawn, sweeps) -> None:
    few = main_axes(drawn["accuracy"]["epochs"])
    legend = few.get_legend()
    assert legend is not None
    states = {t.number: t.state.name for t in sweeps["accuracy"].study.get_trials()}
    expected = [f"trial {n}" + (" (pruned)" if s == "PRUNED" else "") for n, s in sorted(states.items())]
    assert [t.get_text() for t in legend.get_texts()] == expected
    many = drawn["loss"]["epochs"]
    assert main_axes(many).get_legend() is None
    assert [a.get_ylabel() for a in many.axes[1:]] == ["trial"]  # the colorbar
    bar = many.axes[1]
    renderer(many)
    low, high = sorted(bar.get_ylim())
    shown = [float(t) for t in bar.get_yticks() if low <= t <= high]
    assert shown and all(t.is_integer() for t in shown)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_draw_writes_each_png_and_leaves_no_figure_nor_style_behind(sweeps) -> None:
    facecolor = matplotlib.rcParams["axes.facecolor"]
    before = set(plt.get_fignums())
    sweep = sweeps["accuracy"]
    said = draw(sweep, sweep.path / "plots")
    assert said == {name: str(sweep.path / "plots" / f"{name}.png") for name in PLOTS}
    for name in PLOTS:
        assert png_size(sweep.path / "plots" / f"{name}.png") == (900, 550)
    assert set(plt.get_fignums()) == before  # each figure closed once saved
    assert matplotlib.rcParams["axes.facecolor"] == facecolor  # Optuna's ggplot style stays inside
