"""The built-in torch plugin: torch's layers (linear and reshaping, convolutions, pooling, normalisation, padding,
sequences)
and containers, activations, torchvision's architectures, losses,
torchmetrics' metrics, optimizers, learning-rate schedulers, datasets (the MNIST family, scikit-learn's bundled
ones, the user's own tables, arrays and image folders), transforms and weight initialisers.

It is written exactly as a third-party plugin would be: one hook per kind.
"""

from __future__ import annotations

from registry import hookimpl
from registry.hookspecs import Factories

from .activations import ACTIVATIONS
from .containers import CONTAINERS
from .convolutions import CONVOLUTIONS
from .datasets import DATASETS
from .images import IMAGES
from .initializers import INITIALIZERS
from .layers import LAYERS
from .losses import LOSSES
from .metrics import METRICS
from .models import MODELS
from .normalization import NORMALIZATION
from .optimizers import OPTIMIZERS
from .padding import PADDING
from .pooling import POOLING
from .schedulers import SCHEDULERS
from .sequences import SEQUENCES
from .tables import TABLES
from .transforms import TRANSFORMS


@hookimpl
def registry_layers() -> Factories:
    return {**LAYERS, **CONVOLUTIONS, **POOLING, **NORMALIZATION, **PADDING, **SEQUENCES, **CONTAINERS}


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
def registry_metrics() -> Factories:
    return METRICS


@hookimpl
def registry_optimizers() -> Factories:
    return OPTIMIZERS


@hookimpl
def registry_schedulers() -> Factories:
    return SCHEDULERS


@hookimpl
def registry_datasets() -> Factories:
    return {**DATASETS, **TABLES, **IMAGES}


@hookimpl
def registry_transforms() -> Factories:
    return TRANSFORMS


@hookimpl
def registry_initializers() -> Factories:
    return INITIALIZERS
