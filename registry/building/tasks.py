"""The kind of problem a run solves, from the dataset's targets, the loss's contract and the spec's encoding.

==============  ==========================================  =====================================
task            targets                                     losses (their ``targets`` contract)
==============  ==========================================  =====================================
multiclass      one class index per sample (or one-hot)     class_index (cross_entropy, nll);
                                                            same_as_output with one-hot targets (mse)
binary          one 0/1 value per sample, one output        same_as_output (bce, bce_with_logits)
multilabel      a 0/1 vector per sample (multi-hot)         same_as_output
regression      real values, one or more per sample         same_as_output (mse, smooth_l1, huber)
==============  ==========================================  =====================================

The core reads these words from what the dataset declares and what the loss
declares, never from names, so a plugin's dataset or loss fits in the same way.
A combination that cannot train is a located error at validate time, naming the
targets and what would fit. The targets are encoded once, when the data is loaded
(class indices to one-hot or to a 0/1 column), so every batch is already right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

if TYPE_CHECKING:
    from registry.building.data import Dataset

__all__ = ["Encoding", "Task", "TaskKind", "TaskMismatch", "resolve_task"]

TaskKind = Literal["multiclass", "binary", "multilabel", "regression"]
Encoding = Literal["auto", "index", "one_hot"]


@dataclass(frozen=True)
class Task:
    """The problem a run solves.

    Attributes:
        kind: multiclass, binary, multilabel or regression.
        labels: the class (or label) names; empty for regression.
        target_shape: the shape of one (encoded) target, as the loss sees it.
        encoding: how the dataset's class indices are turned into targets: ``index`` (kept), ``one_hot``
            or ``binary`` (a float 0/1 column); ``none`` for targets that are not class indices.
        outputs: the number of values the model gives per sample.
    """

    kind: TaskKind
    labels: tuple[str, ...]
    target_shape: tuple[int, ...]
    encoding: Literal["index", "one_hot", "binary", "none"]
    outputs: int

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    def encode(self, targets: Tensor) -> Tensor:
        """The dataset's targets as the loss takes them (done once per split, when the data is loaded)."""
        if self.encoding == "one_hot":
            return torch.nn.functional.one_hot(targets.long(), self.num_classes).to(torch.get_default_dtype())
        if self.encoding == "binary":
            return targets.to(torch.get_default_dtype()).reshape(-1, 1)
        if self.kind in ("multilabel", "regression"):  # one float vector per sample, as the output is
            return targets.to(torch.get_default_dtype()).reshape(len(targets), *self.target_shape)
        return targets

    def probabilities(self, output: Tensor, produces: str) -> Tensor:
        """The model's output as probabilities (classification), read through what the model produces."""
        if self.kind == "multiclass":
            if produces == "log_probabilities":
                return output.exp()
            return output if produces == "probabilities" else output.softmax(1)
        return output if produces in ("unit_interval", "probabilities") else output.sigmoid()

    def metric_inputs(self, output: Tensor, target: Tensor, produces: str) -> tuple[Tensor, Tensor]:
        """(predictions, targets) in the form torchmetrics takes for this task."""
        if self.kind == "regression":
            return (output.squeeze(-1), target.squeeze(-1)) if self.outputs == 1 else (output, target)
        probs = self.probabilities(output, produces)
        if self.kind == "multiclass":
            return probs, target.argmax(1) if self.encoding == "one_hot" else target
        if self.kind == "binary":
            return probs.reshape(-1), target.reshape(-1).long()
        return probs, target.long()

    def describe(self) -> str:
        """The task in words, for ``validate`` and messages."""
        if self.kind == "regression":
            return f"regression, {self.outputs} value{'s' if self.outputs != 1 else ''} per sample"
        what = {"multiclass": "classes", "binary": "classes", "multilabel": "labels"}[self.kind]
        enc = {"one_hot": ", one-hot targets", "binary": ", one 0/1 output"}.get(self.encoding, "")
        return f"{self.kind}, {self.num_classes} {what}{enc}"


class TaskMismatch(ValueError):
    """The dataset's targets, the loss and the model do not make a task (the message says what would fit).

    Attributes:
        at_model: the model's output is what does not fit (else the loss).
    """

    def __init__(self, message: str, at_model: bool = False) -> None:
        self.at_model = at_model
        super().__init__(message)


def _targets_words(dataset: Dataset) -> str:
    kind = dataset.target_kind
    if kind == "classes":
        return f"one class label per sample ({dataset.num_classes} classes)"
    if kind == "multilabel":
        return f"a 0/1 vector of {dataset.num_classes} labels per sample"
    shape = dataset.targets[0]
    n = 1 if not shape else shape[0]
    return f"{n} real value{'s' if n != 1 else ''} per sample (regression)"


def resolve_task(
    dataset: Dataset, loss_name: str, loss_targets: str | None, encoding: Encoding, output_shape: tuple[int, ...]
) -> Task:
    """The task of a run whose dataset is *dataset*, whose loss takes targets of kind *loss_targets*
    (``class_index``, ``same_as_output`` or undeclared) and whose model gives *output_shape* per sample.

    Raises:
        TaskMismatch: they do not fit; the message names the targets and what would fit.
    """
    kind = dataset.target_kind
    words = _targets_words(dataset)
    width = output_shape[0] if len(output_shape) == 1 else 0
    labels = dataset.classes
    if kind == "classes":
        if encoding == "one_hot":
            if loss_targets == "class_index":
                raise TaskMismatch(
                    f"{loss_name} takes class indices, not one-hot targets; drop [data] target_encoding = 'one_hot'"
                )
            return Task("multiclass", labels, (len(labels),), "one_hot", width)
        if loss_targets == "same_as_output":
            if len(labels) == 2 and output_shape == (1,) and encoding == "auto":
                return Task("binary", labels, (1,), "binary", 1)
            fits = [f"[data] target_encoding = 'one_hot' with {len(labels)} outputs"]
            if len(labels) == 2:
                fits.append("one output (a 0/1 target per sample)")
            raise TaskMismatch(
                f"{loss_name} needs targets shaped like the model's output {output_shape}, but the dataset gives "
                f"{words}; for it to fit: {' or '.join(fits)}; or use a loss that takes class indices"
            )
        extra = tuple(f"(output {i}, no class)" for i in range(len(labels), width))  # outputs no target can name
        return Task("multiclass", (*labels, *extra), (), "index", width)
    if loss_targets == "class_index":
        fit = (
            "one shaped like its targets (mse, smooth_l1, huber)" if kind == "values" else "one that takes 0/1 targets"
        )
        raise TaskMismatch(f"{loss_name} takes class indices, but the dataset gives {words}; use {fit}")
    if encoding == "one_hot":
        raise TaskMismatch(
            f"[data] target_encoding = 'one_hot' turns class labels into vectors, but the dataset gives {words}"
        )
    target_shape = dataset.targets[0] or (1,)  # one value per sample is a column of one
    task_kind: TaskKind = "multilabel" if kind == "multilabel" else "regression"
    if output_shape != target_shape:
        raise TaskMismatch(
            f"the model outputs shape {output_shape} per sample, but {loss_name} compares it with the dataset's "
            f"targets of shape {target_shape} ({words}); the model needs to output {target_shape} per sample",
            at_model=True,
        )
    return Task(task_kind, labels, target_shape, "none", width or 1)
