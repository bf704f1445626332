"""The spec format: pydantic models of a TOML spec, unknown keys refused.

The settings (``seed``, ``[train]``, batch sizes...) are typed fields. The keys
that hold components are typed as TOML tables and marked ``Holds(kinds)``:
``registry.spec.places`` reads those marks into the one table of component places,
and the resolver, the resolved spec, the JSON Schema and ``show`` all walk that
table. A component entry is ``{ type = "name", param = value, ... }``; its
parameters are validated against the component's own schema when the spec is
resolved. ``[data]`` and ``[model]`` are tables of settings that also hold a
component: the dataset (``dataset = "name"``, the keys that are not settings are
its parameters) and, optionally, a whole architecture (``type = "resnet18"``).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from registry.kinds import MODULE_KINDS
from registry.spec.formats import FORMAT
from registry.spec.places import Holds, Place, places_of

__all__ = [
    "places",
    "COMPOSITION_KEYS",
    "NAME_PATTERN",
    "Composition",
    "DataSpec",
    "EarlyStopping",
    "ModelSpec",
    "ParamGroups",
    "RequiresSpec",
    "Spec",
    "SweepSpec",
    "Table",
    "TrainSpec",
]

Positive = Annotated[int, Field(ge=1)]
Table = dict[str, Any]
"""A TOML table, not yet validated: a component entry, resolved later against its component's schema."""

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
"""A run name is one path component: letters, digits, ``_ . -``, not starting with a dot, at most 64 characters."""

BLOCK_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataSpec(BaseModel):
    """``[data]``: the dataset, its settings, batch sizes and transforms."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    dataset: Annotated[str, Field(min_length=1, description="a registered dataset: python -m registry list datasets")]
    batch_size: Annotated[Positive, Field(description="training batch size")] = 64
    test_batch_size: Annotated[Positive, Field(description="evaluation batch size")] = 1000
    transforms: Annotated[list[Table], Holds(("transform",)), Field(description="applied in order to every input")] = []
    augment: Annotated[
        list[Table],
        Holds(("transform",)),
        Field(description="random transforms applied to each training batch only, after `transforms`"),
    ] = []
    target_encoding: Annotated[
        Literal["auto", "index", "one_hot"],
        Field(
            description="class labels as the loss takes them: 'index' (one integer per sample), 'one_hot' (a "
            "vector per sample, for losses that compare with the output, as mse); 'auto' also turns two classes "
            "into one 0/1 target for a model with one output (bce)"
        ),
    ] = "auto"
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


class ModelSpec(BaseModel):
    """``[model]``: ``layers`` (a chain, each input size inferred) or ``type`` (a whole architecture), not both;
    ``init``, with either, sets the built model's initial weights."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    type: Annotated[str | None, Field(min_length=1, description="a registered model (whole architecture)")] = None
    layers: Annotated[
        list[Table] | None,
        Holds(MODULE_KINDS),
        Field(min_length=1, description="layers, activations and containers, in order"),
    ] = None
    blocks: Annotated[
        dict[Annotated[str, Field(pattern=BLOCK_PATTERN)], Table],
        Holds(MODULE_KINDS),
        Field(description="named blocks: each defined once, used anywhere in layers as { block = NAME }"),
    ] = {}
    init: Annotated[
        Table | list[Table] | None,
        Holds(("initializer",)),
        Field(
            min_length=1,
            description="weight initialisers applied in order to the built model, beside layers or type: "
            "{ type = NAME, ... } or an array of them (default: each layer's own torch initialisation)",
        ),
    ] = None


def _device(value: str) -> str:
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
        raise ValueError(f"must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (got {value!r})")
    return value


class EarlyStopping(_Strict):
    """``[train.early_stopping]``: stop when a test value has not improved for a while."""

    metric: Annotated[
        str,
        Field(min_length=1, description="the test value watched: 'loss', 'accuracy', a metric's name, or 'auto' "
              "(what train.monitor picks)"),
    ] = "auto"  # fmt: skip
    patience: Annotated[Positive, Field(description="stop after this many epochs without an improvement")] = 3
    min_delta: Annotated[
        float, Field(ge=0, description="an improvement is a change by more than this, in the better direction")
    ] = 0.0


class ParamGroups(_Strict):
    """``[train.param_groups]``: the optimizer's parameters in groups (docs/training.md, "Training policies")."""

    no_decay_bias_and_norm: Annotated[
        bool, Field(description="no weight decay on biases and normalisation weights (parameters of < 2 dimensions)")
    ] = False
    lr_scale: Annotated[
        dict[Annotated[str, Field(min_length=1)], Annotated[float, Field(gt=0)]],
        Field(description="learning-rate multipliers by parameter name pattern ('model.blocks.stem.*'): "
              "* any characters, ? one; each pattern must match a parameter of the model"),
    ] = {}  # fmt: skip


