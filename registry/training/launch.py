"""Setting up a run: load the plugins, prepare the spec, start or resume its run directory, run it (under
torchrun too), and record how it ended. The CLI calls these; so can any other front end.

Whatever ends a run (success, a ``RegistryError``, a signal, a bug) is recorded in
its ``run.json`` before the error goes on: ``completed``, ``failed`` or
``interrupted``, with the reason. A process killed outright cannot record
anything; its lock is released by the system, and the next look calls the run
``killed``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from registry.components.catalog import Catalog
from registry.errors import (
    CheckpointError,
    DatasetNotFoundError,
    DistributedError,
    Interrupted,
    Problem,
    RegistryError,
    SpecError,
)
from registry.spec.formats import RUN_DIR_FORMAT
from registry.spec.paths import locate_missing

if TYPE_CHECKING:
    from registry.building.builder import Built
    from registry.building.data import DatasetSplits
    from registry.rundirs.checkpoints import Checkpoint
    from registry.rundirs.records import EpochRow
    from registry.rundirs.rundir import RunDir
    from registry.training.distributed import Ranks
    from registry.training.loop import RunResult
    from registry.training.reporting import Reporter

__all__ = [
    "RunOptions",
    "Session",
    "begin",
    "rebuild",
    "execute",
    "load_plugins_catalog",
    "prepare",
    "record_end",
    "start",
    "trained",
]


def load_plugins_catalog(err: TextIO, keep_clashes: bool = False) -> Catalog:
    """The catalog of the installed plugins, with a warning on *err* for each plugin left out."""
    from registry.components.manager import STRICT_ENV, load_catalog

    catalog = load_catalog(keep_clashes=keep_clashes)
    for failure in catalog.failures:
        print(f"warning: {failure.render()}; its components are unavailable ({STRICT_ENV}=1 makes this an error)",
              file=err)  # fmt: skip
    for warning in catalog.warnings:
        print(f"warning: {warning}", file=err)
    return catalog


def prepare(
    path: str,
    err: TextIO,
    with_optimizer: bool = True,
    cuda_index: int | None = None,
    sets: Sequence[str] = (),
    catalog: Catalog | None = None,
    default_format: int | None = None,
    check_data: bool = False,
) -> Built:
    """Load, resolve and build the spec at *path* (with ``--set`` overrides), printing its warnings on *err*.

    A ``[sweep]`` table is checked too: every value a trial can take (``registry.resolution.searchspace``).
    With *check_data* (``validate``, a new sweep) the dataset says whether its data will load (``available``).

    Raises:
        SpecError, PluginError, PluginLoadError, DuplicateComponentError: as the stages raise them.
    """
    from registry.building.builder import build
    from registry.resolution.resolver import load_and_resolve
    from registry.spec.overrides import parse_override

    overrides = [parse_override(text) for text in sets]
    fmt = {} if default_format is None else {"default_format": default_format}
    catalog = catalog or load_plugins_catalog(err)
    try:
        resolved = load_and_resolve(path, catalog, overrides, **fmt)
    except SpecError as e:  # every problem in one pass: the model's too, where the faults leave it buildable
        raise SpecError([*e.problems, *_model_problems(path, e, catalog, overrides, fmt)], e.source) from None
    for note in resolved.provenance.notes if resolved.provenance else ():
        print(f"warning: {note}", file=err)
    problems: list[Problem] = []
    if resolved.spec.sweep is not None:
        from registry.resolution.searchspace import check_space

        try:
            check_space(resolved, resolved.catalog, path, overrides, **fmt)
        except SpecError as e:
            problems += e.problems
    try:
        built = build(resolved, with_optimizer, cuda_index)
    except SpecError as e:  # the spec's problems and its sweep's, reported together
        raise SpecError([*problems, *e.problems], e.source) from None
    if problems:
        raise SpecError(problems, resolved.source)
    if check_data and built.data.dataset.available is not None:
        try:
            built.data.dataset.available()
        except DatasetNotFoundError as e:
            raise locate_missing(e, resolved.dataset.path_values, resolved.provenance) from None
    for w in built.warnings:
        print(f"warning: {w.render(path)}", file=err)
    return built


BUILT_FROM = ("data", "model", "loss")
"""The tables the model's shapes follow from: a fault elsewhere leaves them to be checked."""


