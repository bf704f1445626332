"""Loss functions: the seed notebook's seven, with their torch parameters."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from registry import aliases, contract

Reduction = Annotated[
    Literal["mean", "sum"], Field(description="how per-sample losses are combined into the scalar that is trained")
]
Weight = Annotated[list[float] | None, Field(description="a weight per class (rescales each class's loss)")]
IgnoreIndex = Annotated[int, Field(description="a target value that is ignored")]


def _tensor(values: list[float] | None) -> torch.Tensor | None:
    return None if values is None else torch.tensor(values, dtype=torch.float32)


@aliases("MSELoss")
@contract(targets="same_as_output")
def mse(reduction: Reduction = "mean") -> nn.Module:
    """Mean squared error, for regression."""
    return nn.MSELoss(reduction=reduction)


@aliases("BCELoss")
@contract(expects="unit_interval", targets="same_as_output")
def bce(weight: Weight = None, reduction: Reduction = "mean") -> nn.Module:
    """Binary cross-entropy on probabilities in [0, 1] (put a sigmoid before it)."""
    return nn.BCELoss(weight=_tensor(weight), reduction=reduction)


@aliases("BCEWithLogitsLoss")
@contract(expects="scores", targets="same_as_output")
def bce_with_logits(
    weight: Weight = None,
    pos_weight: Annotated[list[float] | None, Field(description="weight of positive examples, per class")] = None,
    reduction: Reduction = "mean",
) -> nn.Module:
    """Sigmoid and binary cross-entropy in one numerically stable step (takes raw scores)."""
    return nn.BCEWithLogitsLoss(weight=_tensor(weight), pos_weight=_tensor(pos_weight), reduction=reduction)


@aliases("CrossEntropyLoss")
@contract(expects="scores", targets="class_index")
def cross_entropy(
    weight: Weight = None,
    ignore_index: IgnoreIndex = -100,
    reduction: Reduction = "mean",
    label_smoothing: Annotated[float, Field(ge=0, le=1, description="mass spread over all classes")] = 0.0,
) -> nn.Module:
    """Log-softmax and negative log-likelihood in one step, for multi-class classification on raw scores."""
    return nn.CrossEntropyLoss(
        weight=_tensor(weight), ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )


@aliases("NLLLoss")
@contract(expects="log_probabilities", targets="class_index")
def nll(weight: Weight = None, ignore_index: IgnoreIndex = -100, reduction: Reduction = "mean") -> nn.Module:
    """Negative log-likelihood on log-probabilities (put a log_softmax before it)."""
    return nn.NLLLoss(weight=_tensor(weight), ignore_index=ignore_index, reduction=reduction)


@aliases("SmoothL1Loss")
@contract(targets="same_as_output")
def smooth_l1(
    reduction: Reduction = "mean",
    beta: Annotated[float, Field(ge=0, description="where the loss turns from quadratic to linear")] = 1.0,
) -> nn.Module:
    """Smooth L1: quadratic for small errors, linear for large ones (less sensitive to outliers)."""
    return nn.SmoothL1Loss(reduction=reduction, beta=beta)


@aliases("HuberLoss")
@contract(targets="same_as_output")
def huber(
    reduction: Reduction = "mean",
    delta: Annotated[float, Field(gt=0, description="where the loss turns from quadratic to linear")] = 1.0,
) -> nn.Module:
    """Huber loss: squared error below delta, delta-scaled absolute error above."""
    return nn.HuberLoss(reduction=reduction, delta=delta)


@aliases("L1Loss")
@contract(targets="same_as_output")
def l1(reduction: Reduction = "mean") -> nn.Module:
    """Mean absolute error, for regression (less swayed by outliers than mse)."""
    return nn.L1Loss(reduction=reduction)


@aliases("PoissonNLLLoss")
@contract(targets="same_as_output")
def poisson_nll(
    log_input: Annotated[bool, Field(description="the output is the log of the rate (true) or the rate itself")] = True,
    full: Annotated[bool, Field(description="add Stirling's approximation of the log-factorial term")] = False,
    eps: Annotated[float, Field(gt=0, description="keeps log(rate) finite when log_input = false")] = 1e-8,
    reduction: Reduction = "mean",
) -> nn.Module:
    """Poisson negative log-likelihood, for counts (regression of non-negative integer targets)."""
    return nn.PoissonNLLLoss(log_input=log_input, full=full, eps=eps, reduction=reduction)


@aliases("MultiLabelSoftMarginLoss")
@contract(expects="scores", targets="same_as_output")
def multilabel_soft_margin(weight: Weight = None, reduction: Reduction = "mean") -> nn.Module:
    """Multi-label one-versus-all logistic loss on raw scores: a 0/1 target per label."""
    return nn.MultiLabelSoftMarginLoss(weight=_tensor(weight), reduction=reduction)


@aliases("MultiMarginLoss")
@contract(expects="scores", targets="class_index")
def multi_margin(
    p: Annotated[Literal[1, 2], Field(description="1: the hinge, 2: its square")] = 1,
    margin: Annotated[float, Field(gt=0, description="how far the true class's score must lead")] = 1.0,
    weight: Weight = None,
    reduction: Reduction = "mean",
) -> nn.Module:
    """Multi-class hinge loss (a multi-class SVM's) on raw scores and class indices."""
    return nn.MultiMarginLoss(p=p, margin=margin, weight=_tensor(weight), reduction=reduction)


LOSSES = {
    f.__name__: f
    for f in (
        mse, bce, bce_with_logits, cross_entropy, nll, smooth_l1, huber, l1, poisson_nll, multilabel_soft_margin,
        multi_margin,
    )
}  # fmt: skip
