"""The corpus of broken specs: each mistake gets its exact message and exit code, and nothing is run."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from registry.cli import main

from .broken_cases import CASES
from .broken_expected import EXPECTED
from .conftest import QUICK

# The expected messages list the available names: the built-ins', whatever else is installed.
pytestmark = pytest.mark.usefixtures("builtins_only")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def test_the_corpus_is_large_and_distinct() -> None:
    """At least 40 cases, each a different mutation with its own expected outcome."""
    assert len(CASES) >= 40
    assert len({(old, new) for _, old, new in CASES}) == len(CASES)
    assert set(EXPECTED) == {cid for cid, _, _ in CASES}


@pytest.mark.parametrize(("cid", "old", "new"), CASES, ids=[c[0] for c in CASES])
def test_broken_spec_message(tmp_path: Path, cid: str, old: str, new: str) -> None:
    """`run` on the broken spec exits with the expected code and prints exactly the expected message."""
    assert old in QUICK
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace(old, new, 1))
    code, out, err = run_cli("run", str(spec))
    want_code, want_err = EXPECTED[cid]
    assert code == want_code
    if code == 0:  # a warning: the run goes on, and the warning is printed first
        assert err.startswith(want_err.replace("SPEC", str(spec))) and want_err.startswith("warning: ")
    else:
        assert err == want_err.replace("SPEC", str(spec))
        assert out == "" and "Traceback" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]  # nothing written


EVIL = """\
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("the spec ran code")
def thing(*a, **k):
    pathlib.Path(__file__).with_name("CALLED").write_text("the spec called code")
system = eval = thing
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('{ type = "relu" }', '{ type = "evil_mod.thing" }'),
        ('{ type = "relu" }', '{ type = "evil_mod:thing" }'),
        ('type = "sgd"', 'type = "evil_mod.thing"'),
        ('dataset = "digits"', 'dataset = "evil_mod.thing"'),
        ("seed = 0", 'seed = 0\n_target_ = "evil_mod.thing"'),
        ('{ type = "relu" }', '{ type = "relu", class_path = "evil_mod.thing" }'),
        ('{ type = "relu" }', '{ _target_ = "evil_mod.thing" }'),
        ("seed = 0", 'seed = 0\nimport = "evil_mod"'),
        ("seed = 0", 'seed = 0\ninclude = "evil_mod.py"'),
        ('{ type = "to_tensor" }', '{ type = "builtins.eval", source = "__import__(\'evil_mod\')" }'),
    ],
)
def test_no_spec_can_import_or_run_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """A spec naming an importable module's attribute, by any key, is refused and the module is never imported."""
    (tmp_path / "evil_mod.py").write_text(EVIL)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK.replace(old, new, 1))
    code, _, err = run_cli("run", str(spec))
    assert code == 2 and err.startswith("error: ")
    assert "evil_mod" not in sys.modules
    assert not (tmp_path / "IMPORTED").exists() and not (tmp_path / "CALLED").exists()


def test_hostile_sizes_are_refused(tmp_path: Path) -> None:
    """Nesting thousands deep, a 200 MB file, a FIFO, /dev/zero, 10^12 parameters: each a clean exit 2, before
    anything is read or built (the FIFO would block and /dev/zero never end if they were read)."""
    import os

    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 10000 + "]" * 10000 + "\n")
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(200 * 2**20)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would block forever
    huge = tmp_path / "huge.toml"
    huge.write_text(QUICK.replace("out_features = 32 }", "out_features = 1000000000000 }"))
    for path, message in (
        (deep, "invalid TOML: nested more than 64 levels deep"),
        (big, "the file is 209,715,200 bytes; at most 1,000,000 are read"),
        (fifo, "is not a regular file (a pipe, a device or a socket cannot be read as one)"),
        (Path("/dev/zero"), "is not a regular file (a pipe, a device or a socket cannot be read as one)"),
        (huge, "model.layers[1]: linear has 65,000,000,000,000 parameters"),
    ):
        code, out, err = run_cli("validate", str(path))  # refused before reading: /dev/zero never ends
        assert code == 2 and message in err and out == "", err


def test_deep_nesting_is_refused_in_every_reader(tmp_path: Path) -> None:
    """Nesting beyond 64 levels: refused in a spec, a --set value, a JSON record and a safetensors header alike."""
    from registry.files.untrusted import Unreadable, load_json
    from registry.rundirs.safetensors_header import MalformedError, check_safetensors

    spec = tmp_path / "spec.toml"
    spec.write_text(QUICK)
    code, _, err = run_cli("validate", str(spec), "--set", "seed=" + "[" * 70 + "]" * 70)
    assert code == 2 and "the value is nested more than 64 levels deep" in err
    with pytest.raises(Unreadable, match="nested more than 64 levels deep"):
        load_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(Unreadable, match="nested more than 64 levels deep"):
        load_json("[" * 70 + "]" * 70)
    header = ('{"__metadata__": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    st = tmp_path / "deep.safetensors"
    st.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(MalformedError, match="nested more than 64 levels deep"):
        check_safetensors(st)
