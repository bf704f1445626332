"""Layers: linear, reshaping, identity, dropout in its forms, and upsampling. Input sizes (in_features...) are
inferred from the previous output. Convolutions, pooling, normalisation and padding have modules of their own."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn

from registry import FEATURES, InputShape, aliases, example

from .sizes import Size

InFeatures = Annotated[int | None, FEATURES, Field(ge=1, description="inferred from the previous layer")]
Shape = Annotated[tuple[int, ...], InputShape()]
P = Annotated[float, Field(ge=0, le=1, description="probability of zeroing an element")]


@aliases("Linear")
@example(out_features=4)
def linear(
    out_features: Annotated[int, Field(ge=1, description="number of outputs")],
    in_features: InFeatures = None,
    bias: Annotated[bool, Field(description="learn an additive bias")] = True,
) -> nn.Module:
    """Fully connected layer y = x W^T + b."""
    assert in_features is not None  # filled by the builder
    return nn.Linear(in_features, out_features, bias=bias)


@aliases("Identity")
def identity() -> nn.Module:
    """Passes its input on unchanged (a placeholder, or a branch that keeps the input)."""
    return nn.Identity()


@aliases("Flatten")
def flatten(
    start_dim: Annotated[int, Field(description="first dimension to flatten (0 is the batch)")] = 1,
    end_dim: Annotated[int, Field(description="last dimension to flatten")] = -1,
) -> nn.Module:
    """Flatten dimensions start_dim..end_dim into one (28x28 images -> 784 features)."""
    return nn.Flatten(start_dim, end_dim)


@aliases("Unflatten")
@example(input_shape=(12,), sizes=[3, 4])
def unflatten(
    sizes: Annotated[tuple[Size, ...], Field(min_length=1, description="the new shape of dim (e.g. [1, 28, 28])")],
    dim: Annotated[int, Field(description="the dimension to unflatten (0 is the batch)")] = 1,
) -> nn.Module:
    """Reshape one dimension into several (784 features -> 1x28x28 image)."""
    return nn.Unflatten(dim, sizes)


@aliases("Dropout")
def dropout(p: P = 0.5) -> nn.Module:
    """Randomly zero elements with probability p while training."""
    return nn.Dropout(p)


def _channels(name: str, input_shape: tuple[int, ...], dims: int) -> None:
    want = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}[dims]
    if len(input_shape) != dims + 1:
        raise ValueError(f"{name} zeroes whole channels of {want} samples, got {input_shape}")


@aliases("Dropout1d")
@example(input_shape=(3, 8))
def dropout1d(input_shape: Shape, p: P = 0.5) -> nn.Module:
    """Randomly zero whole channels of (C, L) samples with probability p while training."""
    _channels("dropout1d", input_shape, 1)
    return nn.Dropout1d(p)


@aliases("Dropout2d")
@example(input_shape=(3, 6, 6))
def dropout2d(input_shape: Shape, p: P = 0.5) -> nn.Module:
    """Randomly zero whole channels (feature maps) of (C, H, W) samples with probability p while training."""
    _channels("dropout2d", input_shape, 2)
    return nn.Dropout2d(p)


@aliases("Dropout3d")
@example(input_shape=(2, 4, 4, 4))
def dropout3d(input_shape: Shape, p: P = 0.5) -> nn.Module:
    """Randomly zero whole channels of (C, D, H, W) samples with probability p while training."""
    _channels("dropout3d", input_shape, 3)
    return nn.Dropout3d(p)


@aliases("AlphaDropout")
def alpha_dropout(p: P = 0.5) -> nn.Module:
    """Dropout that keeps a SELU network's mean and variance (self-normalising networks)."""
    return nn.AlphaDropout(p)


@aliases("FeatureAlphaDropout")
@example(input_shape=(3, 6, 6))
def feature_alpha_dropout(p: P = 0.5) -> nn.Module:
    """Alpha dropout of whole channels, for SELU networks' feature maps."""
    return nn.FeatureAlphaDropout(p)


