"""Building torch objects: inferred sizes, checked sizes, shape errors at build time, size limits."""

from __future__ import annotations

import pytest
import torch

from registry.building.builder import MAX_PARAMETERS, build, plan_data
from registry.errors import SpecError
from registry.resolution.resolver import resolve_text

from .conftest import QUICK, ROOT


def resolved(catalog, text):
    return resolve_text(text, catalog, "s.toml")


CONV = QUICK.replace(
    """layers = [
  { type = "flatten" },""",
    """layers = [
  { type = "conv2d", out_channels = 4, kernel_size = 3, padding = 1 },
  { type = "batch_norm" },
  { type = "relu" },
  { type = "max_pool2d", kernel_size = 2 },
  { type = "dropout", p = 0.1 },
  { type = "flatten" },""",
)


def test_sizes_are_inferred_through_a_conv_net(catalog) -> None:
    """in_channels, num_features and in_features come from the shapes of a dry run; the model runs."""
    built = build(resolved(catalog, CONV))
    shapes = [(p.name, p.out_shape) for p in built.model_plan.nodes]
    assert shapes == [
        ("conv2d", (4, 8, 8)), ("batch_norm", (4, 8, 8)), ("relu", (4, 8, 8)), ("max_pool2d", (4, 4, 4)),
        ("dropout", (4, 4, 4)), ("flatten", (64,)), ("linear", (32,)), ("relu", (32,)), ("linear", (10,)),
        ("log_softmax", (10,)),
    ]  # fmt: skip
    assert built.model[0].in_channels == 1 and built.model[1].num_features == 4
    assert built.model[6].in_features == 64
    assert built.model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert built.model_plan.num_params == sum(p.numel() for p in built.model.parameters())


def test_explicit_size_that_agrees_is_kept(catalog) -> None:
    """in_features given and right: accepted."""
    built = build(resolved(catalog, QUICK.replace("out_features = 32 }", "out_features = 32, in_features = 64 }")))
    assert built.model[1].in_features == 64


def test_explicit_size_that_disagrees_is_an_error(catalog) -> None:
    """in_features given and wrong: a located error with the shape and the right value."""
    text = QUICK.replace("out_features = 32 }", "out_features = 32, in_features = 100 }")
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, text))
    (p,) = e.value.problems
    assert p.loc == ("model", "layers", 1, "in_features") and p.line == 9
    assert p.message == (
        "in_features = 100 but the input here has shape (64,), so in_features must be 64 "
        "(the last dimension of the previous layer's output); remove it to have it inferred"
    )


def test_shape_mismatch_names_the_layer_and_shape(catalog) -> None:
    """A layer that cannot take its input (pooling a flat vector) fails at build time with index and shape."""
    text = QUICK.replace('{ type = "relu" }', '{ type = "max_pool2d", kernel_size = 2 }')
    with pytest.raises(SpecError, match=r"s.toml:10: model.layers\[2\]: max_pool2d cannot take input of shape \(32,\): non-empty 3D or 4D"):
        build(resolved(catalog, text))


def test_a_huge_model_is_refused_before_allocation(catalog) -> None:
    """A layer of 10^12 parameters is refused from the meta dry run, with the count and the limit."""
    text = QUICK.replace("out_features = 32 }", "out_features = 32 },\n  { type = \"linear\", out_features = 1000000000 }")
    with pytest.raises(SpecError, match=rf"model.layers\[2\]: linear has 33,000,000,000 parameters, which brings the model to 33,000,002,080; at most {MAX_PARAMETERS:,} are allowed"):
        build(resolved(catalog, text))


def test_normalize_with_wrong_channel_count(catalog) -> None:
    """normalize with 3 means on 1-channel images: an error at the transform's key path."""
    text = QUICK.replace("mean = [0.3]", "mean = [0.3, 0.3, 0.3]")
    with pytest.raises(SpecError, match=r"s.toml:5: data.transforms\[1\]: normalize cannot take inputs of shape \(1, 8, 8\): mean has 3 values but the input has 1 channel; give 1 value$"):
        plan_data(resolved(catalog, text))


@pytest.mark.parametrize("with_optimizer", [True, False], ids=["run", "validate"])
def test_optimizer_refusal_is_located(catalog, with_optimizer) -> None:
    """torch's own refusal (nesterov without momentum) is reported at optimizer, by run's build and validate's alike."""
    text = QUICK.replace("momentum = 0.9", "nesterov = true")
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, text), with_optimizer=with_optimizer)
    (p,) = e.value.problems
    assert (p.loc, p.line) == (("optimizer",), 16)
    assert p.message == "optimizer 'sgd' refused its parameters: Nesterov momentum requires a momentum and zero dampening"


def test_validate_runs_the_optimizer_checks_without_importing_dynamo() -> None:
    """validate's optimizer check stops before torch reads the parameters: torch._dynamo (1.4 s) is never imported."""
    import subprocess
    import sys

    code = (
        "import sys; from registry.components.manager import load_catalog; from registry.building.builder import build; "
        "from registry.resolution.resolver import load_and_resolve; "
        f"b = build(load_and_resolve({str(ROOT / 'specs' / 'quickstart.toml')!r}, load_catalog(False)), with_optimizer=False); "
        "print(b.optimizer, 'torch._dynamo' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["None", "False"]


@pytest.mark.parametrize(
    ("old", "new", "loc", "message"),
    [
        ('  { type = "flatten" },\n', "", ("model", "layers", 3),
         "the model outputs shape (1, 8, 10) per sample, but nll with one class label per sample needs one score per "
         "class: shape (10,); flatten before the last linear layer, or pool the other dimensions away"),
        ('type = "nll"', 'type = "nll"\nweight = [1.0, 2.0, 3.0]', ("loss", "weight"),
         "has 3 values, but the model's output has 10 per sample: give one for each (the dataset's one class index "
         "per sample, 10 classes)"),
    ],
    ids=["output_shape", "class_weights"],
)
@pytest.mark.parametrize("with_optimizer", [True, False], ids=["run", "validate"])
def test_what_would_fail_mid_epoch_is_refused_at_build(catalog, old, new, loc, message, with_optimizer) -> None:
    """The loss is tried on the model's dry-run output against targets of the dataset's kind, before training."""
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, QUICK.replace(old, new, 1)), with_optimizer=with_optimizer)
    (p,) = e.value.problems
    assert (p.loc, p.message) == (loc, message)


def test_a_random_transform_in_transforms_is_refused(catalog) -> None:
    """random_horizontal_flip belongs in data.augment: in data.transforms it would run once on the whole split."""
    text = QUICK.replace('{ type = "to_tensor" }', '{ type = "to_tensor" }, { type = "random_horizontal_flip" }')
    with pytest.raises(SpecError) as e:
        plan_data(resolved(catalog, text))
    (p,) = e.value.problems
    assert p.loc == ("data", "transforms", 1, "type")
    assert p.message.startswith("random_horizontal_flip is random (two calls on the same batch differ); list it in data.augment")


def test_cuda_requested_without_cuda(catalog) -> None:
    """device = 'cuda' on a machine without CUDA is a spec error at train.device."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    text = QUICK.replace('device = "cpu"', 'device = "cuda"')
    with pytest.raises(SpecError) as e:
        build(resolved(catalog, text))
    line = text.splitlines().index('device = "cuda"') + 1  # located where the device is written
    assert [p.render("s.toml") for p in e.value.problems] == [
        f"s.toml:{line}: train.device: 'cuda' asked for, but CUDA is not available here"
    ]
