"""Sweeps: a spec's ``[sweep]`` searched with Optuna, each trial an ordinary run directory.

A sweep directory holds::

    spec.toml        the resolved spec, [sweep] included: what every trial overrides
    sweep.json       the study's name and storage (None: study.journal here)
    study.journal    Optuna's journal file, the embedded default storage
    trials/trial-0007/   one run directory per trial: spec.toml (without [sweep]), run.json, metrics, checkpoints
                     (written atomically but not fsynced: a cut trial is run again, not resumed)
    best.toml        the best trial's spec, which ``registry run`` accepts unchanged
    plots/           ``sweep-report``'s PNGs

A worker runs trials one after the other in one process: the spec is resolved again for each
trial (cheap), the dataset loaded only when the data settings change. ``--workers N`` starts N
worker processes on the study; ``--storage URL`` puts the study in a database that workers on other
machines join with the same command. Each worker holds a lock file while it lives; a trial whose
worker's lock is free was cut off (the worker was killed) and is marked failed before the next
trial is asked for. In a shared database Optuna's heartbeat does the same for other machines.

``trials`` counts the trials that ran to their end: complete, pruned, or failed by their own run
(a NaN loss, an impossible shape). A trial cut off by a killed or interrupted worker is recorded as
failed, with the reason, and another trial takes its place.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from registry.errors import CheckpointError, Interrupted, Problem, RegistryError, SpecError, SweepError
from registry.files.atomic import UnsafePath, make_folder, open_lock, probe_lock, write_json, write_text
from registry.resolution.searchspace import (
    Param,
    absolute_choices,
    distributions,
    grid,
    grid_size,
    params,
    trial_overrides,
)
from registry.rundirs.records import SweepRecord, read_record

if TYPE_CHECKING:
    import optuna

    from registry.building.builder import Built
    from registry.building.data import DatasetSplits
    from registry.components.catalog import Catalog
    from registry.resolution.resolver import ResolvedSpec
    from registry.rundirs.records import EpochRow
    from registry.training.loop import RunResult

__all__ = ["Sweep", "TrialOutcome", "create", "open_sweep", "supervise", "work"]

HEARTBEAT_SECONDS = 10
"""How often a trial in a database tells it is alive; after ``GRACE_SECONDS`` of silence it is failed."""
GRACE_SECONDS = 60
ATTR = "registry"
"""The study's user attribute that says which sweep made it (spec hash, space, objective)."""
CUT = "cut"
"""A trial's user attribute: its worker was killed or interrupted, so it does not count toward ``trials``."""
UNCLAIMED_SECONDS = 60
"""A running trial that no worker has claimed for this long was asked for by a worker that died at once."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise SweepError("sweeps need Optuna: pip install 'torch-spec-registry[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial's end is said by its progress line
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


SECRET_QUERY_KEYS = ("password", "passwd")
"""Query parameters that carry a password (libpq and psycopg read ``?password=``, PyMySQL ``?passwd=``)."""


def has_password(url: str) -> bool:
    """Whether *url* holds a password, in its user part or as a query parameter."""
    user = url.split("?")[0].split("://", 1)[-1].rpartition("@")[0]  # user[:password], before the host
    return ":" in user or any(f"{k}=" in url.lower() for k in SECRET_QUERY_KEYS)


def safe_url(url: str) -> str:
    """*url* without its password (in the user part or a ``password``/``passwd`` query parameter), for messages
    and files shown to people."""
    try:
        from sqlalchemy.engine import make_url

        shown = str(make_url(url).render_as_string(hide_password=True))
    except Exception:  # not a URL SQLAlchemy reads: show its host part alone, never what precedes an @
        return url.split("@")[-1].split("?")[0] if "@" in url else url.split("?")[0]
    return re.sub(rf"(?i)\b({'|'.join(SECRET_QUERY_KEYS)})=[^&]*", r"\1=***", shown)


@dataclass
class Sweep:
    """An open sweep: its directory, resolved spec, search space, and Optuna study."""

    path: Path
    record: SweepRecord
    resolved: ResolvedSpec
    built: Built
    space: list[Param]
    study: optuna.Study
    storage_url: str | None

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.toml"

    @property
    def trials_wanted(self) -> int:
        sweep = self.resolved.spec.sweep
        assert sweep is not None
        return min(sweep.trials, grid_size(self.space)) if sweep.sampler == "grid" else sweep.trials

    @property
    def objective(self) -> tuple[str, bool]:
        assert self.built.objective is not None
        return self.built.objective

    def counted(self) -> int:
        """The trials that count toward ``trials``: running or ended by their own run, not cut off by their
        worker's end, nor waiting to retry the values of one that was."""
        return sum(1 for t in self.study.get_trials(deepcopy=False) if not was_cut(t) and t.state.name != "WAITING")


