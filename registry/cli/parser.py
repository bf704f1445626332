"""The command line's grammar: every command, its arguments and their help (argparse)."""

from __future__ import annotations

import argparse
from typing import Any

from registry.kinds import KINDS, kind_named

__all__ = ["TRACEBACK_ENV", "build_parser"]

TRACEBACK_ENV = "REGISTRY_TRACEBACK"


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    # the default is registry.rundirs.checkpoints.DEFAULT, read when the command runs (that module imports torch)
    p.add_argument("--checkpoint", metavar="best|latest|NAME",
                   help="which checkpoint: best (the default for evaluate, predict and export alike: the one "
                   "train.monitor judged best), latest, or a folder name such as ckpt-e0003-end")  # fmt: skip


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="change a value of the spec (a TOML literal), e.g. --set optimizer.lr=3e-4 (repeatable)",
    )


def _kind(word: str) -> str:
    kind = kind_named(word)
    if kind is None:
        choices = ", ".join(f"{k} ({info.plural})" for k, info in KINDS.items())
        raise argparse.ArgumentTypeError(f"unknown kind {word!r}; the kinds are {choices}")
    return kind


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, its options and their help."""
    from registry.version import __version__

    p = argparse.ArgumentParser(
        prog="registry",
        description="Train PyTorch models described in TOML specs; every name resolves through the plugin registry.",
        epilog=f"{TRACEBACK_ENV}=1 shows the full traceback of an error (for plugin authors).",
    )
    p.add_argument("--version", action="version", version=f"registry {__version__} (torch-spec-registry)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_training(sub)
    _add_spec_commands(sub)
    _add_browsing(sub)
    return p


def _add_training(sub: Any) -> None:
    """run, sweep, sweep-report, evaluate, predict."""
    r = sub.add_parser("run", help="build everything, train, and test after each epoch")
    r.add_argument("spec", nargs="?", help="path to a TOML spec (with --resume: checked against the run's)")
    _add_set(r)
    r.add_argument("--quiet", action="store_true", help="no per-batch lines or progress bar: the test lines only")
    r.add_argument(
        "--log-format",
        choices=["auto", "plain", "json"],
        default="auto",
        help="auto: a progress bar on a terminal, the notebook's plain lines otherwise; json: one object per line",
    )
    r.add_argument("--out", help="the run directory (default: runs/<name>-<date>-<time>)")
    r.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its latest checkpoint")
    sw = sub.add_parser("sweep", help="search the values of a spec's [sweep] table with Optuna: a run per trial")
    sw.add_argument("spec", nargs="?", help="path to a TOML spec with a [sweep] table")
    _add_set(sw)
    sw.add_argument("--out", help="the sweep directory (default: sweeps/<name>-<date>-<time>)")
    sw.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes on this machine (default 1)")
    sw.add_argument("--storage", metavar="URL", help="keep the study in this database (postgresql://user@host/db, "
                    "sqlite:///file.db): the same command on other machines joins it (default: a journal file "
                    "in the sweep directory)")  # fmt: skip
    sw.add_argument("--study", help="the study's name in the storage (default: the spec's name)")
    sw.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR up to its trial count")
    sw.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # a process that --workers started
    swr = sub.add_parser("sweep-report", help="a sweep's trials, best first, and Optuna's plots as PNG files")
    swr.add_argument("sweep_dir", metavar="DIR")
    swr.add_argument("--no-plots", action="store_true", help="the table only")
    ev = sub.add_parser("evaluate", help="test metrics of a run's checkpoint")
    ev.add_argument("run_dir", metavar="DIR", help="a run directory (or one of its checkpoint folders)")
    _add_checkpoint(ev)
    pr = sub.add_parser("predict", help="run a trained model on new inputs (arrays, a table's rows, images)")
    pr.add_argument("run_dir", metavar="DIR", help="a run directory (or one of its checkpoint folders)")
    pr.add_argument("inputs", help="raw samples in a .npy/.safetensors file (batch first), or what the dataset "
                    "reads: a table's rows (.csv/.parquet), a folder of images")  # fmt: skip
    _add_checkpoint(pr)
    pr.add_argument("--onnx", metavar="MODEL", nargs="?", const="", help="run the exported ONNX model through "
                    "onnxruntime instead of torch (default MODEL: RUN/model.onnx)")  # fmt: skip
    pr.add_argument("--output", metavar="FILE", help="write there: CSV for a .csv name, else JSON lines (default: "
                    "standard output, CSV for a table's rows, JSON lines otherwise)")  # fmt: skip
    pr.add_argument("--raw-csv", action="store_true", help="write CSV cells as they are; by default a label or name "
                    "that begins like a spreadsheet formula (= + - @) is written with a leading ' as text")  # fmt: skip


def _add_spec_commands(sub: Any) -> None:
    """validate, print-config, export, upgrade, explain."""
    v = sub.add_parser("validate", help="check a spec and build the model, without loading data or training")
    v.add_argument("spec", help="path to a TOML spec")
    _add_set(v)
    pc = sub.add_parser("print-config", help="the fully resolved spec, every default filled in, as TOML")
    pc.add_argument("spec", help="path to a TOML spec")
    pc.add_argument("--explain", action="store_true", help="end each line with where its values came from")
    _add_set(pc)
    xp = sub.add_parser("export", help="write a run's trained model as ONNX or a torch.export program, verified")
    xp.add_argument("run_dir", metavar="RUN")
    xp.add_argument("--format", choices=["onnx", "pt2"], default="onnx", help="onnx (default) or pt2 (torch.export)")
    _add_checkpoint(xp)
    xp.add_argument("--output", metavar="FILE", help="where (default: RUN/model.onnx or RUN/model.pt2)")
    up = sub.add_parser("upgrade", help="rewrite specs in the current spec format, keeping comments and layout")
    up.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (each base is a file of its own)")
    up.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")
    ex = sub.add_parser("explain", help="where each value of the resolved spec came from, and what it replaced")
    ex.add_argument("spec", help="path to a TOML spec")
    ex.add_argument("key", nargs="?", help="only this key path and what is under it (optimizer.lr, model.layers[1])")
    _add_set(ex)


def _add_browsing(sub: Any) -> None:
    """runs, diff, plot, init, completion, list, show, plugins, schema."""
    rs = sub.add_parser("runs", help="the runs in a folder: name, status, best accuracy, time")
    rs.add_argument("folder", nargs="?", default="runs", help="where the run directories are (default: runs)")
    df = sub.add_parser("diff", help="what changed between two runs: resolved spec and final metrics")
    df.add_argument("run_a", metavar="RUN_A")
    df.add_argument("run_b", metavar="RUN_B")
    pl = sub.add_parser("plot", help="draw a run's loss and accuracy curves and confusion matrix (PNG)")
    pl.add_argument("run_dir", metavar="DIR")
    it = sub.add_parser("init", help="write a ready spec (and its JSON Schema) that runs offline")
    it.add_argument("--example", default="quickstart", help="which example (default: quickstart)")
    it.add_argument("--output", default="spec.toml", help="the spec file to write (default: spec.toml)")
    cp = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    cp.add_argument("shell", choices=["bash", "zsh"])
    ls = sub.add_parser("list", help="list registered components with a one-line description")
    ls.add_argument("kind", nargs="?", type=_kind, metavar="KIND", help="only this kind (layer or layers, ...)")
    sh = sub.add_parser("show", help="a component's parameters, types, defaults and description")
    sh.add_argument("name", help="a component name or alias (e.g. leaky_relu or LeakyReLU)")
    sh.add_argument("--kind", type=_kind, help="the kind, when the name exists in several")
    sub.add_parser("plugins", help="the loaded plugins: distribution, version, origin, and what each adds")
    rf = sub.add_parser("reference", help="a Markdown reference of every installed component and its parameters")
    rf.add_argument("-o", "--output", help="write to this file (default: standard output)")
    sc = sub.add_parser("schema", help="write the JSON Schema of specs, covering every installed component")
    sc.add_argument("-o", "--output", help="write to this file (default: standard output)")
