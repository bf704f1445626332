"""The command line: ``python -m registry run|validate|list|show``.

This is the only module that catches ``RegistryError``: it prints the message
to stderr and returns the exit code for the error's class. Any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import gc
import io
import json
import os
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from registry.catalog import KINDS, Catalog
from registry.errors import (
    CheckpointError,
    DatasetNotFoundError,
    DuplicateComponentError,
    Interrupted,
    PluginLoadError,
    Problem,
    RegistryError,
    SpecError,
    TrainingError,
)

if TYPE_CHECKING:
    from registry.builder import Built
    from registry.checkpoint import Checkpoint
    from registry.distributed import Ranks
    from registry.report import Reporter
    from registry.rundir import RunDir
    from registry.runner import RunResult

__all__ = ["ExitCode", "main", "render_list", "render_show"]


class ExitCode(IntEnum):
    """Exit codes: stable, documented in the README."""

    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    PLUGIN = 3
    DATA = 4
    CHECKPOINT = 5
    INTERRUPTED = 130


def _exit_code(error: RegistryError) -> ExitCode:
    if isinstance(error, (PluginLoadError, DuplicateComponentError)):
        return ExitCode.PLUGIN
    if isinstance(error, DatasetNotFoundError):
        return ExitCode.DATA
    if isinstance(error, TrainingError):
        return ExitCode.RUN_FAILED
    if isinstance(error, CheckpointError):
        return ExitCode.CHECKPOINT
    if isinstance(error, Interrupted):
        return ExitCode.INTERRUPTED
    return ExitCode.USAGE


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="change a value of the spec (a TOML literal), e.g. --set optimizer.lr=3e-4 (repeatable)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="registry",
        description="Train PyTorch models described in TOML specs; every name resolves through the plugin registry.",
    )
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
    ev = sub.add_parser("evaluate", help="test metrics of a run's checkpoint")
    ev.add_argument("run_dir", metavar="DIR", help="a run directory (or one of its checkpoint folders)")
    ev.add_argument("--checkpoint", choices=["latest", "best"], default="latest")
    pr = sub.add_parser("predict", help="run a trained model on inputs from a .npy or .safetensors file")
    pr.add_argument("run_dir", metavar="DIR", help="a run directory (or one of its checkpoint folders)")
    pr.add_argument("inputs", help="raw inputs shaped like the dataset's samples, with a batch dimension first")
    pr.add_argument("--checkpoint", choices=["latest", "best"], default="latest")
    v = sub.add_parser("validate", help="check a spec and build the model, without loading data or training")
    v.add_argument("spec", help="path to a TOML spec")
    _add_set(v)
    pc = sub.add_parser("print-config", help="the fully resolved spec, every default filled in, as TOML")
    pc.add_argument("spec", help="path to a TOML spec")
    _add_set(pc)
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
    ls.add_argument("kind", nargs="?", choices=list(KINDS), help="only this kind")
    sh = sub.add_parser("show", help="a component's parameters, types, defaults and description")
    sh.add_argument("name", help="a component name or alias (e.g. leaky_relu or LeakyReLU)")
    sh.add_argument("--kind", choices=list(KINDS), help="the kind, when the name exists in several")
    sub.add_parser("plugins", help="the loaded plugins: distribution, version, origin, and what each adds")
    sc = sub.add_parser("schema", help="write the JSON Schema of specs, covering every installed component")
    sc.add_argument("-o", "--output", help="write to this file (default: standard output)")
    return p


def _catalog() -> Catalog:
    from registry.manager import load_catalog

    return load_catalog()


def _loaded_catalog(err: TextIO) -> Catalog:
    """The catalog, with a warning on *err* for each plugin that was left out."""
    catalog = _catalog()
    for failure in catalog.failures:
        print(
            f"warning: {failure.render()}; its components are unavailable "
            "(REGISTRY_STRICT_PLUGINS=1 makes this an error)",
            file=err,
        )
    return catalog


def _prepare(
    path: str,
    err: TextIO,
    with_optimizer: bool = True,
    cuda_index: int | None = None,
    sets: Sequence[str] = (),
) -> Built:
    from registry.builder import build
    from registry.overrides import parse_override
    from registry.resolve import load_and_resolve

    overrides = [parse_override(text) for text in sets]
    built = build(load_and_resolve(path, _loaded_catalog(err), overrides), with_optimizer, cuda_index)
    for w in built.warnings:
        print(f"warning: {w.render(path)}", file=err)
    return built


def _describe(built: Built, out: TextIO) -> None:
    print(built.model, file=out)
    width = max(len(layer.name) for layer in built.model_plan.layers)
    print(f"\n  {'#':>2}  {'layer':<{width}}  {'output shape':<16} {'params':>12}", file=out)
    for i, layer in enumerate(built.model_plan.layers):
        print(f"  {i:>2}  {layer.name:<{width}}  {str(layer.out_shape):<16} {layer.num_params:>12,}", file=out)
    print(f"Total parameters: {built.model_plan.num_params:,}", file=out)
    d = built.data
    classes = f"{d.dataset.num_classes} classes" if d.dataset.classes else "no classes (regression)"
    print(f"Data: {built.resolved.dataset.component.name}, input per sample {d.sample_shape}, {classes}", file=out)
    print(f"Loss: {built.loss}", file=out)
    print(f"Optimizer: {built.resolved.optimizer.component.name} {built.resolved.optimizer.kwargs}", file=out)
    print(f"Device: {built.device}", file=out)


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    built = _prepare(args.spec, err, with_optimizer=False, sets=args.set)
    print(f"{args.spec}: valid", file=out)
    _describe(built, out)
    return ExitCode.OK


def _summary(result: RunResult) -> str:
    final = result.final.test
    line = f"Done: {len(result.epochs)} epochs in {result.seconds:.1f} s; test loss {final.loss:.4f}"
    if final.accuracy is not None:
        line += f", accuracy {final.correct}/{final.total} ({100 * final.accuracy:.2f}%)"
    return line


def _resume_target(args: argparse.Namespace, err: TextIO, ranks: Ranks | None) -> tuple[Built, RunDir, Checkpoint]:
    from registry.checkpoint import load_checkpoint
    from registry.resolve import load_and_resolve
    from registry.rundir import RunDir
    from registry.specdiff import refuse_incompatible

    rundir = RunDir.open(Path(args.resume), clean=ranks is None or ranks.is_main)
    saved = rundir.path / "spec.toml"
    built = _prepare(str(args.spec or saved), err, cuda_index=ranks.local_rank if ranks else None, sets=args.set)
    ckpt = load_checkpoint(rundir.path)
    if ckpt.spec_hash != rundir.info().get("spec_hash"):
        raise CheckpointError(f"{ckpt.path}: made by another run (its spec hash differs from {rundir.path}/run.json)")
    # The run's own spec only needs resolving (against the catalog already loaded), not building.
    refuse_incompatible(load_and_resolve(saved, built.resolved.catalog), built.resolved, ckpt)
    return built, rundir, ckpt


def _start(
    args: argparse.Namespace, out: TextIO, err: TextIO, ranks: Ranks | None
) -> tuple[Built, RunDir | None, Checkpoint | None, str]:
    """Build the run, and (on the main process) make or open its run directory."""
    from registry.resolve import resolved_dict
    from registry.rundir import RunDir, default_run_path, spec_hash

    main = ranks is None or ranks.is_main
    if args.resume:
        built, rundir, ckpt = _resume_target(args, err, ranks)
        p = ckpt.progress
        print(f"resuming {rundir.path} from {ckpt.path.name}: epoch {p.epoch}, batch {p.batch}", file=out)
        return built, rundir if main else None, ckpt, rundir.info()["spec_hash"]
    built = _prepare(args.spec, err, cuda_index=ranks.local_rank if ranks else None, sets=args.set)
    resolved = resolved_dict(built.resolved)
    if not main:
        return built, None, None, spec_hash(resolved)
    rundir = RunDir.create(Path(args.out) if args.out else default_run_path(resolved.get("name"), args.spec))
    return built, rundir, None, rundir.start(resolved, args.spec, built.resolved.catalog.plugins)


def _run_ranked(
    built: Built, log: Reporter, rundir: RunDir | None, ckpt: Checkpoint | None, digest: str, ranks: Ranks | None
) -> RunResult:
    from registry.runner import run

    if ranks is None:
        return run(built, log, rundir, ckpt, digest)
    try:
        return run(built, log, rundir, ckpt, digest, ranks)
    except RegistryError:
        raise
    except RuntimeError as e:  # a collective failed: a peer died or the process group timed out
        raise TrainingError(f"the process group broke (another rank failed or timed out): {e}") from e


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry import distributed
    from registry.report import make_reporter

    if not (args.spec or args.resume):
        print("error: run needs a SPEC, or --resume DIR", file=err)
        return ExitCode.USAGE
    ranks = distributed.from_env()
    if ranks is not None and not ranks.is_main:
        out = io.StringIO()  # only rank 0 prints
    built, rundir, ckpt, digest = _start(args, out, err, ranks)
    if ranks is not None:
        cfg = built.resolved.spec.train
        distributed.init_process_group(ranks, cfg.backend, built.device, cfg.dist_timeout)
        if ranks.is_main:
            batch = built.resolved.spec.data.batch_size
            print(f"data-parallel: {ranks.world_size} processes, global batch {batch}", file=out)
            for why in distributed.result_warnings(built.model, built.loss, ranks):
                print(f"warning: the result will differ from a single-process run: {why}", file=err)
    if not args.quiet and args.log_format != "json":
        print(built.model, file=out)
    report = make_reporter(args.log_format, args.quiet, out, built.resolved.spec.train.epochs)
    if built.resolved.spec.train.tensorboard and rundir is not None:
        report = _with_tensorboard(report, rundir)
    _restore_gc()  # start-up is over: training collects garbage as the caller would
    try:
        result = _run_ranked(built, report, rundir, ckpt, digest, ranks)
    except RegistryError as e:
        if rundir is not None:
            with contextlib.suppress(RegistryError):
                rundir.set_status("interrupted" if isinstance(e, Interrupted) else "failed", error=str(e))
        raise
    finally:
        distributed.shutdown(ranks)
    if rundir is not None:
        rundir.set_status("completed", final=result.final.test.__dict__)
        print(_summary(result), file=out)
        print(f"Run directory: {rundir.path}", file=out)
        _draw(rundir, out)
    return ExitCode.OK


def _with_tensorboard(report: Reporter, rundir: RunDir) -> Reporter:
    from registry.report import TensorBoardReporter

    try:
        return TensorBoardReporter(report, str(rundir.path / "tensorboard"))
    except ImportError:
        raise SpecError(
            [Problem(("train", "tensorboard"), "needs TensorBoard: pip install 'torch-spec-registry[tensorboard]'")]
        ) from None


def _draw(rundir: RunDir, out: TextIO) -> None:
    from registry.plots import has_matplotlib, plot_run

    if has_matplotlib():
        names = ", ".join(p.name for p in plot_run(rundir.path))
        print(f"Plots: {names}", file=out)
    else:
        print("Plots: none (pip install 'torch-spec-registry[plots]', then python -m registry plot DIR)", file=out)


def _trained(run_dir: str, which: str, err: TextIO) -> tuple[Built, Checkpoint]:
    from registry.checkpoint import load_checkpoint, resolve_checkpoint

    ckpt_path = resolve_checkpoint(Path(run_dir), which)
    spec = (ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else Path(run_dir)) / "spec.toml"
    built = _prepare(str(spec), err, with_optimizer=False)
    ckpt = load_checkpoint(ckpt_path)
    try:
        built.model.load_state_dict(ckpt.model, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt.path}: does not fit the run's model: {e}") from None
    return built, ckpt


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.runner import evaluate, format_test, load_data

    built, ckpt = _trained(args.run_dir, args.checkpoint, err)
    result = evaluate(built, load_data(built).test)
    done = ckpt.progress.epoch - 1
    print(f"{ckpt.path}: {done} epochs done, {ckpt.progress.batch} batches into the next", file=out)
    print(format_test(result).strip("\n"), file=out)
    return ExitCode.OK


def cmd_predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.predict import predict_file

    built, _ = _trained(args.run_dir, args.checkpoint, err)
    for row in predict_file(built, Path(args.inputs)):
        print(json.dumps(row), file=out)
    return ExitCode.OK


def render_list(catalog: Catalog, kind: str | None = None) -> str:
    """What ``list [KIND]`` prints: each kind, then each name with its description and plugin."""
    lines = []
    for k in [kind] if kind else list(KINDS):
        comps = catalog.list(k)
        lines.append(f"{k} ({len(comps)}): {KINDS[k].summary}")
        width = max((len(c.name) for c in comps), default=0)
        lines += [f"  {c.name:<{width}}  {c.description}  [{c.plugin}]" for c in comps]
    return "\n".join(lines) + "\n"


def render_show(catalog: Catalog, name: str, kind: str | None = None) -> str:
    """What ``show NAME`` prints: the component's description, origin and parameters.

    Raises:
        UnknownComponentError: no component answers to *name*.
    """
    from registry.params import describe_fields

    plugins = {p.name: p for p in catalog.plugins}
    found = [catalog.get(kind, name)] if kind else catalog.find(name)
    if not found:
        catalog.get(tuple(KINDS), name)  # raises with suggestions
    lines = []
    for c in found:
        lines.append(f"{c.kind} {c.name}: {c.description}")
        if c.aliases:
            lines.append(f"  also: {', '.join(c.aliases)}")
        info = plugins.get(c.plugin)
        lines.append(f"  from: {c.plugin} ({info.describe() if info else 'registered directly'})")
        rows = describe_fields(c.schema.model)
        if not rows:
            lines.append("  parameters: none")
        for pname, tname, default, desc in rows:
            inferred = " (inferred)" if pname in c.schema.inferred else ""
            lines.append(f"  {pname}: {tname} = {default}{inferred}{'  # ' + desc if desc else ''}")
    return "\n".join(lines) + "\n"


def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    out.write(render_list(_loaded_catalog(err), args.kind))
    return ExitCode.OK


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    out.write(render_show(_loaded_catalog(err), args.name, args.kind))
    return ExitCode.OK


def cmd_plugins(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    catalog = _loaded_catalog(err)
    replaced = {(k, n): old for k, n, old, _ in catalog.replaced}
    for info in catalog.plugins:
        print(f"{info.name}  ({info.describe()})", file=out)
        for kind in KINDS:
            names = [
                c.name + (f" (replaces {replaced[(kind, c.name)]})" if (kind, c.name) in replaced else "")
                for c in catalog.list(kind)
                if c.plugin == info.name
            ]
            if names:
                print(f"  {kind}: {', '.join(names)}", file=out)
    for failure in catalog.failures:
        print(f"failed: {failure.render()}", file=out)
    return ExitCode.OK


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.schema import dump_schema

    text = dump_schema(_loaded_catalog(err))
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

    from registry.resolve import resolved_dict

    built = _prepare(args.spec, err, with_optimizer=False, sets=args.set)
    out.write(tomli_w.dumps(resolved_dict(built.resolved)))
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

    rundir = RunDir.open(Path(args.run_dir), clean=False)
    if not has_matplotlib():
        print("error: plots need matplotlib: pip install 'torch-spec-registry[plots]'", file=err)
        return ExitCode.USAGE
    for path in plot_run(rundir.path):
        print(f"wrote {path}", file=out)
    return ExitCode.OK


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from importlib.resources import files

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
    target.write_text(files("registry_specs").joinpath(f"{args.example}.toml").read_text())
    schema.write_text(dump_schema(_loaded_catalog(err)))
    print(f"wrote {target} (and {schema.name}, which editors use to check it); run it with:", file=out)
    print(f"  python -m registry run {target}", file=out)
    return ExitCode.OK


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitCode:
    from registry.completion import script

    out.write(script(args.shell, list(COMMANDS), list(KINDS)))
    return ExitCode.OK


COMMANDS = {
    "run": cmd_run,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "validate": cmd_validate,
    "list": cmd_list,
    "show": cmd_show,
    "plugins": cmd_plugins,
    "schema": cmd_schema,
    "print-config": cmd_print_config,
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


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit code.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        out: where results go (default: stdout).
        err: where error messages go (default: stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    saved = gc.get_threshold()
    token = _CALLER_GC.set(saved)
    if 0 < saved[0] < STARTUP_GC_THRESHOLD:
        gc.set_threshold(STARTUP_GC_THRESHOLD, *saved[1:])
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as e:  # argparse exits on --help (0) and on bad usage (2)
            return int(e.code or 0)
        return COMMANDS[args.command](args, out, err)
    except RegistryError as e:
        print(f"error: {_rank_prefix()}{e}", file=err)
        return _exit_code(e)
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return ExitCode.INTERRUPTED
    finally:
        gc.set_threshold(*saved)
        _CALLER_GC.reset(token)


def console_main() -> None:
    """Entry point of the ``registry`` console script."""
    sys.exit(main())
