"""The user's own images: a folder of class folders, decoded once and cached; faults named; predict on a folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from registry_specs.example_data import write_images

from registry.cli import ExitCode, main

from .conftest import shipped


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return write_images(tmp_path / "data" / "images")  # the shipped spec reads data/images from the working directory


def test_the_shipped_image_folder_spec_trains(images, tmp_path) -> None:
    """specs/image_folder.toml on 300 PNG digits: > 80% test accuracy; predict on a folder gives a class per image."""
    code, out, err = cli("run", str(shipped("image_folder.toml")), "--out", "run")
    assert code == 0, err
    row = json.loads(Path("run/metrics.jsonl").read_text().splitlines()[-1])
    assert row["test_total"] == 60 and row["test_accuracy"] > 0.8
    code, out, _ = cli("predict", "run", str(images / "7"))
    preds = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(preds) == 30 and sum(p["label"] == "7" for p in preds) >= 24
    assert [p["input"] for p in preds] == sorted(p.name for p in (images / "7").iterdir())  # each named by its file
    code, out, _ = cli("predict", "run", str(images), "--output", "all.csv")  # a folder of class folders
    rows = Path("all.csv").read_text().splitlines()
    assert code == 0 and rows[0] == "row,input,class,label,probability" and len(rows) == 1 + 300
    named = [r.split(",") for r in rows[1:]]
    assert [r[1] for r in named[:30]] == [f"0/{p.name}" for p in sorted((images / "0").iterdir())]
    assert sum(r[1].split("/")[0] == r[3] for r in named) >= 270  # the folder is the true class


def test_a_second_run_reads_the_cache_instead_of_decoding(images, monkeypatch) -> None:
    """The decoded images are cached: the second load decodes nothing (decoding would fail here) and gives the same."""
    import registry_torch.images as module

    from registry.components.manager import load_catalog

    ds = load_catalog(load_entrypoints=False).get("dataset", "image_folder").factory(root=str(images), size=16, channels=1)
    first = ds.load()
    assert list(Path(module._cache_dir()).glob("*.safetensors"))
    monkeypatch.setattr(module, "decode_all", lambda *a: pytest.fail("decoded again"))
    second = ds.load()
    assert first.train.inputs.dtype.is_floating_point is False and first.train.inputs.shape[1:] == (1, 16, 16)
    assert (first.train.inputs == second.train.inputs).all() and (first.test.targets == second.test.targets).all()


def test_an_empty_class_folder_is_refused_by_validate(images) -> None:
    """An empty class folder: exit 4 naming it, at validate already."""
    (images / "empty").mkdir()
    code, _, err = cli("validate", str(shipped("image_folder.toml")))
    assert code == ExitCode.DATA and err == f"error: {Path.cwd()}/data/images/empty: an empty class folder (no .png, .jpg, .jpeg files)\n"


def test_a_file_that_is_no_image_is_refused_by_validate(images) -> None:
    """A file with an image's name but not its bytes: exit 4 naming it, before anything is written."""
    (images / "3" / "notes.png").write_text("not an image")
    code, _, err = cli("run", str(shipped("image_folder.toml")))
    assert code == ExitCode.DATA and err == (
        f"error: {Path.cwd()}/data/images/3/notes.png: not a PNG or JPEG image (it begins with neither signature; its bytes are not shown)\n"
    )
    assert not Path("runs").exists()


def test_a_corrupt_image_is_named_when_loaded_and_nothing_is_written(images) -> None:
    """A PNG cut short (its signature intact): exit 4 naming the file when the data loads, no run directory."""
    victim = next((images / "5").iterdir())
    victim.write_bytes(victim.read_bytes()[:30])
    code, out, err = cli("run", str(shipped("image_folder.toml")))
    assert code == ExitCode.DATA and out == ""
    assert err == f"error: {victim}: cannot be decoded: cannot identify image file '{victim}'\n"
    assert not Path("runs").exists()
