"""Test metrics, each one torchmetrics' own for the run's task.

The defaults (a spec without ``metrics``) add what the seed's accuracy line does not say: AUROC for a binary
task, macro F1 for a multilabel one (whose accuracy counts a sample right only when all its labels are), MAE
and R^2 for regression; a multiclass run has its accuracy alone, and imports no torchmetrics.

torchmetrics is imported inside the factories: it costs about 2 s (it imports scipy.signal and its audio
and image metrics), which ``list``, ``validate`` of a spec without metrics, and every command that does not
compute metrics do not pay.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from registry import ParamError, Task, TaskInfo, aliases, metric

TaskArg = Annotated[Task, TaskInfo()]
Average = Annotated[
    Literal["macro", "micro"],
    Field(description="'macro': the mean of each class's value; 'micro': over all samples (classes by their size)"),
]
CLASSIFICATION = ("multiclass", "binary", "multilabel")


def _classification(name: str, task: Task, **kwargs: Any) -> Any:
    """torchmetrics' Binary/Multiclass/Multilabel<name> for *task*."""
    import torchmetrics.classification as tmc

    if task.kind == "binary":
        kwargs.pop("average", None)
        return getattr(tmc, f"Binary{name}")(**kwargs)
    if task.kind == "multilabel":
        return getattr(tmc, f"Multilabel{name}")(num_labels=task.num_classes, **kwargs)
    return getattr(tmc, f"Multiclass{name}")(num_classes=task.num_classes, **kwargs)


@metric(tasks=CLASSIFICATION, higher_is_better=True)
def accuracy(task: TaskArg) -> Any:
    """The share of samples whose predicted class (or 0/1 label) is right."""
    return _classification("Accuracy", task, average="micro")


@metric(tasks=("multiclass",), higher_is_better=True)
def top_k_accuracy(task: TaskArg, k: Annotated[int, Field(ge=1, description="how many top classes count")] = 5) -> Any:
    """The share of samples whose true class is among the k highest-scored."""
    if k > task.num_classes:
        raise ParamError("k", f"k = {k}, but there are only {task.num_classes} classes")
    return _classification("Accuracy", task, average="micro", top_k=k)


@metric(tasks=CLASSIFICATION, higher_is_better=True)
def precision(task: TaskArg, average: Average = "macro") -> Any:
    """Of the samples predicted as a class, the share that belong to it."""
    return _classification("Precision", task, average=average)


@metric(tasks=CLASSIFICATION, higher_is_better=True)
def recall(task: TaskArg, average: Average = "macro") -> Any:
    """Of the samples of a class, the share predicted as it."""
    return _classification("Recall", task, average=average)


@metric(tasks=CLASSIFICATION, higher_is_better=True, default_for=("multilabel",))
def f1(task: TaskArg, average: Average = "macro") -> Any:
    """The harmonic mean of precision and recall."""
    return _classification("F1Score", task, average=average)


@aliases("AUROC")
@metric(tasks=CLASSIFICATION, higher_is_better=True, default_for=("binary",))
def auroc(task: TaskArg) -> Any:
    """Area under the ROC curve of the predicted probabilities (one class against the rest, averaged)."""
    return _classification("AUROC", task, average="macro")


@aliases("MSE")
@metric(tasks=("regression",), higher_is_better=False)
def mse(task: TaskArg) -> Any:
    """Mean squared error of the outputs."""
    from torchmetrics.regression import MeanSquaredError

    return MeanSquaredError()


@aliases("MAE")
@metric(tasks=("regression",), higher_is_better=False, default_for=("regression",))
def mae(task: TaskArg) -> Any:
    """Mean absolute error of the outputs."""
    from torchmetrics.regression import MeanAbsoluteError

    return MeanAbsoluteError()


@aliases("R2")
@metric(tasks=("regression",), higher_is_better=True, default_for=("regression",))
def r2(task: TaskArg) -> Any:
    """Coefficient of determination R^2 (1 is perfect; each output's, averaged)."""
    from torchmetrics.regression import R2Score

    return R2Score(multioutput="uniform_average")


METRICS = {f.__name__: f for f in (accuracy, top_k_accuracy, precision, recall, f1, auroc, mse, mae, r2)}
