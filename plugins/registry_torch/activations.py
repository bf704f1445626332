"""Activation functions: the seed notebook's seven and the ones users reach for next."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn

from registry import aliases, contract

Dim = Annotated[int, Field(description="the dimension over which the values are normalised")]


@aliases("Sigmoid")
@contract(produces="unit_interval")
def sigmoid() -> nn.Module:
    """Logistic sigmoid 1 / (1 + exp(-x)): squashes to (0, 1)."""
    return nn.Sigmoid()


@aliases("Tanh")
def tanh() -> nn.Module:
    """Hyperbolic tangent: squashes to (-1, 1), zero-centred."""
    return nn.Tanh()


@aliases("ReLU")
def relu() -> nn.Module:
    """Rectified linear unit max(0, x)."""
    return nn.ReLU()


@aliases("LeakyReLU")
def leaky_relu(
    negative_slope: Annotated[float, Field(ge=0, description="slope for x < 0")] = 0.01,
) -> nn.Module:
    """Leaky ReLU: x for x >= 0, negative_slope * x otherwise."""
    return nn.LeakyReLU(negative_slope)


@aliases("ELU")
def elu(alpha: Annotated[float, Field(gt=0, description="saturation value for x < 0")] = 1.0) -> nn.Module:
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return nn.ELU(alpha)


@aliases("Softmax")
@contract(produces="probabilities")
def softmax(dim: Dim = 1) -> nn.Module:
    """Softmax along dim: non-negative outputs that sum to 1 (probabilities)."""
    return nn.Softmax(dim=dim)


@aliases("LogSoftmax")
@contract(produces="log_probabilities")
def log_softmax(dim: Dim = 1) -> nn.Module:
    """Log of softmax along dim: log-probabilities, the input nll expects."""
    return nn.LogSoftmax(dim=dim)


@aliases("GELU")
def gelu(
    approximate: Annotated[Literal["none", "tanh"], Field(description="'tanh' for the faster approximation")] = "none",
) -> nn.Module:
    """Gaussian error linear unit x * Phi(x)."""
    return nn.GELU(approximate=approximate)


@aliases("SiLU", "swish")
def silu() -> nn.Module:
    """Sigmoid linear unit (swish): x * sigmoid(x)."""
    return nn.SiLU()


@aliases("SELU")
def selu() -> nn.Module:
    """Scaled ELU with fixed self-normalising constants."""
    return nn.SELU()


@aliases("Softplus")
def softplus(
    beta: Annotated[float, Field(gt=0, description="sharpness")] = 1.0,
    threshold: Annotated[float, Field(gt=0, description="above beta * x the output is linear")] = 20.0,
) -> nn.Module:
    """Softplus log(1 + exp(beta * x)) / beta: a smooth ReLU."""
    return nn.Softplus(beta=beta, threshold=threshold)


@aliases("PReLU")
def prelu(
    num_parameters: Annotated[int, Field(ge=1, description="1, or the number of channels")] = 1,
    init: Annotated[float, Field(description="initial slope for x < 0")] = 0.25,
) -> nn.Module:
    """Parametric ReLU: leaky ReLU whose negative slope is learned."""
    return nn.PReLU(num_parameters=num_parameters, init=init)


@aliases("Mish")
def mish() -> nn.Module:
    """Mish: x * tanh(softplus(x))."""
    return nn.Mish()


ACTIVATIONS = {
    f.__name__: f
    for f in (sigmoid, tanh, relu, leaky_relu, elu, softmax, log_softmax, gelu, silu, selu, softplus, prelu, mish)
}
