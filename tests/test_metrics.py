"""Test metrics: each one equals scikit-learn's value on the same predictions; names, defaults, the best checkpoint."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from registry.cli import main
from registry.training.launch import trained

from .conftest import SPECS


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def _run(tmp_path: Path, spec: str, *sets: str) -> Path:
    run = tmp_path / spec
    code, _, err = cli("run", str(SPECS / f"{spec}.toml"), "--out", str(run), *[a for s in sets for a in ("--set", s)])
    assert code == 0, err
    return run


def _predictions(run: Path) -> tuple[torch.Tensor, torch.Tensor, object]:
    """The final model's outputs on the test split, the (encoded) targets, and the built run."""
    from registry.training.splits import batch_transforms, load_data

    built, _ = trained(str(run), "latest", io.StringIO())
    test = load_data(built).test
    x = test.inputs
    for t in batch_transforms(built, test):
        x = t(x)
    built.model.eval()
    with torch.no_grad():
        return built.model(x), test.targets, built


def _last_row(run: Path) -> dict:
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])


def test_binary_metrics_equal_scikit_learns(tmp_path) -> None:
    """breast_cancer with bce: accuracy and AUROC in metrics.jsonl equal sklearn's on the same probabilities."""
    run = _run(tmp_path, "breast_cancer_bce")
    probs, targets, _ = _predictions(run)
    p, y = probs.reshape(-1).numpy(), targets.reshape(-1).numpy().astype(int)
    row = _last_row(run)
    assert row["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y, p > 0.5), abs=1e-6)
    assert row["metrics"]["auroc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-5)
    assert row["test_accuracy"] == pytest.approx(row["metrics"]["accuracy"], abs=1e-6)  # the seed's count agrees
    assert row["metrics"]["auroc"] > 0.98 and row["test_accuracy"] > 0.95


def test_regression_metrics_equal_scikit_learns(tmp_path) -> None:
    """diabetes with mse: MAE and R^2 (the task's defaults) equal sklearn's on the same outputs."""
    run = _run(tmp_path, "diabetes_mse")
    out, targets, _ = _predictions(run)
    row = _last_row(run)
    assert set(row["metrics"]) == {"mae", "r2"} and row["test_accuracy"] is None
    assert row["metrics"]["mae"] == pytest.approx(skm.mean_absolute_error(targets.numpy(), out.numpy()), rel=1e-5)
    assert row["metrics"]["r2"] == pytest.approx(skm.r2_score(targets.numpy(), out.numpy()), abs=1e-5)


def test_listed_multiclass_metrics_equal_scikit_learns(tmp_path) -> None:
    """f1 (macro and micro), precision, recall, top-3 accuracy and AUROC on the digits, each as sklearn computes it."""
    listed = ('[{ type = "f1", average = "macro" }, { type = "f1", average = "micro" }, { type = "precision" }, '
              '{ type = "recall" }, { type = "top_k_accuracy", k = 3 }, { type = "auroc" }]')  # fmt: skip
    run = _run(tmp_path, "quickstart", f"metrics={listed}", "train.epochs=2")
    logp, y, _ = _predictions(run)
    probs, pred, y = logp.exp().numpy(), logp.argmax(1).numpy(), y.numpy()
    row = _last_row(run)
    m = row["metrics"]
    assert row["test_accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)  # the seed's, the default
    assert list(m) == ["f1_macro", "f1_micro", "precision", "recall", "top_k_accuracy_3", "auroc"]
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-5)
    assert m["f1_micro"] == pytest.approx(skm.f1_score(y, pred, average="micro"), abs=1e-5)
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"), abs=1e-5)
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=1e-5)
    assert m["top_k_accuracy_3"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=3, labels=range(10)), abs=1e-5)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=1e-4)
    csv_head = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert csv_head[-6:] == ["auroc", "f1_macro", "f1_micro", "precision", "recall", "top_k_accuracy_3"]


