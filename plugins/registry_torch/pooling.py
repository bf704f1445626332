"""Pooling over 1, 2 and 3 spatial dimensions: max and average windows, adaptive pools to a fixed output size,
and global pools to one value per channel."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import Tensor, nn

from registry import InputShape, aliases, example

from .sizes import Pad, Pad2, Pad3, Size, Size2, Size3

Out = Annotated[Size | None, Field(description="the output size (None keeps the input's)")]
Out2 = Annotated[Size2 | tuple[Size | None, Size | None], Field(description="output height and width")]
Out3 = Annotated[Size3 | tuple[Size | None, Size | None, Size | None], Field(description="output depth, height, width")]
Shape = Annotated[tuple[int, ...], InputShape()]
Stride = "defaults to kernel_size"


@aliases("MaxPool1d")
@example(input_shape=(3, 8), kernel_size=2)
def max_pool1d(
    kernel_size: Annotated[Size, Field(description="window length")],
    stride: Annotated[Size | None, Field(description=Stride)] = None,
    padding: Pad = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """1-D max pooling over (channels, length) inputs."""
    return nn.MaxPool1d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


@aliases("MaxPool2d")
@example(input_shape=(3, 8, 8), kernel_size=2)
def max_pool2d(
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    stride: Annotated[Size2 | None, Field(description=Stride)] = None,
    padding: Pad2 = 0,
    dilation: Size2 = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """2-D max pooling."""
    return nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


@aliases("MaxPool3d")
@example(input_shape=(2, 4, 4, 4), kernel_size=2)
def max_pool3d(
    kernel_size: Annotated[Size3, Field(description="window depth, height and width")],
    stride: Annotated[Size3 | None, Field(description=Stride)] = None,
    padding: Pad3 = 0,
    dilation: Size3 = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """3-D max pooling over (channels, depth, height, width) inputs."""
    return nn.MaxPool3d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


@aliases("AvgPool1d")
@example(input_shape=(3, 8), kernel_size=2)
def avg_pool1d(
    kernel_size: Annotated[Size, Field(description="window length")],
    stride: Annotated[Size | None, Field(description=Stride)] = None,
    padding: Pad = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """1-D average pooling over (channels, length) inputs."""
    return nn.AvgPool1d(kernel_size, stride, padding, ceil_mode, count_include_pad)


@aliases("AvgPool2d")
@example(input_shape=(3, 8, 8), kernel_size=2)
def avg_pool2d(
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    stride: Annotated[Size2 | None, Field(description=Stride)] = None,
    padding: Pad2 = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """2-D average pooling."""
    return nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad)


@aliases("AvgPool3d")
@example(input_shape=(2, 4, 4, 4), kernel_size=2)
def avg_pool3d(
    kernel_size: Annotated[Size3, Field(description="window depth, height and width")],
    stride: Annotated[Size3 | None, Field(description=Stride)] = None,
    padding: Pad3 = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """3-D average pooling over (channels, depth, height, width) inputs."""
    return nn.AvgPool3d(kernel_size, stride, padding, ceil_mode, count_include_pad)


@aliases("AdaptiveAvgPool1d")
@example(input_shape=(3, 8), output_size=2)
def adaptive_avg_pool1d(output_size: Annotated[Size, Field(description="the output length")]) -> nn.Module:
    """Average pooling to a fixed output length, whatever the input's."""
    return nn.AdaptiveAvgPool1d(output_size)


@aliases("AdaptiveAvgPool2d")
@example(input_shape=(3, 8, 8), output_size=2)
def adaptive_avg_pool2d(output_size: Out2) -> nn.Module:
    """Average pooling to a fixed output height and width, whatever the input's (torchvision's heads use (1, 1))."""
    return nn.AdaptiveAvgPool2d(output_size)


@aliases("AdaptiveAvgPool3d")
@example(input_shape=(2, 4, 4, 4), output_size=2)
def adaptive_avg_pool3d(output_size: Out3) -> nn.Module:
    """Average pooling to a fixed output depth, height and width."""
    return nn.AdaptiveAvgPool3d(output_size)


@aliases("AdaptiveMaxPool1d")
@example(input_shape=(3, 8), output_size=2)
def adaptive_max_pool1d(output_size: Annotated[Size, Field(description="the output length")]) -> nn.Module:
    """Max pooling to a fixed output length, whatever the input's."""
    return nn.AdaptiveMaxPool1d(output_size)


@aliases("AdaptiveMaxPool2d")
@example(input_shape=(3, 8, 8), output_size=2)
def adaptive_max_pool2d(output_size: Out2) -> nn.Module:
    """Max pooling to a fixed output height and width, whatever the input's."""
    return nn.AdaptiveMaxPool2d(output_size)