def was_cut(t: optuna.trial.FrozenTrial) -> bool:
    """Whether *t* was cut off by its worker's end (killed, interrupted, or silent in a database) rather than
    ended by its own run (which records its ``seconds``)."""
    return bool(t.user_attrs.get(CUT)) or (t.state.name == "FAIL" and "seconds" not in t.user_attrs)


def retry(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
    """Queue the values of the cut trial *t* again, so that a grid still covers them and a search loses
    nothing (Optuna's samplers count a failed trial's values as tried)."""
    if t.params:
        study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number}, skip_if_exists=False)


def describe(sweep: Sweep) -> str:
    """What the sweep will do, in a line or two."""
    s = sweep.resolved.spec.sweep
    assert s is not None
    metric, higher = sweep.objective
    where = safe_url(sweep.storage_url) if sweep.storage_url else "study.journal"
    done = sweep.counted()
    return (
        f"Sweep {sweep.path}: {sweep.trials_wanted} trials{f' ({done} done)' if done else ''} of "
        f"{', '.join(p.key for p in sweep.space)}; {'maximize' if higher else 'minimize'} {metric}; "
        f"sampler {s.sampler}, pruner {s.pruning.type}; study {sweep.record.study!r} in {where}"
    )


# -- making and opening ---------------------------------------------------------------------------------


def _check(path: str | Path, catalog: Catalog, err: TextIO, sets: Sequence[str], default_format: int | None) -> tuple[
    ResolvedSpec, Built, list[Param]
]:  # fmt: skip
    """The spec, built (without an optimizer) and its whole search space checked, as ``validate`` checks it."""
    from registry.training.launch import prepare

    built = prepare(str(path), err, False, sets=sets, catalog=catalog, default_format=default_format, check_data=True)
    rs = built.resolved
    if rs.spec.sweep is None:
        example = '[sweep.space] "optimizer.lr" = { type = "float", low = 1e-4, high = 0.1, log = true }'
        raise SpecError([Problem(("sweep",), f"is missing: say what to search, e.g. {example}")], rs.source)
    return rs, built, params(rs.spec.sweep, rs)


def create(
    spec: str,
    out: str | None,
    catalog: Catalog,
    err: TextIO,
    sets: Sequence[str] = (),
    storage: str | None = None,
    study: str | None = None,
) -> Sweep:
    """Check *spec*'s ``[sweep]`` (every value a trial can take), then make its sweep directory and study.

    *sets* are ``--set`` overrides; the spec's warnings go to *err*.

    Raises:
        SpecError: the spec or its search space is wrong (nothing is written).
        SweepError: the directory exists, or the storage cannot be opened, or holds another sweep's study.
    """
    from registry.resolution.resolver import resolved_dict
    from registry.rundirs.rundir import default_run_path

    rs, built, space = _check(spec, catalog, err, sets, None)
    _optuna()  # before anything is written: a sweep without Optuna says how to install it
    name = rs.spec.name or Path(spec).stem
    if out is None:
        path = default_run_path(name, spec, folder="sweeps")
    elif (path := Path(out)).exists() and (not path.is_dir() or any(path.iterdir())):
        hint = "; sweep --resume DIR continues it" if (path / "sweep.json").exists() else ""
        raise SweepError(f"{path}: already exists and is not an empty folder{hint}")
    if storage is not None:
        _check_url(storage)
    try:
        make_folder(path / "trials", path)
        import tomli_w

        doc = resolved_dict(rs)
        absolute_choices(doc, rs, space)  # a trial reads its choices from here, from any working directory
        write_text(path / "spec.toml", tomli_w.dumps(doc), root=path)
        record = SweepRecord(format=1, study=study or name, storage=storage, created=_now(), source=str(spec))
        write_json(path / "sweep.json", record.model_dump(), root=path)
        if storage is not None and has_password(storage):  # the URL holds a password, which --resume needs
            (path / "sweep.json").chmod(0o600)
    except OSError as e:
        raise SweepError(f"{path}: cannot make the sweep directory: {e.strerror or e}") from None
    try:
        return _opened(path, record, catalog, err, create=True)
    except BaseException:  # a storage that cannot be used leaves no sweep directory behind to resume
        shutil.rmtree(path, ignore_errors=True)
        raise