class TrainSpec(_Strict):
    """``[train]``: how long and where to train."""

    epochs: Annotated[int, Field(ge=1, le=1_000_000, description="passes over the training split")] = 10
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
    monitor: Annotated[
        str,
        Field(
            min_length=1,
            description="the test value that picks the best checkpoint, and that early stopping watches unless it "
            "names another: 'loss', 'accuracy' (classification), a metric's name, or 'auto' (accuracy for "
            "classification, else the loss); 'best_metric' before spec format 2",
        ),
    ] = "auto"
    early_stopping: Annotated[
        EarlyStopping | None, Field(description="stop early when a test value stops improving (default: never)")
    ] = None
    accumulate: Annotated[
        int,
        Field(ge=1, le=1_000_000, description="add up the gradients of this many batches before each optimizer "
              "step: the same step as one batch this many times larger (mean-reduced losses)"),
    ] = 1  # fmt: skip
    param_groups: Annotated[
        ParamGroups | None, Field(description="the optimizer's parameters in groups: no decay, rate multipliers")
    ] = None
    precision: Annotated[
        Literal["float32", "bfloat16", "float16"],
        Field(description="'bfloat16': autocast on the CPU or CUDA; 'float16': CUDA with a gradient scaler; "
              "weights and optimizer stay float32"),
    ] = "float32"  # fmt: skip
    threads: Annotated[
        Literal["auto"] | Annotated[int, Field(ge=1, le=4096)],
        Field(description="torch's intra-op CPU threads; 'auto': 1 (see docs/training.md, Threads) unless "
              "OMP_NUM_THREADS says otherwise"),
    ] = "auto"  # fmt: skip


class RequiresSpec(_Strict):
    """``[requires]``: what the spec needs installed."""

    plugins: Annotated[
        list[str],
        Field(
            description="plugin distributions, as pip requirements ('registry-example-plugin>=0.1'); no URLs or paths"
        ),
    ] = []


Scalar = str | int | float | bool
"""A value Optuna can sample as a choice; a table or an array among ``choices`` is sampled as its TOML text."""


class FloatRange(_Strict):
    """A float between ``low`` and ``high`` (both included): uniform, on a log scale, or in steps."""

    type: Literal["float"]
    low: float
    high: float
    log: Annotated[bool, Field(description="sample on a log scale (low > 0): learning rates, weight decays")] = False
    step: Annotated[float | None, Field(gt=0, description="only low, low + step, ... (not with log)")] = None

    @model_validator(mode="after")
    def _bounds(self) -> FloatRange:
        _check_range(self.low, self.high, self.log, self.step)
        return self


class IntRange(_Strict):
    """An integer between ``low`` and ``high`` (both included), in steps of ``step``, or on a log scale."""

    type: Literal["int"]
    low: int
    high: int
    step: Annotated[int, Field(ge=1, description="only low, low + step, ... (step 1 with log)")] = 1
    log: Annotated[bool, Field(description="sample on a log scale (low >= 1)")] = False

    @model_validator(mode="after")
    def _bounds(self) -> IntRange:
        _check_range(self.low, self.high, self.log, None if self.step == 1 else self.step)
        return self