@aliases("Upsample")
@example(input_shape=(2, 4, 4), scale_factor=2)
def upsample(
    input_shape: Shape,
    size: Annotated[Size | tuple[Size, ...] | None, Field(description="the output's spatial size")] = None,
    scale_factor: Annotated[float | tuple[float, ...] | None, Field(gt=0, description="or its scale")] = None,
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = "nearest",
    align_corners: Annotated[bool | None, Field(description="for the interpolating modes")] = None,
) -> nn.Module:
    """Upsample (C, L), (C, H, W) or (C, D, H, W) samples to a size or by a scale: nearest or interpolated."""
    if (size is None) == (scale_factor is None):
        raise ValueError("give size or scale_factor, one of them")
    spatial = len(input_shape) - 1
    needs = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode)
    if needs is not None and needs != spatial:
        raise ValueError(f"mode {mode!r} interpolates {needs}-D samples; these have {spatial} spatial dimensions")
    if align_corners is not None and needs is None:
        raise ValueError("align_corners is for the interpolating modes (linear, bilinear, bicubic, trilinear)")
    return nn.Upsample(size, scale_factor, mode, align_corners)


@aliases("PixelShuffle")
@example(input_shape=(8, 3, 3), upscale_factor=2)
def pixel_shuffle(
    upscale_factor: Annotated[int, Field(ge=1, description="r: (C r^2, H, W) -> (C, H r, W r)")],
) -> nn.Module:
    """Rearrange channels into space (sub-pixel convolution's upsampling): (C r^2, H, W) -> (C, H r, W r)."""
    return nn.PixelShuffle(upscale_factor)


@aliases("PixelUnshuffle")
@example(input_shape=(2, 4, 4), downscale_factor=2)
def pixel_unshuffle(
    downscale_factor: Annotated[int, Field(ge=1, description="r: (C, H r, W r) -> (C r^2, H, W)")],
) -> nn.Module:
    """Rearrange space into channels, the inverse of pixel_shuffle: (C, H r, W r) -> (C r^2, H, W)."""
    return nn.PixelUnshuffle(downscale_factor)


@aliases("ChannelShuffle")
@example(input_shape=(4, 3, 3), groups=2)
def channel_shuffle(
    groups: Annotated[int, Field(ge=1, description="groups the channels are interleaved from")],
) -> nn.Module:
    """Interleave the channels of groups (ShuffleNet's): (C, ...) in groups of C / groups."""
    return nn.ChannelShuffle(groups)


@aliases("Unfold")
@example(input_shape=(2, 6, 6), kernel_size=3)
def unfold(
    kernel_size: Annotated[Size | tuple[Size, Size], Field(description="the sliding window's height and width")],
    dilation: Size | tuple[Size, Size] = 1,
    padding: Annotated[int, Field(ge=0)] | tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = 0,
    stride: Size | tuple[Size, Size] = 1,
) -> nn.Module:
    """Sliding windows as columns (im2col): (C, H, W) -> (C k_h k_w, windows)."""
    return nn.Unfold(kernel_size, dilation, padding, stride)


@aliases("Fold")
@example(input_shape=(18, 16), output_size=(6, 6), kernel_size=3)
def fold(
    output_size: Annotated[Size | tuple[Size, Size], Field(description="the image's height and width")],
    kernel_size: Annotated[Size | tuple[Size, Size], Field(description="the sliding window's height and width")],
    dilation: Size | tuple[Size, Size] = 1,
    padding: Annotated[int, Field(ge=0)] | tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = 0,
    stride: Size | tuple[Size, Size] = 1,
) -> nn.Module:
    """Columns back into an image, overlaps summed (col2im, unfold's inverse): (C k_h k_w, windows) -> (C, H, W)."""
    return nn.Fold(output_size, kernel_size, dilation, padding, stride)


LAYERS = {
    f.__name__: f
    for f in (
        linear, identity, flatten, unflatten, dropout, dropout1d, dropout2d, dropout3d, alpha_dropout,
        feature_alpha_dropout, upsample, pixel_shuffle, pixel_unshuffle, channel_shuffle, unfold, fold,
    )
}  # fmt: skip
