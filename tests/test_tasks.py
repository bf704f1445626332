"""Tasks: what the dataset's targets, the loss's contract and the model's output make, and what does not fit."""

from __future__ import annotations

import io
import json

import pytest
import torch

from registry.building.data import Dataset
from registry.building.tasks import TaskMismatch, resolve_task
from registry.cli import main


def declared(kind: str, classes: tuple[str, ...] = (), target_shape=None) -> Dataset:
    return Dataset((4,), torch.float32, classes, lambda: None, target_shape=target_shape, target_kind=kind)  # type: ignore[arg-type]


TEN = tuple(str(i) for i in range(10))


@pytest.mark.parametrize(
    ("dataset", "loss", "targets", "encoding", "output", "kind", "encoded"),
    [
        (declared("classes", TEN), "cross_entropy", "class_index", "auto", (10,), "multiclass", "index"),
        (declared("classes", TEN), "mse", "same_as_output", "one_hot", (10,), "multiclass", "one_hot"),
        (declared("classes", ("no", "yes")), "bce", "same_as_output", "auto", (1,), "binary", "binary"),
        (declared("multilabel", ("a", "b", "c")), "bce_with_logits", "same_as_output", "auto", (3,), "multilabel", "none"),
        (declared("values", target_shape=(1,)), "mse", "same_as_output", "auto", (1,), "regression", "none"),
        (declared("values", target_shape=(3,)), "huber", "same_as_output", "auto", (3,), "regression", "none"),
    ],
)  # fmt: skip
def test_each_task_follows_from_targets_and_loss(dataset, loss, targets, encoding, output, kind, encoded) -> None:
    """Multiclass, binary, multilabel and regression, each from what the dataset and the loss declare."""
    task = resolve_task(dataset, loss, targets, encoding, output)
    assert (task.kind, task.encoding) == (kind, encoded)


def test_targets_are_encoded_as_the_loss_takes_them() -> None:
    """Class indices become one-hot vectors for mse, a 0/1 column for bce; values become a column each."""
    labels = torch.tensor([2, 0, 1])
    one_hot = resolve_task(declared("classes", ("a", "b", "c")), "mse", "same_as_output", "one_hot", (3,))
    assert torch.equal(one_hot.encode(labels), torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]))
    binary = resolve_task(declared("classes", ("no", "yes")), "bce", "same_as_output", "auto", (1,))
    assert torch.equal(binary.encode(torch.tensor([1, 0])), torch.tensor([[1.0], [0.0]]))
    values = resolve_task(declared("values", target_shape=(1,)), "mse", "same_as_output", "auto", (1,))
    assert values.encode(torch.tensor([1.5, 2.0], dtype=torch.float64)).shape == (2, 1)


@pytest.mark.parametrize(
    ("dataset", "loss", "targets", "encoding", "output", "message", "at_model"),
    [
        (declared("classes", TEN), "mse", "same_as_output", "auto", (10,),
         "mse needs targets shaped like the model's output (10,), but the dataset gives one class label per sample "
         "(10 classes); for it to fit: [data] target_encoding = 'one_hot' with 10 outputs; or use a loss that takes "
         "class indices", False),
        (declared("classes", ("no", "yes")), "bce", "same_as_output", "auto", (2,),
         "bce needs targets shaped like the model's output (2,), but the dataset gives one class label per sample "
         "(2 classes); for it to fit: [data] target_encoding = 'one_hot' with 2 outputs or one output (a 0/1 target "
         "per sample); or use a loss that takes class indices", False),
        (declared("values", target_shape=(1,)), "cross_entropy", "class_index", "auto", (1,),
         "cross_entropy takes class indices, but the dataset gives 1 real value per sample (regression); use one shaped "
         "like its targets (mse, smooth_l1, huber)", False),
        (declared("values", target_shape=(3,)), "mse", "same_as_output", "auto", (1,),
         "the model outputs shape (1,) per sample, but mse compares it with the dataset's targets of shape (3,) (3 "
         "real values per sample (regression)); the model needs to output (3,) per sample", True),
        (declared("classes", TEN), "nll", "class_index", "one_hot", (10,),
         "nll takes class indices, not one-hot targets; drop [data] target_encoding = 'one_hot'", False),
    ],
    ids=["mse_on_labels", "bce_two_outputs", "labels_loss_on_values", "too_few_outputs", "one_hot_for_indices"],
)  # fmt: skip
def test_a_mismatch_names_the_targets_and_what_would_fit(dataset, loss, targets, encoding, output, message, at_model) -> None:
    with pytest.raises(TaskMismatch) as e:
        resolve_task(dataset, loss, targets, encoding, output)
    assert (str(e.value), e.value.at_model) == (message, at_model)


