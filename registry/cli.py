"""The command line: ``python -m registry COMMAND``; argument parsing, and errors turned into exit codes.

This is the only module that catches ``RegistryError``: it prints the message
to stderr and returns the exit code for the error's class. Any other exception
is a bug and keeps its traceback. ``REGISTRY_TRACEBACK=1`` prints the traceback
of a ``RegistryError`` too (and of what caused it), for plugin authors.
The commands' work is done in ``registry.launch`` (setting up and running a
run) and ``registry.render`` (what they print).
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import os
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from registry.errors import (
    CheckpointError,
    DataError,
    DatasetNotFoundError,
    DistributedError,
    DuplicateComponentError,
    ExportError,
    Interrupted,
    PluginError,
    PluginLoadError,
    RegistryError,
    SweepError,
    TrainingError,
)
from registry.kinds import KINDS, kind_named

if TYPE_CHECKING:
    from registry.distributed import Ranks
    from registry.launch import Session
    from registry.sweep import Sweep

__all__ = ["TRACEBACK_ENV", "ExitCode", "main"]

TRACEBACK_ENV = "REGISTRY_TRACEBACK"


class ExitCode(IntEnum):
    """Exit codes: stable, documented in the README."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    PLUGIN = 3
    DATA = 4
    CHECKPOINT = 5
    DISTRIBUTED = 6
    EXPORT = 7
    SWEEP = 8
    INTERRUPTED = 130
    BROKEN_PIPE = 141


def _exit_code(error: RegistryError) -> ExitCode:
    if isinstance(error, (PluginLoadError, DuplicateComponentError, PluginError)):
        return ExitCode.PLUGIN
    if isinstance(error, (DatasetNotFoundError, DataError)):
        return ExitCode.DATA
    if isinstance(error, TrainingError):
        return ExitCode.RUN_FAILED
    if isinstance(error, CheckpointError):
        return ExitCode.CHECKPOINT
    if isinstance(error, DistributedError):
        return ExitCode.DISTRIBUTED
    if isinstance(error, Interrupted):
        return ExitCode.INTERRUPTED
    if isinstance(error, ExportError):
        return ExitCode.EXPORT
    if isinstance(error, SweepError):
        return ExitCode.SWEEP
    return ExitCode.USAGE


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    # the default is registry.checkpoint.DEFAULT, read when the command runs (that module imports torch)
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


