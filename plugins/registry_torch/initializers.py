"""Weight initialisers: torch.nn.init's functions, applied to the built model's parameters (``[model] init``).

Each one sets, in place and under the run's seed, the parameters it selects: ``to = "weights"`` (the default)
selects every parameter of two or more dimensions, the weight matrices and kernels of linear, convolution,
embedding, recurrent and attention layers; ``to = "biases"`` every parameter named ``bias`` (``bias_ih_l0``...).
Normalisation layers' scales and shifts are left as torch initialised them. The fan-based initialisers
(Kaiming, Xavier) and ``orthogonal`` need two or more dimensions, so they set weights only. Listed in an array,
they apply in order: a later one overrides an earlier one where both select a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from registry import aliases, example

To = Annotated[
    Literal["weights", "biases"],
    Field(description="which parameters: 'weights' (those of 2 or more dimensions) or 'biases' (those named bias)"),
]
Gain = Annotated[
    float, Field(gt=0, description="a scaling factor (torch.nn.init.calculate_gain gives one for each nonlinearity)")
]
Mode = Annotated[
    Literal["fan_in", "fan_out"],
    Field(description="'fan_in' keeps the variance of the forward pass, 'fan_out' of the backward pass"),
]
Nonlinearity = Annotated[
    Literal["linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"],
    Field(description="the nonlinearity that follows the layer, for the gain: 'relu' after a ReLU"),
]
Slope = Annotated[float, Field(ge=0, description="the negative slope of the leaky ReLU that follows")]

WHICH = {
    "weights": "parameters of 2 or more dimensions",
    "biases": "parameters named bias",
}


class Initializer:
    """Sets the parameters it selects, in place, with one of torch.nn.init's functions."""

    def __init__(self, name: str, fill: Callable[[Tensor], Any], to: str = "weights") -> None:
        self.name = name
        self.fill = fill
        self.to = to

    def selects(self, name: str, parameter: Tensor) -> bool:
        """Whether the parameter called *name* (``layers.0.weight``) is one this initialiser sets."""
        if self.to == "biases":
            return "bias" in name.rsplit(".", 1)[-1]
        return parameter.dim() >= 2

    def __call__(self, model: nn.Module) -> None:
        chosen = [p for n, p in model.named_parameters() if self.selects(n, p)]
        if not chosen:
            raise ValueError(f"the model has no {WHICH[self.to]} to set")
        with torch.no_grad():
            for p in chosen:
                self.fill(p)

    def __repr__(self) -> str:
        return f"Initializer({self.name}, to={self.to!r})"


@aliases("kaiming_normal_", "he_normal")
def kaiming_normal(
    a: Slope = 0.0, mode: Mode = "fan_in", nonlinearity: Nonlinearity = "leaky_relu"
) -> Initializer:
    """Kaiming (He) normal: weights drawn from N(0, std^2), std = gain / sqrt(fan), for layers followed by ReLUs."""
    return Initializer("kaiming_normal", lambda t: nn.init.kaiming_normal_(t, a, mode, nonlinearity))


@aliases("kaiming_uniform_", "he_uniform")
def kaiming_uniform(
    a: Slope = 0.0, mode: Mode = "fan_in", nonlinearity: Nonlinearity = "leaky_relu"
) -> Initializer:
    """Kaiming (He) uniform: weights drawn from U(-bound, bound), bound = gain * sqrt(3 / fan)."""
    return Initializer("kaiming_uniform", lambda t: nn.init.kaiming_uniform_(t, a, mode, nonlinearity))


@aliases("xavier_normal_", "glorot_normal")
def xavier_normal(gain: Gain = 1.0) -> Initializer:
    """Xavier (Glorot) normal: weights from N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    return Initializer("xavier_normal", lambda t: nn.init.xavier_normal_(t, gain))


@aliases("xavier_uniform_", "glorot_uniform")
def xavier_uniform(gain: Gain = 1.0) -> Initializer:
    """Xavier (Glorot) uniform: weights from U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    return Initializer("xavier_uniform", lambda t: nn.init.xavier_uniform_(t, gain))


@aliases("orthogonal_")
def orthogonal(gain: Gain = 1.0) -> Initializer:
    """Orthogonal: each weight, flattened to a matrix, a (semi-)orthogonal one times gain (Saxe et al., 2013)."""
    return Initializer("orthogonal", lambda t: nn.init.orthogonal_(t, gain))


@aliases("normal_")
def normal(
    mean: Annotated[float, Field(description="the mean")] = 0.0,
    std: Annotated[float, Field(gt=0, description="the standard deviation")] = 0.01,
    to: To = "weights",
) -> Initializer:
    """Normal: values drawn from N(mean, std^2)."""
    return Initializer("normal", lambda t: nn.init.normal_(t, mean, std), to)


@aliases("trunc_normal_")
def trunc_normal(
    mean: Annotated[float, Field(description="the mean")] = 0.0,
    std: Annotated[float, Field(gt=0, description="the standard deviation")] = 0.02,
    a: Annotated[float, Field(description="the lowest value")] = -2.0,
    b: Annotated[float, Field(description="the highest value")] = 2.0,
    to: To = "weights",
) -> Initializer:
    """Truncated normal: N(mean, std^2) redrawn outside [a, b] (vision transformers use std = 0.02)."""
    if not a < b:
        raise ValueError(f"a ({a}) must be below b ({b})")
    return Initializer("trunc_normal", lambda t: nn.init.trunc_normal_(t, mean, std, a, b), to)


@aliases("uniform_")
def uniform(
    a: Annotated[float, Field(description="the lowest value")] = -0.05,
    b: Annotated[float, Field(description="the highest value")] = 0.05,
    to: To = "weights",
) -> Initializer:
    """Uniform: values drawn from U(a, b)."""
    if not a < b:
        raise ValueError(f"a ({a}) must be below b ({b})")
    return Initializer("uniform", lambda t: nn.init.uniform_(t, a, b), to)


@aliases("constant_")
@example(val=0.1)
def constant(val: Annotated[float, Field(description="the value")], to: To = "weights") -> Initializer:
    """Constant: every value set to val."""
    return Initializer("constant", lambda t: nn.init.constant_(t, val), to)


@aliases("zeros_")
def zeros(to: To = "weights") -> Initializer:
    """Zeros: every value 0 (for biases: to = "biases")."""
    return Initializer("zeros", nn.init.zeros_, to)


@aliases("ones_")
def ones(to: To = "weights") -> Initializer:
    """Ones: every value 1."""
    return Initializer("ones", nn.init.ones_, to)


INITIALIZERS = {
    f.__name__: f
    for f in (
        kaiming_normal, kaiming_uniform, xavier_normal, xavier_uniform, orthogonal, normal, trunc_normal, uniform,
        constant, zeros, ones,
    )
}  # fmt: skip
