"""Specs that compose: bases, unset, references, and where every value came from (explain)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w

from registry.errors import SpecError
from registry.resolution.explain import annotated_toml, explain, render_explanations
from registry.resolution.resolver import load_and_resolve, resolved_dict
from registry.spec.compose import compose_file
from registry.spec.overrides import parse_override

from .conftest import QUICK, SPECS
from .test_cli import cli

CHILD = """\
base = "base.toml"
name = "child"
[vars]
hidden = 64
[optimizer]
lr = 0.1
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding base.toml (the quickstart, its hidden width a [vars] value) and child.toml."""
    base = QUICK.replace("out_features = 32", 'out_features = "${vars.hidden}"') + "[vars]\nhidden = 128\n"
    (tmp_path / "base.toml").write_text(base)
    (tmp_path / "child.toml").write_text(CHILD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _line(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def _problems(path: str | Path, catalog, sets=()) -> list[str]:
    with pytest.raises(SpecError) as e:
        load_and_resolve(path, catalog, [parse_override(s) for s in sets])
    assert str(e.value).startswith(f"{path}: {len(e.value.problems)} problem")
    return [p.render(str(path)) for p in e.value.problems]


# -- merging -------------------------------------------------------------------------------------


def test_a_child_changes_only_what_it_sets(folder: Path, catalog) -> None:
    rs = load_and_resolve("child.toml", catalog)
    base = load_and_resolve("base.toml", catalog)
    a, b = resolved_dict(rs), resolved_dict(base)
    assert a["optimizer"] == {**b["optimizer"], "lr": 0.1}  # merged key by key: momentum kept
    assert a["model"]["layers"][1]["out_features"] == 64 and b["model"]["layers"][1]["out_features"] == 128
    assert a["name"] == "child" and "name" not in b
    assert {k: v for k, v in a.items() if k not in ("optimizer", "model", "name")} == {
        k: v for k, v in b.items() if k not in ("optimizer", "model")
    }


def test_a_table_that_names_its_type_replaces_the_inherited_one(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text('base = "base.toml"\n[optimizer]\ntype = "adam"\nlr = 0.01\n')
    assert resolved_dict(load_and_resolve("child.toml", catalog))["optimizer"] == {
        "type": "adam",
        "lr": 0.01,
        "betas": [0.9, 0.999],
        "eps": 1e-08,
        "weight_decay": 0.0,
        "amsgrad": False,
    }  # fmt: skip  (sgd's momentum is not carried into adam)


def test_arrays_replace_and_bases_apply_in_order(folder: Path, catalog) -> None:
    (folder / "wide.toml").write_text(
        '[train]\nepochs = 3\nlog_interval = 5\n[data]\ntransforms = [{ type = "to_tensor" }]\n'
    )
    (folder / "long.toml").write_text("[train]\nepochs = 7\n")
    (folder / "child.toml").write_text('base = ["base.toml", "wide.toml", "long.toml"]\n')
    out = resolved_dict(load_and_resolve("child.toml", catalog))
    assert (out["train"]["epochs"], out["train"]["log_interval"]) == (7, 5)
    assert out["data"]["transforms"] == [{"type": "to_tensor"}]


def test_unset_removes_an_inherited_key(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text('base = "base.toml"\nunset = ["optimizer.momentum", "train.log_interval"]\n')
    out = resolved_dict(load_and_resolve("child.toml", catalog))
    assert out["optimizer"]["momentum"] == 0.0 and out["train"]["log_interval"] == 100  # the defaults again


def test_a_base_in_a_subfolder_is_found_relative_to_the_file_that_names_it(folder: Path, catalog) -> None:
    (folder / "sub").mkdir()
    (folder / "sub" / "mid.toml").write_text('base = "../base.toml"\n[train]\nepochs = 2\n')
    (folder / "child.toml").write_text('base = "sub/mid.toml"\n')
    assert resolved_dict(load_and_resolve(folder / "child.toml", catalog))["train"]["epochs"] == 2


# -- composition errors, each located in the file that holds it ----------------------------------


def test_a_missing_base_and_a_bad_unset_are_located_in_the_child(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text(
        'name = "m"\nbase = ["base.toml", "nope.toml"]\nunset = ["train.epochs", "train.nothing", "model.layers[1]"]\n'
    )
    assert _problems("child.toml", catalog) == [
        "child.toml:2: base[1]: base 'nope.toml' not found (looked for nope.toml)",
        "child.toml:3: unset[1]: 'train.nothing' is not set by the bases (unset takes key paths table.key, no indexes)",
        "child.toml:3: unset[2]: 'model.layers[1]' is not set by the bases (unset takes key paths table.key, "
        "no indexes)",
    ]


def test_unset_without_a_base(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text('unset = ["seed"]\n' + QUICK)
    assert _problems("child.toml", catalog) == ["child.toml:1: unset: there is nothing to unset: this spec has no base"]


def test_a_cycle_is_located_at_the_base_key_that_closes_it(folder: Path, catalog) -> None:
    (folder / "a.toml").write_text('base = "b.toml"\n')
    (folder / "b.toml").write_text('name = "b"\nbase = ["base.toml", "a.toml"]\n')
    assert _problems("a.toml", catalog) == [
        "b.toml:2: base[1]: 'a.toml' is a base of itself: a.toml -> b.toml -> a.toml"
    ]


def test_too_deep_a_chain(folder: Path, catalog) -> None:
    for i in range(11):
        (folder / f"d{i}.toml").write_text(f'base = "d{i + 1}.toml"\n')
    assert _problems("d0.toml", catalog) == ["d8.toml:1: base: bases are nested more than 8 deep (at 'd9.toml')"]


def test_a_base_that_is_not_a_spec_is_reported_in_its_own_file(folder: Path, catalog) -> None:
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.x]\na = 1\n')
    (folder / "child.toml").write_text('base = ["base.toml", "pyproject.toml"]\n')
    takes = "The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train"
    assert _problems("child.toml", catalog) == [
        f"pyproject.toml:1: project: unknown table [project]. {takes}",
        f"pyproject.toml:3: tool: unknown table [tool]. {takes}",
    ]
    (folder / "pyproject.toml").write_text("[project]\nname = \n")
    assert _problems("child.toml", catalog) == ["pyproject.toml:2: (top level): invalid TOML: Invalid value (column 8)"]


def test_a_wrong_value_in_a_base_is_located_in_the_base(folder: Path, catalog) -> None:
    base = folder / "base.toml"
    base.write_text(base.read_text().replace("epochs = 1", "epochs = 0").replace("lr = 0.05", "lr = -0.05"))
    (folder / "child.toml").write_text('base = "base.toml"\n[train]\nlog_interval = 0\n')
    assert _problems("child.toml", catalog) == [
        "child.toml:3: train.log_interval: must be >= 1 (got 0)",
        f"base.toml:{_line(base, 'lr = -0.05')}: optimizer.lr: must be > 0.0 (got -0.05)",
        f"base.toml:{_line(base, 'epochs = 0')}: train.epochs: must be >= 1 (got 0)",
    ]


def test_the_composition_keys_have_their_types(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text('base = 3\nunset = "train.epochs"\n' + QUICK)
    assert _problems("child.toml", catalog) == [
        "child.toml:1: base: must be str | list[str] (got 3)",
        "child.toml:2: unset: must be an array (got 'train.epochs')",
    ]


# -- references ----------------------------------------------------------------------------------


def test_references_keep_their_type_and_interpolate_in_strings(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text(
        'base = "base.toml"\nname = "run-${vars.tag}-$${x}"\n[vars]\nhidden = 64\nn = 3\ntag = "w${vars.hidden}"\n'
        '[train]\nepochs = "${vars.n}"\n[data]\nbatch_size = "${train.epochs}"\n'
    )
    composed = compose_file("child.toml")
    assert composed.doc["train"]["epochs"] == 3 and composed.doc["data"]["batch_size"] == 3
    assert composed.doc["name"] == "run-w64-${x}"
    assert "vars" not in composed.doc


def test_set_changes_a_value_that_references_use(folder: Path, catalog) -> None:
    rs = load_and_resolve("child.toml", catalog, [parse_override("vars.hidden=16")])
    assert resolved_dict(rs)["model"]["layers"][1]["out_features"] == 16


def test_reference_errors_are_located_at_the_string(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text(
        'base = "base.toml"\n[vars]\nloop = "${vars.loop2}"\nloop2 = "${vars.loop}"\ntbl = { a = 1 }\n'
        '[data]\nbatch_size = "${vars.hiden}"\ntest_batch_size = "${vars.nothing.deep}"\n'
        '[train]\nlog_interval = "x ${vars.tbl} y"\nepochs = "${model.layers[9]}"\nseed = "${vars.}"\n'
    )
    assert _problems("child.toml", catalog) == [
        "child.toml:3: vars.loop: references form a cycle: ${vars.loop2} -> ${vars.loop} -> ${vars.loop2}",
        "child.toml:7: data.batch_size: ${vars.hiden} refers to nothing: vars has no key 'hiden' "
        "(it has: hidden, loop, loop2, tbl); did you mean 'vars.hidden'?",
        "child.toml:8: data.test_batch_size: ${vars.nothing.deep} refers to nothing: vars has no key 'nothing' "
        "(it has: hidden, loop, loop2, tbl)",
        'child.toml:10: train.log_interval: ${vars.tbl} is a table, which only a whole string "${vars.tbl}" can take',
        "child.toml:11: train.epochs: ${model.layers[9]} refers to nothing: model.layers has 5 items",
        "child.toml:12: train.seed: cannot read the reference '${vars.}': write ${vars.NAME} or ${table.key[0].key}",
    ]


def test_a_reference_of_the_wrong_type_says_where_the_value_is_set(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text(CHILD.replace("hidden = 64", 'hidden = "wide"'))
    line = _line(folder / "base.toml", '  { type = "linear", out_features = "${vars.hidden}" },')
    assert _problems("child.toml", catalog) == [
        f"base.toml:{line}: "
        "model.layers[1].out_features: must be an integer (got 'wide') (the value of ${vars.hidden}, set at child.toml:4)"
    ]


def test_references_that_copy_too_much_are_refused(folder: Path, catalog) -> None:
    lines = ["[vars]", "v0 = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f'v{i} = ["${{vars.v{i - 1}}}"' + f', "${{vars.v{i - 1}}}"' * 9 + "]" for i in range(1, 8)]
    (folder / "child.toml").write_text('base = "base.toml"\n' + "\n".join(lines) + "\n")
    problems = _problems("child.toml", catalog)
    assert len(problems) == 1 and problems[0].endswith("references copy more than 100,000 values in all")


# -- explain -------------------------------------------------------------------------------------


def _row(how: str, where: str, value: str) -> str:
    return f"  {how:<10} {where:<36} {value}"


def test_explain_names_each_source_in_order(folder: Path, catalog) -> None:
    rs = load_and_resolve("child.toml", catalog, [parse_override("train.epochs=3")])
    base = folder / "base.toml"
    got = render_explanations(explain(rs, ("optimizer",)))
    sgd = _line(base, 'type = "sgd"')
    assert got.splitlines()[:8] == [
        'optimizer.type = "sgd"',
        _row("base", f"base.toml:{sgd}", '"sgd"'),
        "optimizer.lr = 0.1",
        _row("default", "sgd's default", "0.001"),
        _row("base", f"base.toml:{_line(base, 'lr = 0.05')}", "0.05"),
        _row("spec", "child.toml:6", "0.1"),
        "optimizer.momentum = 0.9",
        _row("default", "sgd's default", "0.0"),
    ]
    assert render_explanations(explain(rs, ("train", "epochs"))).splitlines() == [
        "train.epochs = 3",
        _row("default", "the spec format's default", "10"),
        _row("base", f"base.toml:{_line(base, 'epochs = 1')}", "1"),
        _row("--set", "command line", "3    (--set train.epochs=3)"),
    ]
    hidden = _line(base, "hidden = 128")
    assert render_explanations(explain(rs, ("model", "layers", 1, "out_features"))).splitlines() == [
        "model.layers[1].out_features = 64",
        _row("base", "base.toml:9", '"${vars.hidden}"'),
        _row("reference", "base.toml:9", "64")
        + f"    (${{vars.hidden}}: vars.hidden = 64 (spec child.toml:4), over 128 (base base.toml:{hidden}))",
    ]
    assert render_explanations(explain(rs, ("loss", "reduction"))).splitlines() == [
        'loss.reduction = "mean"',
        _row("default", "nll's default", '"mean"'),
    ]


def test_explain_an_unknown_key(folder: Path) -> None:
    code, out, err = cli("explain", "child.toml", "optimizer.lrr")
    assert (code, out) == (2, "")
    assert err.endswith("child.toml: optimizer.lrr: is not a key of the resolved spec; did you mean 'optimizer.lr'?\n")


def test_print_config_explain_annotates_every_line(folder: Path, catalog) -> None:
    code, out, err = cli("print-config", "--explain", "child.toml", "--set", "train.epochs=2")
    assert code == 0, err
    lines = out.splitlines()
    assert 'name = "child"  # child.toml:2' in lines
    assert "lr = 0.1  # child.toml:6" in lines
    assert "epochs = 2  # --set train.epochs=2" in lines
    assert "dampening = 0.0  # default" in lines
    assert (
        '    { type = "linear", out_features = 64, bias = true },  # type: base.toml:9; '
        "out_features: ${vars.hidden} (child.toml:4); bias: default"
    ) in lines
    # The comments are TOML comments: without them, the same resolved spec.
    import tomllib

    rs = load_and_resolve("child.toml", catalog, [parse_override("train.epochs=2")])
    assert tomllib.loads(out) == resolved_dict(rs) == tomllib.loads(annotated_toml(rs))


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.toml")))
def test_explain_answers_for_every_key_of_every_shipped_spec(catalog, name: str) -> None:
    """Every value of each shipped spec is explained by a default or by where it is written, with a line."""
    rs = load_and_resolve(SPECS / name, catalog)
    items = explain(rs)
    leaves = tomli_w.dumps(resolved_dict(rs))
    assert items and leaves
    for e in items:
        assert e.default is not None or e.settings, e.loc
        for s in e.settings:
            assert s.line is not None and os.path.exists(s.source), (e.loc, s)


def test_the_mnist_family_shares_its_bases() -> None:
    """The six MNIST-family specs are a name and what differs: the rest comes from specs/base/."""
    family = sorted(p for p in SPECS.glob("*mnist_*.toml") if "onecycle" not in p.name and "cnn" not in p.name
                    and "resnet" not in p.name)  # fmt: skip
    assert [p.stem for p in family] == [
        "fashion_mnist_cross_entropy", "fashion_mnist_leaky_relu", "fashion_mnist_simple",
        "mnist_cross_entropy", "mnist_leaky_relu", "mnist_simple",
    ]  # fmt: skip
    for p in family:
        data = "fashion_mnist" if p.stem.startswith("fashion") else "mnist"
        assert f'base = ["base/seed.toml", "base/{data}.toml"]' in p.read_text().splitlines()


def test_init_writes_an_examples_bases_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("init", "--example", "fashion_mnist_leaky_relu")
    assert code == 0, err
    assert "wrote the bases it builds on: base/seed.toml, base/fashion_mnist.toml\n" in out
    assert (tmp_path / "base" / "seed.toml").read_text() == (SPECS / "base" / "seed.toml").read_text()
    assert resolved_dict(load_and_resolve("spec.toml", catalog)) == resolved_dict(
        load_and_resolve(SPECS / "fashion_mnist_leaky_relu.toml", catalog)
    )
    code, out, err = cli("init", "--example", "mnist_simple", "--output", "two.toml")  # the same seed.toml: kept
    assert code == 0, err
    (tmp_path / "base" / "mnist.toml").write_text("# mine\n")
    code, out, err = cli("init", "--example", "mnist_simple", "--output", "three.toml")
    assert (code, out) == (2, "")
    assert err == "error: base/mnist.toml exists (a base of this example); choose another folder\n"
    assert not (tmp_path / "three.toml").exists()


# -- edge cases found in review ------------------------------------------------------------------


def test_a_literal_dollar_brace_survives_being_written_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog
) -> None:
    """`$${` reads as a literal `${`; the resolved spec writes it `$${` again, so it reads back the same."""
    monkeypatch.chdir(tmp_path)
    assert cli("init", "--example", "table_csv", "--output", "t.toml")[0] == 0
    (tmp_path / "data" / "table.csv").rename(tmp_path / "data" / "${a}.csv")
    (tmp_path / "t.toml").write_text((tmp_path / "t.toml").read_text().replace('"data/table.csv"', '"data/$${a}.csv"'))
    rs = load_and_resolve("t.toml", catalog)
    path = str(tmp_path / "data" / "${a}.csv")  # absolute: relative to t.toml's folder
    assert rs.dataset.kwargs["path"] == path and resolved_dict(rs)["data"]["path"] == path.replace("${", "$${")
    code, out, err = cli("print-config", "t.toml")
    (tmp_path / "again.toml").write_text(out)
    assert resolved_dict(load_and_resolve("again.toml", catalog)) == resolved_dict(rs)


def test_references_that_write_too_much_text_or_chain_too_deep_are_refused(folder: Path, catalog) -> None:
    lines = ['base = "base.toml"', "[vars]", 's0 = "xxxxxxxxxx"']
    lines += [f's{i} = "' + f"${{vars.s{i - 1}}}" * 10 + '"' for i in range(1, 8)]
    (folder / "child.toml").write_text("\n".join(lines) + '\n[train]\ndevice = "${vars.s7}"\n')
    problems = _problems("child.toml", catalog)
    assert len(problems) == 1 and problems[0].endswith(
        "references write more than 1,000,000 characters into strings in all"
    )
    chain = ["[vars]", "v0 = 1", *(f'v{i} = "${{vars.v{i - 1}}}"' for i in range(1, 400))]
    (folder / "child.toml").write_text('base = "base.toml"\nseed = "${vars.v399}"\n' + "\n".join(chain) + "\n")
    problems = _problems("child.toml", catalog)
    assert problems and all(p.endswith("references name references more than 64 deep") for p in problems)


def test_a_reference_through_a_key_that_is_itself_a_reference(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text(
        'base = "base.toml"\nname = "lr${optimizer.lr}"\noptimizer = "${vars.opt}"\n'
        '[vars.opt]\ntype = "sgd"\nlr = 0.1\n'
    )
    out = resolved_dict(load_and_resolve("child.toml", catalog))
    assert out["name"] == "lr0.1" and out["optimizer"]["lr"] == 0.1 and out["optimizer"]["momentum"] == 0.0


def test_a_key_inside_a_copied_table_says_where_it_is_set(folder: Path, catalog) -> None:
    base = folder / "base.toml"
    base.write_text('optimizer = "${vars.opt}"\n' + base.read_text().replace('[optimizer]\ntype = "sgd"\nlr = 0.05\nmomentum = 0.9\n', "")
                    + '[vars.opt]\ntype = "sgd"\nlr = 0.05\nmomentum = -1.0\n')  # fmt: skip
    (folder / "child.toml").write_text('base = "base.toml"\n[vars.opt]\nlr = 0.5\n')
    line, momentum = _line(base, 'optimizer = "${vars.opt}"'), _line(base, "momentum = -1.0")
    assert _problems("child.toml", catalog) == [
        f"base.toml:{line}: optimizer.momentum: must be >= 0.0 (got -1.0) (the value of ${{vars.opt}}, set at base.toml:{momentum})"
    ]


def test_a_base_reached_twice_is_merged_once(folder: Path, catalog) -> None:
    (folder / "a.toml").write_text('base = "base.toml"\n[optimizer]\nlr = 0.5\n')
    (folder / "b.toml").write_text('base = "base.toml"\n[train]\nepochs = 3\n')
    (folder / "child.toml").write_text('base = ["a.toml", "b.toml"]\n')
    rs = load_and_resolve("child.toml", catalog)
    assert (resolved_dict(rs)["optimizer"]["lr"], resolved_dict(rs)["train"]["epochs"]) == (0.5, 3)
    assert [s.where for s in explain(rs, ("optimizer", "lr"))[0].settings] == [
        f"base.toml:{_line(folder / 'base.toml', 'lr = 0.05')}",
        "a.toml:3",
    ]
    (folder / "child.toml").write_text('base = ["base.toml", "base.toml"]\n')
    assert _problems("child.toml", catalog) == ["child.toml:1: base[1]: 'base.toml' is named twice"]


def test_a_base_that_is_a_directory_is_located(folder: Path, catalog) -> None:
    (folder / "d").mkdir()
    (folder / "child.toml").write_text('base = ["d", ""]\n')
    assert _problems("child.toml", catalog) == [
        "child.toml:1: base[0]: base 'd' is not a spec file (d is a directory)",
        "child.toml:1: base[1]: base '' is not a spec file (. is a directory)",
    ]


def test_a_var_table_that_names_a_type_replaces_the_inherited_one(folder: Path, catalog) -> None:
    base = folder / "base.toml"
    base.write_text('optimizer = "${vars.opt}"\n' + base.read_text().replace('[optimizer]\ntype = "sgd"\nlr = 0.05\nmomentum = 0.9\n', "")
                    + '[vars.opt]\ntype = "sgd"\nlr = 0.05\nmomentum = 0.9\n')  # fmt: skip
    (folder / "child.toml").write_text('base = "base.toml"\n[vars.opt]\ntype = "adam"\nlr = 0.01\n')
    assert resolved_dict(load_and_resolve("child.toml", catalog))["optimizer"]["type"] == "adam"


def test_dates_and_unclosed_references_in_strings(folder: Path, catalog) -> None:
    (folder / "child.toml").write_text('base = "base.toml"\nname = "run-${vars.day}"\n[vars]\nday = 1979-05-27\n')
    assert compose_file("child.toml").doc["name"] == "run-1979-05-27"
    (folder / "child.toml").write_text('base = "base.toml"\nname = "run-${vars.day"\n')
    assert _problems("child.toml", catalog) == [
        "child.toml:2: name: '${vars.day' is not closed: write ${...}, or $${ for a literal ${"
    ]