def test_the_best_checkpoint_follows_the_metrics_direction(tmp_path) -> None:
    """monitor = "mae" (lower is better): best points at the epoch with the lowest MAE; run.json says so."""
    run = _run(tmp_path, "diabetes_mse", "train.monitor=mae", "train.keep_checkpoints=100")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    best_epoch = min(rows, key=lambda r: r["metrics"]["mae"])["epoch"]
    assert (run / "checkpoints" / "best").read_text().strip() == f"ckpt-e{best_epoch:04d}-end"
    info = json.loads((run / "run.json").read_text())
    assert (info["best_metric"], info["higher_is_better"]) == ("mae", False)
    code, out, _ = cli("runs", str(tmp_path))
    assert code == 0 and f"mae {min(r['metrics']['mae'] for r in rows):.4g}" in out


def test_regression_prints_its_metrics_in_the_seed_style(tmp_path) -> None:
    """A regression run's test line: the average loss, then each metric, in the notebook's format."""
    code, out, _ = cli("run", str(SPECS / "diabetes_mse.toml"), "--out", str(tmp_path / "r"), "--set", "train.epochs=1")
    line = next(ln for ln in out.splitlines() if ln.startswith("Test set"))
    assert code == 0
    assert line.startswith("Test set: Average loss: ") and ", mae: " in line and ", r2: " in line
    assert "Accuracy" not in line


def test_classification_keeps_the_seed_line_and_adds_a_metrics_line(tmp_path) -> None:
    """With metrics listed, the notebook's test line is untouched; the metrics follow on their own line and in Done."""
    run = tmp_path / "r"
    code, out, _ = cli("run", str(SPECS / "breast_cancer_bce.toml"), "--out", str(run), "--set", "train.epochs=2")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    lines = out.splitlines()
    tests = [i for i, ln in enumerate(lines) if ln.startswith("Test set")]
    assert code == 0 and len(tests) == 2
    for i, row in zip(tests, rows):
        c, n = row["test_correct"], row["test_total"]
        assert lines[i] == f"Test set: Average loss: {row['test_loss']:.4f}, Accuracy: {c}/{n} ({100.0 * c / n:.0f}%)"
        m = row["metrics"]
        assert lines[i + 1] == f"Test metrics: accuracy: {m['accuracy']:.4f}, auroc: {m['auroc']:.4f}"
        assert lines[i + 2] == ""
    done = next(ln for ln in lines if ln.startswith("Done: "))
    assert done.endswith(
        f"accuracy {c}/{n} ({100 * c / n:.2f}%); accuracy {m['accuracy']:.4f}, auroc {m['auroc']:.4f}"
    )


def test_predict_speaks_each_task(tmp_path) -> None:
    """Binary: the class, its name and its probability; regression: the output; from raw (unscaled) features."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    bc, db = _run(tmp_path, "breast_cancer_bce_with_logits"), _run(tmp_path, "diabetes_mse", "train.epochs=5")
    cancer, diabetes = load_breast_cancer(), load_diabetes()
    np.save(tmp_path / "bc.npy", cancer.data[:40].astype(np.float32))
    np.save(tmp_path / "db.npy", diabetes.data[:3].astype(np.float32))
    rows = [json.loads(x) for x in cli("predict", str(bc), str(tmp_path / "bc.npy"))[1].splitlines()]
    assert all(set(r) == {"class", "label", "probability"} and r["probability"] >= 0.5 for r in rows)
    assert sum(r["class"] == t for r, t in zip(rows, cancer.target[:40])) >= 36  # the standardisation was applied
    rows = [json.loads(x) for x in cli("predict", str(db), str(tmp_path / "db.npy"))[1].splitlines()]
    assert [set(r) for r in rows] == [{"output"}] * 3 and all(50 < r["output"] < 300 for r in rows)


def test_a_metric_the_test_split_cannot_give_is_a_data_error(tmp_path: Path) -> None:
    """r2 of a one-sample test split: exit 4 with the metric's reason, and run.json says the run failed."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["run", "--quiet", "--out", str(tmp_path / "run"), str(SPECS / "diabetes_mse.toml"),
            "--set", "data.test_fraction=0.001", "--set", "train.epochs=1"]  # fmt: skip
    assert main(argv, out, err) == 4
    assert err.getvalue() == (
        "error: metric 'r2' cannot be computed on this test split: Needs at least two samples to calculate r2 score.\n"
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"
