"""Convolutions over 1, 2 and 3 spatial dimensions, and their transposes. ``in_channels`` is inferred: the first
dimension of what reaches the layer, (channels, length), (channels, height, width) or (channels, depth, height,
width) per sample."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn

from registry import CHANNELS, aliases, example

from .sizes import Pad, Pad2, Pad3, Size, Size2, Size3

Padding = Literal["zeros", "reflect", "replicate", "circular"]
OutChannels = Annotated[int, Field(ge=1, description="number of output channels")]
InChannels = Annotated[int | None, CHANNELS, Field(ge=1, description="inferred from the previous layer")]
Mode = Annotated[Padding, Field(description="how the border is padded")]
Groups = Annotated[Size, Field(description="blocked connections: in_channels and out_channels must divide by it")]


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
        if n % groups:
            raise ValueError(f"{name} ({n}) is not divisible by groups ({groups})")


@aliases("Conv1d")
@example(input_shape=(3, 16), out_channels=4, kernel_size=3)
def conv1d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size, Field(description="kernel length")],
    stride: Size = 1,
    padding: Annotated[Pad | Literal["same", "valid"], Field(description="zero padding")] = 0,
    dilation: Size = 1,
    groups: Groups = 1,
    bias: bool = True,
    padding_mode: Mode = "zeros",
    in_channels: InChannels = None,
) -> nn.Module:
    """1-D convolution over (channels, length) inputs: sequences, signals."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)


@aliases("Conv2d")
@example(input_shape=(3, 8, 8), out_channels=4, kernel_size=3)
def conv2d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size2, Field(description="kernel height and width")],
    stride: Size2 = 1,
    padding: Annotated[Pad2 | Literal["same", "valid"], Field(description="zero padding")] = 0,
    dilation: Size2 = 1,
    groups: Groups = 1,
    bias: bool = True,
    padding_mode: Mode = "zeros",
    in_channels: InChannels = None,
) -> nn.Module:
    """2-D convolution over (channels, height, width) inputs."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)


@aliases("Conv3d")
@example(input_shape=(2, 6, 6, 6), out_channels=4, kernel_size=3)
def conv3d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size3, Field(description="kernel depth, height and width")],
    stride: Size3 = 1,
    padding: Annotated[Pad3 | Literal["same", "valid"], Field(description="zero padding")] = 0,
    dilation: Size3 = 1,
    groups: Groups = 1,
    bias: bool = True,
    padding_mode: Mode = "zeros",
    in_channels: InChannels = None,
) -> nn.Module:
    """3-D convolution over (channels, depth, height, width) inputs: volumes, video."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.Conv3d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)


@aliases("ConvTranspose1d")
@example(input_shape=(3, 8), out_channels=4, kernel_size=2, stride=2)
def conv_transpose1d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size, Field(description="kernel length")],
    stride: Size = 1,
    padding: Pad = 0,
    output_padding: Annotated[Pad, Field(description="added to one side of the output (below stride)")] = 0,
    groups: Groups = 1,
    bias: bool = True,
    dilation: Size = 1,
    in_channels: InChannels = None,
) -> nn.Module:
    """1-D transposed convolution: a learned upsampling of (channels, length) inputs."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                              dilation)  # fmt: skip


@aliases("ConvTranspose2d")
@example(input_shape=(3, 4, 4), out_channels=4, kernel_size=2, stride=2)
def conv_transpose2d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size2, Field(description="kernel height and width")],
    stride: Size2 = 1,
    padding: Pad2 = 0,
    output_padding: Annotated[Pad2, Field(description="added to one side of the output (below stride)")] = 0,
    groups: Groups = 1,
    bias: bool = True,
    dilation: Size2 = 1,
    in_channels: InChannels = None,
) -> nn.Module:
    """2-D transposed convolution: a learned upsampling of images (a decoder's, a U-Net's)."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                              dilation)  # fmt: skip


@aliases("ConvTranspose3d")
@example(input_shape=(2, 3, 3, 3), out_channels=4, kernel_size=2, stride=2)
def conv_transpose3d(
    out_channels: OutChannels,
    kernel_size: Annotated[Size3, Field(description="kernel depth, height and width")],
    stride: Size3 = 1,
    padding: Pad3 = 0,
    output_padding: Annotated[Pad3, Field(description="added to one side of the output (below stride)")] = 0,
    groups: Groups = 1,
    bias: bool = True,
    dilation: Size3 = 1,
    in_channels: InChannels = None,
) -> nn.Module:
    """3-D transposed convolution: a learned upsampling of volumes."""
    assert in_channels is not None
    _check_groups(in_channels, out_channels, groups)
    return nn.ConvTranspose3d(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                              dilation)  # fmt: skip


CONVOLUTIONS = {
    f.__name__: f for f in (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d)
}