class Choice(_Strict):
    """One of ``choices``: numbers, strings, booleans, a component's ``type``, or whole tables and arrays."""

    type: Literal["categorical"]
    choices: Annotated[list[Any], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _distinct(self) -> Choice:
        for i, choice in enumerate(self.choices):  # 1, 1.0 and true are one value to Optuna (equal, same hash)
            if any(_same(choice, earlier) for earlier in self.choices[:i]):
                raise ValueError(f"choices[{i}] ({choice!r}) is the same choice as an earlier one: give each once")
        return self


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    return bool(a == b)


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low > high:
        raise ValueError(f"low ({low}) is greater than high ({high})")
    if log and low <= 0:
        raise ValueError(f"a log scale needs low > 0 (got {low})")
    if log and step is not None:
        raise ValueError("log and step cannot be used together")


Distribution = Annotated[FloatRange | IntRange | Choice, Field(discriminator="type")]


PrunerName = Literal["median", "successive_halving", "none"]


class Pruner(_Strict):
    """``sweep.pruner``: which trials to stop after an epoch, judged on the objective's per-epoch values."""

    type: Annotated[
        PrunerName,
        Field(description="'median': stop a trial whose value is worse than the median of earlier trials at the "
              "same epoch; 'successive_halving': keep the best part of the trials at each rung; 'none'"),
    ] = "median"  # fmt: skip
    startup_trials: Annotated[
        int, Field(ge=0, description="median: prune nothing until this many trials have finished")
    ] = 5
    warmup_epochs: Annotated[
        int,
        Field(
            ge=0,
            description="median: the epochs a trial runs before it can be pruned (1: judged from its "
            "second epoch, as one epoch says little of a short trial; the last epoch is never pruned)",
        ),
    ] = 1
    min_epochs: Annotated[int, Field(ge=1, description="successive halving: epochs at the first rung")] = 1
    reduction_factor: Annotated[
        int, Field(ge=2, description="successive halving: 1 in this many trials goes on at each rung")
    ] = 4


class SweepSpec(_Strict):
    """``[sweep]``: the values ``registry sweep`` searches, and how (Optuna). ``run`` ignores it."""

    space: Annotated[
        dict[Annotated[str, Field(min_length=1)], Distribution],
        Field(
            min_length=1,
            description='key path -> distribution: "optimizer.lr" = { type = "float", low = 1e-4, high = 0.1, '
            "log = true }; types: float, int (low, high, step, log), categorical (choices)",
        ),
    ]
    trials: Annotated[int, Field(ge=1, le=100_000, description="how many trials the sweep records")] = 20
    metric: Annotated[
        str,
        Field(min_length=1, description="the test value to optimise, at each trial's best epoch: 'loss', "
              "'accuracy', a metric's name, or 'auto' (train.monitor's value)"),
    ] = "auto"  # fmt: skip
    direction: Annotated[
        Literal["auto", "maximize", "minimize"],
        Field(description="'auto': maximize what is better larger (accuracy, f1...), minimize a loss or an error"),
    ] = "auto"
    sampler: Annotated[
        Literal["tpe", "random", "grid"],
        Field(description="Optuna's sampler: 'tpe' (Bayesian), 'random', or 'grid' (every combination, finite "
              "spaces only)"),
    ] = "tpe"  # fmt: skip
    seed: Annotated[int | None, Field(ge=0, description="the sampler's seed (default: the spec's seed)")] = None
    pruner: Annotated[
        Pruner | PrunerName,
        Field(description="stop unpromising trials early: 'median', 'successive_halving', 'none', or a table "
              "{ type = ..., startup_trials = 5, ... }"),
    ] = "median"  # fmt: skip

    @property
    def pruning(self) -> Pruner:
        return self.pruner if isinstance(self.pruner, Pruner) else Pruner(type=self.pruner)


class Composition(_Strict):
    """The keys that compose a spec from other files and shared values; ``registry.spec.compose`` consumes them.

    They are read from each file before its values are merged, so the validated ``Spec`` never holds them.
    """

    base: Annotated[
        str | list[str],
        Field(description="the spec(s) this one builds on, as paths relative to this file; merged in order, then "
              "this file on top: tables key by key, arrays and tables that name a type replace as a whole"),
    ] = []  # fmt: skip
    unset: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(description="key paths the bases set that this spec removes ('train.grad_clip', "
              "'model.blocks.res16'; no array indexes)"),
    ] = []  # fmt: skip
    format: Annotated[
        int,
        Field(ge=1, description=f"the spec format this file is written in (default: the current one, "
              f"{FORMAT}); python -m registry upgrade rewrites an older file"),
    ] = FORMAT  # fmt: skip
    vars: Annotated[
        dict[str, Any],
        Field(description="values defined once and used anywhere as \"${vars.NAME}\" (any key path works too); "
              "a whole-string reference takes the value with its type"),
    ] = {}  # fmt: skip


COMPOSITION_KEYS = tuple(Composition.model_fields)


class Spec(_Strict):
    """A whole spec: what to train, on what, with what, and for how long."""

    seed: Annotated[int, Field(ge=0, description="seeds weights, shuffling and dropout")] = 0
    name: Annotated[
        str | None,
        Field(
            pattern=NAME_PATTERN,
            description="a label for the run, also the start of its directory's name: letters, digits, _ . - "
            "(not starting with a dot), at most 64 characters",
        ),
    ] = None
    data: Annotated[DataSpec, Holds(("dataset",), key="dataset")]
    model: Annotated[ModelSpec, Holds(("model",), optional=True)]
    loss: Annotated[Table, Holds(("loss",)), Field(description="the loss: { type = NAME, ... }")]
    metrics: Annotated[
        list[Table] | None,
        Holds(("metric",)),
        Field(
            description="test metrics computed after each epoch, beside the loss (default: the task's; see `show NAME`)"
        ),
    ] = None
    optimizer: Annotated[Table, Holds(("optimizer",)), Field(description="the optimizer: { type = NAME, ... }")]
    scheduler: Annotated[
        Table | None,
        Holds(("scheduler",)),
        Field(description="a learning-rate scheduler: { type = NAME, ... } (default: a constant rate)"),
    ] = None
    train: TrainSpec = TrainSpec()
    requires: RequiresSpec = RequiresSpec()
    sweep: Annotated[
        SweepSpec | None,
        Field(description="a search over this spec's values: python -m registry sweep SPEC (run ignores it)"),
    ] = None


@functools.cache
def places() -> tuple[Place, ...]:
    """Every place of the spec format, in the order of the format (parents before what they contain)."""
    return tuple(places_of(Spec))
