"""The components: plain typed functions and classes. Their signatures are their schemas."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn

from registry import Chain, Dataset, DatasetSplits, Layers, Split, contract, example


class Squareplus(nn.Module):
    def __init__(self, b: float) -> None:
        super().__init__()
        self.b = b

    def forward(self, x: Tensor) -> Tensor:
        return (x + torch.sqrt(x * x + self.b)) / 2

    def extra_repr(self) -> str:
        return f"b={self.b}"


def squareplus(
    b: Annotated[float, Field(gt=0, description="smoothness near 0 (4 matches softplus closely)")] = 4.0,
) -> nn.Module:
    """Squareplus (x + sqrt(x^2 + b)) / 2: a softplus made of arithmetic only."""
    return Squareplus(b)


class GaussianNoise(nn.Module):
    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + torch.randn_like(x) * self.std if self.training and self.std > 0 else x

    def extra_repr(self) -> str:
        return f"std={self.std}"


def gaussian_noise(std: Annotated[float, Field(ge=0, description="noise standard deviation")] = 0.1) -> nn.Module:
    """Add Gaussian noise while training (a regulariser); identity at test time."""
    return GaussianNoise(std)


class SqueezeExcite(nn.Module):
    def __init__(self, layers: Chain, reduction: int) -> None:
        super().__init__()
        channels = layers.out_shape[0]
        hidden = max(1, channels // reduction)
        self.layers = layers
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        y = self.layers(x)
        pooled = y.flatten(2).mean(2) if y.dim() > 2 else y  # one value per channel (or feature)
        gate = torch.sigmoid(self.excite(torch.relu(self.squeeze(pooled))))
        return y * gate.view(*gate.shape, *([1] * (y.dim() - 2)))


@example(input_shape=(3, 8, 8), layers=[{"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}])
def squeeze_excite(
    layers: Layers,
    reduction: Annotated[int, Field(ge=1, description="the gate's hidden width is channels / reduction")] = 4,
) -> nn.Module:
    """Squeeze-and-excitation (Hu et al. 2018): the layers' output, each channel scaled by a gate learned from it."""
    if len(layers.out_shape) not in (1, 3):
        raise ValueError(f"its layers give shape {layers.out_shape}; a gate needs features (F,) or images (C, H, W)")
    return SqueezeExcite(layers, reduction)


class FocalLoss(nn.Module):
    def __init__(self, gamma: float) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, scores: Tensor, target: Tensor) -> Tensor:
        logp = scores.log_softmax(dim=1).gather(1, target[:, None]).squeeze(1)
        return (-((1 - logp.exp()) ** self.gamma) * logp).mean()


@contract(expects="scores", targets="class_index")
def focal(gamma: Annotated[float, Field(ge=0, description="focusing: 0 is cross-entropy")] = 2.0) -> nn.Module:
    """Focal loss on raw scores: cross-entropy that down-weights easy examples."""
    return FocalLoss(gamma)


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023): the sign of an interpolated momentum, with decoupled weight decay."""

    def __init__(
        self, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float], weight_decay: float
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(torch.sign(m * beta1 + p.grad * (1 - beta1)), alpha=-group["lr"])
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return None


Beta = Annotated[float, Field(ge=0, lt=1)]


def lion(
    params: Iterable[nn.Parameter],
    lr: Annotated[float, Field(gt=0, description="learning rate (3-10x smaller than Adam's)")] = 1e-4,
    betas: tuple[Beta, Beta] = (0.9, 0.99),
    weight_decay: Annotated[float, Field(ge=0)] = 0.0,
) -> torch.optim.Optimizer:
    """Lion: sign-momentum optimizer, memory-light (one state tensor per parameter)."""
    return Lion(params, lr, betas, weight_decay)


def _spirals(n: int, arms: int, noise: float, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % arms
    r = torch.rand(n, generator=g)
    angle = r * 2 * math.pi + labels * (2 * math.pi / arms)  # one turn per arm
    points = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    return points + noise * torch.randn(n, 2, generator=g), labels


@example(samples=300)
def spirals(
    samples: Annotated[int, Field(ge=10, le=1_000_000, description="points per split")] = 3000,
    arms: Annotated[int, Field(ge=2, le=10, description="number of spiral arms = classes")] = 3,
    noise: Annotated[float, Field(ge=0, description="standard deviation of added noise")] = 0.05,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> Dataset:
    """Interleaved 2-D spirals, one class per arm; generated, so no download."""

    def load() -> DatasetSplits:
        train = _spirals(samples, arms, noise, seed)
        test = _spirals(samples, arms, noise, seed + 1)
        return DatasetSplits(Split(*train), Split(*test))

    return Dataset((2,), torch.float32, tuple(f"arm {i}" for i in range(arms)), load, "spirals")
