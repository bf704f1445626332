"""Pictures of a run: loss, accuracy and metric curves, and the confusion matrix, as PNG (matplotlib, Agg).

matplotlib is an optional extra (``pip install 'torch-spec-registry[plots]'``); without it the run
still writes its metrics and says how to get the pictures.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PLOTS", "has_matplotlib", "plot_run"]

PLOTS = ("loss.png", "accuracy.png", "metrics.png", "lr.png", "confusion.png")


def has_matplotlib() -> bool:
    """Whether the optional plotting extra is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _chart(
    out: Path, name: str, series: list[tuple[list[Any], dict[str, Any]]], epochs: list[int], **labels: str
) -> Path:
    """One line chart per epoch: each (values, plot options) of *series*; a legend when they are labelled."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for values, options in series:
        ax.plot(epochs, values, **{"marker": "o", **options})
    ax.set(xlabel="epoch", **labels)
    ax.grid(alpha=0.3)
    if any("label" in options for _, options in series):
        ax.legend()
    fig.tight_layout()
    return _save(plt, fig, out, name)


def _save(plt: Any, fig: Any, out: Path, name: str) -> Path:
    """Write *fig* as ``out/name`` through ``registry.files.atomic`` (never through a link planted there)."""
    from registry.files.atomic import write_bytes

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    write_bytes(out / name, buf.getvalue(), root=out)
    return out / name


def _curves(rows: list[dict[str, Any]], title: str, out: Path, loss_name: str = "loss") -> list[Path]:
    epochs = [r["epoch"] for r in rows]
    loss = [([r["train_loss"] for r in rows], {"label": "train (mean over the epoch)"}),
            ([r["test_loss"] for r in rows], {"marker": "s", "label": "test"})]  # fmt: skip
    written = [_chart(out, "loss.png", loss, epochs, ylabel=f"loss ({loss_name})", title=f"{title}: loss per epoch")]
    if all(r.get("test_accuracy") is not None for r in rows):
        accuracy = [([100 * r["test_accuracy"] for r in rows], {"color": "tab:green"})]
        written.append(_chart(out, "accuracy.png", accuracy, epochs, ylabel="test accuracy (%)",
                              title=f"{title}: test accuracy per epoch"))  # fmt: skip
    names = sorted({name for r in rows for name in r.get("metrics", {})})
    if names and names != ["accuracy"]:  # accuracy alone is accuracy.png already
        metrics = [([r["metrics"].get(name) for r in rows], {"label": name}) for name in names]
        written.append(_chart(out, "metrics.png", metrics, epochs, ylabel="value",
                              title=f"{title}: test metrics per epoch"))  # fmt: skip
    rates = [r.get("lr") for r in rows]
    if len(set(rates)) > 1 and None not in rates:  # a scheduler changed it
        rate = [(rates, {"color": "tab:purple"})]
        written.append(_chart(out, "lr.png", rate, epochs, ylabel="learning rate (as the epoch ended)",
                              title=f"{title}: learning rate"))  # fmt: skip
    return written


def _confusion(data: dict[str, Any], title: str, out: Path) -> Path:
    plt = _figure()
    counts, labels = data["counts"], data["classes"]
    n = len(labels)
    size = max(4.8, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    image = ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(n), labels=labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels=labels)
    peak = max(max(row) for row in counts) or 1
    for i in range(n):
        for j in range(n):
            color = "white" if counts[i][j] > peak / 2 else "black"
            ax.text(j, i, counts[i][j], ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title=f"{title}: confusion matrix (test split, counts)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="test samples")
    fig.tight_layout()
    return _save(plt, fig, out, "confusion.png")


def plot_run(run_dir: Path) -> list[Path]:
    """Draw the pictures of the run in *run_dir* from its metrics.jsonl (and confusion.json); return the files.

    Raises:
        CheckpointError: a file of the run is not what the run writes.
    """
    from registry.errors import CheckpointError
    from registry.files.untrusted import Unreadable, read_bounded
    from registry.rundirs.records import Confusion, read_record
    from registry.rundirs.rundir import RunDir

    rundir = RunDir(run_dir)
    title = rundir.info().name or run_dir.name
    rows = [row.model_dump() for row in rundir.read_metrics()]
    loss_name = "loss"
    try:
        spec = tomllib.loads(read_bounded(run_dir / "spec.toml", 2**20, follow=False).decode())
        loss_name = str(spec.get("loss", {}).get("type", "loss"))[:64]
    except (OSError, ValueError, AttributeError, Unreadable):
        pass  # only the axis label suffers
    try:
        written = _curves(rows, title, run_dir, loss_name) if rows else []
        if os.path.lexists(run_dir / "confusion.json"):
            confusion = read_record(run_dir / "confusion.json", Confusion).model_dump()
            written.append(_confusion(confusion, title, run_dir))
    except OSError as e:
        raise CheckpointError(f"{run_dir}: cannot draw its plots: {e.strerror or e}") from None
    return written
