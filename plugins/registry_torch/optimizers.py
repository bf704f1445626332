"""Optimizers: the seed notebook's seven (SGD with and without momentum counts twice), with torch's parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import torch
from pydantic import Field
from torch import optim

from registry import aliases

Params = Iterable[torch.nn.Parameter]
Rate = Annotated[float, Field(gt=0, description="learning rate")]
Decay = Annotated[float, Field(ge=0, description="L2 penalty (decoupled for adamw)")]
Eps = Annotated[float, Field(gt=0, description="term added to the denominator for stability")]
Beta = Annotated[float, Field(ge=0, lt=1)]


@aliases("SGD")
def sgd(
    params: Params,
    lr: Rate = 1e-3,
    momentum: Annotated[float, Field(ge=0, description="momentum factor (0.9 is common)")] = 0.0,
    dampening: Annotated[float, Field(ge=0, description="dampening for momentum")] = 0.0,
    weight_decay: Decay = 0.0,
    nesterov: Annotated[bool, Field(description="Nesterov momentum (needs momentum > 0, dampening 0)")] = False,
) -> optim.Optimizer:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    return optim.SGD(
        params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
    )


@aliases("Adam")
def adam(
    params: Params,
    lr: Rate = 1e-3,
    betas: Annotated[tuple[Beta, Beta], Field(description="decay rates of the moment estimates")] = (0.9, 0.999),
    eps: Eps = 1e-8,
    weight_decay: Decay = 0.0,
    amsgrad: bool = False,
) -> optim.Optimizer:
    """Adam: adaptive moment estimation."""
    return optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@aliases("AdamW")
def adamw(
    params: Params,
    lr: Rate = 1e-3,
    betas: Annotated[tuple[Beta, Beta], Field(description="decay rates of the moment estimates")] = (0.9, 0.999),
    eps: Eps = 1e-8,
    weight_decay: Decay = 1e-2,
    amsgrad: bool = False,
) -> optim.Optimizer:
    """AdamW: Adam with decoupled weight decay."""
    return optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@aliases("RMSprop")
def rmsprop(
    params: Params,
    lr: Rate = 1e-2,
    alpha: Annotated[float, Field(ge=0, lt=1, description="smoothing constant")] = 0.99,
    eps: Eps = 1e-8,
    weight_decay: Decay = 0.0,
    momentum: Annotated[float, Field(ge=0)] = 0.0,
    centered: bool = False,
) -> optim.Optimizer:
    """RMSprop: divide the step by a running average of squared gradients."""
    return optim.RMSprop(
        params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered
    )


@aliases("Adagrad")
def adagrad(
    params: Params,
    lr: Rate = 1e-2,
    lr_decay: Annotated[float, Field(ge=0)] = 0.0,
    weight_decay: Decay = 0.0,
    initial_accumulator_value: Annotated[float, Field(ge=0)] = 0.0,
    eps: Eps = 1e-10,
) -> optim.Optimizer:
    """Adagrad: per-parameter rates scaled by the history of squared gradients."""
    return optim.Adagrad(
        params,
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
    )


@aliases("Adadelta")
def adadelta(
    params: Params,
    lr: Rate = 1.0,
    rho: Annotated[float, Field(ge=0, le=1, description="decay of the running averages")] = 0.9,
    eps: Eps = 1e-6,
    weight_decay: Decay = 0.0,
) -> optim.Optimizer:
    """Adadelta: Adagrad without its ever-shrinking learning rate."""
    return optim.Adadelta(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)


OPTIMIZERS = {f.__name__: f for f in (sgd, adam, adamw, rmsprop, adagrad, adadelta)}
