"""Spec format versions: older specs read and upgraded in place, newer ones refused, old keys named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.errors import SpecError
from registry.resolution.resolver import load_and_resolve, resolved_dict
from registry.resolution.upgrade import upgrade_text
from registry.spec.formats import FORMAT

from .conftest import QUICK
from .test_cli import cli

# A format-1 spec as users wrote them: comments, blank lines, a dotted key and odd spacing, all kept.
OLD = QUICK.replace("seed = 0\n", "# my spec\nseed = 0   # fixed\n\n").replace(
    "[train]\n", '[train]\nbest_metric    =   "loss"   # watch the loss\n'
)


def test_format_is_3() -> None:
    assert FORMAT == 3


def test_upgrade_renames_in_place_and_sets_the_format() -> None:
    up = upgrade_text(OLD, "old.toml")
    assert up.version == 1
    assert up.text == OLD.replace("# my spec\n", "# my spec\nformat = 3  # the spec format this file is written in "
                                  "(python -m registry upgrade)\n").replace("best_metric    =", "monitor    =")  # fmt: skip
    line = OLD.splitlines().index('best_metric    =   "loss"   # watch the loss') + 1
    assert [(c.line, c.message) for c in up.changes] == [
        (2, "format = 3 added (the file was in format 1)"),
        (line, "train.best_metric -> train.monitor (format 1 -> 2)"),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('format = 1\ntrain.best_metric = "loss"\n', 'format = 3\ntrain.monitor = "loss"\n'),
        ('format = 1 # old\ntrain = { epochs = 2, best_metric = "loss" }\n', 'format = 3 # old\ntrain = { epochs = 2, monitor = "loss" }\n'),
        ('format = 1\r\n[train]\r\n"best_metric" = "loss"\r\n', 'format = 3\r\n[train]\r\nmonitor = "loss"\r\n'),
        ("format = 1\n[train]\nepochs = 2\n", "format = 3\n[train]\nepochs = 2\n"),
        ('#:schema ./spec.schema.json\n\n[train]\nbest_metric = "loss"\n',
         '#:schema ./spec.schema.json\n\nformat = 3  # the spec format this file is written in (python -m registry upgrade)\n'
         '[train]\nmonitor = "loss"\n'),
    ],
)  # fmt: skip
def test_upgrade_keeps_every_other_byte(old: str, new: str) -> None:
    assert upgrade_text(old).text == new


def test_a_current_spec_is_unchanged() -> None:
    assert upgrade_text(QUICK) == upgrade_text(QUICK).__class__(QUICK, 3, ())
    assert upgrade_text("format = 3\n" + QUICK).changes == ()


def test_a_newer_or_unreadable_format_is_refused() -> None:
    with pytest.raises(SpecError) as e:
        upgrade_text("format = 4\n" + QUICK, "new.toml")
    assert str(e.value).splitlines()[1] == (
        "  new.toml:1: format: spec format 4 is newer than this registry reads (1 to 3): pip install -U torch-spec-registry"
    )
    with pytest.raises(SpecError) as e:
        upgrade_text('format = "3"\n' + QUICK, "s.toml")
    assert str(e.value).splitlines()[1] == "  s.toml:1: format: must be an integer from 1 to 3 (got '3')"


def test_an_old_spec_runs_as_its_upgrade_does(tmp_path: Path, catalog) -> None:
    """A format-1 spec is migrated when read: the same resolved spec as its upgraded file, and a warning."""
    old = tmp_path / "old.toml"
    old.write_text("format = 1\n" + OLD)
    new = tmp_path / "new.toml"
    new.write_text(upgrade_text(old.read_text()).text)
    a, b = load_and_resolve(old, catalog), load_and_resolve(new, catalog)
    assert resolved_dict(a) == resolved_dict(b) and resolved_dict(a)["train"]["monitor"] == "loss"
    assert a.provenance is not None and a.provenance.notes == [
        f"{old} is in spec format 1 (train.best_metric is now train.monitor, relative paths are read against the "
        "working directory): "
        f"python -m registry upgrade {old} rewrites it in format 3",
    ]
    code, out, err = cli("validate", str(old))
    assert code == 0 and err.startswith(f"warning: {old} is in spec format 1")


def test_an_old_key_in_a_current_spec_says_what_it_is_now(tmp_path: Path, catalog) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(OLD)
    line = OLD.splitlines().index('best_metric    =   "loss"   # watch the loss') + 1
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    assert [p.render(str(spec)) for p in e.value.problems] == [
        f"{spec}:{line}: train.best_metric: is train.monitor since spec format 2: write monitor, or add "
        f"'format = 1' at the top, or run python -m registry upgrade {spec}"
    ]


def test_a_problem_in_a_migrated_key_is_at_its_line(tmp_path: Path, catalog) -> None:
    spec = tmp_path / "s.toml"
    text = "format = 1\n" + OLD.replace('"loss"', '""')
    spec.write_text(text)
    line = text.splitlines().index('best_metric    =   ""   # watch the loss') + 1
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    assert [p.render(str(spec)) for p in e.value.problems] == [f"{spec}:{line}: train.monitor: must not be empty"]


def test_the_upgrade_command_writes_atomically_and_reports(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + OLD.encode())
    code, out, err = cli("upgrade", str(spec), "--dry-run")
    assert (code, err) == (0, "") and spec.read_bytes() == b"\xef\xbb\xbf" + OLD.encode()
    line = OLD.splitlines().index('best_metric    =   "loss"   # watch the loss') + 1
    report = [
        f"{spec}: format 1 -> 3",
        f"  {spec}:2: format = 3 added (the file was in format 1)",
        f"  {spec}:{line}: train.best_metric -> train.monitor (format 1 -> 2)",
    ]
    assert out.splitlines() == [*report, "(dry run: nothing written)"]
    code, out, err = cli("upgrade", str(spec))
    assert (code, err, out.splitlines()) == (0, "", report)
    assert spec.read_bytes() == b"\xef\xbb\xbf" + upgrade_text(OLD).text.encode()
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]  # no temporary file left
    code, out, err = cli("upgrade", str(spec))
    assert (code, out) == (0, f"{spec}: already in format 3, unchanged\n")


def test_a_run_directory_written_before_formats_still_opens(tmp_path: Path, catalog) -> None:
    """A run's spec.toml without ``format`` that uses format-1 keys is read as format 1 (it cannot be rewritten)."""
    code, out, err = cli(
        "run", "--quiet", "--out", str(tmp_path / "run"), "--set", "train.epochs=1", str(_quick(tmp_path))
    )
    assert code == 0, err
    saved = tmp_path / "run" / "spec.toml"
    text = saved.read_text()
    assert text.startswith(f"format = {FORMAT}\n")
    old = text.replace(f"format = {FORMAT}\n", "").replace("monitor = ", "best_metric = ")
    saved.write_text(old)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    import hashlib

    info["spec_file_hash"] = hashlib.sha256(old.encode()).hexdigest()
    (tmp_path / "run" / "run.json").write_text(json.dumps(info))
    code, out, err = cli("evaluate", str(tmp_path / "run"))
    assert code == 0, err
    assert "warning" not in err


