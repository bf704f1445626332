"""Whole architectures from torchvision, for ``[model] type = NAME``: built untrained (nothing is downloaded),
with the input channels and the number of classes taken from the data where a spec leaves them out.

torchvision is imported inside the factories: ``list`` and specs that do not use them do not pay for it.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field
from torch import nn

from registry import CHANNELS, NUM_CLASSES, Inferred, aliases, example

Classes = Annotated[int | None, NUM_CLASSES, Field(ge=1, description="outputs: the dataset's classes unless given")]
Channels = Annotated[int | None, CHANNELS, Field(ge=1, description="input channels, inferred from the data")]


def _prod(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


Features = Annotated[
    int | None, Inferred(_prod, "the number of values in one input sample"), Field(ge=1, description="inferred")
]


def _first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """*conv* again with *in_channels* inputs (torchvision's models are made for 3), initialised as torchvision does."""
    if in_channels == conv.in_channels:
        return conv
    made = nn.Conv2d(
        in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,  # type: ignore[arg-type]
        conv.dilation, conv.groups, conv.bias is not None,
    )  # fmt: skip
    nn.init.kaiming_normal_(made.weight, mode="fan_out", nonlinearity="relu")
    if made.bias is not None:
        nn.init.zeros_(made.bias)
    return made


@aliases("ResNet18")
@example(input_shape=(3, 32, 32))
def resnet18(num_classes: Classes = None, in_channels: Channels = None) -> nn.Module:
    """ResNet-18 (He et al. 2015) from torchvision, untrained; its first convolution takes in_channels."""
    from torchvision.models import resnet18 as make

    assert num_classes is not None and in_channels is not None  # filled by the builder
    model = make(weights=None, num_classes=num_classes)
    model.conv1 = _first_conv(model.conv1, in_channels)
    return model


@aliases("MobileNetV3Small")
@example(input_shape=(3, 32, 32))
def mobilenet_v3_small(
    num_classes: Classes = None,
    in_channels: Channels = None,
    dropout: Annotated[float, Field(ge=0, le=1, description="dropout before the last layer")] = 0.2,
) -> nn.Module:
    """MobileNetV3-Small (Howard et al. 2019) from torchvision, untrained; its first convolution takes in_channels."""
    from torchvision.models import mobilenet_v3_small as make

    assert num_classes is not None and in_channels is not None
    model = make(weights=None, num_classes=num_classes, dropout=dropout)
    model.features[0][0] = _first_conv(model.features[0][0], in_channels)
    return model


@aliases("MLP")
@example(input_shape=(4, 4), hidden=[8])
def mlp(
    hidden: Annotated[
        list[Annotated[int, Field(ge=1)]], Field(min_length=1, description="widths of the hidden layers")
    ],
    num_classes: Classes = None,
    in_features: Features = None,
    dropout: Annotated[float, Field(ge=0, le=1, description="dropout after each hidden layer")] = 0.0,
) -> nn.Module:
    """A multi-layer perceptron (torchvision.ops.MLP) on the flattened input: linear and ReLU per hidden width."""
    from torchvision.ops import MLP

    assert num_classes is not None and in_features is not None
    return nn.Sequential(nn.Flatten(), MLP(in_features, [*hidden, num_classes], dropout=dropout))


MODELS = {f.__name__: f for f in (resnet18, mobilenet_v3_small, mlp)}
