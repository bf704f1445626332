"""The commands: one function each, from parsed arguments to what they print and the exit code.

Errors are raised, never caught here (``registry.cli.entry`` turns them into exit codes). The commands'
work is done in ``registry.training.launch`` (setting up and running a run) and ``registry.cli.render``
(what they print).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from registry.cli.exits import ExitCode
from registry.cli.startup import restore_gc
from registry.errors import (
    Interrupted,
    RegistryError,
    SweepError,
)
from registry.kinds import KINDS

if TYPE_CHECKING:
    from registry.sweeps.sweep import Sweep
    from registry.training.distributed import Ranks
    from registry.training.launch import Session

__all__ = ["COMMANDS"]


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.cli.render import render_validated
    from registry.training.launch import prepare

    built = prepare(args.spec, err, with_optimizer=False, sets=args.set, check_data=True)
    out.write(render_validated(args.spec, built))
    return ExitCode.OK


def cmd_sweep(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.sweeps import sweep as sweeps
    from registry.training.launch import load_plugins_catalog

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
    from registry.sweeps.report import render_table, rows, write_best

    out.write(render_table(sweep, rows(sweep)))
    best = write_best(sweep)
    if best is not None:
        print(f"Best: trial {best[0]}; its spec: {best[1]} (python -m registry run {best[1]})", file=out)
    print(f"Sweep directory: {sweep.path} (python -m registry sweep-report {sweep.path} draws its plots)", file=out)


def cmd_sweep_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.sweeps.report import draw, render_table, rows, write_best
    from registry.sweeps.sweep import open_sweep
    from registry.training.launch import load_plugins_catalog

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
    from registry.training import distributed
    from registry.training.launch import RunOptions, quiet_rank_output, record_end, start

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
    from registry.cli.render import render_summary
    from registry.training import distributed
    from registry.training.launch import execute, tensorboard_reporter
    from registry.training.reporting import make_reporter
    from registry.training.threads import apply_threads

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
    restore_gc()  # start-up is over: training collects garbage as the caller would
    result = execute(session, report, ranks)
    if rundir is not None:
        segments = rundir.info().segments
        before = segments[-2].how if len(segments) > 1 else None
        report.note("done", render_summary(result, before), **result.final.model_dump())
        report.note("run_dir", f"Run directory: {rundir.path}", path=str(rundir.path))
        _draw(rundir.path, report)
    return ExitCode.OK


def _draw(run_dir: Path, report: object) -> None:
    from registry.rundirs.plots import has_matplotlib, plot_run
    from registry.training.reporting import Reporter

    assert isinstance(report, Reporter)
    if not has_matplotlib():
        report.note("plots", "Plots: none (pip install 'torch-spec-registry[plots]', then python -m registry plot DIR)")
        return
    names = [p.name for p in plot_run(run_dir)]
    report.note("plots", f"Plots: {', '.join(names)}", files=names)


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.building.metrics import MetricSet
    from registry.training.evaluation import evaluate, format_test
    from registry.training.launch import trained
    from registry.training.splits import load_data

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
    from registry.inference.predict import predict_file, write_predictions
    from registry.rundirs.rundir import RunDir
    from registry.training.launch import trained

    which, forward = args.checkpoint, None
    if args.onnx is not None:  # the export holds its own weights: its checkpoint, whatever --checkpoint says
        from registry.inference.export import exported_by, onnx_forward
        from registry.rundirs.checkpoints import resolve_checkpoint

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
    from registry.cli.render import render_list
    from registry.training.launch import load_plugins_catalog

    out.write(render_list(load_plugins_catalog(err), args.kind))
    return ExitCode.OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.cli.render import render_show
    from registry.training.launch import load_plugins_catalog

    out.write(render_show(load_plugins_catalog(err), args.name, args.kind))
    return ExitCode.OK


def cmd_plugins(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.cli.render import render_plugins
    from registry.training.launch import load_plugins_catalog

    catalog = load_plugins_catalog(err, keep_clashes=True)
    out.write(render_plugins(catalog))
    return ExitCode.PLUGIN if catalog.clashes else ExitCode.OK


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.resolution.schema import dump_schema
    from registry.training.launch import load_plugins_catalog

    said = "point a spec at it with the first line '#:schema PATH', PATH relative to the spec"
    return _write_or_print(dump_schema(load_plugins_catalog(err)), args.output, said, out, err)


def cmd_reference(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.cli.render import render_reference
    from registry.training.launch import load_plugins_catalog

    said = "every installed component, kind by kind"
    return _write_or_print(render_reference(load_plugins_catalog(err)), args.output, said, out, err)


def _write_or_print(text: str, output: str | None, said: str, out: TextIO, err: TextIO) -> ExitCode:
    if output is None:
        out.write(text)
        return ExitCode.OK
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        print(f"error: cannot write {output}: {e.strerror}", file=err)
        return ExitCode.USAGE
    print(f"wrote {output}; {said}", file=out)
    return ExitCode.OK


def cmd_print_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    import tomli_w

    from registry.resolution.resolver import resolved_dict
    from registry.training.launch import prepare

    built = prepare(args.spec, err, with_optimizer=False, sets=args.set)
    if args.explain:
        from registry.resolution.explain import annotated_toml

        out.write(annotated_toml(built.resolved))
    else:
        out.write(tomli_w.dumps(resolved_dict(built.resolved)))
    return ExitCode.OK


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.inference.export import export_run
    from registry.rundirs.rundir import RunDir
    from registry.training.launch import trained

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
    from registry.resolution.upgrade import upgrade_file
    from registry.spec.formats import FORMAT
    from registry.training.launch import load_plugins_catalog

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
    from registry.resolution.explain import explain, render_explanations
    from registry.spec.references import parse_path
    from registry.training.launch import prepare

    key = None
    if args.key is not None:
        key = parse_path(args.key)
        if key is None:
            raise SpecError([Problem((), f"cannot read the key path {args.key!r} (write a.b[2].c)")], args.spec)
    built = prepare(args.spec, err, with_optimizer=False, sets=args.set)
    out.write(render_explanations(explain(built.resolved, key)))
    return ExitCode.OK


def cmd_runs(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.rundirs.browse import describe_runs

    out.write(describe_runs(Path(args.folder)))
    return ExitCode.OK


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.rundirs.browse import diff_runs

    out.write(diff_runs(Path(args.run_a), Path(args.run_b)))
    return ExitCode.OK


def cmd_plot(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.rundirs.plots import has_matplotlib, plot_run
    from registry.rundirs.rundir import RunDir

    rundir = RunDir.open(Path(args.run_dir), writer=False)
    if not has_matplotlib():
        print("error: plots need matplotlib: pip install 'torch-spec-registry[plots]'", file=err)
        return ExitCode.USAGE
    for path in plot_run(rundir.path):
        print(f"wrote {path}", file=out)
    return ExitCode.OK


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from importlib.resources import files

    from registry.resolution.schema import dump_schema
    from registry.training.launch import load_plugins_catalog

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

    from registry.spec.compose import base_files

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
    from registry.cli.completion import script

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
    "reference": cmd_reference,
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
