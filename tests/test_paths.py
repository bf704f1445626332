"""One rule for paths (registry.spec.paths): a relative path is read against the folder of the file that writes it.

Every test runs from its own empty working directory (conftest), and the specs live in folders below it, so a
path that resolved against the working directory instead would name a file that is not there.
"""

from __future__ import annotations

import io
import json
import os
import sys
import types
from pathlib import Path
from typing import Annotated

import pytest
from registry_specs.example_data import write_table
from torch import nn

import registry
import registry.training.launch
from registry.cli import ExitCode, main
from registry.components.manager import build_catalog, load_plugins
from registry.resolution.resolver import load_and_resolve, resolved_dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.usefixtures("builtins_only")

TABLE = """\
seed = 0
[data]
dataset = "table"
path = "{path}"
targets = "approved"
categorical = ["city"]
batch_size = 32
[model]
layers = [{{ type = "linear", out_features = 8 }}, {{ type = "relu" }}, {{ type = "linear", out_features = 2 }}]
[loss]
type = "cross_entropy"
[optimizer]
type = "adam"
lr = 0.01
[train]
epochs = 1
device = "cpu"
"""


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """proj/spec.toml and proj/data/table.csv beside it; the working directory is proj's parent's sibling."""
    proj = tmp_path / "proj"
    write_table(proj / "data", rows=60)
    (proj / "spec.toml").write_text(TABLE.format(path="data/table.csv"))
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")
    return proj


def test_a_spec_reads_its_data_beside_it_from_any_folder(project: Path, catalog) -> None:
    rs = load_and_resolve(project / "spec.toml", catalog)
    assert rs.dataset.kwargs["path"] == str(project / "data" / "table.csv")
    assert "path" in rs.dataset.given  # still the spec's own value
    code, out, err = cli("validate", str(project / "spec.toml"))
    assert (code, err) == (0, "") and out.startswith(f"{project / 'spec.toml'}: valid")
    os.chdir(project / "data")  # any other folder: the same file
    assert load_and_resolve(project / "spec.toml", catalog).dataset.kwargs["path"] == str(project / "data/table.csv")


def test_a_base_path_is_relative_to_the_base_and_a_reference_to_the_file_of_its_value(project: Path, catalog) -> None:
    (project / "base").mkdir()
    (project / "base" / "data.toml").write_text('[data]\ndataset = "table"\npath = "../data/table.csv"\n')
    text = TABLE.format(path="x").replace('dataset = "table"\npath = "x"\n', "")
    (project / "child.toml").write_text('base = "base/data.toml"\n' + text)
    rs = load_and_resolve(project / "child.toml", catalog)
    assert rs.dataset.kwargs["path"] == str(project / "data" / "table.csv")
    # A reference takes the folder of the file that writes the value it names (here the base's).
    (project / "base" / "vars.toml").write_text('[vars]\ntable = "../data/table.csv"\n')
    (project / "ref.toml").write_text('base = "base/vars.toml"\n' + TABLE.format(path="${vars.table}"))
    assert load_and_resolve(project / "ref.toml", catalog).dataset.kwargs["path"] == str(project / "data/table.csv")


def test_set_and_defaults_are_read_against_the_working_directory(project: Path, catalog, tmp_path: Path) -> None:
    from registry.spec.overrides import parse_override

    write_table(tmp_path / "elsewhere" / "mine", rows=60)
    rs = load_and_resolve(project / "spec.toml", catalog, [parse_override("data.path=mine/table.csv")])
    assert rs.dataset.kwargs["path"] == str(tmp_path / "elsewhere" / "mine" / "table.csv")
    # mnist's default root ("data") is the working directory's: the message says so.
    code, _, err = cli("run", str(project / "spec.toml"), "--set", "data={dataset='mnist',transforms=[{type='to_tensor'}]}",
                       "--set", "model.layers=[{type='flatten'},{type='linear',out_features=10}]")  # fmt: skip
    assert code == ExitCode.DATA, err
    assert f"looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " \
           f"t10k-labels-idx1-ubyte (plain or .gz) in {tmp_path / 'elsewhere' / 'data'} and in" in err  # fmt: skip


