"""The built-in torch plugin: torch's layers and containers, activations, torchvision's architectures, losses,
optimizers, the MNIST family and transforms.

It is written exactly as a third-party plugin would be: one hook per kind.
"""

from __future__ import annotations

from registry import hookimpl
from registry.hookspecs import Factories

from .activations import ACTIVATIONS
from .containers import CONTAINERS
from .datasets import DATASETS
from .layers import LAYERS
from .losses import LOSSES
from .models import MODELS
from .optimizers import OPTIMIZERS
from .transforms import TRANSFORMS


@hookimpl
def registry_layers() -> Factories:
    return {**LAYERS, **CONTAINERS}


@hookimpl
def registry_models() -> Factories:
    return MODELS


@hookimpl
def registry_activations() -> Factories:
    return ACTIVATIONS


@hookimpl
def registry_losses() -> Factories:
    return LOSSES


@hookimpl
def registry_optimizers() -> Factories:
    return OPTIMIZERS


@hookimpl
def registry_datasets() -> Factories:
    return DATASETS


@hookimpl
def registry_transforms() -> Factories:
    return TRANSFORMS
