"""Red team: a spec, a run directory or a sweep directory from elsewhere, planted with links, FIFOs, /dev/zero,
bombs, tampered records, foreign databases, a full disk and a read-only folder. Each case asserts the exit
code and the message, that no file outside the directory changed, that no secret reaches the output, and
that it ends within its time (an alarm fails a case that would hang)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest

from registry.cli import ExitCode, main
from registry.components.manager import DISABLE_AUTOLOAD_ENV

from .conftest import QUICK
from .test_sweep import study_of

pytestmark = pytest.mark.usefixtures("builtins_only")

SECRET = "tok-7f3a9c1e55d2"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" + SECRET + "\n-----END OPENSSH PRIVATE KEY-----\n"
SHADOW = f"root:$6$salt${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
SWEEP = QUICK + """
[sweep]
trials = 2
[sweep.space]
"optimizer.lr" = { type = "float", low = 0.01, high = 0.2, log = true }
"""


USING = "using checkpoint best: ckpt-e0001-end (epoch 1)\n"  # every command on a run says which checkpoint


class Hang(Exception):
    """A case ran past its time: it would have hung."""


@contextlib.contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail (rather than hang) a case that does not end within *seconds*: a blocking open is interrupted."""

    def ring(*_: object) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(*argv: str, seconds: int = 120) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with within(seconds):
        code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def hashes(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file under *root* (links as their target's text, not followed), except those under *skip*."""
    found = {}
    for dirpath, _, files in os.walk(root):
        if skip is not None and Path(dirpath).is_relative_to(skip):
            continue
        for name in files:
            p = Path(dirpath) / name
            if p.is_symlink():
                found[str(p)] = "link:" + os.readlink(p)
            elif p.is_file():
                found[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained quickstart run, the same run exported to ONNX, and a finished two-trial sweep."""
    home = tmp_path_factory.mktemp("made")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DISABLE_AUTOLOAD_ENV, "1")
        (home / "spec.toml").write_text(QUICK)
        assert cli("run", str(home / "spec.toml"), "--out", str(home / "run"), "--quiet")[0] == 0
        assert cli("export", str(home / "run"))[0] == 0
        (home / "sweep.toml").write_text(SWEEP)
        code, _, err = cli("sweep", str(home / "sweep.toml"), "--out", str(home / "sweep"))
        assert code == 0, err
    np.save(home / "inputs.npy", np.zeros((3, 8, 8), dtype=np.float32))
    return {"run": home / "run", "sweep": home / "sweep", "inputs": home / "inputs.npy"}


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A folder outside the planted directory, holding the user's files that must not change."""
    victim = tmp_path / "home"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious\n")
    (victim / "history.png").write_bytes(b"precious png")
    return victim


def table_spec(path: Path, extra: str = "", out: int = 2) -> str:
    """A spec training a linear layer on the table at *path* (its target column: label)."""
    return (f'seed = 0\n[data]\ndataset = "table"\npath = "{path}"\ntargets = "label"\n{extra}batch_size = 16\n'
            f'[model]\nlayers = [{{ type = "linear", out_features = {out} }}]\n[loss]\ntype = "cross_entropy"\n'
            '[optimizer]\ntype = "sgd"\nlr = 0.1\n[train]\nepochs = 1\ndevice = "cpu"\n')  # fmt: skip


def copy_of(made: dict[str, Path], what: str, tmp_path: Path) -> Path:
    target = tmp_path / what
    shutil.copytree(made[what], target, symlinks=True)
    return target


# -- 1. writes that would follow a link out of the directory ------------------------------------------------


def test_a_lock_that_is_a_link_or_a_fifo_is_refused_and_its_target_untouched(made, tmp_path, place) -> None:
    run = copy_of(made, "run", tmp_path)
    before = hashes(tmp_path, skip=run)
    (run / ".lock").unlink(missing_ok=True)
    (run / ".lock").symlink_to(place / "notes.txt")
    code, out, err = cli("run", "--resume", str(run))
    assert code == ExitCode.CHECKPOINT
    assert err == (f"error: {run}: cannot lock the run directory: {run / '.lock'} is a symbolic link; registry never "
                   "writes through one: remove it, or choose another folder\n")  # fmt: skip
    (run / ".lock").unlink()
    os.mkfifo(run / ".lock")
    code, out, err = cli("run", "--resume", str(run), seconds=30)
    assert code == ExitCode.CHECKPOINT and "is not a regular file (a pipe, a device or a socket)" in err
    assert hashes(tmp_path, skip=run) == before


def test_plots_and_run_records_are_never_written_through_a_planted_link(made, tmp_path, place) -> None:
    run = copy_of(made, "run", tmp_path)
    before = hashes(tmp_path, skip=run)
    (run / "loss.png").unlink(missing_ok=True)
    (run / "loss.png").symlink_to(place / "history.png")
    code, out, err = cli("plot", str(run))
    assert code == ExitCode.CHECKPOINT
    assert err == (f"error: {run}: cannot draw its plots: {run / 'loss.png'} is a symbolic link; registry never "
                   "writes through one: remove it, or choose another folder\n")  # fmt: skip
    assert hashes(tmp_path, skip=run) == before


def test_a_resumed_run_writes_nothing_through_planted_links(made, tmp_path, place) -> None:
    """An interrupted run whose metrics file and checkpoints folder are links: refused, the targets untouched."""
    run = copy_of(made, "run", tmp_path)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "status": "interrupted"}))
    spec = tmp_path / "longer.toml"
    spec.write_text(QUICK.replace("epochs = 1", "epochs = 2"))
    before = hashes(tmp_path, skip=run)
    (run / "metrics.jsonl").rename(run / "saved.jsonl")
    (run / "metrics.jsonl").symlink_to(place / "notes.txt")
    code, out, err = cli("run", str(spec), "--resume", str(run), "--quiet")
    assert code == ExitCode.CHECKPOINT
    assert f"{run / 'metrics.jsonl'} is a symbolic link; registry never writes through one" in err
    assert hashes(tmp_path, skip=run) == before
    (run / "metrics.jsonl").unlink()
    (run / "saved.jsonl").rename(run / "metrics.jsonl")
    shutil.copytree(run / "checkpoints", place / "checkpoints")
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(place / "checkpoints")
    before = hashes(tmp_path, skip=run)
    code, out, err = cli("run", str(spec), "--resume", str(run), "--quiet")
    assert code == ExitCode.CHECKPOINT
    assert err.startswith(f"error: {run / 'checkpoints'}: cannot be written: {run / 'checkpoints'} is a symbolic link")
    assert hashes(tmp_path, skip=run) == before