def test_a_missing_file_shows_the_line_the_value_the_path_tried_and_the_working_directory(project: Path) -> None:
    (project / "data" / "table.csv").rename(project / "gone.csv")
    code, out, err = cli("validate", str(project / "spec.toml"))
    cwd = Path.cwd()
    assert (code, out) == (ExitCode.DATA, "")
    assert err == (
        f"error: {project / 'spec.toml'}:4: data.path: no such file: {project / 'data' / 'table.csv'} "
        f"('data/table.csv', relative to the folder of {project / 'spec.toml'}, which writes it; the working "
        f"directory is {cwd})\n"
    )
    # The same file beside the working directory: the spec was written for format 2's rule, and the message says so.
    write_table(cwd / "data", rows=60)
    code, _, err = cli("run", str(project / "spec.toml"))
    assert code == ExitCode.DATA and err.endswith(
        f"). {cwd / 'data' / 'table.csv'} exists: a spec written for the working directory is in spec format 2; "
        f"say 'format = 2' at the top of {project / 'spec.toml'}, and python -m registry upgrade rewrites its paths\n"
    )
    assert not (cwd / "runs").exists()  # refused before anything is written
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", "data.path=no.csv")
    assert err == (
        f"error: data.path (from command line: --set data.path=no.csv): no such file: {cwd / 'no.csv'} ('no.csv', "
        f"given with --set, read against the working directory; the working directory is {cwd})\n"
    )
    (project / "gone.csv").rename(project / "data" / "table.csv")
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", "data.test_path=/no/such.csv")
    assert (
        err
        == "error: data.test_path (from command line: --set data.test_path=/no/such.csv): no such file: /no/such.csv\n"
    )


def test_an_image_folder_that_is_missing_is_said_as_a_folder(project: Path) -> None:
    text = TABLE.format(path="x").replace('dataset = "table"\npath = "x"\ntargets = "approved"\ncategorical = ["city"]\n',
                                          'dataset = "image_folder"\nroot = "pics"\nsize = 8\n')  # fmt: skip
    (project / "img.toml").write_text(text)
    code, _, err = cli("validate", str(project / "img.toml"))
    assert code == ExitCode.DATA and err.startswith(
        f"error: {project / 'img.toml'}:4: data.root: no such folder: {project / 'pics'} ('pics', relative to the folder of"
    )


def test_format_2_reads_against_the_working_directory_and_upgrade_rewrites_the_files_own_paths(
    project: Path, catalog, tmp_path: Path
) -> None:
    cwd = Path.cwd()
    write_table(cwd / "data", rows=60)  # where format 2 looks: the working directory's data/
    (project / "base").mkdir()
    (project / "base" / "vars.toml").write_text('format = 2\n[vars]\ntest = "data/table.csv"\n')
    old = TABLE.format(path="data/table.csv").replace("batch_size = 32", 'test_path = "${vars.test}"\nbatch_size = 32')
    spec = project / "old.toml"
    spec.write_text('format = 2  # old\nbase = "base/vars.toml"\n' + old.replace('path = "data', "path = 'data", 1)
                    .replace("table.csv\"\ntargets", "table.csv'   # rows\ntargets", 1))  # fmt: skip
    rs = load_and_resolve(spec, catalog)
    assert rs.dataset.kwargs["path"] == rs.dataset.kwargs["test_path"] == str(cwd / "data" / "table.csv")
    assert rs.provenance is not None and rs.provenance.notes[0] == (
        f"{spec} is in spec format 2 (relative paths are read against the working directory): python -m registry "
        f"upgrade {spec} rewrites it in format 3"
    )
    code, out, err = cli("upgrade", str(spec))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{spec}: format 2 -> 3",
        f"  {spec}:1: format = 3 (was 2)",
        f"  {spec}:6: data.path: 'data/table.csv' -> '../elsewhere/data/table.csv' (format 2 read it against the "
        f"working directory, {cwd}; format 3 against this file's folder)",
    ]
    text = spec.read_text()
    assert text.startswith("format = 3  # old\n") and 'path = "../elsewhere/data/table.csv"   # rows\n' in text
    # The base keeps its format (and its path, read against the working directory, as it says): from a third
    # folder, the upgraded spec's own path still names the same file, and the base's names the working directory's.
    os.chdir(tmp_path)
    rs = load_and_resolve(spec, catalog)
    assert rs.dataset.kwargs["path"] == str(cwd / "data" / "table.csv")
    assert rs.dataset.kwargs["test_path"] == str(tmp_path / "data" / "table.csv")
    assert cli("upgrade", str(spec))[1] == f"{spec}: already in format 3, unchanged\n"


