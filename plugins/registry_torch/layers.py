"""Layers. Input sizes (in_features, in_channels, num_features...) are inferred from the previous output."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from torch import nn

from registry import CHANNELS, FEATURES, InputShape, aliases, example

Size = Annotated[int, Field(ge=1)]
Size2 = Size | tuple[Size, Size]
"""A positive size for both image dimensions, or one for each (kernel, stride, dilation)."""
Pad = Annotated[int, Field(ge=0)]
Pad2 = Pad | tuple[Pad, Pad]
InFeatures = Annotated[int | None, FEATURES, Field(ge=1, description="inferred from the previous layer")]
InChannels = Annotated[int | None, CHANNELS, Field(ge=1, description="inferred from the previous layer")]
Shape = Annotated[tuple[int, ...], InputShape()]


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


@aliases("Flatten")
def flatten(
    start_dim: Annotated[int, Field(description="first dimension to flatten (0 is the batch)")] = 1,
    end_dim: Annotated[int, Field(description="last dimension to flatten")] = -1,
) -> nn.Module:
    """Flatten dimensions start_dim..end_dim into one (28x28 images -> 784 features)."""
    return nn.Flatten(start_dim, end_dim)


@aliases("Dropout")
def dropout(p: Annotated[float, Field(ge=0, le=1, description="probability of zeroing an element")] = 0.5) -> nn.Module:
    """Randomly zero elements with probability p while training."""
    return nn.Dropout(p)


@aliases("Conv2d")
@example(input_shape=(3, 8, 8), out_channels=4, kernel_size=3)
def conv2d(
    out_channels: Annotated[int, Field(ge=1, description="number of output channels")],
    kernel_size: Annotated[Size2, Field(description="kernel height and width")],
    stride: Size2 = 1,
    padding: Annotated[Pad2 | Literal["same", "valid"], Field(description="zero padding")] = 0,
    dilation: Size2 = 1,
    groups: Size = 1,
    bias: bool = True,
    in_channels: InChannels = None,
) -> nn.Module:
    """2-D convolution over (channels, height, width) inputs."""
    assert in_channels is not None
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)


@aliases("MaxPool2d")
@example(input_shape=(3, 8, 8), kernel_size=2)
def max_pool2d(
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    stride: Annotated[Size2 | None, Field(description="defaults to kernel_size")] = None,
    padding: Pad2 = 0,
    dilation: Size2 = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """2-D max pooling."""
    return nn.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode=ceil_mode)


@aliases("AvgPool2d")
@example(input_shape=(3, 8, 8), kernel_size=2)
def avg_pool2d(
    kernel_size: Annotated[Size2, Field(description="window height and width")],
    stride: Annotated[Size2 | None, Field(description="defaults to kernel_size")] = None,
    padding: Pad2 = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """2-D average pooling."""
    return nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad)


@aliases("BatchNorm", "BatchNorm1d", "BatchNorm2d")
@example(input_shape=(3, 8, 8))
def batch_norm(
    input_shape: Shape,
    num_features: InChannels = None,
    eps: Annotated[float, Field(gt=0)] = 1e-5,
    momentum: Annotated[float, Field(ge=0, le=1)] = 0.1,
    affine: bool = True,
    track_running_stats: bool = True,
) -> nn.Module:
    """Batch normalisation over the channel dimension (1d for features or sequences, 2d for images)."""
    assert num_features is not None
    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}.get(len(input_shape))
    if cls is None:
        raise ValueError(f"batch_norm takes inputs of 1 to 4 dimensions per sample, got {input_shape}")
    return cls(num_features, eps, momentum, affine, track_running_stats)


@aliases("LayerNorm")
def layer_norm(
    normalized_shape: InFeatures = None,
    eps: Annotated[float, Field(gt=0)] = 1e-5,
    elementwise_affine: bool = True,
) -> nn.Module:
    """Layer normalisation over the last dimension."""
    assert normalized_shape is not None
    return nn.LayerNorm(normalized_shape, eps, elementwise_affine)


@aliases("Unflatten")
@example(input_shape=(12,), sizes=[3, 4])
def unflatten(
    sizes: Annotated[tuple[Size, ...], Field(min_length=1, description="the new shape of dim (e.g. [1, 28, 28])")],
    dim: Annotated[int, Field(description="the dimension to unflatten (0 is the batch)")] = 1,
) -> nn.Module:
    """Reshape one dimension into several (784 features -> 1x28x28 image)."""
    return nn.Unflatten(dim, sizes)


LAYERS = {
    f.__name__: f for f in (linear, flatten, dropout, conv2d, max_pool2d, avg_pool2d, batch_norm, layer_norm, unflatten)
}
