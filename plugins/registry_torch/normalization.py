"""Normalisation layers. The number of channels or features they normalise is inferred from what reaches them;
``batch_norm`` and ``instance_norm`` pick torch's 1d, 2d or 3d class from the input's dimensions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import nn

from registry import CHANNELS, FEATURES, InputShape, aliases, example

InChannels = Annotated[int | None, CHANNELS, Field(ge=1, description="inferred from the previous layer")]
InFeatures = Annotated[int | None, FEATURES, Field(ge=1, description="inferred from the previous layer")]
Shape = Annotated[tuple[int, ...], InputShape()]
Eps = Annotated[float, Field(gt=0, description="added to the variance, for stability")]
Momentum = Annotated[float, Field(ge=0, le=1, description="the running statistics' update rate")]


@aliases("BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
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


@aliases("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
@example(input_shape=(3, 8, 8))
def instance_norm(
    input_shape: Shape,
    num_features: InChannels = None,
    eps: Eps = 1e-5,
    momentum: Momentum = 0.1,
    affine: Annotated[bool, Field(description="learn a scale and shift per channel")] = False,
    track_running_stats: bool = False,
) -> nn.Module:
    """Instance normalisation: each sample's channels normalised over their own length, image or volume (1d for
    (C, L), 2d for (C, H, W), 3d for (C, D, H, W)); style transfer's and GANs' normalisation."""
    assert num_features is not None
    cls = {2: nn.InstanceNorm1d, 3: nn.InstanceNorm2d, 4: nn.InstanceNorm3d}.get(len(input_shape))
    if cls is None:
        raise ValueError(f"instance_norm takes (C, L), (C, H, W) or (C, D, H, W) samples, got {input_shape}")
    return cls(num_features, eps, momentum, affine, track_running_stats)


@aliases("GroupNorm")
@example(input_shape=(4, 6, 6), num_groups=2)
def group_norm(
    num_groups: Annotated[int, Field(ge=1, description="groups the channels are split into (1: layer norm of "
                                                       "each sample; num_channels: instance norm)")],
    num_channels: InChannels = None,
    eps: Eps = 1e-5,
    affine: Annotated[bool, Field(description="learn a scale and shift per channel")] = True,
) -> nn.Module:
    """Group normalisation (Wu and He, 2018): each sample's channels normalised in groups, batch-size independent."""
    assert num_channels is not None
    if num_channels % num_groups:
        raise ValueError(f"the {num_channels} channels do not divide into num_groups = {num_groups}")
    return nn.GroupNorm(num_groups, num_channels, eps, affine)


@aliases("LayerNorm")
def layer_norm(
    normalized_shape: InFeatures = None,
    eps: Annotated[float, Field(gt=0)] = 1e-5,
    elementwise_affine: bool = True,
) -> nn.Module:
    """Layer normalisation over the last dimension."""
    assert normalized_shape is not None
    return nn.LayerNorm(normalized_shape, eps, elementwise_affine)


@aliases("RMSNorm")
def rms_norm(
    normalized_shape: InFeatures = None,
    eps: Annotated[float | None, Field(gt=0, description="None: the dtype's machine epsilon")] = None,
    elementwise_affine: bool = True,
) -> nn.Module:
    """Root-mean-square normalisation over the last dimension (Zhang and Sennrich, 2019): layer norm without
    the mean, as LLaMA-style transformers use it."""
    assert normalized_shape is not None
    return nn.RMSNorm(normalized_shape, eps, elementwise_affine)


@aliases("LocalResponseNorm")
@example(input_shape=(4, 6, 6), size=3)
def local_response_norm(
    size: Annotated[int, Field(ge=1, description="neighbouring channels normalised over")],
    alpha: Annotated[float, Field(ge=0)] = 1e-4,
    beta: Annotated[float, Field(ge=0)] = 0.75,
    k: Annotated[float, Field(gt=0)] = 1.0,
) -> nn.Module:
    """Local response normalisation across channels (AlexNet's)."""
    return nn.LocalResponseNorm(size, alpha, beta, k)


NORMALIZATION = {
    f.__name__: f for f in (batch_norm, instance_norm, group_norm, layer_norm, rms_norm, local_response_norm)
}