def _quick(tmp_path: Path) -> Path:
    path = tmp_path / "quick.toml"
    path.write_text(QUICK)
    return path


def test_one_setting_under_both_names_is_refused(tmp_path: Path, catalog) -> None:
    spec = tmp_path / "s.toml"
    text = "format = 1\n" + OLD.replace("[train]\n", '[train]\nmonitor = "accuracy"\n')
    spec.write_text(text)
    line = text.splitlines().index('best_metric    =   "loss"   # watch the loss') + 1
    message = f"{spec}:{line}: train.best_metric: train.best_metric and train.monitor are one setting (its name before and since format 2): keep one"
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    assert [p.render(str(spec)) for p in e.value.problems] == [message]
    with pytest.raises(SpecError) as e:
        upgrade_text(text, str(spec))
    assert [p.render(str(spec)) for p in e.value.problems] == [message]


def test_an_old_key_in_a_spec_that_says_format_2(tmp_path: Path, catalog) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text("format = 2\n" + OLD)
    with pytest.raises(SpecError) as e:
        load_and_resolve(spec, catalog)
    assert [p.message for p in e.value.problems] == ["is train.monitor since spec format 2: write monitor"]


def test_upgrade_follows_a_link_keeps_the_mode_and_goes_on_after_a_bad_file(tmp_path: Path, monkeypatch) -> None:
    import os
    import stat

    real = tmp_path / "real"
    real.mkdir()
    (real / "s.toml").write_text(OLD)
    os.chmod(real / "s.toml", 0o640)
    (tmp_path / "link.toml").symlink_to(real / "s.toml")
    (tmp_path / "bad.toml").write_text("format = 4\n")
    (tmp_path / "other.toml").write_text(OLD)
    code, out, err = cli(
        "upgrade", str(tmp_path / "link.toml"), str(tmp_path / "bad.toml"), str(tmp_path / "other.toml")
    )
    assert code == 2
    assert err == (f"error: {tmp_path / 'bad.toml'}: 1 problem in the spec\n  {tmp_path / 'bad.toml'}:1: format: spec format 4 "
                   "is newer than this registry reads (1 to 3): pip install -U torch-spec-registry\n")  # fmt: skip
    assert (tmp_path / "link.toml").is_symlink() and (real / "s.toml").read_text() == upgrade_text(OLD).text
    assert stat.S_IMODE((real / "s.toml").stat().st_mode) == 0o640
    assert (tmp_path / "other.toml").read_text() == upgrade_text(OLD).text
    # A write that fails leaves the file as it was, and says so.
    spec = tmp_path / "w.toml"
    spec.write_text(OLD)
    monkeypatch.setattr("registry.files.atomic.secrets.token_hex", lambda n: "taken")
    (tmp_path / "w.toml.tmp-taken").mkdir()  # the atomic write's temporary name is taken
    code, out, err = cli("upgrade", str(spec))
    assert code == 2 and err.startswith(
        f"error: {spec}: 1 problem in the spec\n  {spec}: (top level): cannot be written: "
    )
    assert err.endswith("; it is unchanged\n") and spec.read_text() == OLD