def _parser() -> argparse.ArgumentParser:
    from registry import __version__

    p = argparse.ArgumentParser(
        prog="registry",
        description="Train PyTorch models described in TOML specs; every name resolves through the plugin registry.",
        epilog=f"{TRACEBACK_ENV}=1 shows the full traceback of an error (for plugin authors).",
    )
    p.add_argument("--version", action="version", version=f"registry {__version__} (torch-spec-registry)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    sc = sub.add_parser("schema", help="write the JSON Schema of specs, covering every installed component")
    sc.add_argument("-o", "--output", help="write to this file (default: standard output)")
    return p


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import prepare
    from registry.render import render_validated

    out.write(render_validated(args.spec, prepare(args.spec, err, with_optimizer=False, sets=args.set)))
    return ExitCode.OK


def cmd_sweep(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry import sweep as sweeps
    from registry.launch import load_plugins_catalog

    if args.worker is not None:  # started by another sweep's --workers: trials only
        catalog = load_plugins_catalog(err)
        try:
            sweeps.work(sweeps.open_sweep(args.resume, catalog, err), catalog, out, worker=args.worker)
        except (Interrupted, KeyboardInterrupt) as e:
            name = getattr(e, "signal_name", "SIGINT")
            raise Interrupted(f"worker {args.worker} interrupted by {name}; the trial it cut is recorded as failed",
                              name) from None  # fmt: skip
        return ExitCode.OK
    if bool(args.spec) == bool(args.resume):
        print("error: sweep needs a SPEC, or --resume DIR (not both)", file=err)
        return ExitCode.USAGE
    if args.resume and (args.set or args.out or args.storage or args.study):
        print("error: sweep --resume DIR takes the spec, storage and study it was started with; "
              "only --workers may change", file=err)  # fmt: skip
        return ExitCode.USAGE
    if not 1 <= args.workers <= 256:
        print(f"error: --workers: {args.workers} is not between 1 and 256", file=err)
        return ExitCode.USAGE
    catalog = load_plugins_catalog(err)
    if args.resume:
        sweep = sweeps.open_sweep(args.resume, catalog, err)
    else:
        sweep = sweeps.create(args.spec, args.out, catalog, err, args.set, args.storage, args.study)
    print(sweeps.describe(sweep), file=out, flush=True)
    try:
        if args.workers == 1:
            sweeps.work(sweep, catalog, out)
        else:
            failed = sweeps.supervise(sweep, args.workers, out, err)
            if failed:
                print(f"warning: {failed} worker(s) ended with an error (above)", file=err)
    except (Interrupted, KeyboardInterrupt) as e:
        name = getattr(e, "signal_name", "SIGINT")
        hint = f"python -m registry sweep --resume {sweep.path} continues the sweep"
        raise Interrupted(f"interrupted by {name}; the trial it cut is recorded as failed; {hint}", name) from None
    _report_sweep(sweep, out)
    if sweep.counted() < sweep.trials_wanted:
        done, hint = f"{sweep.counted()} of {sweep.trials_wanted}", f"python -m registry sweep --resume {sweep.path}"
        raise SweepError(
            f"{sweep.path}: the workers ended after {done} trials (their errors are above); {hint} continues"
        )
    return ExitCode.OK


def _report_sweep(sweep: Sweep, out: TextIO) -> None:
    from registry.sweepreport import render_table, rows, write_best

    out.write(render_table(sweep, rows(sweep)))
    best = write_best(sweep)
    if best is not None:
        print(f"Best: trial {best[0]}; its spec: {best[1]} (python -m registry run {best[1]})", file=out)
    print(f"Sweep directory: {sweep.path} (python -m registry sweep-report {sweep.path} draws its plots)", file=out)


def cmd_sweep_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import load_plugins_catalog
    from registry.sweep import open_sweep
    from registry.sweepreport import draw, render_table, rows, write_best

    sweep = open_sweep(args.sweep_dir, load_plugins_catalog(err), err)
    out.write(render_table(sweep, rows(sweep)))
    best = write_best(sweep)
    if best is not None:
        print(f"Best: trial {best[0]}; its spec: {best[1]}", file=out)
    if not args.no_plots:
        for name, said in draw(sweep, sweep.path / "plots").items():
            print(f"{name}: {said}", file=out)
    return ExitCode.OK


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry import distributed
    from registry.launch import RunOptions, quiet_rank_output, record_end, start

    if not (args.spec or args.resume):
        print("error: run needs a SPEC, or --resume DIR", file=err)
        return ExitCode.USAGE
    ranks = distributed.from_env()
    out = quiet_rank_output(out, ranks)
    session = start(RunOptions(args.spec, tuple(args.set), args.out, args.resume), err, ranks)
    try:
        return _run_session(args, session, out, err, ranks)
    except BaseException as e:  # whatever stops it, even before the first step, run.json says so
        if session.rundir is not None:
            record_end(session.rundir, e)
        raise
    finally:
        if session.rundir is not None:
            session.rundir.release()


def _run_session(args: argparse.Namespace, session: Session, out: TextIO, err: TextIO, ranks: Ranks | None) -> ExitCode:
    from registry import distributed
    from registry.launch import execute, tensorboard_reporter
    from registry.render import render_summary
    from registry.report import make_reporter
    from registry.threads import apply_threads

    built, rundir = session.built, session.rundir
    report = make_reporter(args.log_format, args.quiet, out, built.resolved.spec.train.epochs)
    for event, text in session.notes:
        report.note(event, text)
    if ranks is not None and ranks.is_main:
        report.note("distributed", f"data-parallel: {ranks.world_size} processes, global batch "
                                   f"{built.resolved.spec.data.batch_size}", processes=ranks.world_size)  # fmt: skip
        for why in distributed.result_warnings(built.model, built.loss, ranks):
            print(f"warning: the result will differ from a single-process run: {why}", file=err)
    threads, why = apply_threads(built.resolved.spec.train.threads)
    if not args.quiet and args.log_format != "json":
        print(f"Threads: {threads} ({why})", file=out)
        print(built.model, file=out)
    if built.resolved.spec.train.tensorboard and rundir is not None:
        report = tensorboard_reporter(report, rundir)
    _restore_gc()  # start-up is over: training collects garbage as the caller would
    result = execute(session, report, ranks)
    if rundir is not None:
        segments = rundir.info().segments
        before = segments[-2].how if len(segments) > 1 else None
        report.note("done", render_summary(result, before), **result.final.model_dump())
        report.note("run_dir", f"Run directory: {rundir.path}", path=str(rundir.path))
        _draw(rundir.path, report)
    return ExitCode.OK


def _draw(run_dir: Path, report: object) -> None:
    from registry.plots import has_matplotlib, plot_run
    from registry.report import Reporter

    assert isinstance(report, Reporter)
    if not has_matplotlib():
        report.note("plots", "Plots: none (pip install 'torch-spec-registry[plots]', then python -m registry plot DIR)")
        return
    names = [p.name for p in plot_run(run_dir)]
    report.note("plots", f"Plots: {', '.join(names)}", files=names)


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import trained
    from registry.metrics import MetricSet
    from registry.runner import evaluate, format_test, load_data

    built, ckpt = trained(args.run_dir, args.checkpoint, err)
    result = evaluate(built, load_data(built).test, metrics=MetricSet(built.metrics, built.task,
                      built.model_plan.produces, built.device))  # fmt: skip
    p = ckpt.progress
    where = f"{p.epoch - 1} epochs done" + (f", {p.batch} batches into epoch {p.epoch}" if p.batch else "")
    print(f"{ckpt.path}: {where}", file=out)
    print(format_test(result).strip("\n"), file=out)
    if result.metrics:
        print("Metrics: " + ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.items()), file=out)
    return ExitCode.OK


def cmd_predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import trained
    from registry.predict import predict_file, write_predictions
    from registry.rundir import RunDir

    which, forward = args.checkpoint, None
    if args.onnx is not None:  # the export holds its own weights: its checkpoint, whatever --checkpoint says
        from registry.checkpoint import resolve_checkpoint
        from registry.export import exported_by, onnx_forward

        model = Path(args.onnx or Path(args.run_dir) / "model.onnx")
        which = exported_by(model, Path(args.run_dir))
        if args.checkpoint is not None and resolve_checkpoint(Path(args.run_dir), args.checkpoint).name != which:
            print(f"warning: --checkpoint {args.checkpoint} does not apply to {model}: it holds {which}", file=err)
        print(f"predicting with {model} (the weights of {which}), through onnxruntime", file=err)
        forward = onnx_forward(model)
    built, ckpt = trained(args.run_dir, which, err)
    home = RunDir(ckpt.path.parent.parent)
    inputs = Path(args.inputs)
    records = predict_file(built, inputs, home.read_fitted(), forward, lambda said: print(f"warning: {said}", file=err),
                           str(home.path / "data.json"))  # fmt: skip
    table = inputs.suffix in (".csv", ".tsv", ".parquet")
    if args.output is None:
        write_predictions(records, out, table, args.raw_csv)
        return ExitCode.OK
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            n = write_predictions(records, f, args.output.endswith(".csv"), args.raw_csv)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror}", file=err)
        return ExitCode.USAGE
    print(f"wrote {n} predictions to {args.output}", file=out)
    return ExitCode.OK


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import load_plugins_catalog
    from registry.render import render_list

    out.write(render_list(load_plugins_catalog(err), args.kind))
    return ExitCode.OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import load_plugins_catalog
    from registry.render import render_show

    out.write(render_show(load_plugins_catalog(err), args.name, args.kind))
    return ExitCode.OK


