"""Containers: layers that hold layers. Each chain they hold is built from the container's input, every
child's input size inferred from what reaches it; a shape that cannot work is refused naming both shapes."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from registry import Branches, Chain, InputShape, Layers, aliases, contract, example

Shape = Annotated[tuple[int, ...], InputShape()]


@aliases("Sequential")
@contract(produces="last_layer")
@example(layers=[{"type": "linear", "out_features": 4}, {"type": "relu"}])
def sequential(layers: Layers) -> nn.Module:
    """The layers one after the other: a block of layers used as one."""
    return layers


class Residual(nn.Module):
    """output = layers(x) + x, or + projection(x) when the layers change the shape."""

    def __init__(self, layers: Chain, projection: nn.Module | None) -> None:
        super().__init__()
        self.layers = layers
        self.projection = projection

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.projection is None else self.projection(x)
        return self.layers(x) + shortcut


def _projection(given: tuple[int, ...], made: tuple[int, ...]) -> nn.Module:
    if len(given) == 1 and len(made) == 1:
        return nn.Linear(given[0], made[0], bias=False)
    if len(given) == 3 and len(made) == 3:
        (c, h, w), (c2, h2, w2) = given, made
        stride = h // h2 if h2 else 0
        if stride >= 1 and w // w2 == stride and -(-h // stride) == h2 and -(-w // stride) == w2:
            return nn.Sequential(nn.Conv2d(c, c2, 1, stride=stride, bias=False), nn.BatchNorm2d(c2))
    raise ValueError(
        f"its layers map {given} to {made}, and no projection makes the input {made}: a projection is a "
        "linear map for features, or a strided 1x1 convolution for images that are shrunk by a whole factor"
    )


@example(layers=[{"type": "linear", "out_features": 6}, {"type": "relu"}, {"type": "linear", "out_features": 3}])
def residual(
    layers: Layers,
    input_shape: Shape,
    projection: Annotated[
        Literal["auto", "none"],
        Field(
            description="'auto': when the layers change the shape, project the input to it (1x1 convolution "
            "and batch norm for images, linear for features); 'none': the shapes must agree"
        ),
    ] = "auto",
) -> nn.Module:
    """Residual connection: output = input + layers(input), projecting the input when the shapes differ."""
    made = layers.out_shape
    if made == input_shape:
        return Residual(layers, None)
    if projection == "none":
        raise ValueError(f"its layers map {input_shape} to {made}; with projection = 'none' they must keep the shape")
    return Residual(layers, _projection(input_shape, made))


class Parallel(nn.Module):
    """Each branch on the same input; the outputs concatenated along the channel/feature dimension, or summed."""

    def __init__(self, branches: list[Chain], merge: str) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: Tensor) -> Tensor:
        outs = [branch(x) for branch in self.branches]
        return torch.cat(outs, dim=1) if self.merge == "concat" else torch.stack(outs).sum(0)

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"


@example(branches=[[{"type": "linear", "out_features": 4}], [{"type": "tanh"}]])
def parallel(
    branches: Branches,
    merge: Annotated[
        Literal["concat", "sum"],
        Field(description="'concat': along the channel (or feature) dimension; 'sum': element-wise"),
    ] = "concat",
) -> nn.Module:
    """Parallel branches on the same input, merged by concatenation or sum."""
    shapes = [b.out_shape for b in branches]
    if merge == "sum" and len(set(shapes)) > 1:
        raise ValueError(
            f"merge = 'sum' needs every branch to give the same shape; they give {', '.join(map(str, shapes))}"
        )
    if merge == "concat" and len({s[1:] for s in shapes}) > 1:
        raise ValueError(
            "merge = 'concat' joins the branches along their first dimension, so the others must agree; they give "
            + ", ".join(map(str, shapes))
        )
    return Parallel(list(branches), merge)


CONTAINERS = {f.__name__: f for f in (sequential, residual, parallel)}
