"""Whole architectures, for ``[model] type = NAME``: every classification model of torchvision
(``torchvision.models.list_models(module=torchvision.models)``: ResNets, EfficientNets, ConvNeXts, vision and Swin
transformers, RegNets, DenseNets, MobileNets...), and an MLP. Each is built untrained (nothing is downloaded), its
first convolution taking the data's channels and its classifier the dataset's classes where a spec leaves them out,
with the parameters its family takes (dropout, stochastic depth...) validated. What input an architecture needs
(an image at least 63 pixels wide for AlexNet, a side divisible by the patch size for a ViT) is checked from the
input's shape, so ``validate`` says it, with the resize that would do.

torchvision is imported inside the factories: ``list`` and specs that do not use them do not pay for it.
"""

# No ``from __future__ import annotations``: the architectures' factories are made in a loop, and their
# annotations must be the objects themselves for the parameter schema to read them.

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from torch import nn

from registry import CHANNELS, NUM_CLASSES, Inferred, InputShape, aliases, example

Classes = Annotated[int | None, NUM_CLASSES, Field(ge=1, description="outputs: the dataset's classes unless given")]
Channels = Annotated[int | None, CHANNELS, Field(ge=1, description="input channels, inferred from the data")]
Shape = Annotated[tuple[int, ...], InputShape()]


def _probability(what: str) -> Any:
    return Annotated[float | None, Field(ge=0, le=1, description=f"{what} (default: torchvision's for this model)")]


PARAMS: dict[str, tuple[Any, Any]] = {
    "dropout": (_probability("dropout before the classifier"), None),
    "attention_dropout": (_probability("dropout of the attention weights"), None),
    "stochastic_depth_prob": (_probability("the probability of skipping a residual block while training"), None),
    "drop_rate": (_probability("dropout after each dense layer"), None),
    "zero_init_residual": (
        Annotated[bool, Field(description="start each residual block's last batch norm at 0: each block begins as "
                                          "the identity (Goyal et al., 2017)")], False),  # fmt: skip
}
"""The parameters torchvision's architectures take beyond their classes, each with its type and default."""


@dataclass(frozen=True)
class Family:
    """What the architectures whose names start with one of *prefixes* take and need.

    Attributes:
        params: their parameters (``PARAMS``) beyond classes and channels.
        min_side: the smallest height and width they take.
        multiple: height and width must be multiples of this (a ViT's patch; MaxViT's 224); 0 for none.
        title: the family's name and paper, for the description.
    """

    prefixes: tuple[str, ...]
    title: str
    params: tuple[str, ...] = ()
    min_side: int = 2
    multiple: int = 0


FAMILIES = (
    Family(("alexnet",), "AlexNet (Krizhevsky et al. 2012)", ("dropout",), min_side=63),
    Family(("convnext_",), "ConvNeXt (Liu et al. 2022)", ("stochastic_depth_prob",), min_side=32),
    Family(("densenet",), "DenseNet (Huang et al. 2016)", ("drop_rate",), min_side=29),
    Family(("efficientnet_",), "EfficientNet (Tan and Le 2019, 2021)", ("dropout", "stochastic_depth_prob")),
    Family(("googlenet",), "GoogLeNet (Szegedy et al. 2014), without its auxiliary classifiers", ("dropout",),
           min_side=15),
    Family(("inception_v3",), "Inception v3 (Szegedy et al. 2015), without its auxiliary classifier", ("dropout",),
           min_side=75),
    Family(("maxvit_",), "MaxViT (Tu et al. 2022)", ("attention_dropout",),
           min_side=224, multiple=224),
    Family(("mnasnet",), "MNASNet (Tan et al. 2018)", ("dropout",)),
    Family(("mobilenet_v2",), "MobileNetV2 (Sandler et al. 2018)", ("dropout",)),
    Family(("mobilenet_v3_",), "MobileNetV3 (Howard et al. 2019)", ("dropout",)),
    Family(("regnet_",), "RegNet (Radosavovic et al. 2020)"),
    Family(("resnet", "resnext", "wide_resnet"), "ResNet (He et al. 2015; ResNeXt, Xie et al. 2016; wide, "
           "Zagoruyko and Komodakis 2016)", ("zero_init_residual",)),
    Family(("shufflenet_v2_",), "ShuffleNetV2 (Ma et al. 2018)"),
    Family(("squeezenet1_0",), "SqueezeNet 1.0 (Iandola et al. 2016)", ("dropout",), min_side=21),
    Family(("squeezenet1_1",), "SqueezeNet 1.1 (Iandola et al. 2016)", ("dropout",), min_side=17),
    Family(("swin_",), "Swin Transformer (Liu et al. 2021, v2 2022)", ("dropout", "attention_dropout"), min_side=4),
    Family(("vgg",), "VGG (Simonyan and Zisserman 2014)", ("dropout",), min_side=32),
    Family(("vit_b_16", "vit_l_16"), "Vision Transformer (Dosovitskiy et al. 2020), 16-pixel patches",
           ("dropout", "attention_dropout"), min_side=16, multiple=16),
    Family(("vit_b_32", "vit_l_32"), "Vision Transformer (Dosovitskiy et al. 2020), 32-pixel patches",
           ("dropout", "attention_dropout"), min_side=32, multiple=32),
    Family(("vit_h_14",), "Vision Transformer (Dosovitskiy et al. 2020), 14-pixel patches",
           ("dropout", "attention_dropout"), min_side=14, multiple=14),
)  # fmt: skip