def cmd_plugins(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import load_plugins_catalog
    from registry.render import render_plugins

    catalog = load_plugins_catalog(err, keep_clashes=True)
    out.write(render_plugins(catalog))
    return ExitCode.PLUGIN if catalog.clashes else ExitCode.OK


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.launch import load_plugins_catalog
    from registry.schema import dump_schema

    text = dump_schema(load_plugins_catalog(err))
    if args.output is None:
        out.write(text)
        return ExitCode.OK
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror}", file=err)
        return ExitCode.USAGE
    print(
        f"wrote {args.output}; point a spec at it with the first line '#:schema PATH', PATH relative to the spec",
        file=out,
    )
    return ExitCode.OK


def cmd_print_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    import tomli_w

    from registry.launch import prepare
    from registry.resolve import resolved_dict

    built = prepare(args.spec, err, with_optimizer=False, sets=args.set)
    if args.explain:
        from registry.explain import annotated_toml

        out.write(annotated_toml(built.resolved))
    else:
        out.write(tomli_w.dumps(resolved_dict(built.resolved)))
    return ExitCode.OK


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.export import export_run
    from registry.launch import trained
    from registry.rundir import RunDir

    built, ckpt = trained(args.run_dir, args.checkpoint, err)
    home = RunDir(ckpt.path.parent.parent)
    target = Path(args.output or home.path / f"model.{args.format}")
    about = {"run": str(home.path.resolve()), "run_id": home.info().run_id, "checkpoint": ckpt.path.name,
             "spec": built.resolved.spec.name}  # fmt: skip
    done = export_run(built, args.format, target, home.read_fitted() or {}, about, home.path)
    out.write(f"wrote {done.path} and {done.metadata.name}: verified on {done.samples} test samples, outputs "
              f"within {done.max_abs_diff:.2g} of torch's\n")  # fmt: skip
    return ExitCode.OK