def test_an_export_never_writes_through_a_link_at_its_name_or_a_temporary_one(made, tmp_path, place) -> None:
    run = copy_of(made, "run", tmp_path)
    before = hashes(tmp_path, skip=run)
    for name in ("model.onnx", "model.onnx.json"):
        (run / name).unlink()
    for pid in range(os.getpid() - 2, os.getpid() + 3):  # the temporary names it used to write through
        (run / f"model.onnx.tmp-{pid}").symlink_to(place / "notes.txt")
    code, out, err = cli("export", str(run))
    assert code == ExitCode.OK, err
    assert (run / "model.onnx").is_file() and not (run / "model.onnx").is_symlink()
    (run / "model.onnx").unlink()
    (run / "model.onnx").symlink_to(place / "notes.txt")
    code, out, err = cli("export", str(run))
    assert code == ExitCode.CHECKPOINT
    assert err == (f"{USING}error: {run / 'model.onnx'}: cannot be written: {run / 'model.onnx'} is a symbolic link; "
                   "registry never writes through one: remove it, or choose another folder\n")  # fmt: skip
    assert hashes(tmp_path, skip=run) == before


def test_sweep_report_never_writes_through_a_planted_plots_folder_or_best_spec(made, tmp_path, place) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    before = hashes(tmp_path, skip=sweep)
    shutil.rmtree(sweep / "plots", ignore_errors=True)
    (sweep / "plots").symlink_to(place)
    code, out, err = cli("sweep-report", str(sweep))
    assert code == ExitCode.CHECKPOINT
    assert err == (f"error: {sweep / 'plots'}: cannot hold the plots: {sweep / 'plots'} is a symbolic link; "
                   "registry never writes through one: remove it, or choose another folder\n")  # fmt: skip
    (sweep / "plots").unlink()
    (sweep / "best.toml").unlink()
    (sweep / "best.toml").symlink_to(place / "notes.txt")
    code, out, err = cli("sweep-report", str(sweep), "--no-plots")
    assert code == ExitCode.CHECKPOINT and f"{sweep / 'best.toml'} is a symbolic link" in err
    assert hashes(tmp_path, skip=sweep) == before


