"""Export: ONNX (checked by the real onnxruntime) and torch.export programs, with the spec's transforms inside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

import registry
from registry.inference import export

from .conftest import NESTED, QUICK
from .test_cli import cli

IRIS = """\
[data]
dataset = "iris"
batch_size = 16
[model]
layers = [{ type = "linear", out_features = 8 }, { type = "relu" }, { type = "linear", out_features = 3 }]
[loss]
type = "cross_entropy"
[optimizer]
type = "adam"
lr = 0.01
[train]
epochs = 1
device = "cpu"
"""


def _train(tmp_path: Path, text: str, name: str) -> Path:
    spec = tmp_path / f"{name}.toml"
    spec.write_text(text)
    code, out, err = cli("run", "--quiet", "--out", str(tmp_path / name), str(spec))
    assert code == 0, err
    return tmp_path / name


def _export(run: Path, fmt: str = "onnx") -> dict:
    code, out, err = cli("export", str(run), "--format", fmt)
    assert code == 0, err
    meta = json.loads((run / f"model.{fmt}.json").read_text())
    assert out == (
        f"wrote {run / f'model.{fmt}'} and model.{fmt}.json: verified on {meta['verified']['samples']} test samples, "
        f"outputs within {meta['verified']['max_abs_diff']:.2g} of torch's\n"
    )
    return meta


def test_the_mlp_exports_as_onnx_and_pt2_with_its_transforms(tmp_path: Path) -> None:
    run = _train(tmp_path, QUICK, "mlp")
    meta = _export(run, "onnx")
    assert meta["verified"]["samples"] == 256 and meta["verified"]["max_abs_diff"] < 1e-4
    assert {
        k: meta[k] for k in ("format", "input", "output", "transforms_in_graph", "task", "fitted", "checkpoint")
    } == {
        "format": "onnx",
        "input": {"shape": ["batch", 8, 8], "dtype": "float32"},
        "output": {"shape": ["batch", 10], "produces": "log_probabilities"},
        "transforms_in_graph": ["to_tensor", "normalize"],
        "task": {"kind": "multiclass", "labels": [str(i) for i in range(10)]},
        "fitted": {},
        "checkpoint": "ckpt-e0001-end",
    }
    pt2 = _export(run, "pt2")
    assert pt2["verified"]["max_abs_diff"] < 1e-5
    program = torch.export.load(run / "model.pt2").module()
    opened = registry.open_run(run)
    x = torch.rand(7, 8, 8)  # another batch size than the export's example: the batch dimension is dynamic
    with torch.no_grad():
        want = opened.model(torch.stack([(s - 0.3) / 0.38 for s in x]))
    assert torch.allclose(program(x), want, atol=1e-5)


def test_onnx_predictions_equal_torch_predictions(tmp_path: Path) -> None:
    run = _train(tmp_path, QUICK, "mlp")
    _export(run)
    inputs = tmp_path / "x.npy"
    np.save(inputs, (np.random.default_rng(0).integers(0, 16, size=(20, 8, 8)) / 16).astype(np.float32))
    code, torch_out, err = cli("predict", str(run), str(inputs))
    assert code == 0, err
    code, onnx_out, err = cli("predict", str(run), str(inputs), "--onnx")
    assert code == 0, err
    a, b = ([json.loads(x) for x in out.splitlines()] for out in (torch_out, onnx_out))
    assert [r["class"] for r in a] == [r["class"] for r in b] and len(a) == 20
    assert max(abs(r["probability"] - s["probability"]) for r, s in zip(a, b)) <= 2e-6


def test_a_nested_model_exports(tmp_path: Path) -> None:
    """Named blocks, a residual, repeat and parallel branches: one graph, verified by onnxruntime."""
    meta = _export(_train(tmp_path, NESTED, "nested"))
    assert meta["verified"]["max_abs_diff"] < 1e-4 and meta["transforms_in_graph"] == ["to_tensor"]


def test_a_cnn_on_image_files_exports_and_predicts_through_onnx(tmp_path: Path, monkeypatch) -> None:
    """The image-folder CNN takes uint8 images: to_tensor and normalize are in the graph."""
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("init", "--example", "image_folder", "--output", "cnn.toml")
    assert code == 0, err
    (tmp_path / "cnn.toml").write_text((tmp_path / "cnn.toml").read_text().replace("epochs = 20", "epochs = 2"))
    code, out, err = cli("run", "--quiet", "--out", "cnn", "cnn.toml")
    assert code == 0, err
    meta = _export(Path("cnn"))
    assert meta["input"] == {"shape": ["batch", 1, 16, 16], "dtype": "uint8"}
    assert meta["verified"]["max_abs_diff"] < 1e-4
    folder = next(p for p in (tmp_path / "data" / "images").iterdir() if p.is_dir())
    code, torch_out, err = cli("predict", "cnn", str(folder))
    assert code == 0, err
    code, onnx_out, err = cli("predict", "cnn", str(folder), "--onnx", "cnn/model.onnx")
    assert code == 0, err
    a, b = ([json.loads(x) for x in out.splitlines()] for out in (torch_out, onnx_out))
    assert [(r["input"], r["class"]) for r in a] == [(r["input"], r["class"]) for r in b] and len(a) >= 20


def test_an_export_that_differs_beyond_the_tolerance_fails_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    """With no tolerance at all, onnxruntime's float32 arithmetic differs from torch's: the command says by how much,
    and a previous export stays as it was."""
    run = _train(tmp_path, QUICK, "mlp")
    _export(run, "pt2")
    before = {p.name: p.read_bytes() for p in run.glob("model.*")}
    monkeypatch.setattr(export, "ATOL", 0.0)
    monkeypatch.setattr(export, "RTOL", 0.0)
    code, out, err = cli("export", str(run))
    assert (code, out) == (7, "")
    assert err.startswith("using checkpoint best: ckpt-e0001-end (epoch 1)\n"
                          "error: the onnx export does not compute what the model does: outputs differ by up to ")
    assert err.endswith(" (allowed: 0 + 0 x |output|); nothing was written\n")
    assert not (run / "model.onnx").exists() and not (run / "model.onnx.json").exists()
    assert {p.name: p.read_bytes() for p in run.glob("model.*")} == before
    (run / "model.onnx").write_bytes(b"old")  # a previous export: kept when a new one fails
    code, out, err = cli("export", str(run))
    assert code == 7 and (run / "model.onnx").read_bytes() == b"old"
    assert sorted(p.name for p in run.iterdir() if ".tmp-" in p.name) == []


def test_predict_onnx_refuses_a_missing_or_foreign_export_and_inputs_it_cannot_take(tmp_path: Path) -> None:
    run = _train(tmp_path, QUICK, "mlp")
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8), dtype=np.float32))
    code, out, err = cli("predict", str(run), str(tmp_path / "x.npy"), "--onnx")
    assert (code, out) == (7, "")
    assert err == f"error: {run / 'model.onnx'}.json: missing; cannot tell what model.onnx was exported from: export it again\n"
    other = _train(tmp_path, IRIS, "iris")  # four features per sample: not the digits' 8x8
    _export(other)
    code, out, err = cli("predict", str(run), str(tmp_path / "x.npy"), "--onnx", str(other / "model.onnx"))
    assert (code, err) == (7, f"error: {other / 'model.onnx'} was exported from another run ({other}), not {run}\n")
    forged = json.loads((other / "model.onnx.json").read_text())  # names the run by its path and its id
    forged |= {"run": str(run), "run_id": json.loads((run / "run.json").read_text())["run_id"]}
    (other / "model.onnx.json").write_text(json.dumps(forged))
    code, out, err = cli("predict", str(run), str(tmp_path / "x.npy"), "--onnx", str(other / "model.onnx"))
    assert code == 7 and f"error: {other / 'model.onnx'}: onnxruntime cannot run it on these inputs: " in err


def test_a_test_split_of_one_sample_still_exports_a_dynamic_batch(tmp_path: Path, monkeypatch) -> None:
    run = _train(tmp_path, QUICK, "mlp")
    monkeypatch.setattr(export, "VERIFY_SAMPLES", 1)
    for fmt in ("pt2", "onnx"):
        assert _export(run, fmt)["verified"]["samples"] == 1


def test_every_command_and_the_api_use_one_checkpoint_and_say_which(tmp_path: Path) -> None:
    """evaluate, predict, export and open_run default to the best checkpoint, each saying so; predict and
    predict --onnx give the same classes; --checkpoint latest or a folder name picks another."""
    spec = tmp_path / "s.toml"
    spec.write_text(IRIS.replace("epochs = 1", "epochs = 3\nkeep_checkpoints = 3"))
    code, _, err = cli("run", "--quiet", "--out", str(tmp_path / "r"), str(spec))
    assert code == 0, err
    run = tmp_path / "r"
    (run / "checkpoints" / "best").write_text("ckpt-e0002-end\n")  # best and latest: two sets of weights
    best = (run / "checkpoints" / "best").read_text().strip()
    latest = (run / "checkpoints" / "latest").read_text().strip()
    assert (best, latest) == ("ckpt-e0002-end", "ckpt-e0003-end")
    said = "using checkpoint best: ckpt-e0002-end (epoch 2)\n"
    code, out, err = cli("evaluate", str(run))
    assert code == 0 and err == said
    from sklearn.datasets import load_iris

    np.save(tmp_path / "x.npy", load_iris().data.astype("float32"))
    code, torch_out, err = cli("predict", str(run), str(tmp_path / "x.npy"))
    assert code == 0 and err == said
    code, out, err = cli("export", str(run))
    assert code == 0 and err == said and json.loads((run / "model.onnx.json").read_text())["checkpoint"] == best
    code, onnx_out, err = cli("predict", str(run), str(tmp_path / "x.npy"), "--onnx")
    assert code == 0 and err == f"predicting with {run / 'model.onnx'} (the weights of {best}), through onnxruntime\n" \
        f"using checkpoint {best} (epoch 2)\n"
    classes = [json.loads(line)["class"] for line in torch_out.splitlines()]
    assert classes == [json.loads(line)["class"] for line in onnx_out.splitlines()]
    code, out, err = cli("evaluate", str(run), "--checkpoint", "latest")
    assert code == 0 and err == "using checkpoint latest: ckpt-e0003-end (epoch 3)\n"
    code, out, err = cli("evaluate", str(run), "--checkpoint", "ckpt-e0001-end")
    assert code == 0 and err == "using checkpoint ckpt-e0001-end (epoch 1)\n"
    code, out, err = cli("evaluate", str(run), "--checkpoint", "ckpt-e0009-end")
    assert code == 5 and err == f"error: {run}: no checkpoint 'ckpt-e0009-end' in {run / 'checkpoints'}\n"
    assert registry.open_run(run).checkpoint.path.name == best
    from registry.cli.parser import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in ("evaluate", "predict", "export"):
        text = " ".join(commands[command].format_help().split())
        assert "--checkpoint best|latest|NAME" in text and "best (the default for evaluate, predict and export" in text