def test_run_directories_and_best_toml_hold_absolute_paths(project: Path, catalog, tmp_path: Path) -> None:
    code, out, err = cli("run", str(project / "spec.toml"), "--out", "run", "--quiet")
    assert code == 0, err
    saved = tomllib.loads((Path("run") / "spec.toml").read_text())
    assert saved["format"] == 3 and saved["data"]["path"] == str(project / "data" / "table.csv")
    os.chdir(tmp_path)  # the run directory's spec runs from elsewhere: evaluate, resume
    code, out, err = cli("evaluate", "elsewhere/run")
    assert code == 0 and "Accuracy" in out, err
    sweep = TABLE.format(path="data/table.csv") + (
        '[sweep]\ntrials = 2\nsampler = "random"\n[sweep.space]\n"optimizer.lr" = { type = "float", low = 0.001, '
        "high = 0.1, log = true }\n"
    )
    (project / "sweep.toml").write_text(sweep)
    code, out, err = cli("sweep", str(project / "sweep.toml"), "--out", "sw")
    assert code == 0, err
    best = tomllib.loads((Path("sw") / "best.toml").read_text())
    assert best["data"]["path"] == str(project / "data" / "table.csv")
    os.chdir(project / "data")
    code, out, err = cli("run", str(tmp_path / "sw" / "best.toml"), "--out", "again", "--quiet")
    assert code == 0, err
    assert (
        resolved_dict(load_and_resolve(tmp_path / "sw" / "best.toml", catalog))["data"]["path"] == best["data"]["path"]
    )


def test_init_writes_the_data_beside_the_spec(tmp_path: Path) -> None:
    code, out, err = cli("init", "--example", "table_csv", "--output", "sub/t.toml")
    assert code == 0, err
    assert (tmp_path / "sub" / "data" / "table.csv").is_file() and not (tmp_path / "data").exists()
    assert "wrote the example data it reads: sub/data/table.csv" in out
    os.chdir(tmp_path / "sub")
    assert cli("validate", "t.toml")[0] == 0


def test_a_reference_to_a_reference_takes_the_folder_of_the_value_at_the_end(project: Path, catalog) -> None:
    (project / "base").mkdir()
    (project / "base" / "v.toml").write_text('[vars]\nb = "../data/table.csv"\n')
    text = TABLE.format(path="${vars.a}")
    (project / "chain.toml").write_text('base = "base/v.toml"\n[vars]\na = "${vars.b}"\n' + text)
    assert load_and_resolve(project / "chain.toml", catalog).dataset.kwargs["path"] == str(project / "data/table.csv")


def test_a_run_directory_in_format_2_is_read_as_written_and_never_upgraded(project: Path) -> None:
    assert cli("run", str(project / "spec.toml"), "--out", "run", "--quiet")[0] == 0
    run = Path("run")
    old = (run / "spec.toml").read_text().replace("format = 3", "format = 2")
    old = old.replace(str(project / "data" / "table.csv"), "../proj/data/table.csv")  # relative, as format 2 wrote
    (run / "spec.toml").write_text(old)
    record = json.loads((run / "run.json").read_text())
    import hashlib

    record["spec_file_hash"] = hashlib.sha256(old.encode()).hexdigest()  # as the older registry recorded it
    (run / "run.json").write_text(json.dumps(record))
    code, out, err = cli("evaluate", "run")
    assert code == 0, err
    assert err.startswith("warning: run/spec.toml is in spec format 2 (relative paths are read against the working "
                          "directory): a run directory's spec is read as it was written\n")  # fmt: skip
    code, out, err = cli("upgrade", "run/spec.toml")
    assert code == 2 and (run / "spec.toml").read_text() == old
    assert err == ("error: run/spec.toml: 1 problem in the spec\n  run/spec.toml: (top level): is a run directory's "
                   "spec (run.json records its hash): it is read as it was written and never rewritten; upgrade the "
                   "spec the run was made from\n")  # fmt: skip


def test_upgrade_reads_incomplete_bases_and_refuses_what_it_cannot_tell(project: Path, tmp_path: Path) -> None:
    cwd = Path.cwd()
    base = project / "base"
    base.mkdir()
    (base / "data.toml").write_text('format = 2\n[data]\ndataset = "table"\npath = "data/table.csv"\n')  # no targets
    (base / "vars.toml").write_text('format = 2\n[vars]\ntest = "data/table.csv"\nname = "plain"\n')
    code, out, err = cli("upgrade", str(base / "data.toml"), str(base / "vars.toml"))
    assert (code, err) == (0, "")
    assert f"  {base / 'data.toml'}:4: data.path: 'data/table.csv' -> '../../elsewhere/data/table.csv'" in out
    assert (base / "data.toml").read_text().endswith('path = "../../elsewhere/data/table.csv"\n')
    assert out.splitlines()[-1] == (
        f"  {base / 'vars.toml'}:3: vars.test: 'data/table.csv' is left as it is: if it is a path, format 3 reads it "
        "against this file's folder, and '../../elsewhere/data/table.csv' names the file it named"
    )
    # A path built inside a string, and a component no plugin registers: refused, the file unchanged.
    built = 'format = 2\n[vars]\ndir = "data"\n' + TABLE.format(path="${vars.dir}/table.csv")
    (project / "built.toml").write_text(built)
    code, _, err = cli("upgrade", str(project / "built.toml"))
    assert code == 2 and "data.path: is built from references (${vars.dir}): upgrade cannot rewrite it" in err
    assert (project / "built.toml").read_text() == built
    unknown = "format = 2\n" + TABLE.format(path="data/table.csv").replace('dataset = "table"', 'dataset = "tabel"')
    (project / "unknown.toml").write_text(unknown)
    code, _, err = cli("upgrade", str(project / "unknown.toml"))
    assert code == 2 and "data: names 'tabel', which no installed plugin registers: upgrade cannot tell" in err
    assert cwd == Path.cwd()