def _model_problems(
    path: str, error: SpecError, catalog: Catalog, overrides: Sequence[Any], fmt: dict[str, int]
) -> list[Problem]:
    """The model's own problems (shapes, a loss that cannot take its output), found with the faulty values
    elsewhere in the spec (``optimizer.lr = -1``) left to their defaults, so that ``validate`` reports them
    together with those faults. None when a fault is in what the model is built from, or defaults do not do."""
    from registry.building.builder import build
    from registry.resolution.resolver import resolve_composed
    from registry.spec.compose import compose_file

    if not error.problems or any(not p.loc or p.loc[0] in BUILT_FROM for p in error.problems):
        return []
    try:
        composed = compose_file(path, overrides, **fmt)
        for p in error.problems:
            _drop(composed.doc, p.loc)
        build(resolve_composed(composed, catalog, path), with_optimizer=False)
    except SpecError as e:
        return [p for p in e.problems if p.loc and p.loc[0] in BUILT_FROM]
    except RegistryError:  # the data or a plugin cannot say more here: the faults found stand alone
        return []
    return []


def _drop(doc: Any, loc: Sequence[str | int]) -> None:
    """Remove the value at *loc* from *doc*, when it is there (its default then applies)."""
    node = doc
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(loc[-1], None)


@dataclass(frozen=True)
class RunOptions:
    """What ``run`` was asked: a spec (with overrides) and where to write, or a run directory to resume."""

    spec: str | None = None
    sets: tuple[str, ...] = ()
    out: str | None = None
    resume: str | None = None


@dataclass(frozen=True)
class Session:
    """A run ready to go: built, its data loaded, its directory made (or opened) and locked, and where it
    resumes from."""

    built: Built
    rundir: RunDir | None
    checkpoint: Checkpoint | None
    spec_hash: str
    notes: tuple[tuple[str, str], ...] = ()
    splits: DatasetSplits | None = None


def _resume(options: RunOptions, err: TextIO, ranks: Ranks | None) -> Session:
    from registry.resolution.resolver import load_and_resolve
    from registry.rundirs.checkpoints import load_checkpoint
    from registry.rundirs.rundir import RunDir
    from registry.rundirs.specdiff import refuse_incompatible

    assert options.resume is not None
    main = ranks is None or ranks.is_main
    rundir = RunDir.open(Path(options.resume), writer=main)
    try:
        rundir.check_spec_file()
        info = rundir.info()
        saved = rundir.path / "spec.toml"
        local = ranks.local_rank if ranks else None
        if options.spec:
            built = prepare(options.spec, err, cuda_index=local, sets=options.sets)
        else:  # the run's own spec: checked against the plugins it was trained with
            built = rebuild(rundir, err, cuda_index=local, sets=options.sets)
        ckpt = load_checkpoint(rundir.path)
        if ckpt.spec_hash != info.spec_hash:
            raise CheckpointError(
                f"{ckpt.path}: made by another run (its spec hash differs from {rundir.path}/run.json)"
            )
        # The run's own spec only needs resolving (against the catalog already loaded), not building.
        saved_spec = load_and_resolve(saved, built.resolved.catalog, default_format=RUN_DIR_FORMAT)
        refuse_incompatible(saved_spec, built.resolved, ckpt, info.status == "completed")
    except BaseException:
        rundir.release()
        raise
    p = ckpt.progress
    where = f"epoch {p.epoch}, batch {p.batch}" if p.batch else f"the end of epoch {p.epoch - 1}"
    if main:  # this process's run now (a kill of it shows as killed), its own segment in run.json
        rundir.resume(f"{ckpt.path.name} ({where})")
    note = ("resume", f"resuming {rundir.path} from {ckpt.path.name}: {where}")
    return Session(built, rundir if main else None, ckpt, info.spec_hash, (note,))