def open_sweep(path: str | Path, catalog: Catalog, err: TextIO) -> Sweep:
    """An existing sweep directory, its study opened (or joined) in its storage.

    The directory is untrusted: its ``sweep.json`` may name any database. The storage must already hold
    the sweep's study, made by a registry sweep: nothing (no study, no table, no SQLite file) is created in
    one that does not, and its URL is said on *err* (password hidden) before it is used.

    Raises:
        SweepError: not a sweep directory, or its storage cannot be opened or does not hold the study.
        SpecError: its spec.toml no longer resolves.
    """
    path = Path(path)
    try:
        record = read_record(path / "sweep.json", SweepRecord)
    except CheckpointError as e:
        raise SweepError(f"{path}: not a sweep directory: {e}") from None
    sweep = _opened(path, record, catalog, err)
    with _Asking(path):
        fail_cut_trials(sweep)  # a worker killed since: its trial is failed before anything counts it
    return sweep


def _opened(path: Path, record: SweepRecord, catalog: Catalog, err: TextIO, create: bool = False) -> Sweep:
    from registry.spec.formats import RUN_DIR_FORMAT

    rs, built, space = _check(path / "spec.toml", catalog, err, (), RUN_DIR_FORMAT)
    sweep = rs.spec.sweep
    assert sweep is not None and built.objective is not None
    optuna = _optuna()
    where = safe_url(record.storage) if record.storage else str(path / "study.journal")
    if record.storage is not None and not create:
        print(f"study storage: {where} (named by {path / 'sweep.json'})", file=err, flush=True)
    storage = _storage(optuna, record.storage, path, None if create else record.study)
    sampler = _sampler(optuna, sweep.sampler, space, _seed(rs))
    pruner = _pruner(optuna, sweep.pruning)
    direction = "maximize" if built.objective[1] else "minimize"
    try:
        if create:
            study = optuna.create_study(
                study_name=record.study, storage=storage, sampler=sampler, pruner=pruner, direction=direction,
                load_if_exists=True,
            )  # fmt: skip
        else:
            study = optuna.load_study(study_name=record.study, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        raise SweepError(f"{where}: holds no study {record.study!r}: {path} is not this storage's sweep") from None
    except ValueError as e:  # a study of that name made for the other direction
        raise SweepError(f"{where}: study {record.study!r} cannot be joined: {e}") from None
    except OSError as e:
        raise CheckpointError(f"{where}: cannot be written: {e.strerror or e}{_disk_note(path)}") from None
    except Exception as e:  # a database that refuses the connection, a missing driver...
        raise SweepError(f"{where}: the study's storage cannot be used: {type(e).__name__}: {e}"
                         f"{_disk_note(path)}") from None  # fmt: skip
    if study.direction.name.lower() != direction:
        raise SweepError(f"{where}: study {record.study!r} is to {study.direction.name.lower()}, this sweep to "
                         f"{direction}")  # fmt: skip
    made = _identity(rs, built, space)
    found = study.user_attrs.get(ATTR)
    if found is None and not create:
        raise SweepError(f"{where}: study {record.study!r} was not made by a registry sweep; nothing was changed")
    if found is None:
        study.set_user_attr(ATTR, made)
    elif found != made:
        theirs = found.get("space") if isinstance(found, dict) else None
        raise SweepError(
            f"{where}: study {record.study!r} was made by another sweep (its spec or search space differs: "
            f"{json.dumps(theirs)[:300]}); give this one another name with --study"
        )
    return Sweep(path, record, rs, built, space, study, record.storage)


def _disk_note(path: Path) -> str:
    """`` (the disk that holds PATH is full)`` when it is: Optuna's journal then fails in its own words."""
    try:
        return f" (the disk that holds {path} is full)" if shutil.disk_usage(path).free < 1 << 20 else ""
    except OSError:
        return ""


def _identity(rs: ResolvedSpec, built: Built, space: Sequence[Param]) -> dict[str, Any]:
    """What makes two workers' sweeps the same: the trials' spec, the space and the objective."""
    from registry.resolution.resolver import resolved_dict
    from registry.rundirs.rundir import spec_hash

    base = resolved_dict(replace(rs, spec=rs.spec.model_copy(update={"sweep": None})))
    assert built.objective is not None
    return {
        "spec_hash": spec_hash(base),
        "space": {p.key: p.dist.model_dump() for p in space},
        "objective": list(built.objective),
    }


def _storage(optuna: Any, url: str | None, path: Path, existing: str | None) -> Any:
    """The study's storage: *path*'s ``study.journal``, or the database at *url*. With *existing* (a study
    name), the storage must already hold that study: nothing is created in it."""
    if url is None:
        from registry.sweeps.journal import open_journal

        return open_journal(optuna, path, create=existing is None)
    url = _check_url(url)
    if existing is not None:
        _holds_study(url, existing)
    # a trial whose machine stopped sending heartbeats is failed by Optuna; its values are queued again
    stale = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in inspect.signature(
        optuna.storages.RDBStorage).parameters else "failed_trial_callback"  # fmt: skip
    beat = {"heartbeat_interval": HEARTBEAT_SECONDS, "grace_period": GRACE_SECONDS, stale: retry}
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, **beat)
        except ImportError as e:
            raise SweepError(f"{safe_url(url)}: its driver is missing ({e}): for PostgreSQL, pip install "
                             "'torch-spec-registry[postgres]'") from None  # fmt: skip
        except Exception as e:  # workers starting together race to make the tables: the loser tries again
            if attempt == 4 or not _racing(e):
                raise SweepError(f"{safe_url(url)}: cannot be opened: {type(e).__name__}: {e}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _check_url(url: str) -> str:
    """*url* as SQLAlchemy takes it (PostgreSQL through psycopg 3), after refusing what cannot hold a study.

    Raises:
        SweepError: not a database URL, or an in-memory database (which every worker and process sees empty).
    """
    if "://" not in url:
        raise SweepError(f"--storage {safe_url(url)!r}: not a database URL (postgresql://user@host/db, "
                         "sqlite:///file.db, mysql+pymysql://...)")  # fmt: skip
    scheme, rest = url.split("://", 1)
    if scheme.startswith("sqlite") and _in_memory(url):
        raise SweepError(f"--storage {url}: an in-memory SQLite database is gone when its process ends, and each "
                         "trial and worker would see an empty one; name a file: sqlite:///sweep.db")  # fmt: skip
    if scheme in ("postgresql", "postgres"):  # SQLAlchemy's default driver differs between versions: say psycopg 3
        return f"postgresql+psycopg://{rest}"
    return url


def _in_memory(url: str) -> bool:
    """Whether the SQLite *url* names an in-memory database (no file, ``:memory:``, or ``mode=memory``)."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        database, query = parsed.database or "", {k: str(v) for k, v in parsed.query.items()}
    except Exception:  # SQLAlchemy absent or the URL unreadable: read it as text
        database, query = url.split("://", 1)[1].split("?")[0].lstrip("/"), {}
    return database in ("", ":memory:") or database.startswith("file::memory:") or "mode=memory" in url or \
        query.get("mode") == "memory"  # fmt: skip


def _holds_study(url: str, study: str) -> None:
    """Refuse a database that does not already hold Optuna's tables and the study *study*, before
    Optuna (whose storage makes its tables when they are missing) touches it.

    Raises:
        SweepError: it cannot be reached, lacks the tables, or lacks the study.
    """
    shown = safe_url(url)
    try:
        import sqlalchemy
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            file = Path(parsed.database or "")
            if file.is_symlink() or not file.is_file():
                raise SweepError(f"{shown}: no such SQLite database file; nothing was created")
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as connection:
                tables = set(sqlalchemy.inspect(connection).get_table_names())
                missing = _optuna_tables() - tables  # Optuna's storage makes any that are missing
                if missing:
                    raise SweepError(f"{shown}: holds no Optuna study (no table {', '.join(sorted(missing))}); "
                                     "nothing was created in it")  # fmt: skip
                found = connection.execute(sqlalchemy.text("SELECT 1 FROM studies WHERE study_name = :name"),
                                           {"name": study}).first()  # fmt: skip
        finally:
            engine.dispose()
    except SweepError:
        raise
    except ImportError as e:
        raise SweepError(f"{shown}: its driver is missing ({e}): for PostgreSQL, pip install "
                         "'torch-spec-registry[postgres]'") from None  # fmt: skip
    except Exception as e:  # SQLAlchemy's and the driver's own errors: a refused connection, a bad file
        raise SweepError(f"{shown}: cannot be opened: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    if found is None:
        raise SweepError(f"{shown}: holds no study {study!r}; nothing was created in it")


def _optuna_tables() -> set[str]:
    """Every table of Optuna's database schema (its own declaration; the list of Optuna 5 where it moved)."""
    try:
        from optuna.storages._rdb import models  # no public name for the schema

        return set(models.BaseModel.metadata.tables)
    except (ImportError, AttributeError):
        return {"studies", "study_directions", "study_system_attributes", "study_user_attributes", "trial_heartbeats",
                "trial_intermediate_values", "trial_params", "trial_system_attributes", "trial_user_attributes",
                "trial_values", "trials", "version_info"}  # fmt: skip


def _racing(error: Exception) -> bool:
    """Whether *error* is another worker making the same tables at the same moment."""
    text = str(error).lower()
    return "already exists" in text or "duplicate" in text or "unique" in text


def _sampler(optuna: Any, name: str, space: Sequence[Param], seed: int) -> Any:
    if name == "grid":
        return optuna.samplers.GridSampler(grid(space), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(optuna: Any, p: Any) -> Any:
    if p.type == "median":
        # steps are epochs counted from 1, and Optuna judges step >= n_warmup_steps: warmup_epochs = 1 spares epoch 1
        return optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs + 1)
    if p.type == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_epochs, reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# -- workers' locks ---------------------------------------------------------------------------------------


class WorkerLock:
    """A lock file a worker holds while it lives; the system frees it however the worker ends."""

    def __init__(self, folder: Path) -> None:
        # absolute, for other processes to check, but not resolved: a workers/ link planted in a sweep directory
        # from elsewhere is refused (open_lock checks the way from the sweep directory), never followed
        self.path = Path(os.path.abspath(folder)) / f"{socket.gethostname()}-{os.getpid()}.lock"
        try:
            self._fd = open_lock(self.path, self.path.parent.parent)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            raise SweepError(f"{folder}: cannot make a worker's lock file: {e.strerror or e}") from None

    def release(self) -> None:
        os.close(self._fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


def _held(path: str, sweep: Path) -> bool:
    """Whether a live process holds the lock file at *path* (False: its worker is gone). A lock is looked at
    only in a ``workers/`` folder of a sweep directory (the study may name any path), without following a
    link or waiting on a FIFO."""
    if Path(path).parent.name != "workers":
        return False
    fd = probe_lock(path)
    if fd is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True  # cannot tell: do not fail a live trial
    finally:
        os.close(fd)
    return False


def fail_cut_trials(sweep: Sweep) -> list[int]:
    """Mark failed (and queue again) every running trial whose worker is gone; return their numbers.

    A worker of this machine is gone when nobody holds its lock file; a trial whose worker never said
    which it is (killed between Optuna's ask and its claim) is gone at once in the sweep's own journal (the
    caller holds the asking lock, which a worker keeps until it has claimed its trial), and after
    ``UNCLAIMED_SECONDS`` in a database, whose workers on other machines hold locks of their own.
    A database's heartbeats find the dead workers of other machines (``_storage``'s callback).
    """
    optuna = _optuna()
    optuna.storages.fail_stale_trials(sweep.study)
    host, cut = socket.gethostname(), []
    now = datetime.datetime.now()
    for t in sweep.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        lock = t.user_attrs.get("worker")
        if isinstance(lock, str):
            if t.user_attrs.get("host") != host or _held(lock, sweep.path):
                continue
            reason = f"its worker (process {t.user_attrs.get('pid')}) ended in the middle of it"
        elif sweep.storage_url is None or (
            t.datetime_start is not None and (now - t.datetime_start).total_seconds() > UNCLAIMED_SECONDS
        ):  # a worker claims its trial before it lets go of the asking lock, which the caller holds now
            reason = "its worker ended before it began"
        else:
            continue
        storage = sweep.study._storage  # Optuna has no public call to end another process's trial
        try:
            storage.set_trial_user_attr(t._trial_id, "reason", reason)
            storage.set_trial_user_attr(t._trial_id, CUT, True)
            storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # it ended meanwhile: another worker failed it first, or it was not gone after all
        retry(sweep.study, t)
        cut.append(t.number)
    return cut


# -- one worker -------------------------------------------------------------------------------------------


@dataclass
class _DataCache:
    """The last loaded splits, and the data settings they were loaded for."""

    key: str | None = None
    splits: DatasetSplits | None = None

    @staticmethod
    def key_of(built: Built) -> str:
        from registry.resolution.resolver import resolved_dict

        data = resolved_dict(built.resolved)["data"]
        return json.dumps([data, repr(built.task), str(built.device)], sort_keys=True, default=str)

    def get(self, built: Built) -> DatasetSplits | None:
        return self.splits if self.key == self.key_of(built) else None

    def keep(self, built: Built, splits: DatasetSplits | None) -> None:
        self.key, self.splits = self.key_of(built), splits


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended: ``complete``, ``pruned`` or ``failed``, its objective value, and why."""

    number: int
    state: str
    value: float | None = None
    epoch: int | None = None
    reason: str | None = None
    seconds: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)


def work(sweep: Sweep, catalog: Catalog, out: TextIO, worker: int = 0) -> list[TrialOutcome]:
    """Run trials until the sweep has its count, one after the other in this process.

    Each trial is one ``study.optimize(..., n_trials=1)``: Optuna asks, keeps a database's heartbeat
    and records how the trial ended. The sampler's seed is the sweep's for the first worker of a new
    sweep (a one-worker sweep is reproducible), and another one for each other worker, a resumed
    sweep and a shared database's workers (the same seed would sample the same values again).

    Raises:
        Interrupted: SIGINT or SIGTERM arrived (the trial it cut is recorded as failed, not counted).
        SweepError: the storage failed.
    """
    _reseed(sweep, worker)
    lock = WorkerLock(sweep.path / "workers")
    cache, done, refused = _DataCache(), list[TrialOutcome](), 0
    try:
        while True:
            with _Asking(sweep.path) as asking:
                fail_cut_trials(sweep)
                if sweep.counted() >= sweep.trials_wanted:
                    return done
                ran: list[TrialOutcome] = []
                objective = _objective(sweep, catalog, cache, ran, asking, lock)
                try:
                    sweep.study.optimize(objective, n_trials=1, catch=(_TrialFailed,))
                except RegistryError:  # a directory that cannot be written (CheckpointError is a ValueError too)
                    raise
                except (OSError, AssertionError) as e:
                    # the study's own file (the journal) cannot be written, a full disk: Optuna raises the OSError,
                    # or an AssertionError of its own when the write of the trial's end failed
                    cause = e if isinstance(e, OSError) else e.__context__
                    if not isinstance(cause, OSError):
                        raise
                    raise CheckpointError(f"{sweep.path}: the study cannot be written: {cause.strerror or cause}"
                                          f"{_disk_note(sweep.path)}") from None  # fmt: skip
                except (ValueError, _optuna().exceptions.UpdateFinishedTrialError) as e:
                    # another process ended the trial while it ran (it took this worker for dead): go on, once
                    refused += 1
                    if refused > 2:
                        raise SweepError(f"{sweep.path}: the study refuses this worker's trials: {e}") from None
                    print(f"warning: a trial of this worker was ended by another process: {e}", file=sys.stderr)
                else:
                    refused = 0
            done += ran
            for outcome in ran:
                print(progress_line(sweep, outcome), file=out, flush=True)
    finally:
        lock.release()


def _objective(
    sweep: Sweep, catalog: Catalog, cache: _DataCache, ran: list[TrialOutcome], asking: _Asking, lock: WorkerLock
) -> Callable[[optuna.trial.Trial], float]:
    def objective(trial: optuna.trial.Trial) -> float:
        for key, value in (("host", socket.gethostname()), ("pid", os.getpid()), ("worker", str(lock.path))):
            trial.set_user_attr(key, value)
        asking.release()  # the trial is claimed: other workers may ask for theirs
        return _run_trial(sweep, catalog, trial, cache, ran)

    return objective


class _Asking:
    """One worker of this directory at a time counts the trials and asks for the next (held until asked)."""

    def __init__(self, path: Path) -> None:
        try:
            self._fd: int | None = open_lock(path / "sweep.lock")
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as e:
            raise SweepError(f"{path}: cannot lock the sweep directory: {e.strerror or e}") from None

    def __enter__(self) -> _Asking:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _TrialFailed(Exception):
    """A trial's run failed (its reason is recorded); Optuna marks it failed and the sweep goes on."""


def _seed(rs: ResolvedSpec) -> int:
    """The sampler's seed: ``sweep.seed``, or the spec's ``seed``."""
    assert rs.spec.sweep is not None
    return rs.spec.sweep.seed if rs.spec.sweep.seed is not None else rs.spec.seed


def _reseed(sweep: Sweep, worker: int) -> None:
    sweep_spec = sweep.resolved.spec.sweep
    assert sweep_spec is not None
    base = _seed(sweep.resolved)
    if sweep.storage_url is not None:
        offset = int.from_bytes(os.urandom(4), "little")  # machines that share a database cannot agree on one
    else:
        offset = 1000 * worker + len(sweep.study.get_trials(deepcopy=False))
    if offset:
        sweep.study.sampler = _sampler(_optuna(), sweep_spec.sampler, sweep.space, base + offset)


def _suggest(trial: optuna.trial.Trial, param: Param) -> Any:
    """Sample *param* through Optuna's public ``suggest_*`` calls, from its distribution (``distributions``)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    d = distributions([param])[param.key]
    if isinstance(d, CategoricalDistribution):
        return trial.suggest_categorical(param.key, list(d.choices))
    if isinstance(d, IntDistribution):
        return trial.suggest_int(param.key, d.low, d.high, step=d.step, log=d.log)
    assert isinstance(d, FloatDistribution)
    return trial.suggest_float(param.key, d.low, d.high, step=d.step, log=d.log)


def _run_trial(
    sweep: Sweep, catalog: Catalog, trial: optuna.trial.Trial, cache: _DataCache, ran: list[TrialOutcome]
) -> float:
    """Run one trial as an ordinary run directory; return its objective value (its best epoch's).

    Raises:
        optuna.TrialPruned: the pruner stopped it after an epoch.
        _TrialFailed: its spec, build, data or training failed (the reason is recorded).
        Interrupted: SIGINT or SIGTERM: recorded as cut.
    """
    t = _Trial(sweep, trial, ran)
    try:
        result = t.train(catalog, cache)
    except (Interrupted, KeyboardInterrupt, CheckpointError) as e:
        # not the trial's own fault: a signal, or a directory that cannot be written (a full disk). The trial
        # is cut (its values queued again for a resume) and the sweep stops, saying why, with its exit code
        trial.set_user_attr(CUT, True)
        why = str(e) if isinstance(e, CheckpointError) else f"interrupted by {getattr(e, 'signal_name', 'SIGINT')}"
        t.ended("failed", reason=why)
        if len(t.sampled) == len(sweep.space):
            sweep.study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        raise
    except RegistryError as e:
        t.ended("failed", reason=str(e))
        raise _TrialFailed(str(e)) from None
    except Exception as e:  # a bug, in a plugin or here: the trial fails with it, the sweep goes on
        t.ended("failed", reason=f"{type(e).__name__}: {e}")
        raise _TrialFailed(str(e)) from None
    return t.score(result)


class _Trial:
    """One trial as it runs: its values, its run directory, what its pruner said, how it ended."""

    def __init__(self, sweep: Sweep, trial: optuna.trial.Trial, ran: list[TrialOutcome]) -> None:
        self.sweep, self.trial, self.ran = sweep, trial, ran
        self.t0 = time.perf_counter()
        self.run_dir = sweep.path / "trials" / f"trial-{trial.number:04d}"
        self.sampled: dict[str, Any] = {}
        self.pruned: list[str] = []
        self.epochs = 0

    def train(self, catalog: Catalog, cache: _DataCache) -> RunResult:
        """Sample its values, build its spec, and run it in its run directory (the data kept for the next)."""
        from registry.building.builder import build
        from registry.resolution.resolver import load_and_resolve
        from registry.spec.formats import RUN_DIR_FORMAT
        from registry.training.launch import begin, execute
        from registry.training.reporting import Reporter
        from registry.training.threads import apply_threads

        sweep, trial, run_dir = self.sweep, self.trial, self.run_dir
        try:
            make_folder(run_dir.parent, sweep.path)  # trials/ must not be a link planted in the directory
            if run_dir.is_symlink():
                raise UnsafePath(run_dir, "a symbolic link")
        except OSError as e:
            raise CheckpointError(f"{sweep.path}: cannot hold its trials: {e.strerror or e}") from None
        self.sampled.update((p.key, _suggest(trial, p)) for p in sweep.space)
        overrides = trial_overrides(sweep.space, self.sampled, f"trial {trial.number}")
        rs = load_and_resolve(sweep.spec_file, catalog, overrides, RUN_DIR_FORMAT)
        rs = replace(rs, spec=rs.spec.model_copy(update={"sweep": None}))  # a trial is an ordinary run
        built = build(rs)
        self.epochs = int(built.resolved.spec.train.epochs)
        if (splits := cache.get(built)) is None:
            cache.keep(built, None)  # the old data goes before the new is loaded: not both in memory
        session = begin(built, str(sweep.spec_file), run_dir, splits=splits, durable=False)
        cache.keep(built, session.splits)
        assert session.rundir is not None
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        try:
            apply_threads(built.resolved.spec.train.threads)
            result = execute(session, Reporter(), stop_rule=self.prune)
        finally:
            session.rundir.release()
        trial.set_user_attr("spec", (run_dir / "spec.toml").read_text())
        return result

    def prune(self, history: Sequence[EpochRow]) -> str | None:
        """The run's stop rule: each epoch's value reported to Optuna, whose pruner may stop the trial."""
        metric = self.sweep.objective[0]
        row = history[-1]
        value = row.value(metric)
        if value is None:
            return None
        self.trial.report(value, row.epoch)
        last = row.epoch >= self.epochs  # a trial that ran every epoch is complete
        if not last and self.trial.should_prune():
            self.pruned.append(f"pruned after epoch {row.epoch} ({metric} {value:.6g})")
            return self.pruned[-1]
        return None

    def ended(
        self, state: str, value: float | None = None, epoch: int | None = None, reason: str | None = None
    ) -> None:
        """Record how it ended: its time and reason on the trial, its outcome in the worker's list."""
        seconds = time.perf_counter() - self.t0
        self.trial.set_user_attr("seconds", round(seconds, 3))
        if reason:
            self.trial.set_user_attr("reason", reason[:2000])
        self.ran.append(TrialOutcome(self.trial.number, state, value, epoch, reason, seconds, self.sampled))

    def score(self, result: RunResult) -> float:
        """Its best epoch's value, recorded; pruned trials raise ``TrialPruned`` with it."""
        metric, higher = self.sweep.objective
        scored = [(v, r.epoch) for r in result.epochs if (v := r.value(metric)) is not None]
        if not scored:  # cannot happen for a validated metric; a trial without a value is not a result
            self.ended("failed", reason=f"no epoch gave {metric}")
            raise _TrialFailed(f"no epoch gave {metric}")
        best_value, best_epoch = (max if higher else min)(scored, key=lambda ve: ve[0])
        self.trial.set_user_attr("best", best_value)
        self.trial.set_user_attr("best_epoch", best_epoch)
        self.trial.set_user_attr("epochs", len(result.epochs))
        if self.pruned:
            self.ended("pruned", best_value, best_epoch, self.pruned[-1])
            raise _optuna().TrialPruned(self.pruned[-1])
        self.ended("complete", best_value, best_epoch, result.stopped)
        return float(best_value)


def progress_line(sweep: Sweep, o: TrialOutcome) -> str:
    """One line per finished trial: its number, how it ended, its value, its parameters, its time."""
    metric = sweep.objective[0]
    values = "  ".join(f"{k}={_show(v)}" for k, v in o.params.items())
    head = f"trial {o.number:>3}  {o.state:<8}"
    if o.value is not None:
        head += f"  {metric} {o.value:.6g} (epoch {o.epoch})"
    tail = f"  {o.seconds:.1f} s"
    if o.state == "failed" and o.reason:
        tail += "".join(f"\n    {line.strip()}" for line in o.reason.splitlines())
    elif o.state == "pruned" and o.reason:
        tail += f"  ({o.reason})"
    return f"{head}  {values}{tail}"


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# -- many workers -----------------------------------------------------------------------------------------


def supervise(sweep: Sweep, workers: int, out: TextIO, err: TextIO) -> int:
    """Run *workers* worker processes on the sweep and wait for them; replace one that is killed while
    trials remain. Return how many workers failed (exited with an error of their own).

    Raises:
        Interrupted: SIGINT or SIGTERM arrived (passed on to the workers, which record their trials).
    """
    pool = _Workers(sweep, out, err)
    for i in range(workers):
        pool.start(i)
    try:
        while pool.procs:
            time.sleep(0.2)
            pool.poll(spare=workers)
    except KeyboardInterrupt:
        pool.interrupt()
        raise Interrupted(
            f"interrupted; python -m registry sweep --resume {sweep.path} continues the sweep", "SIGINT"
        ) from None
    finally:
        for t in pool.pumps:
            t.join(timeout=5)
    return pool.failed


class _Workers:
    """The worker processes of one sweep on this machine, their output passed through line by line."""

    def __init__(self, sweep: Sweep, out: TextIO, err: TextIO) -> None:
        self.sweep, self.out, self.err = sweep, out, err
        self.lock = threading.Lock()
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.pumps: list[threading.Thread] = []
        self.failed = self.restarts = 0

    def pump(self, stream: TextIO, to: TextIO) -> None:
        for line in stream:
            with self.lock:
                to.write(line)
                to.flush()

    def start(self, index: int) -> None:
        path = str(self.sweep.path)
        command = [sys.executable, "-m", "registry", "sweep", "--resume", path, "--worker", str(index)]
        p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.procs[index] = p
        for stream, to in ((p.stdout, self.out), (p.stderr, self.err)):
            t = threading.Thread(target=self.pump, args=(stream, to), daemon=True)
            t.start()
            self.pumps.append(t)

    def poll(self, spare: int) -> None:
        """Each worker that ended: a failure counted, or one killed replaced (at most *spare* times) while trials
        remain, its cut trials marked failed."""
        for index, p in list(self.procs.items()):
            code = p.poll()
            if code is None:
                continue
            del self.procs[index]
            if code < 0 or code == 130:  # killed, or stopped alone by SIGINT/SIGTERM: another takes over
                self.replace(index, p, code, spare)
            elif code != 0:
                self.failed += 1

    def replace(self, index: int, p: subprocess.Popen[str], code: int, spare: int) -> None:
        sweep = self.sweep
        how = f"killed by {_signal_name(-code)}" if code < 0 else "interrupted"
        with _Asking(sweep.path):
            fail_cut_trials(sweep)
            left = sweep.counted() < sweep.trials_wanted
        cut = [t.number for t in sweep.study.get_trials(deepcopy=False)
               if t.user_attrs.get("pid") == p.pid and was_cut(t)]  # fmt: skip
        with self.lock:
            said = f"; trial {', '.join(map(str, cut))} marked failed" if cut else ""
            print(f"worker {index} (process {p.pid}) was {how}{said}", file=self.err, flush=True)
        if left and self.restarts < spare:
            self.restarts += 1
            self.start(spare + self.restarts - 1)

    def interrupt(self) -> None:
        """Ctrl-C reached the workers too (one process group); a SIGINT sent to this process alone did not: those
        still running after a moment get theirs (a second one would not let them record their trials)."""
        for p in self.procs.values():
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGINT)
        for p in self.procs.values():
            p.wait()
