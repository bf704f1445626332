"""The spec format: pydantic models of a TOML spec, unknown keys refused.

A component entry (a layer, the loss, the optimizer, a transform) is a table
with ``type`` naming a registered component; its other keys are that
component's parameters, validated against the component's own schema when the
spec is resolved (``registry.resolve``). ``[data]`` works the same way:
``dataset`` names the dataset and the keys that are not loader settings are
the dataset's parameters.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["ComponentSpec", "DataSpec", "ModelSpec", "RequiresSpec", "Spec", "TrainSpec"]

Positive = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ComponentSpec(BaseModel):
    """``{ type = "name", param = value, ... }``: a component and its parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Annotated[str, Field(min_length=1, description="a registered component name")]

    @property
    def params(self) -> dict[str, Any]:
        """The keys besides ``type``: the component's parameters, not yet validated."""
        return dict(self.model_extra or {})


class DataSpec(BaseModel):
    """``[data]``: the dataset, its settings, batch sizes and transforms."""

    model_config = ConfigDict(extra="allow", frozen=True)

    dataset: Annotated[str, Field(min_length=1, description="a registered dataset name")]
    batch_size: Annotated[Positive, Field(description="training batch size")] = 64
    test_batch_size: Annotated[Positive, Field(description="evaluation batch size")] = 1000
    transforms: Annotated[list[ComponentSpec], Field(description="applied in order to every input")] = []
    augment: Annotated[
        list[ComponentSpec],
        Field(description="random transforms applied to each training batch only, after `transforms`"),
    ] = []
    precompute: Annotated[
        bool,
        Field(
            description="apply the transforms once to the whole split and keep the result (faster for costly "
            "transforms such as resize; float32 images take 4x the memory of uint8 ones); "
            "otherwise they run on blocks of consecutive batches as they are taken"
        ),
    ] = False

    @property
    def params(self) -> dict[str, Any]:
        """The keys that are the dataset's own parameters (``root``, ``download``...)."""
        return dict(self.model_extra or {})


class ModelSpec(_Strict):
    """``[model]``: the layers, in order; each one's input size is inferred."""

    layers: Annotated[list[ComponentSpec], Field(min_length=1, description="layers and activations, in order")]


def _device(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
        raise ValueError(f"must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (got {value!r})")
    return value


class TrainSpec(_Strict):
    """``[train]``: how long and where to train."""

    epochs: Annotated[Positive, Field(description="passes over the training split")] = 10
    log_interval: Annotated[Positive, Field(description="log the loss every this many batches")] = 100
    device: Annotated[
        str,
        AfterValidator(_device),
        Field(description="'auto' (CUDA where present, else the CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ] = "auto"
    max_steps_per_epoch: Annotated[
        Positive | None, Field(description="stop each epoch after this many batches (smoke tests)")
    ] = None
    grad_clip: Annotated[float | None, Field(gt=0, description="clip the gradient norm to this value")] = None
    checkpoint_every: Annotated[
        int, Field(ge=0, description="also checkpoint every this many batches (0: only at the end of each epoch)")
    ] = 0
    keep_checkpoints: Annotated[Positive, Field(description="keep this many recent checkpoints (and the best)")] = 2
    backend: Annotated[
        Literal["auto", "gloo", "nccl"],
        Field(description="process-group backend under torchrun: 'auto' is nccl on CUDA, gloo on the CPU"),
    ] = "auto"
    dist_timeout: Annotated[
        int, Field(ge=10, description="seconds before a rank waiting on a dead or stuck one gives up (torchrun)")
    ] = 300
    tensorboard: Annotated[
        bool, Field(description="also write TensorBoard event files to <run>/tensorboard (needs the tensorboard extra)")
    ] = False
    best_metric: Annotated[
        Literal["accuracy", "loss"], Field(description="the test metric that picks the best checkpoint")
    ] = "accuracy"


class RequiresSpec(_Strict):
    """``[requires]``: what the spec needs installed."""

    plugins: Annotated[
        list[str], Field(description="plugin distributions, as pip requirements ('registry-example-plugin>=0.1')")
    ] = []


class Spec(_Strict):
    """A whole spec: what to train, on what, with what, and for how long."""

    seed: Annotated[int, Field(ge=0, description="seeds weights, shuffling and dropout")] = 0
    name: Annotated[str | None, Field(description="a label for the run")] = None
    data: DataSpec
    model: ModelSpec
    loss: ComponentSpec
    optimizer: ComponentSpec
    train: TrainSpec = TrainSpec()
    requires: RequiresSpec = RequiresSpec()