@aliases("AdaptiveMaxPool3d")
@example(input_shape=(2, 4, 4, 4), output_size=2)
def adaptive_max_pool3d(output_size: Out3) -> nn.Module:
    """Max pooling to a fixed output depth, height and width."""
    return nn.AdaptiveMaxPool3d(output_size)


NormType = Annotated[float, Field(gt=0, description="p: the power mean's exponent (1: sum pooling, large: max)")]


@aliases("LPPool1d")
@example(input_shape=(3, 8), norm_type=2, kernel_size=2)
def lp_pool1d(
    norm_type: NormType,
    kernel_size: Annotated[Size, Field(description="window length")],
    stride: Annotated[Size | None, Field(description=Stride)] = None,
    ceil_mode: bool = False,
) -> nn.Module:
    """1-D power-average pooling: (sum of x^p over the window)^(1/p)."""
    return nn.LPPool1d(norm_type, kernel_size, stride, ceil_mode)


@aliases("LPPool2d")
@example(input_shape=(3, 8, 8), norm_type=2, kernel_size=2)
def lp_pool2d(
    norm_type: NormType,
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    stride: Annotated[Size2 | None, Field(description=Stride)] = None,
    ceil_mode: bool = False,
) -> nn.Module:
    """2-D power-average pooling: (sum of x^p over the window)^(1/p)."""
    return nn.LPPool2d(norm_type, kernel_size, stride, ceil_mode)


@aliases("LPPool3d")
@example(input_shape=(2, 4, 4, 4), norm_type=2, kernel_size=2)
def lp_pool3d(
    norm_type: NormType,
    kernel_size: Annotated[Size3, Field(description="window depth, height and width")],
    stride: Annotated[Size3 | None, Field(description=Stride)] = None,
    ceil_mode: bool = False,
) -> nn.Module:
    """3-D power-average pooling: (sum of x^p over the window)^(1/p)."""
    return nn.LPPool3d(norm_type, kernel_size, stride, ceil_mode)


Ratio = Annotated[float, Field(gt=0, lt=1, description="the output's size as a fraction of the input's")]


@aliases("FractionalMaxPool2d")
@example(input_shape=(3, 8, 8), kernel_size=2, output_ratio=0.5)
def fractional_max_pool2d(
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    output_size: Annotated[Size2 | None, Field(description="the output height and width")] = None,
    output_ratio: Ratio | None = None,
) -> nn.Module:
    """2-D fractional max pooling (Graham, 2014): windows at random positions, to any output size."""
    if (output_size is None) == (output_ratio is None):
        raise ValueError("give output_size or output_ratio, one of them")
    return nn.FractionalMaxPool2d(kernel_size, output_size, output_ratio)


@aliases("FractionalMaxPool3d")
@example(input_shape=(2, 6, 6, 6), kernel_size=2, output_ratio=0.5)
def fractional_max_pool3d(
    kernel_size: Annotated[Size3, Field(description="window depth, height and width")],
    output_size: Annotated[Size3 | None, Field(description="the output depth, height and width")] = None,
    output_ratio: Ratio | None = None,
) -> nn.Module:
    """3-D fractional max pooling: windows at random positions, to any output size."""
    if (output_size is None) == (output_ratio is None):
        raise ValueError("give output_size or output_ratio, one of them")
    return nn.FractionalMaxPool3d(kernel_size, output_size, output_ratio)


class GlobalPool(nn.Module):
    """The mean (or max) over every dimension after the channels: (channels, ...) -> (channels,)."""

    def __init__(self, reduce: str) -> None:
        super().__init__()
        self.reduce = reduce

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)
        return flat.mean(2) if self.reduce == "mean" else flat.amax(2)

    def extra_repr(self) -> str:
        return self.reduce


def _spatial(name: str, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) < 2:
        raise ValueError(f"{name} takes (channels, ...) inputs with at least one dimension to pool, got {input_shape}")


@aliases("GlobalAvgPool")
@example(input_shape=(3, 4, 4))
def global_avg_pool(input_shape: Shape) -> nn.Module:
    """The mean of each channel over its length, or height and width, or volume: (C, ...) -> (C,) features."""
    _spatial("global_avg_pool", input_shape)
    return GlobalPool("mean")


@aliases("GlobalMaxPool")
@example(input_shape=(3, 4, 4))
def global_max_pool(input_shape: Shape) -> nn.Module:
    """The largest value of each channel over its length, or height and width, or volume: (C, ...) -> (C,)."""
    _spatial("global_max_pool", input_shape)
    return GlobalPool("max")


POOLING = {
    f.__name__: f
    for f in (
        max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d, adaptive_avg_pool1d,
        adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
        lp_pool1d, lp_pool2d, lp_pool3d, fractional_max_pool2d, fractional_max_pool3d, global_avg_pool,
        global_max_pool,
    )
}  # fmt: skip