def family_of(name: str) -> Family:
    found = [f for f in FAMILIES if name.startswith(f.prefixes)]
    assert len(found) == 1, (name, found)
    return found[0]


def _first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """*conv* again with *in_channels* inputs (torchvision's models are made for 3), initialised as torchvision does."""
    made = nn.Conv2d(
        in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,  # type: ignore[arg-type]
        conv.dilation, conv.groups, conv.bias is not None,
    )  # fmt: skip
    nn.init.kaiming_normal_(made.weight, mode="fan_out", nonlinearity="relu")
    if made.bias is not None:
        nn.init.zeros_(made.bias)
    return made


def take_channels(model: nn.Module, in_channels: int) -> nn.Module:
    """*model* with its first convolution (its stem, or a ViT's patch projection) taking *in_channels*."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels != in_channels:
                parent, _, leaf = name.rpartition(".")
                setattr(model.get_submodule(parent) if parent else model, leaf, _first_conv(module, in_channels))
            return model
    raise AssertionError("a torchvision classification model without a convolution")


def _check_input(name: str, family: Family, input_shape: tuple[int, ...]) -> tuple[int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"{name} takes images, (channels, height, width) per sample; these are {input_shape}")
    _, height, width = input_shape
    side = max(family.min_side, height, width)
    if family.multiple:
        side = math.ceil(side / family.multiple) * family.multiple
    fits = min(height, width) >= family.min_side and not (family.multiple and (height % family.multiple
                                                                                 or width % family.multiple))
    square = name.startswith("vit_") and height != width
    if not fits or square:
        need = (f"images at least {family.min_side}x{family.min_side}" if not family.multiple else
                f"square images whose side is a multiple of {family.multiple}" if name.startswith("vit_") else
                f"images whose height and width are multiples of {family.multiple}")  # fmt: skip
        raise ValueError(f"{name} takes {need}; these are {height}x{width}: resize them in data.transforms, "
                         f'{{ type = "resize", size = {side} }}')  # fmt: skip
    return height, width


OLD_ALIASES = {"mobilenet_v3_small": ("MobileNetV3Small",)}
"""Torch names the built-ins answered to before they followed torchvision's spelling."""


def _make(name: str) -> Callable[..., nn.Module]:
    family = family_of(name)

    def architecture(
        input_shape: Any, num_classes: Any = None, in_channels: Any = None, **params: Any
    ) -> nn.Module:
        import torchvision.models as tvm

        assert num_classes is not None and in_channels is not None  # filled by the builder
        height, width = _check_input(name, family, input_shape)
        kwargs = {k: v for k, v in params.items() if v is not None and v is not False}
        if name.startswith("vit_"):
            kwargs["image_size"] = height
        if name.startswith("maxvit_"):
            kwargs["input_size"] = (height, width)
        if name in ("googlenet", "inception_v3"):
            kwargs |= {"aux_logits": False, "init_weights": True}
        return take_channels(tvm.get_model(name, weights=None, num_classes=num_classes, **kwargs), in_channels)

    annotations: dict[str, Any] = {"input_shape": Shape, "num_classes": Classes, "in_channels": Channels}
    annotations |= {p: PARAMS[p][0] for p in family.params}
    defaults = (None, None, *(PARAMS[p][1] for p in family.params))
    architecture.__signature__ = _signature(annotations, defaults)  # type: ignore[attr-defined]
    architecture.__annotations__ = {**annotations, "return": nn.Module}
    architecture.__name__ = architecture.__qualname__ = name
    sized = "; its image size is the data's" if family.multiple else ""
    architecture.__doc__ = (
        f"{family.title}: torchvision's {name}, untrained{sized}; its first convolution takes the data's channels."
    )
    side = max(family.min_side, 32) if not family.multiple else max(family.min_side, family.multiple)
    more = OLD_ALIASES.get(name, ())
    return aliases(TORCH_NAMES[name], *more)(example(input_shape=(3, side, side))(architecture))


def _signature(annotations: dict[str, Any], defaults: tuple[Any, ...]) -> Any:
    import inspect

    names = list(annotations)
    params = [inspect.Parameter(names[0], inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotations[names[0]])]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=annotations[n])
               for n, d in zip(names[1:], defaults, strict=True)]  # fmt: skip
    return inspect.Signature(params, return_annotation=nn.Module)


