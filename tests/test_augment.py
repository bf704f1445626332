"""Random augmentations: batched on tensors, per sample, training batches only, seeded."""

from __future__ import annotations

import io
import json

import torch

from registry.cli import main

from .conftest import QUICK


def make(catalog, name, **params):
    c = catalog.get("transform", name)
    return c.factory(**c.schema.model.model_validate(params).model_dump())


def test_random_crop_shifts_each_sample_by_its_own_offset(catalog) -> None:
    """Every output keeps the shape and equals its input shifted by an offset within the padding."""
    torch.manual_seed(0)
    x = torch.arange(2 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6) + 1
    crop = make(catalog, "random_crop", padding=2)
    out = crop(x.repeat(50, 1, 1, 1))
    assert out.shape == (100, 1, 6, 6)
    shifts = set()
    for i, img in enumerate(out):
        src = x[i % 2, 0]
        padded = torch.nn.functional.pad(src, (2, 2, 2, 2))
        match = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(padded[dy : dy + 6, dx : dx + 6], img[0])]
        assert len(match) == 1
        shifts.add(match[0])
    assert len(shifts) > 10  # offsets are drawn per sample


def test_random_flip_probability(catalog) -> None:
    """p = 1 mirrors every image, p = 0 none, p = 0.5 roughly half, per sample."""
    x = torch.rand(400, 1, 4, 4)
    assert torch.equal(make(catalog, "random_horizontal_flip", p=1.0)(x), x.flip(-1))
    assert torch.equal(make(catalog, "random_horizontal_flip", p=0.0)(x), x)
    torch.manual_seed(0)
    flipped = (make(catalog, "random_horizontal_flip", p=0.5)(x) == x.flip(-1)).flatten(1).all(1).sum()
    assert 150 < int(flipped) < 250


def run(tmp_path, text: str, out_dir: str) -> tuple[int, str, str]:
    spec = tmp_path / f"{out_dir}.toml"
    spec.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    return main(["run", str(spec), "--out", str(tmp_path / out_dir)], out=out, err=err), out.getvalue(), err.getvalue()


AUG = QUICK.replace(
    "transforms = [", 'augment = [{ type = "random_crop", padding = 1 }, { type = "random_horizontal_flip" }]\ntransforms = ['
)


def test_augmented_spec_trains_and_is_seeded(tmp_path) -> None:
    """A spec with data.augment trains; the same seed gives the same weights; the test split is not augmented."""
    from registry.rundirs.checkpoints import load_checkpoint

    code, _, err = run(tmp_path, AUG, "a")
    assert code == 0, err
    assert run(tmp_path, AUG, "b")[0] == 0
    a, b = load_checkpoint(tmp_path / "a").model, load_checkpoint(tmp_path / "b").model
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = load_checkpoint(tmp_path / "a")
    assert run(tmp_path, QUICK, "c")[0] == 0
    assert not all(torch.equal(plain.model[k], load_checkpoint(tmp_path / "c").model[k]) for k in a)
    first, second = io.StringIO(), io.StringIO()
    assert main(["evaluate", str(tmp_path / "a")], out=first, err=io.StringIO()) == 0
    assert main(["evaluate", str(tmp_path / "a")], out=second, err=io.StringIO()) == 0
    assert first.getvalue() == second.getvalue()  # evaluation draws no randomness: the test split is not augmented
    row = [line for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()][-1]
    assert f"Accuracy: {json.loads(row)['test_correct']}/359" in first.getvalue()


def test_an_augmentation_may_not_change_the_shape(tmp_path) -> None:
    """center_crop in data.augment: refused, since the test split would not match."""
    text = QUICK.replace("transforms = [", 'augment = [{ type = "center_crop", size = 4 }]\ntransforms = [')
    code, _, err = run(tmp_path, text, "x")
    assert code == 2
    assert "data.augment[0]: center_crop changes the sample shape (1, 8, 8) -> (1, 4, 4); an augmentation must keep it" in err
