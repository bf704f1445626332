"""The seed notebook's printed values and weights, reproduced through the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.handwritten import SimpleNN  # the notebook's first network, verbatim
from registry.building.builder import build
from registry.resolution.resolver import load_and_resolve
from registry.spec.overrides import parse_override

from .conftest import SPECS


@pytest.mark.parametrize(
    ("name", "predicted", "target", "log_softmax", "expected"),
    [
        ("mse", [0.5, 0.8], [0.3, 1.0], False, 0.0400),
        ("bce", [0.5, 0.8], [0.0, 1.0], False, 0.4581),
        ("bce_with_logits", [0.5, 0.8], [0.0, 1.0], False, 0.6726),
        ("cross_entropy", [[2.0, 1.0, 0.1]], [0], False, 0.4170),
        ("nll", [[2.0, 1.0, 0.1]], [0], True, 0.4170),
    ],
)
def test_loss_gives_the_seed_value(catalog, name, predicted, target, log_softmax, expected) -> None:
    """Each registered loss, built from its defaults, prints the seed notebook's value."""
    loss_fn = catalog.get("loss", name).factory()
    pred = torch.tensor(predicted, requires_grad=True)
    if log_softmax:
        pred = pred.log_softmax(dim=1)
    tgt = torch.tensor(target)
    assert f"{loss_fn(pred, tgt).item():.4f}" == f"{expected:.4f}"


def test_smooth_l1_and_huber_on_the_seed_tensors(catalog) -> None:
    """smooth_l1 and huber give torch's values on the seed's tensors (0.5*0.04 = 0.02)."""
    pred, tgt = torch.tensor([0.5, 0.8]), torch.tensor([0.3, 1.0])
    for name in ("smooth_l1", "huber"):
        assert catalog.get("loss", name).factory()(pred, tgt).item() == pytest.approx(0.02, abs=1e-7)


class SimpleNN3(nn.Module):
    """The notebook's 784-128-64-10 networks (second and third differ only in activations)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)


def _built(catalog, path, *sets: str):
    return build(load_and_resolve(path, catalog, [parse_override(s) for s in sets]))


@pytest.mark.parametrize("seed", [0, 1, 1234])
def test_spec_network_starts_from_the_notebooks_weights(catalog, seed) -> None:
    """The seed's first network built from a spec under seed s has SimpleNN's initial weights under s."""
    built = _built(catalog, SPECS / "mnist_simple.toml", f"seed={seed}")
    torch.manual_seed(seed)
    reference = SimpleNN()
    ours = [p for p in built.model.parameters()]
    theirs = [p for p in reference.parameters()]
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


@pytest.mark.parametrize("spec", ["mnist_leaky_relu.toml", "mnist_cross_entropy.toml"])
def test_three_layer_networks_start_from_the_notebooks_weights(catalog, spec) -> None:
    """The second and third seed networks also match the hand-written class parameter for parameter."""
    built = _built(catalog, SPECS / spec)
    torch.manual_seed(0)
    reference = SimpleNN3()
    assert all(torch.equal(a, b) for a, b in zip(built.model.parameters(), reference.parameters(), strict=True))


def test_spec_network_computes_what_the_notebook_computes(catalog) -> None:
    """Same weights, same input: the spec model's output equals SimpleNN's output exactly."""
    built = _built(catalog, SPECS / "mnist_simple.toml")
    torch.manual_seed(0)
    reference = SimpleNN()
    x = torch.randn(5, 1, 28, 28)
    assert torch.equal(built.model(x), reference(x))


def test_model_prints_the_architecture(catalog) -> None:
    """print(model) shows each layer with its inferred sizes, as the notebook's print does."""
    built = _built(catalog, SPECS / "mnist_leaky_relu.toml")
    assert str(built.model) == (
        "Chain(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=784, out_features=128, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Linear(in_features=128, out_features=64, bias=True)\n"
        "  (4): LeakyReLU(negative_slope=0.01)\n"
        "  (5): Linear(in_features=64, out_features=10, bias=True)\n"
        "  (6): LogSoftmax(dim=1)\n"
        ")"
    )


def test_batched_transforms_equal_torchvisions_per_sample_ones(catalog) -> None:
    """to_tensor + normalize on a uint8 batch give bit for bit what ToTensor + Normalize give per PIL image."""
    from PIL import Image
    from torchvision import transforms

    g = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=g)
    ours = catalog.get("transform", "normalize").factory([0.1307], [0.3081])(
        catalog.get("transform", "to_tensor").factory()(batch)
    )
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    theirs = torch.stack([pipeline(Image.fromarray(img.numpy(), mode="L")) for img in batch])
    assert ours.shape == (4, 1, 28, 28)
    assert torch.equal(ours, theirs)