def test_upgrade_writes_valid_toml_for_any_character(project: Path) -> None:
    odd = 'da"ta\\ü\u007f/t.csv'
    (project / "odd.toml").write_text("format = 2\n" + TABLE.format(path=odd.replace("\\", "\\\\").replace('"', '\\"').replace("\u007f", "\\u007f")))
    code, out, err = cli("upgrade", str(project / "odd.toml"))
    assert code == 0, err
    text = (project / "odd.toml").read_text()
    assert tomllib.loads(text)["data"]["path"] == "../elsewhere/" + odd


def test_a_sweeps_path_choices_are_read_against_its_file(project: Path, catalog) -> None:
    write_table(project / "data", rows=60, seed=1, name="other.csv")
    sweep = TABLE.format(path="data/table.csv") + (
        '[sweep]\ntrials = 2\nsampler = "grid"\n[sweep.space]\n"data.path" = { type = "categorical", choices = '
        '["data/table.csv", "data/other.csv"] }\n'
    )
    (project / "sw.toml").write_text(sweep)
    code, out, err = cli("sweep", str(project / "sw.toml"), "--out", "sw")
    assert code == 0, err
    stored = tomllib.loads((Path("sw") / "spec.toml").read_text())["sweep"]["space"]["data.path"]["choices"]
    assert stored == [str(project / "data" / "table.csv"), str(project / "data" / "other.csv")]
    read = sorted(tomllib.loads(p.read_text())["data"]["path"] for p in Path("sw").glob("trials/*/spec.toml"))
    assert read == sorted(stored)


def test_every_components_path_is_checked_before_its_factory_runs(project: Path, monkeypatch) -> None:
    """Not only a dataset's: a plugin's layer that reads a file is refused, located, before it is called."""
    calls: list[str] = []

    def weighted(path: Annotated[str, registry.SpecPath()]) -> nn.Module:
        """A layer that reads its weights from a file."""
        calls.append(path)
        return nn.Identity()

    weighted.__annotations__ = {"path": Annotated[str, registry.SpecPath()], "return": nn.Module}
    plugins = load_plugins(load_entrypoints=False)
    mod = types.ModuleType("weights")
    impl = registry.hookimpl(lambda: {"weighted": weighted})
    impl.__name__ = "registry_layers"
    mod.registry_layers = impl  # type: ignore[attr-defined]
    plugins.pm.register(mod, name="weights")
    catalog = build_catalog(plugins)
    monkeypatch.setattr(registry.training.launch, "load_plugins_catalog", lambda err, keep_clashes=False: catalog)
    text = TABLE.format(path="data/table.csv").replace('layers = [{ type = "linear"', 'layers = [{ type = "weighted", '
                                                       'path = "w/missing.pt" }, { type = "linear"')  # fmt: skip
    (project / "w.toml").write_text(text)
    code, _, err = cli("validate", str(project / "w.toml"))
    assert code == ExitCode.DATA and calls == [], err
    assert err.startswith(f"error: {project / 'w.toml'}:9: model.layers[0].path: no such file: {project / 'w' / 'missing.pt'}")


def test_messages_for_a_folder_given_as_a_file_a_home_path_and_two_missing_files(project: Path) -> None:
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", f"data.path={project / 'data'}")
    assert err == f"error: data.path (from command line: --set data.path={project / 'data'}): {project / 'data'} is a folder, not a file\n"
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", "data.path=~/no-such.csv")
    assert err == f"error: data.path (from command line: --set data.path=~/no-such.csv): no such file: {Path.home() / 'no-such.csv'}\n"
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", "data.path=a.csv", "--set", "data.test_path=b.csv")
    assert code == ExitCode.DATA and [line.split(": no such file: ")[1].split(" ")[0] for line in err.splitlines()] == [
        str(Path.cwd() / "a.csv"), str(Path.cwd() / "b.csv")]


def test_mnist_without_its_files_and_without_download_is_refused_by_validate(project: Path) -> None:
    code, _, err = cli("validate", str(project / "spec.toml"), "--set", "data={dataset='mnist',root='nomnist',"
                       "transforms=[{type='to_tensor'}]}", "--set",
                       "model.layers=[{type='flatten'},{type='linear',out_features=10}]")  # fmt: skip
    assert code == ExitCode.DATA and "MNIST files not found: looked for" in err and "download is off" in err