def start(options: RunOptions, err: TextIO, ranks: Ranks | None = None) -> Session:
    """Build the run and load its data, then (on the main process) make and lock its run directory, or open
    the one to resume.

    Raises:
        SpecError: the spec is wrong (nothing is written).
        DatasetNotFoundError, DataError, PluginError: the data cannot be loaded (nothing is written).
        CheckpointError: the run directory exists, is in use, cannot be written, or cannot be resumed.
    """
    if options.resume:
        return _resume(options, err, ranks)
    assert options.spec is not None
    built = prepare(options.spec, err, cuda_index=ranks.local_rank if ranks else None, sets=options.sets)
    return begin(built, options.spec, options.out, ranks)


def begin(
    built: Built,
    spec: str,
    out: str | Path | None,
    ranks: Ranks | None = None,
    write: bool = True,
    splits: DatasetSplits | None = None,
    durable: bool = True,
) -> Session:
    """Load a built run's data, then (on the main process, when *write*) make and lock its run directory.

    Args:
        built: the built spec.
        spec: where the spec came from, for run.json and the default directory name.
        out: the run directory to make (None: ``runs/<name>-<date>-<time>``).
        write: False for a run that writes nothing (the Python API's ``train`` without a directory).
        splits: the data, loaded already for this spec's data settings (a sweep's next trial); loaded here when None.
        durable: False for a run directory whose writes are not fsynced (a sweep trial: see ``RunDir``).

    Raises:
        DatasetNotFoundError, DataError, PluginError: the data cannot be loaded (nothing is written).
        CheckpointError: the run directory exists, is in use, or cannot be written.
    """
    from registry.resolution.resolver import resolved_dict
    from registry.rundirs.rundir import RunDir, default_run_path, spec_hash
    from registry.training.splits import load_data

    if splits is None:  # before the run directory: data that cannot be used leaves nothing behind
        splits = load_data(built)
    resolved = resolved_dict(built.resolved)
    if not write or (ranks is not None and not ranks.is_main):
        return Session(built, None, None, spec_hash(resolved), splits=splits)
    path = Path(out) if out else default_run_path(resolved.get("name"), spec)
    rundir = RunDir.create(path, durable)
    try:
        digest = rundir.start(resolved, spec, built.resolved.catalog.plugins, built.best)
        return Session(built, rundir, None, digest, splits=splits)
    except BaseException:
        rundir.release()
        raise


def record_end(rundir: RunDir, error: BaseException) -> None:
    """Record in run.json that *error* ended the run (``interrupted`` or ``failed``, with the message),
    unless its ending is recorded already."""
    status = "interrupted" if isinstance(error, (Interrupted, KeyboardInterrupt)) else "failed"
    reason = str(error) if isinstance(error, RegistryError) else f"{type(error).__name__}: {error}"
    with contextlib.suppress(RegistryError):
        if rundir.info().status == "running":
            rundir.set_status(status, reason=reason or type(error).__name__)


def execute(
    session: Session,
    report: Reporter,
    ranks: Ranks | None = None,
    stop_rule: Callable[[Sequence[EpochRow]], str | None] | None = None,
) -> RunResult:
    """Run *session* (joining the process group under torchrun) and record in run.json how it ended.

    The caller releases the session's run directory (``session.rundir.release()``) when it is done with it.
    *stop_rule* (a sweep's pruner) may end the run after an epoch, as early stopping does.

    Raises:
        TrainingError, Interrupted, CheckpointError, DatasetNotFoundError, PluginError: as the run raises them
            (run.json says ``failed`` or ``interrupted``, with the reason).
        DistributedError: the process group broke (another rank failed, or a collective timed out).
    """
    from registry.training import distributed
    from registry.training.loop import run

    built, rundir = session.built, session.rundir
    try:
        if ranks is not None:
            cfg = built.resolved.spec.train
            distributed.init_process_group(ranks, cfg.backend, built.device, cfg.dist_timeout)
        try:
            result = run(built, report, rundir, session.checkpoint, session.spec_hash, ranks, session.splits, stop_rule)
        except RegistryError:
            raise
        except RuntimeError as e:
            if ranks is None:
                raise
            # a collective failed: a peer died or the process group timed out
            raise DistributedError(f"the process group broke (another rank failed or timed out): {e}") from e
        finally:
            distributed.shutdown(ranks)
    except BaseException as e:  # whatever ends the run, run.json says so before the error goes on
        if rundir is not None:
            record_end(rundir, e)
        raise
    if rundir is not None:
        ended = {"reason": result.stopped} if result.stopped else {}
        rundir.set_status("completed", final=result.final.model_dump(), **ended)
    return result