def test_a_sweep_whose_trials_folder_is_a_link_stops_before_a_trial_writes_there(made, tmp_path, place) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    study = study_of(sweep)
    study.enqueue_trial({"optimizer.lr": 0.05})
    spec = sweep / "spec.toml"
    spec.write_text(spec.read_text().replace("trials = 2", "trials = 3"))
    before = hashes(tmp_path, skip=sweep)
    shutil.rmtree(sweep / "trials")
    (sweep / "trials").symlink_to(place)
    code, out, err = cli("sweep", "--resume", str(sweep))
    assert code == ExitCode.CHECKPOINT, err
    assert err == (f"error: {sweep}: cannot hold its trials: {sweep / 'trials'} is a symbolic link; registry never "
                   "writes through one: remove it, or choose another folder\n")  # fmt: skip
    assert hashes(tmp_path, skip=sweep) == before


# -- 2. connections named by a file in the directory --------------------------------------------------------


def _point_at(sweep: Path, storage: str) -> None:
    record = json.loads((sweep / "sweep.json").read_text())
    (sweep / "sweep.json").write_text(json.dumps({**record, "storage": storage}))


def test_reading_a_sweep_never_creates_a_database_a_study_or_a_table(made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    missing = tmp_path / "nowhere.db"
    _point_at(sweep, f"sqlite:///{missing}")
    code, out, err = cli("sweep-report", str(sweep), "--no-plots")
    assert code == ExitCode.SWEEP and not missing.exists()
    assert err.endswith(f"error: sqlite:///{missing}: no such SQLite database file; nothing was created\n")
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.commit()
    before = hashes(tmp_path, skip=sweep)
    _point_at(sweep, f"sqlite:///{other}")
    for command in (("sweep-report", str(sweep), "--no-plots"), ("sweep", "--resume", str(sweep))):
        code, out, err = cli(*command)
        assert code == ExitCode.SWEEP
        assert err.endswith(f"error: sqlite:///{other}: holds no Optuna study (no table studies, study_directions, "
                            "study_system_attributes, study_user_attributes, trial_heartbeats, "
                            "trial_intermediate_values, trial_params, trial_system_attributes, trial_user_attributes, "
                            "trial_values, trials, version_info); nothing was created in it\n")  # fmt: skip
    optuna.create_study(study_name="theirs", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    before = hashes(tmp_path, skip=sweep)
    _point_at(sweep, f"sqlite:///{tmp_path / 'optuna.db'}")
    code, out, err = cli("sweep-report", str(sweep), "--no-plots")
    assert code == ExitCode.SWEEP and err.endswith("holds no study 'sweep'; nothing was created in it\n")
    assert hashes(tmp_path, skip=sweep) == before


def test_a_storage_url_is_said_before_use_with_its_password_hidden(made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    _point_at(sweep, f"postgresql://alice:{SECRET}@127.0.0.1:9/db")
    code, out, err = cli("sweep-report", str(sweep), "--no-plots", seconds=60)
    assert code == ExitCode.SWEEP
    assert err.startswith(f"study storage: postgresql://alice:***@127.0.0.1:9/db (named by {sweep / 'sweep.json'})\n")
    assert SECRET not in out + err


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true",
                                 "sqlite:///:memory:?cache=shared", "sqlite://?cache=shared"])
def test_an_in_memory_storage_is_refused_before_anything_is_made(url, tmp_path) -> None:
    (tmp_path / "s.toml").write_text(SWEEP)
    code, out, err = cli("sweep", str(tmp_path / "s.toml"), "--storage", url, "--out", str(tmp_path / "sw"))
    assert code == ExitCode.SWEEP and not (tmp_path / "sw").exists()
    assert err == (f"error: --storage {url}: an in-memory SQLite database is gone when its process ends, and each "
                   "trial and worker would see an empty one; name a file: sqlite:///sweep.db\n")  # fmt: skip


def test_a_workers_folder_that_is_a_link_is_refused_and_nothing_is_made_or_removed_there(made, tmp_path, place) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    shutil.rmtree(sweep / "workers", ignore_errors=True)
    (sweep / "workers").symlink_to(place)
    before = hashes(tmp_path, skip=sweep)
    code, out, err = cli("sweep", "--resume", str(sweep))
    assert code == ExitCode.SWEEP
    assert f"cannot make a worker's lock file: {sweep / 'workers'} is a symbolic link" in err
    assert hashes(tmp_path, skip=sweep) == before and sorted(p.name for p in place.iterdir()) == ["history.png", "notes.txt"]


def test_a_database_with_part_of_optunas_tables_is_left_as_it_is(made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    db = tmp_path / "four.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for table in ("studies", "trials", "study_user_attributes", "version_info"):
            conn.execute(f"CREATE TABLE {table} (study_name TEXT)")
        conn.execute("INSERT INTO studies VALUES ('sweep')")
        conn.commit()
    before = hashes(tmp_path, skip=sweep)
    _point_at(sweep, f"sqlite:///{db}")
    code, out, err = cli("sweep-report", str(sweep), "--no-plots")
    assert code == ExitCode.SWEEP and "holds no Optuna study (no table study_directions, " in err
    assert hashes(tmp_path, skip=sweep) == before


@pytest.mark.filterwarnings("ignore:Query string argument")  # SQLite ignores ?password=; the test needs a real file
def test_a_password_in_the_query_is_hidden_and_the_record_kept_private(tmp_path) -> None:
    from registry.sweeps.sweep import has_password, safe_url

    assert safe_url(f"postgresql://alice@h/db?password={SECRET}") == "postgresql://alice@h/db?password=***"
    assert safe_url(f"mysql+pymysql://h/db?passwd={SECRET}&x=1") == "mysql+pymysql://h/db?passwd=***&x=1"
    assert safe_url(f"postgresql://alice:{SECRET}@h/db") == "postgresql://alice:***@h/db"
    assert has_password(f"sqlite:///q.db?password={SECRET}") and not has_password("postgresql://alice@h/db")
    (tmp_path / "s.toml").write_text(SWEEP.replace("trials = 2", "trials = 1"))
    url = f"sqlite:///{tmp_path / 'q.db'}?password={SECRET}"
    code, out, err = cli("sweep", str(tmp_path / "s.toml"), "--storage", url, "--out", str(tmp_path / "sw"))
    assert code == ExitCode.OK, err
    assert SECRET not in out + err and (tmp_path / "sw" / "sweep.json").stat().st_mode & 0o777 == 0o600


# -- 3. secrets never echoed ---------------------------------------------------------------------------------


def test_a_base_outside_the_spec_folder_is_refused_unread(tmp_path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "credentials.toml").write_text(f'[registry]\ntoken = "{SECRET}"\n')
    shared = tmp_path / "downloads" / "shared"
    shared.mkdir(parents=True)
    spec = shared / "spec.toml"
    spec.write_text('base = ["../../home/credentials.toml"]\nseed = "${registry.token}"\n' + QUICK.replace("seed = 0\n", ""))
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and SECRET not in out + err
    assert (f"{spec}:1: base[0]: base '../../home/credentials.toml' is outside the spec's folder {shared}: a base is a "
            "file in the spec's own folder tree, or in a folder listed in REGISTRY_SPEC_PATH") in err
    (shared / "link.toml").symlink_to(home / "credentials.toml")  # a link inside that points out is refused alike
    spec.write_text(spec.read_text().replace("../../home/credentials.toml", "link.toml"))
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and "is outside the spec's folder" in err and SECRET not in out + err
    (home / "credentials.toml").write_text("[vars]\ntoken = 7\n")
    spec.write_text(spec.read_text().replace("registry.token", "vars.token"))
    monkeypatch.setenv("REGISTRY_SPEC_PATH", str(home))  # the user, not the spec, widens the search
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.OK, err


@pytest.mark.parametrize("secret", [KEY, SHADOW], ids=["private-key", "shadow"])
def test_a_table_path_that_is_not_a_table_never_shows_its_lines(secret, tmp_path) -> None:
    private = tmp_path / "private"
    private.write_text(secret)
    (tmp_path / "data.csv").symlink_to(private)
    spec = tmp_path / "spec.toml"
    spec.write_text(table_spec(tmp_path / "data.csv"))
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and SECRET not in out + err and "BEGIN" not in out + err and "daemon" not in out + err
    assert "the table has no column 'label' (its first line is not a header of named columns: 1 column(s); is it a " \
           "table?)" in err


def test_a_numeric_column_holding_text_is_named_by_row_without_its_value(tmp_path) -> None:
    (tmp_path / "t.csv").write_text(f"x,label\n1.5,a\n{SECRET},b\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(table_spec(tmp_path / "t.csv"))
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.USAGE and SECRET not in out + err
    assert "column 'x' is not numeric (row 2 is text)" in err


# -- 4. every record read bounded and validated --------------------------------------------------------------


def _predict_onnx(run: Path, inputs: Path) -> tuple[int, str, str]:
    return cli("predict", str(run), str(inputs), "--onnx", seconds=60)


@pytest.mark.parametrize("plant", ["dev-zero", "fifo", "deep", "wrong-types"])
def test_a_tampered_model_json_is_refused_by_name(plant, made, tmp_path) -> None:
    run = copy_of(made, "run", tmp_path)
    meta = run / "model.onnx.json"
    meta.unlink()
    if plant == "dev-zero":
        meta.symlink_to("/dev/zero")
        said = "is a symbolic link"
    elif plant == "fifo":
        os.mkfifo(meta)
        said = "is not a regular file"
    elif plant == "deep":
        meta.write_text("[" * 100_000 + "]" * 100_000)
        said = "nested more than 64 levels deep"
    else:
        meta.write_text('{"run": 5}')
        said = "not a valid ExportRecord record"
    code, out, err = _predict_onnx(run, made["inputs"])
    assert code == ExitCode.EXPORT
    assert err.startswith(f"error: {meta}: ") and said in err and err.endswith("export it again\n")


def test_an_onnx_model_that_is_a_fifo_is_refused_without_waiting(made, tmp_path) -> None:
    run = copy_of(made, "run", tmp_path)
    (run / "model.onnx").unlink()
    os.mkfifo(run / "model.onnx")
    code, out, err = _predict_onnx(run, made["inputs"])
    assert code == ExitCode.EXPORT
    assert err.endswith(f"error: {run / 'model.onnx'}: cannot be read: is not a regular file (a pipe, a device or a "
                        "socket cannot be read as one)\n")  # fmt: skip


@pytest.mark.parametrize("plant", ["cut", "garbage", "dev-zero", "fifo", "not-a-journal"])
def test_a_tampered_study_journal_is_refused_by_name(plant, made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    journal = sweep / "study.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    if plant == "cut":  # a write cut off at the end: Optuna skips it, and so does the report
        journal.write_bytes(b"".join(lines) + b'{"op_code": 5, "worker')
    elif plant == "garbage":
        journal.write_bytes(b"".join(lines[:2]) + b"\xff\xfe not json\n" + b"".join(lines[2:]))
    elif plant == "dev-zero":
        journal.unlink()
        journal.symlink_to("/dev/zero")
    elif plant == "fifo":
        journal.unlink()
        os.mkfifo(journal)
    else:
        journal.write_bytes(b'{"op_code": "x"}\n')
    code, out, err = cli("sweep-report", str(sweep), "--no-plots", seconds=60)
    if plant == "cut":
        assert code == ExitCode.OK and out.startswith("2 trials (2 complete)"), err
        return
    assert code == ExitCode.SWEEP
    said = {"garbage": f"{journal}: line 3: not a study journal's record (not JSON",
            "dev-zero": f"{journal}: is a symbolic link; a sweep's journal is read and written in its own directory only",
            "fifo": f"{journal}: is not a regular file",
            "not-a-journal": f"{journal}: line 1: not a study journal's record (an object with an op_code and a worker_id)"}  # fmt: skip
    assert said[plant] in err


def test_a_worker_lock_that_is_a_fifo_does_not_block_the_report(made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    trial = study_of(sweep).ask()
    (sweep / "workers").mkdir(exist_ok=True)
    os.mkfifo(sweep / "workers" / "ghost.lock")
    import socket

    for key, value in (("host", socket.gethostname()), ("pid", 1), ("worker", str(sweep / "workers" / "ghost.lock"))):
        trial.set_user_attr(key, value)
    code, out, err = cli("sweep-report", str(sweep), "--no-plots", seconds=60)
    assert code == ExitCode.OK, err
    assert f"trial {trial.number} failed: its worker (process 1) ended in the middle of it" in out


@pytest.mark.parametrize("plant", ["wrong-type", "categories", "width"])
def test_a_tampered_data_json_is_refused_before_it_is_used(plant, tmp_path) -> None:
    run = _table_run(tmp_path)
    fitted = json.loads((run / "data.json").read_text())
    if plant == "wrong-type":
        fitted["numeric"]["x"] = ["a lot", 1]
        said = "not a table's encoding: numeric.x.0: Input should be a valid number, unable to parse string as a number"
    elif plant == "categories":
        fitted["categories"]["city"] = [str(i) for i in range(1_000_001)]
        said = "not a table's encoding: categories.city: List should have at most 1000000 items after validation, not 1000001"
    else:
        fitted["categories"]["city"] = ["a", "b", "c", "d", "e"]
        said = "its encoding makes rows of 6 numbers; this run's model takes 4"
    (run / "data.json").write_text(json.dumps(fitted))
    code, out, err = cli("predict", str(run), str(tmp_path / "t.csv"))
    assert code == ExitCode.CHECKPOINT and err == f"{USING}error: {run / 'data.json'}: {said}\n", err


# -- 5. own data that is hostile -----------------------------------------------------------------------------


def _png_header_bomb(path: Path, side: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip


def test_a_decompression_bomb_and_a_fifo_image_are_data_errors_naming_the_file(tmp_path) -> None:
    root = tmp_path / "images"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            _png_header_bomb(root / cls / f"{i}.png", 8)  # not decodable past its header, but a PNG by signature
    from PIL import Image

    for cls in ("a", "b"):
        for i in range(3):
            Image.new("L", (8, 8), color=i * 40).save(root / cls / f"{i}.png")
    _png_header_bomb(root / "a" / "bomb.png", 50_000)
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace('dataset = "digits"', f'dataset = "image_folder"\nroot = "{root}"\nsize = 8\n'
                                  'channels = 1').replace("out_features = 10", "out_features = 2"))  # fmt: skip
    code, out, err = cli("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert code == ExitCode.DATA
    assert err == (f"error: {root / 'a' / 'bomb.png'}: more than {Image.MAX_IMAGE_PIXELS:,} pixels, the most an image "
                   "may have (Pillow's limit against decompression bombs)\n")  # fmt: skip
    (root / "a" / "bomb.png").unlink()
    assert cli("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")[0] == ExitCode.OK
    _png_header_bomb(tmp_path / "bomb.png", 50_000)
    code, out, err = cli("predict", str(tmp_path / "run"), str(tmp_path / "bomb.png"))
    assert code == ExitCode.DATA and err.startswith(f"{USING}error: {tmp_path / 'bomb.png'}: more than")
    os.mkfifo(tmp_path / "x.png")
    code, out, err = cli("predict", str(tmp_path / "run"), str(tmp_path / "x.png"), seconds=30)
    assert code == ExitCode.DATA
    assert err == f"{USING}error: {tmp_path / 'x.png'}: not a regular file (a pipe, a device or a folder is not an image)\n"


def _npy_header(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return b"\x93NUMPY\x01\x00"[:0] + buf.getvalue()


def test_arrays_that_declare_more_than_they_hold_are_refused_before_allocation(made, tmp_path) -> None:
    liar = tmp_path / "liar.npy"
    liar.write_bytes(b"\x93NUMPY\x01\x00" + _npy_header((10**10, 8, 8))[8:] + b"\0" * 256)
    code, out, err = cli("predict", str(made["run"]), str(liar))
    assert code == ExitCode.DATA
    assert err.startswith(f"{USING}error: {liar}: declares an array of shape (10000000000, 8, 8) (2,560,000,000,000 bytes), "
                          "more than the")  # fmt: skip
    import zipfile

    npz = tmp_path / "liar.npz"
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("inputs.npy", b"\x93NUMPY\x01\x00" + _npy_header((10**12, 4))[8:] + b"\0" * 64)
        z.writestr("targets.npy", b"\x93NUMPY\x01\x00" + _npy_header((10**12,))[8:] + b"\0" * 64)
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace('dataset = "digits"', f'dataset = "arrays"\npath = "{npz}"'))
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.DATA and f"{npz}: not readable arrays: declares an array of shape (1000000000000, 4)" in err


def test_a_sparse_or_endless_csv_is_refused_in_bounded_memory(tmp_path) -> None:
    import resource

    sparse = tmp_path / "sparse.csv"
    with open(sparse, "wb") as f:
        f.truncate(1 << 30)  # a 1 GiB hole: no disk used, all NUL bytes
    spec = tmp_path / "spec.toml"
    spec.write_text(table_spec(sparse))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = cli("validate", str(spec))
    assert code == ExitCode.DATA
    assert err.endswith(f"error: {sparse}: not a text table (it holds NUL bytes: a binary or sparse file)\n")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000  # kB: far less than the file


# -- 6. faults during a sweep or an export -------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(where: Path, size: str, readonly: bool = False) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.decode().strip()}): needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_during_a_sweep_stops_it_with_exit_5_and_a_durable_study(tmp_path) -> None:
    with tmpfs(tmp_path / "disk", "600k") as disk:
        (disk / "s.toml").write_text(SWEEP.replace("trials = 2", "trials = 50"))
        code, out, err = cli("sweep", str(disk / "s.toml"), "--out", str(disk / "sw"), seconds=300)
        assert code == ExitCode.CHECKPOINT, err
        assert "No space left on device" in err and "Traceback" not in err
        study = study_of(disk / "sw")
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        assert 0 < len(done) < 50


def test_an_export_into_a_read_only_run_says_why_and_no_cleanup_error_hides_it(made, tmp_path) -> None:
    with tmpfs(tmp_path / "ro", "20m") as ro:
        run = ro / "run"
        shutil.copytree(made["run"], run)
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        code, out, err = cli("export", str(run))
        assert code == ExitCode.CHECKPOINT
        assert err == f"{USING}error: {run / 'model.onnx'}: cannot be written: Read-only file system\n"


def test_a_trial_asked_for_by_a_worker_that_died_at_once_is_failed_without_waiting(made, tmp_path) -> None:
    sweep = copy_of(made, "sweep", tmp_path)
    ghost = study_of(sweep).ask()  # asked, never claimed
    code, out, err = cli("sweep-report", str(sweep), "--no-plots")
    assert code == ExitCode.OK, err
    assert f"trial {ghost.number} failed: its worker ended before it began" in out
    assert out.startswith("3 trials (2 complete, 1 failed)")


# -- 7. identity, not paths ----------------------------------------------------------------------------------


def test_a_moved_run_keeps_its_export_from_any_folder(made, tmp_path, monkeypatch) -> None:
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(made["run"], moved)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("predict", "elsewhere/run", str(made["inputs"]), "--onnx")
    assert code == ExitCode.OK, err
    assert len(out.splitlines()) == 3
    info = json.loads((moved / "run.json").read_text())
    assert json.loads((moved / "model.onnx.json").read_text())["run_id"] == info["run_id"]
    other = tmp_path / "other"
    shutil.copytree(made["run"], other)
    (other / "run.json").write_text(json.dumps({**info, "run_id": "0" * 32}))
    code, out, err = cli("predict", str(other), str(made["inputs"]), "--onnx")
    assert code == ExitCode.EXPORT and "was exported from another run" in err


# -- 8. the API as strict as the command line ----------------------------------------------------------------


def test_the_api_refuses_what_the_command_line_refuses_in_its_own_terms() -> None:
    import registry
    from registry import SpecError

    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(SpecError, match=r"is nested more than 64 levels deep"):
        registry.load(deep)
    spec = str(Path(__file__).resolve().parent.parent / "specs" / "quickstart.toml")
    with pytest.raises(SpecError) as e:
        registry.load(spec, overrides={"optimizer..lr": 0.1})
    assert str(e.value) == ("overrides: 1 problem in the spec\n  overrides: (top level): overrides['optimizer..lr']: "
                            "cannot read the key path 'optimizer..lr' (write a.b[2].c)")  # fmt: skip
    with pytest.raises(SpecError) as e:
        registry.load(spec, overrides={"model.layers[99].out_features": 3})
    assert str(e.value).startswith(f"{spec}: 1 problem in the spec\n  overrides: model.layers[99]: ")
    with pytest.raises(TypeError, match=r"^train takes a loaded or built spec, not a dict: "):
        registry.train({"seed": 0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^build takes a loaded spec, not a str: "):
        registry.build(spec)  # type: ignore[arg-type]


# -- 9. formula cells ----------------------------------------------------------------------------------------


def _table_run(tmp_path: Path) -> Path:
    rows = ["x,city,label"] + [f"{i % 7 / 7:.3f},{['a', 'b', 'c'][i % 3]},{['=1+1', '@SUM(A1)', '-ok', 'plain'][i % 4]}"
                               for i in range(80)]  # fmt: skip
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "table.toml"
    spec.write_text(table_spec(tmp_path / "t.csv", 'categorical = ["city"]\n', out=4))
    code, _, err = cli("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert code == ExitCode.OK, err
    return tmp_path / "run"


def test_predictions_as_csv_never_hold_a_formula_unless_asked(tmp_path) -> None:
    run = _table_run(tmp_path)
    code, out, err = cli("predict", str(run), str(tmp_path / "t.csv"))
    assert code == ExitCode.OK, err
    labels = {line.split(",")[2] for line in out.splitlines()[1:]}
    assert labels <= {"'=1+1", "'@SUM(A1)", "'-ok", "plain"} and labels & {"'=1+1", "'@SUM(A1)", "'-ok"}
    code, out, err = cli("predict", str(run), str(tmp_path / "t.csv"), "--raw-csv")
    assert {line.split(",")[2] for line in out.splitlines()[1:]} <= {"=1+1", "@SUM(A1)", "-ok", "plain"}
    from registry.inference.predict import safe_cell

    assert [safe_cell(v) for v in ("=cmd|' -C calc'!A0.png", "-1.5", "+3", 7, "@x", "a=b")] == [
        "'=cmd|' -C calc'!A0.png", "-1.5", "+3", 7, "'@x", "a=b"]  # fmt: skip
