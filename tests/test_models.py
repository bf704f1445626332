"""torchvision's classification architectures through [model] type: every one registered, untrained, its channels
and classes from the data, its own parameters validated, and the input it needs said before anything is built."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from registry_torch.models import ARCHITECTURES, TORCH_NAMES, _check_input, family_of

from registry.building.builder import build
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text

pytestmark = pytest.mark.usefixtures("builtins_only")

SPEC = """\
[data]
dataset = "arrays"
path = "images.npz"
transforms = []
[model]
type = "NAME"
[loss]
type = "cross_entropy"
[optimizer]
type = "sgd"
lr = 0.1
"""


@pytest.fixture
def images(tmp_path):
    """images.npz: 20 single-channel 28x28 images (Fashion-MNIST's shape) in 2 classes."""
    x = np.random.default_rng(0).random((20, 1, 28, 28), dtype=np.float32)
    np.savez(tmp_path / "images.npz", inputs=x, targets=np.arange(20) % 2)
    return tmp_path


def test_every_torchvision_classification_model_is_registered(catalog) -> None:
    assert ARCHITECTURES == tuple(sorted(tvm.list_models(module=tvm)))
    for name in ARCHITECTURES:
        c = catalog.get("model", name)
        assert TORCH_NAMES[name] == tvm.get_model_weights(name).__name__.removesuffix("_Weights")
        assert TORCH_NAMES[name] in c.aliases
        assert {"num_classes", "in_channels"} <= set(c.schema.model.model_fields)


@pytest.mark.parametrize(
    "name", ["alexnet", "convnext_tiny", "densenet121", "googlenet", "inception_v3", "squeezenet1_0", "squeezenet1_1",
             "swin_t", "vgg11"],
)  # fmt: skip
def test_the_declared_smallest_side_is_torchvisions(name) -> None:
    """At min_side the architecture runs; a pixel less and torchvision itself fails."""
    side = family_of(name).min_side
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = tvm.get_model(name, weights=None, num_classes=2, **kwargs).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, side, side)).shape == (1, 2)
        with pytest.raises((RuntimeError, ValueError)):
            model(torch.zeros(1, 3, side - 1, side - 1))


def test_on_28x28_single_channel_images_validate_says_which_need_a_resize(catalog, images) -> None:
    """What validate says, architecture by architecture (each spec resolves; the input rule is checked without
    building the model): 57 of the 80 take 28x28 grey images as they are; each other one is told the resize."""
    refused = {}
    for name in ARCHITECTURES:
        try:
            resolve_text(SPEC.replace("NAME", name), catalog, str(images / "s.toml"))
            _check_input(name, family_of(name), (1, 28, 28))
        except ValueError as e:
            refused[name] = str(e).rsplit("size = ", 1)[1].rstrip(" }")
    assert refused == {
        "alexnet": "63", "convnext_base": "32", "convnext_large": "32", "convnext_small": "32", "convnext_tiny": "32",
        "densenet121": "29", "densenet161": "29", "densenet169": "29", "densenet201": "29", "inception_v3": "75",
        "maxvit_t": "224", "vgg11": "32", "vgg11_bn": "32", "vgg13": "32", "vgg13_bn": "32", "vgg16": "32",
        "vgg16_bn": "32", "vgg19": "32", "vgg19_bn": "32", "vit_b_16": "32", "vit_b_32": "32", "vit_l_16": "32",
        "vit_l_32": "32",
    }  # fmt: skip


def test_an_input_too_small_is_located_with_the_resize(catalog, images) -> None:
    with pytest.raises(SpecError) as e:
        build(resolve_text(SPEC.replace("NAME", "alexnet"), catalog, str(images / "s.toml")), with_optimizer=False)
    assert [p.render("s.toml") for p in e.value.problems] == [
        "s.toml:5: model: model 'alexnet' refused its parameters: alexnet takes images at least 63x63; these are "
        '28x28: resize them in data.transforms, { type = "resize", size = 63 }'
    ]
    resized = SPEC.replace("NAME", "vit_b_16").replace("transforms = []", 'transforms = [{ type = "resize", size = 32 }]')
    built = build(resolve_text(resized, catalog, str(images / "s.toml")), with_optimizer=False)
    assert built.model_plan.output_shape == (2,)
    assert built.model.conv_proj.in_channels == 1 and built.model.image_size == 32


def test_each_architecture_takes_its_own_parameters(catalog, images) -> None:
    text = SPEC.replace("NAME", "efficientnet_b0").replace("[loss]", "dropout = 0.3\nstochastic_depth_prob = 0.1\n[loss]")
    model = build(resolve_text(text, catalog, str(images / "s.toml")), with_optimizer=False).model
    assert model.classifier[0].p == 0.3 and model.features[0][0].in_channels == 1
    with pytest.raises(SpecError) as e:
        resolve_text(SPEC.replace("NAME", "resnet18").replace("[loss]", "dropout = 0.3\n[loss]"), catalog, "s.toml")
    assert e.value.problems[0].message.startswith("model 'resnet18' takes no parameter 'dropout'. Its parameters: "
                                                  "in_channels, num_classes, zero_init_residual")  # fmt: skip