def quiet_rank_output(out: TextIO, ranks: Ranks | None) -> TextIO:
    """Where a process prints: only rank 0 of a data-parallel run prints anything."""
    return io.StringIO() if ranks is not None and not ranks.is_main else out


def trained(run_dir: str, which: str | None, err: TextIO) -> tuple[Built, Checkpoint]:
    """The model of a finished (or stopped) run, with the weights of its *which* checkpoint (``best``, ``latest``
    or a checkpoint's folder name), said on *err* (``using checkpoint best: ckpt-e0005-end (epoch 5)``).

    Raises:
        CheckpointError: not a run directory, its spec.toml was edited, or the checkpoint is unusable.
    """
    from registry.rundirs.checkpoints import DEFAULT, describe, load_checkpoint, resolve_checkpoint
    from registry.rundirs.rundir import RunDir

    which = which or DEFAULT
    ckpt_path = resolve_checkpoint(Path(run_dir), which)
    home = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else Path(run_dir)
    rundir = RunDir.open(home, writer=False)
    rundir.check_spec_file()
    built = rebuild(rundir, err, with_optimizer=False)
    ckpt = load_checkpoint(ckpt_path)
    try:
        built.model.load_state_dict(ckpt.model, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt.path}: does not fit the run's model: {e}") from None
    built.model.eval()  # a trained model answers: dropout off, batch norm's statistics kept
    print(f"using {describe(ckpt_path, which)}", file=err)
    return built, ckpt


def rebuild(rundir: RunDir, err: TextIO, **kwargs: Any) -> Built:
    """Build a run directory's own spec, after checking the plugins it was trained with (``registry.rundirs.compat``).

    Other versions of the plugins its spec uses, or of torch, are warnings on *err*.

    Raises:
        CheckpointError: a plugin its spec needs is not installed (which distribution and version to install).
        SpecError: its spec does not resolve here for another reason.
    """
    from registry.rundirs.compat import compare_versions, plugins_used

    catalog = load_plugins_catalog(err)
    versions = rundir.info().versions
    try:
        built = prepare(str(rundir.path / "spec.toml"), err, catalog=catalog, default_format=RUN_DIR_FORMAT, **kwargs)
    except SpecError as e:
        report = compare_versions(versions, catalog)
        if report.missing:
            raise CheckpointError(f"{rundir.path}: {report.missing_message()}\n{e}") from None
        raise
    for change in compare_versions(versions, catalog, plugins_used(built.resolved)).changed:
        print(f"warning: {rundir.path}: {change}: the rebuilt model may differ from the trained one", file=err)
    return built


def tensorboard_reporter(report: Reporter, rundir: RunDir) -> Reporter:
    """*report*, also writing TensorBoard event files into the run directory.

    Raises:
        SpecError: ``train.tensorboard`` is on but TensorBoard is not installed.
    """
    from registry.files.atomic import make_folder
    from registry.training.reporting import TensorBoardReporter

    try:
        folder = make_folder(rundir.path / "tensorboard", rundir.path)  # not through a link planted there
    except OSError as e:
        raise CheckpointError(f"{rundir.path}: cannot write TensorBoard's files: {e.strerror or e}") from None
    try:
        return TensorBoardReporter(report, str(folder))
    except ImportError:
        raise SpecError(
            [Problem(("train", "tensorboard"), "needs TensorBoard: pip install 'torch-spec-registry[tensorboard]'")]
        ) from None
