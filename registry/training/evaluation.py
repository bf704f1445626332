"""The test pass: the mean loss, the correct count, the spec's metrics, and the confusion matrix; the test line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset as TorchDataset

from registry.building.builder import Built
from registry.building.data import Split, block_batches, iter_batches, split_len
from registry.building.metrics import MetricSet
from registry.building.precision import autocast
from registry.building.tasks import Task
from registry.training.distributed import Ranks, all_sum, shard
from registry.training.splits import batch_transforms

__all__ = ["EvalResult", "confusion", "evaluate", "format_test", "summed"]


@dataclass(frozen=True)
class EvalResult:
    """A test pass: the mean loss, for classification the correct count, and the run's metrics."""

    loss: float
    correct: int | None
    total: int
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return None if self.correct is None else self.correct / self.total


def summed(loss_fn: Any) -> bool:
    """Whether *loss_fn* sums over the batch (``reduction = "sum"``) instead of averaging."""
    return getattr(loss_fn, "reduction", "mean") == "sum"


def _correct(task: Task, produces: str, output: Tensor, target: Tensor) -> int:
    """How many predictions are right: the argmax class; for 0/1 targets, every label on the right side of 0.5."""
    if task.kind == "multiclass":
        labels = target.argmax(dim=1) if task.encoding == "one_hot" else target
        return int(output.argmax(dim=1).eq(labels).sum().item())
    predicted = task.probabilities(output, produces) > 0.5
    return int((predicted == (target > 0.5)).all(dim=1).sum().item())


def evaluate(
    built: Built, test: Split | TorchDataset[Any], ranks: Ranks | None = None, metrics: MetricSet | None = None
) -> EvalResult:
    """The mean loss over *test*, for classification how many predictions are right, and the *metrics*.

    Under torchrun each rank evaluates its share of every batch and the sums are added up.
    """
    model, loss_fn, task = built.model, built.loss, built.task
    precision = built.resolved.spec.train.precision
    model.eval()
    total = 0.0
    correct: int | None = 0 if task.is_classification else None
    share = (lambda idx: shard(idx, ranks)) if ranks else None
    size = built.resolved.spec.data.test_batch_size
    if metrics is not None:
        metrics.reset()
    with torch.no_grad():
        steps, block = batch_transforms(built, test), block_batches(size, built.data.sample_nbytes)
        for data, target, _ in iter_batches(test, size, None, steps, share=share, device=built.device, block=block):
            if not len(data):
                continue
            with autocast(precision, built.device):
                output = model(data)
            if precision != "float32":
                output = output.float()  # the loss and metrics in float32, as the training loss is reported
            loss = loss_fn(output, target).item()
            total += loss if summed(loss_fn) else loss * len(data)
            if correct is not None:
                correct += _correct(task, built.model_plan.produces, output, target)
            if metrics is not None:
                metrics.update(output, target)
    total, right = all_sum([total, -1.0 if correct is None else float(correct)], built.device, ranks)
    values = metrics.compute() if metrics is not None else {}
    return EvalResult(total / split_len(test), None if correct is None else round(right), split_len(test), values)


def format_test(result: EvalResult) -> str:
    """The notebook's test line (with its blank lines before and after), unchanged for classification, with
    the spec's metrics on a line of their own after it; for regression, the loss and the metrics on one line."""
    line = f"\nTest set: Average loss: {result.loss:.4f}"
    metrics = "".join(f", {name}: {value:.4f}" for name, value in result.metrics.items())
    if result.correct is not None:
        line += f", Accuracy: {result.correct}/{result.total} ({100.0 * result.correct / result.total:.0f}%)"
        if metrics:
            line += "\nTest metrics: " + metrics.removeprefix(", ")
    else:
        line += metrics
    return line + "\n"


def _classes(built: Built, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """The predicted and the true class index of each sample (multiclass, or binary at 0.5)."""
    task = built.task
    if task.kind == "binary":
        predicted = task.probabilities(output, built.model_plan.produces).reshape(-1) > 0.5
        return predicted.long(), target.reshape(-1).long()
    return output.argmax(dim=1), target.argmax(dim=1) if task.encoding == "one_hot" else target


def confusion(built: Built, test: Split) -> list[list[int]]:
    """counts[true class][predicted class] on the test split (argmax of the model's output)."""
    k = built.task.num_classes
    counts = torch.zeros(k * k, dtype=torch.long, device=built.device)
    built.model.eval()
    with torch.no_grad():
        for data, target, _ in iter_batches(
            test, built.resolved.spec.data.test_batch_size, None, batch_transforms(built, test)
        ):
            with autocast(built.resolved.spec.train.precision, built.device):  # as evaluate counts them
                output = built.model(data)
            predicted, labels = _classes(built, output.float(), target)
            counts += torch.bincount(labels * k + predicted, minlength=k * k)
    return counts.view(k, k).tolist()