def cmd_upgrade(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.formats import FORMAT
    from registry.launch import load_plugins_catalog
    from registry.upgrade import upgrade_file

    failed = False
    catalog = load_plugins_catalog(err)  # which values are paths: the components' SpecPath marks
    for path in args.specs:  # each file on its own: one that cannot be upgraded does not stop the others
        try:
            result = upgrade_file(path, write=not args.dry_run, catalog=catalog)
        except RegistryError as e:
            print(f"error: {e}", file=err)
            failed = True
            continue
        if not result.changes:
            out.write(f"{path}: already in format {FORMAT}, unchanged\n")
            continue
        out.write(f"{path}: format {result.version} -> {FORMAT}\n")
        out.writelines(f"  {path}:{c.line}: {c.message}\n" for c in result.changes)
    if args.dry_run:
        out.write("(dry run: nothing written)\n")
    return ExitCode.USAGE if failed else ExitCode.OK


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.errors import Problem, SpecError
    from registry.explain import explain, render_explanations
    from registry.launch import prepare
    from registry.references import parse_path

    key = None
    if args.key is not None:
        key = parse_path(args.key)
        if key is None:
            raise SpecError([Problem((), f"cannot read the key path {args.key!r} (write a.b[2].c)")], args.spec)
    built = prepare(args.spec, err, with_optimizer=False, sets=args.set)
    out.write(render_explanations(explain(built.resolved, key)))
    return ExitCode.OK


def cmd_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.runs import describe_runs

    out.write(describe_runs(Path(args.folder)))
    return ExitCode.OK


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.runs import diff_runs

    out.write(diff_runs(Path(args.run_a), Path(args.run_b)))
    return ExitCode.OK


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.plots import has_matplotlib, plot_run
    from registry.rundir import RunDir

    rundir = RunDir.open(Path(args.run_dir), writer=False)
    if not has_matplotlib():
        print("error: plots need matplotlib: pip install 'torch-spec-registry[plots]'", file=err)
        return ExitCode.USAGE
    for path in plot_run(rundir.path):
        print(f"wrote {path}", file=out)
    return ExitCode.OK


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from importlib.resources import files

    from registry.launch import load_plugins_catalog
    from registry.schema import dump_schema

    examples = sorted(p.name[: -len(".toml")] for p in files("registry_specs").iterdir() if p.name.endswith(".toml"))
    if args.example not in examples:
        print(f"error: no example {args.example!r}; choose one of: {', '.join(examples)}", file=err)
        return ExitCode.USAGE
    target = Path(args.output)
    schema = target.with_name("spec.schema.json")
    if target.exists():
        print(f"error: {target} exists; choose another --output", file=err)
        return ExitCode.USAGE
    from registry_specs.example_data import write_for

    from registry.compose import base_files

    text = files("registry_specs").joinpath(f"{args.example}.toml").read_text()
    bases = base_files(text, lambda rel: files("registry_specs").joinpath(*rel.split("/")).read_text())
    clash = [rel for rel, body in bases.items() if (target.parent / rel).exists()
             and (target.parent / rel).read_text() != body]  # fmt: skip
    if clash:
        print(f"error: {target.parent / clash[0]} exists (a base of this example); choose another folder", file=err)
        return ExitCode.USAGE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        for rel, body in bases.items():
            (target.parent / rel).parent.mkdir(parents=True, exist_ok=True)
            (target.parent / rel).write_text(body)
        schema.write_text(dump_schema(load_plugins_catalog(err)))
        data = write_for(args.example, target.parent)  # where the spec's relative paths point: beside it
    except OSError as e:
        print(f"error: cannot write {e.filename}: {e.strerror}", file=err)
        return ExitCode.USAGE
    print(f"wrote {target} (and {schema.name}, which editors use to check it)", file=out)
    if bases:
        print(f"wrote the bases it builds on: {', '.join(bases)}", file=out)
    if data is not None:
        print(f"wrote the example data it reads: {data}", file=out)
    print("run it with:", file=out)
    print(f"  python -m registry run {target}", file=out)
    return ExitCode.OK


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.completion import script

    out.write(script(args.shell, list(COMMANDS), [w for k, i in KINDS.items() for w in (k, i.plural)]))
    return ExitCode.OK


COMMANDS = {
    "run": cmd_run,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "validate": cmd_validate,
    "sweep": cmd_sweep,
    "sweep-report": cmd_sweep_report,
    "list": cmd_list,
    "show": cmd_show,
    "plugins": cmd_plugins,
    "schema": cmd_schema,
    "print-config": cmd_print_config,
    "explain": cmd_explain,
    "upgrade": cmd_upgrade,
    "export": cmd_export,
    "runs": cmd_runs,
    "diff": cmd_diff,
    "plot": cmd_plot,
    "init": cmd_init,
    "completion": cmd_completion,
}


def _rank_prefix() -> str:
    return f"[rank {os.environ['RANK']}] " if "RANK" in os.environ and "WORLD_SIZE" in os.environ else ""


STARTUP_GC_THRESHOLD = 100_000
"""Allocations between young-generation garbage collections while a command runs (CPython's default: 700).

Importing torch and pydantic creates hundreds of thousands of long-lived objects, and with the
default threshold the collector scans them again and again: on a 2-core machine that was most
of what ``validate`` costs beyond ``import torch``. mypy raises its threshold for the same
reason. ``run`` puts the caller's thresholds back before training, and ``main`` on return; a
caller that has switched automatic collection off (threshold 0) or set a higher one keeps it.
"""
_CALLER_GC: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("registry_caller_gc")


def _restore_gc() -> None:
    """Give the thresholds back to what the caller of ``main`` had (before training, and on return)."""
    gc.set_threshold(*_CALLER_GC.get(gc.get_threshold()))


def _silence_stdout() -> None:
    """The reader of our output went away (``validate spec | head -1``): send the rest nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (a test's StringIO): nothing to redirect
        pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit code.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        out: where results go (default: stdout).
        err: where error messages go (default: stderr).
    """
    from registry.manager import env_flag

    out = out or sys.stdout
    err = err or sys.stderr
    saved = gc.get_threshold()
    token = _CALLER_GC.set(saved)
    if 0 < saved[0] < STARTUP_GC_THRESHOLD:
        gc.set_threshold(STARTUP_GC_THRESHOLD, *saved[1:])
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as e:  # argparse exits on --help/--version (0) and on bad usage (2)
            return int(e.code or 0)
        return COMMANDS[args.command](args, out, err)
    except RegistryError as e:
        if env_flag(TRACEBACK_ENV):
            traceback.print_exception(e, file=err)
        print(f"error: {_rank_prefix()}{e}", file=err)
        return _exit_code(e)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return ExitCode.INTERRUPTED
    finally:
        gc.set_threshold(*saved)
        _CALLER_GC.reset(token)


def console_main() -> None:
    """Entry point of the ``registry`` console script."""
    sys.exit(main())