# End to end through the CLI: multiclass (the quickstart), binary (breast_cancer) and regression (diabetes) run in
# test_metrics.py; here the multilabel task, multi-output regression, and the bundled tables' stratified splits.


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def _last_row(run) -> dict:
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])


MULTILABEL = """\
seed = 0
[data]
dataset = "table"
path = "labels.csv"
targets = ["rich", "parisian", "senior"]
features = ["age", "income", "city", "score"]
categorical = ["city"]
batch_size = 32
[model]
layers = [{ type = "linear", out_features = 32 }, { type = "relu" }, { type = "linear", out_features = 3 }]
[loss]
type = "bce_with_logits"
[optimizer]
type = "adam"
lr = 0.01
[train]
epochs = 15
"""


def test_multilabel_trains_with_its_default_f1(tmp_path) -> None:
    """Three 0/1 columns are three labels: bce_with_logits learns them; macro F1 (the default) equals sklearn's."""
    import pandas as pd
    from registry_specs.example_data import write_table
    from sklearn.metrics import f1_score

    frame = pd.read_csv(write_table(tmp_path))
    frame["rich"] = (frame["income"] > 55).astype(int)
    frame["parisian"] = (frame["city"] == "paris").astype(int)
    frame["senior"] = (frame["age"] > 60).astype(int)
    frame.drop(columns=["approved", "amount"]).to_csv(tmp_path / "labels.csv", index=False)
    (tmp_path / "spec.toml").write_text(MULTILABEL)
    code, out, err = cli("validate", "spec.toml")
    assert code == 0 and "Task: multilabel, 3 labels; metrics: f1; best checkpoint by accuracy" in out, err
    code, out, err = cli("run", "spec.toml", "--out", "run")
    assert code == 0, err
    row = _last_row(tmp_path / "run")
    from registry.training.launch import trained
    from registry.training.splits import load_data

    built, _ = trained("run", "latest", io.StringIO())
    test = load_data(built).test
    with torch.no_grad():
        predicted = (built.model.eval()(test.inputs) > 0).int().numpy()
    truth = test.targets.int().numpy()
    assert row["metrics"]["f1"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-5)
    assert row["metrics"]["f1"] > 0.9
    assert row["test_correct"] == int((predicted == truth).all(axis=1).sum())  # accuracy: every label right


LINNERUD = """\
seed = 0
[data]
dataset = "linnerud"
batch_size = 4
[model]
layers = [{ type = "linear", out_features = 3 }]
[loss]
type = "mse"
[optimizer]
type = "sgd"
lr = 0.01
[train]
epochs = 3
"""


def test_multi_output_regression_gives_one_value_per_target(tmp_path) -> None:
    """linnerud: 3 exercises -> 3 body measurements; the test line prints the loss, MAE and R^2 (averaged)."""
    (tmp_path / "spec.toml").write_text(LINNERUD)
    code, out, err = cli("run", "spec.toml", "--out", "run")
    assert code == 0, err
    line = [ln for ln in out.splitlines() if ln.startswith("Test set")][-1]
    row = _last_row(tmp_path / "run")
    assert line == (
        f"Test set: Average loss: {row['test_loss']:.4f}, mae: {row['metrics']['mae']:.4f}, r2: {row['metrics']['r2']:.4f}"
    )
    assert row["test_total"] == 5 and row["test_accuracy"] is None  # 20 samples, a quarter held out


@pytest.mark.parametrize(("name", "counts"), [("iris", [50, 50, 50]), ("wine", [59, 71, 48]), ("breast_cancer", [212, 357])])
def test_bundled_classification_splits_are_stratified(catalog, name, counts) -> None:
    """Each class is held out in the same share (within one sample), the split seeded and its fraction a setting."""
    factory = catalog.get("dataset", name).factory
    splits = factory(test_fraction=0.3, split_seed=1).load()
    again = factory(test_fraction=0.3, split_seed=1).load()
    assert torch.equal(splits.test.targets, again.test.targets) and torch.equal(splits.test.inputs, again.test.inputs)
    train, test = torch.bincount(splits.train.targets), torch.bincount(splits.test.targets)
    assert (train + test).tolist() == counts
    assert all(abs(int(t) - 0.3 * int(n)) <= 1 for t, n in zip(test, train + test, strict=True))
