"""Activation functions: the seed notebook's seven and the rest of torch.nn's."""

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


@aliases("ReLU6")
def relu6() -> nn.Module:
    """ReLU capped at 6: min(max(0, x), 6) (MobileNet's)."""
    return nn.ReLU6()


@aliases("Hardtanh")
def hardtanh(
    min_val: Annotated[float, Field(description="the lowest output")] = -1.0,
    max_val: Annotated[float, Field(description="the highest output")] = 1.0,
) -> nn.Module:
    """x clipped to [min_val, max_val]."""
    if not min_val < max_val:
        raise ValueError(f"min_val ({min_val}) must be below max_val ({max_val})")
    return nn.Hardtanh(min_val, max_val)


@aliases("Hardsigmoid")
@contract(produces="unit_interval")
def hardsigmoid() -> nn.Module:
    """Piecewise-linear sigmoid: 0 below -3, 1 above 3, x / 6 + 1/2 between."""
    return nn.Hardsigmoid()


@aliases("Hardswish")
def hardswish() -> nn.Module:
    """x * hardsigmoid(x) (MobileNetV3's)."""
    return nn.Hardswish()


@aliases("LogSigmoid")
def logsigmoid() -> nn.Module:
    """log(sigmoid(x))."""
    return nn.LogSigmoid()


@aliases("Softsign")
def softsign() -> nn.Module:
    """x / (1 + |x|): squashes to (-1, 1), more slowly than tanh."""
    return nn.Softsign()


@aliases("Tanhshrink")
def tanhshrink() -> nn.Module:
    """x - tanh(x)."""
    return nn.Tanhshrink()


Lambd = Annotated[float, Field(ge=0, description="the half-width of the band around 0 set to 0")]


@aliases("Softshrink")
def softshrink(lambd: Lambd = 0.5) -> nn.Module:
    """Soft thresholding: 0 within [-lambd, lambd], x moved towards 0 by lambd outside."""
    return nn.Softshrink(lambd)


@aliases("Hardshrink")
def hardshrink(lambd: Lambd = 0.5) -> nn.Module:
    """Hard thresholding: 0 within [-lambd, lambd], x outside."""
    return nn.Hardshrink(lambd)


@aliases("CELU")
def celu(alpha: Annotated[float, Field(gt=0, description="saturation value for x < 0")] = 1.0) -> nn.Module:
    """Continuously differentiable ELU: max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return nn.CELU(alpha)


@aliases("RReLU")
def rrelu(
    lower: Annotated[float, Field(ge=0, description="the smallest random slope")] = 1 / 8,
    upper: Annotated[float, Field(ge=0, description="the largest random slope")] = 1 / 3,
) -> nn.Module:
    """Randomised leaky ReLU: a slope drawn from U(lower, upper) for x < 0 while training, their mean in eval."""
    if lower > upper:
        raise ValueError(f"lower ({lower}) must not be above upper ({upper})")
    return nn.RReLU(lower, upper)


@aliases("GLU")
def glu(
    dim: Annotated[int, Field(description="the dimension halved: a * sigmoid(b) of its two halves")] = -1,
) -> nn.Module:
    """Gated linear unit: the first half of dim times the sigmoid of the second (halves that dimension)."""
    return nn.GLU(dim)


@aliases("Threshold")
def threshold(
    threshold: Annotated[float, Field(description="x at or below it is replaced")] = 0.0,
    value: Annotated[float, Field(description="what replaces it")] = 0.0,
) -> nn.Module:
    """x where x > threshold, value elsewhere."""
    return nn.Threshold(threshold, value)


@aliases("Softmin")
@contract(produces="probabilities")
def softmin(dim: Dim = 1) -> nn.Module:
    """Softmin along dim: softmax of -x (probabilities, the smallest value the most likely)."""
    return nn.Softmin(dim=dim)


ACTIVATIONS = {
    f.__name__: f
    for f in (
        sigmoid, tanh, relu, leaky_relu, elu, softmax, log_softmax, gelu, silu, selu, softplus, prelu, mish, relu6,
        hardtanh, hardsigmoid, hardswish, logsigmoid, softsign, tanhshrink, softshrink, hardshrink, celu, rrelu, glu,
        threshold, softmin,
    )
}  # fmt: skip