TORCH_NAMES = {
    "alexnet": "AlexNet", "convnext_base": "ConvNeXt_Base", "convnext_large": "ConvNeXt_Large",
    "convnext_small": "ConvNeXt_Small", "convnext_tiny": "ConvNeXt_Tiny", "densenet121": "DenseNet121",
    "densenet161": "DenseNet161", "densenet169": "DenseNet169", "densenet201": "DenseNet201",
    "efficientnet_b0": "EfficientNet_B0", "efficientnet_b1": "EfficientNet_B1", "efficientnet_b2": "EfficientNet_B2",
    "efficientnet_b3": "EfficientNet_B3", "efficientnet_b4": "EfficientNet_B4", "efficientnet_b5": "EfficientNet_B5",
    "efficientnet_b6": "EfficientNet_B6", "efficientnet_b7": "EfficientNet_B7",
    "efficientnet_v2_l": "EfficientNet_V2_L", "efficientnet_v2_m": "EfficientNet_V2_M",
    "efficientnet_v2_s": "EfficientNet_V2_S", "googlenet": "GoogLeNet", "inception_v3": "Inception_V3",
    "maxvit_t": "MaxVit_T", "mnasnet0_5": "MNASNet0_5", "mnasnet0_75": "MNASNet0_75", "mnasnet1_0": "MNASNet1_0",
    "mnasnet1_3": "MNASNet1_3", "mobilenet_v2": "MobileNet_V2", "mobilenet_v3_large": "MobileNet_V3_Large",
    "mobilenet_v3_small": "MobileNet_V3_Small", "regnet_x_16gf": "RegNet_X_16GF", "regnet_x_1_6gf": "RegNet_X_1_6GF",
    "regnet_x_32gf": "RegNet_X_32GF", "regnet_x_3_2gf": "RegNet_X_3_2GF", "regnet_x_400mf": "RegNet_X_400MF",
    "regnet_x_800mf": "RegNet_X_800MF", "regnet_x_8gf": "RegNet_X_8GF", "regnet_y_128gf": "RegNet_Y_128GF",
    "regnet_y_16gf": "RegNet_Y_16GF", "regnet_y_1_6gf": "RegNet_Y_1_6GF", "regnet_y_32gf": "RegNet_Y_32GF",
    "regnet_y_3_2gf": "RegNet_Y_3_2GF", "regnet_y_400mf": "RegNet_Y_400MF", "regnet_y_800mf": "RegNet_Y_800MF",
    "regnet_y_8gf": "RegNet_Y_8GF", "resnet101": "ResNet101", "resnet152": "ResNet152", "resnet18": "ResNet18",
    "resnet34": "ResNet34", "resnet50": "ResNet50", "resnext101_32x8d": "ResNeXt101_32X8D",
    "resnext101_64x4d": "ResNeXt101_64X4D", "resnext50_32x4d": "ResNeXt50_32X4D",
    "shufflenet_v2_x0_5": "ShuffleNet_V2_X0_5", "shufflenet_v2_x1_0": "ShuffleNet_V2_X1_0",
    "shufflenet_v2_x1_5": "ShuffleNet_V2_X1_5", "shufflenet_v2_x2_0": "ShuffleNet_V2_X2_0",
    "squeezenet1_0": "SqueezeNet1_0", "squeezenet1_1": "SqueezeNet1_1", "swin_b": "Swin_B", "swin_s": "Swin_S",
    "swin_t": "Swin_T", "swin_v2_b": "Swin_V2_B", "swin_v2_s": "Swin_V2_S", "swin_v2_t": "Swin_V2_T",
    "vgg11": "VGG11", "vgg11_bn": "VGG11_BN", "vgg13": "VGG13", "vgg13_bn": "VGG13_BN", "vgg16": "VGG16",
    "vgg16_bn": "VGG16_BN", "vgg19": "VGG19", "vgg19_bn": "VGG19_BN", "vit_b_16": "ViT_B_16", "vit_b_32": "ViT_B_32",
    "vit_h_14": "ViT_H_14", "vit_l_16": "ViT_L_16", "vit_l_32": "ViT_L_32", "wide_resnet101_2": "Wide_ResNet101_2",
    "wide_resnet50_2": "Wide_ResNet50_2",
}
"""Each architecture as torchvision spells it (its weights enum without ``_Weights``), an alias it answers to."""


def _prod(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


Features = Annotated[
    int | None, Inferred(_prod, "the number of values in one input sample"), Field(ge=1, description="inferred")
]


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


ARCHITECTURES = (
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121", "densenet161",
    "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l",
    "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75",
    "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_16gf",
    "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf",
    "regnet_y_800mf", "regnet_y_8gf", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t",
    "swin_v2_b", "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2", "wide_resnet50_2",
)
"""torchvision's classification models, ``list_models(module=torchvision.models)``, written out: registering
them does not import torchvision (``list`` and ``validate`` stay fast); ``tests/test_models.py`` checks the list."""

MODELS = {**{name: _make(name) for name in ARCHITECTURES}, "mlp": mlp}
