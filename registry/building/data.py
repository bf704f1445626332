"""What a dataset plugin returns, and how the runner batches resident tensors.

A dataset factory returns a ``Dataset``: what is known without reading any file
(the raw per-sample shape and dtype, the class names) and a ``load`` callable
that reads the files and returns both splits as tensors. ``validate`` uses the
first part only; ``run`` loads once and keeps both splits resident on the run's
device. The spec's transforms are applied once to the whole split with
``data.precompute``, or else to each block of consecutive batches as it is
taken. A training batch is a slice of a per-epoch permutation drawn from the
run's seeded generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

__all__ = [
    "Dataset",
    "DatasetSplits",
    "Inputs",
    "Split",
    "apply_transforms",
    "block_batches",
    "iter_batches",
    "split_len",
]

Transform = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Split:
    """One split held in memory: ``inputs[i]`` is a sample, ``targets[i]`` its label."""

    inputs: Tensor
    targets: Tensor
    transformed: bool = False
    """True once the runner has applied the spec's transforms to ``inputs`` (a plugin leaves it False)."""

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.targets):
            raise ValueError(f"{len(self.inputs)} inputs but {len(self.targets)} targets")

    def __len__(self) -> int:
        return len(self.inputs)

    def to(self, device: torch.device) -> Split:
        return Split(self.inputs.to(device), self.targets.to(device), self.transformed)


@dataclass(frozen=True)
class DatasetSplits:
    """The train and test splits of a dataset.

    Each is a ``Split`` (tensors held in memory: the fast path), or, for data that does not
    fit in memory, any map-style ``torch.utils.data.Dataset`` whose items are
    ``(input tensor, target)``: it is read through a ``DataLoader`` in the same seeded order.

    ``fitted`` is what the dataset learnt from its training split (a table's encodings and
    statistics), as plain JSON-able values: the run keeps it (``data.json``) so that ``predict``
    prepares new inputs exactly as the training ones were.
    """

    train: Split | TorchDataset[Any]
    test: Split | TorchDataset[Any]
    fitted: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """Raw samples that a dataset's ``reader`` read for ``predict``, and what to call each one.

    Attributes:
        samples: the samples, batch first, as the dataset's splits hold them.
        names: one name per sample where it has one (an image's file, relative to the folder read);
            None: ``predict`` numbers them (a table's rows).
        warnings: what ``predict`` says on standard error before the predictions (values it encoded as unknown).
    """

    samples: Tensor
    names: tuple[str, ...] | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A dataset as a plugin declares it.

    Attributes:
        sample_shape: the raw shape of one input, before transforms (``(28, 28)``).
        sample_dtype: the raw dtype of the inputs (``torch.uint8`` for images).
        classes: class names, index = label; for ``multilabel`` targets, the label names; empty for
            real-valued targets.
        load: reads the data; raises ``registry.DatasetNotFoundError`` when the
            files are missing and cannot be fetched.
        description: where the data comes from, for messages.
        target_shape: the shape of one target: ``()`` for a class label (the default with
            classes), ``(k,)`` for k labels or k real values; None when not declared (the checks
            then take one value per sample).
        target_dtype: the dtype of the targets: ``torch.int64`` for class labels (the default with classes).
        target_kind: ``classes`` (one class index per sample: the default with classes), ``multilabel``
            (a 0/1 vector over ``classes`` per sample) or ``values`` (real values: the default without).
        reader: reads raw inputs of this dataset's kind from a file or folder for ``predict`` (a table's
            rows, a folder of images) as ``Inputs``, given the state its ``load`` fitted on the training split; None:
            ``predict`` reads ``.npy``/``.safetensors`` arrays of raw samples.
        train_samples: the number of training samples, where it is known without loading (MNIST's
            60,000): ``validate`` then knows the optimizer steps per epoch (a scheduler's length); the
            loaded split must have exactly this many.
        prepare: turns raw samples (as a user has them: unscaled features) into samples as the splits hold
            them, with the fitted state (a table's standardisation); None when they are the same.
        warnings: what the declaration found that the user should hear of without it being an error (test rows
            whose categories the training rows never showed, encoded as none): ``validate`` and ``run`` say them.
        available: checks, without reading the data, that ``load`` will find it (its files are there, or a
            download is on); raises ``registry.DatasetNotFoundError``. ``validate`` calls it, so that it refuses
            what ``run`` would; None when ``load``'s own check is all there is.
    """

    sample_shape: tuple[int, ...]
    sample_dtype: torch.dtype
    classes: tuple[str, ...]
    load: Callable[[], DatasetSplits] = field(repr=False)
    description: str = ""
    target_shape: tuple[int, ...] | None = None
    target_dtype: torch.dtype | None = None
    target_kind: Literal["classes", "multilabel", "values"] | None = None
    reader: Callable[[Path, dict[str, Any]], Inputs] | None = field(default=None, repr=False)
    train_samples: int | None = None
    prepare: Callable[[Tensor, dict[str, Any]], Tensor] | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    available: Callable[[], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.target_kind is None:
            object.__setattr__(self, "target_kind", "classes" if self.classes else "values")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def targets(self) -> tuple[tuple[int, ...] | None, torch.dtype | None]:
        """The declared (shape, dtype) of one target; class labels are ``((), torch.int64)``."""
        if self.target_kind == "classes":
            return self.target_shape or (), self.target_dtype or torch.int64
        if self.target_kind == "multilabel":
            return self.target_shape or (self.num_classes,), self.target_dtype
        return self.target_shape, self.target_dtype

    def describe_targets(self) -> str:
        """The targets in words, for messages."""
        shape, dtype = self.targets
        if self.target_kind == "classes":
            return f"one class index per sample, {self.num_classes} classes"
        if self.target_kind == "multilabel":
            return f"a 0/1 vector over {self.num_classes} labels per sample"
        n = 1 if not shape else shape[0]
        return f"{n} real value{'s' if n != 1 else ''} per sample"

    def example_batch(self, n: int = 2) -> Tensor:
        """A batch of zeros with the raw sample shape and dtype, for dry runs."""
        return torch.zeros((n, *self.sample_shape), dtype=self.sample_dtype)

    def random_batch(self, n: int = 4) -> Tensor:
        """A batch of random values with the raw sample shape and dtype (to tell a random transform)."""
        g = torch.Generator().manual_seed(0)
        if self.sample_dtype.is_floating_point:
            return torch.rand((n, *self.sample_shape), generator=g).to(self.sample_dtype)
        high = 256 if self.sample_dtype == torch.uint8 else 2
        return torch.randint(0, high, (n, *self.sample_shape), generator=g).to(self.sample_dtype)

    def example_targets(self, n: int) -> Tensor:
        """Raw targets of the declared kind for *n* samples, for dry runs (before the task encodes them)."""
        shape, dtype = self.targets
        if self.target_kind == "classes":
            return torch.arange(n, dtype=dtype) % max(1, self.num_classes)
        return torch.zeros((n, *(shape or ())), dtype=dtype or torch.get_default_dtype())

    def check(self, split: Split, label: str) -> str | None:
        """What is wrong with a loaded split against this declaration, or None."""
        if label == "train" and self.train_samples is not None and len(split) != self.train_samples:
            return f"its train split has {len(split)} samples, but it declares {self.train_samples}"
        got = tuple(split.inputs.shape[1:])
        if got != self.sample_shape:
            return f"its {label} samples have shape {got}, but it declares {self.sample_shape}"
        if split.inputs.dtype != self.sample_dtype:
            return f"its {label} samples are {split.inputs.dtype}, but it declares {self.sample_dtype}"
        shape, dtype = self.targets
        if shape is not None and tuple(split.targets.shape[1:]) != shape:
            return (
                f"its {label} targets have shape {tuple(split.targets.shape[1:])} per sample, but it declares {shape}"
            )
        if dtype is not None and split.targets.dtype != dtype:
            return f"its {label} targets are {split.targets.dtype}, but it declares {dtype}"
        if self.target_kind == "classes" and len(split):
            lo, hi = int(split.targets.min()), int(split.targets.max())
            if lo < 0 or hi >= self.num_classes:
                return f"its {label} class labels run from {lo} to {hi}, but it has {self.num_classes} classes"
        if self.target_kind == "multilabel" and len(split) and not ((split.targets == 0) | (split.targets == 1)).all():
            return f"its {label} targets are not all 0 or 1, but it declares multilabel targets"
        if self.target_kind == "values" and len(split) and not torch.isfinite(split.targets.float()).all():
            return f"its {label} targets hold NaN or infinite values"
        return None


def apply_transforms(x: Tensor, transforms: Sequence[Transform], chunk: int = 8192) -> Tensor:
    """Apply *transforms* in order to the batch *x*; above *chunk* samples, a chunk at a time into one new tensor.

    Up to *chunk* samples the result is what the transforms return, which may be *x* itself
    (``to_tensor`` on float input returns its input).
    """
    if len(x) <= chunk or not transforms:
        return _transformed(x, transforms)
    out: Tensor | None = None
    for start in range(0, len(x), chunk):
        y = x[start : start + chunk]
        for t in transforms:
            y = t(y)
        if out is None:
            out = torch.empty((len(x), *y.shape[1:]), dtype=y.dtype, device=y.device)
        out[start : start + len(y)] = y
    assert out is not None
    return out


BLOCK_BYTES = 1 << 20


def block_batches(batch_size: int, sample_nbytes: int) -> int:
    """How many consecutive batches to gather and transform at once: about ``BLOCK_BYTES`` of
    transformed samples (*sample_nbytes* each), and at least one batch.

    A transform costs a fixed overhead per call on top of its arithmetic, and on small batches
    (64 Fashion-MNIST images) that overhead is most of the cost. Blocks much larger than a
    megabyte cost more again: each is fresh memory that the C allocator maps from the system,
    page by page. Transforms treat every sample alike (the hook's contract), so the values are
    the same as batch by batch.
    """
    return max(1, BLOCK_BYTES // max(1, batch_size * sample_nbytes))


def _transformed(x: Tensor, transforms: Sequence[Transform]) -> Tensor:
    for t in transforms:
        x = t(x)
    return x


def split_len(split: Split | TorchDataset[Any]) -> int:
    """Number of samples of a split, held in memory or not (a map-style Dataset must define __len__)."""
    return len(split)  # type: ignore[arg-type]


def loader_workers() -> int:
    """DataLoader worker processes: one core is left to the training process (0 on a single core)."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def _loader_batches(
    dataset: TorchDataset[Any],
    batch_size: int,
    generator: torch.Generator | None,
    transforms: Sequence[Transform],
    start_batch: int,
    share: Callable[[Tensor], Tensor] | None,
    device: torch.device,
) -> Iterator[tuple[Tensor, Tensor, int]]:
    n = split_len(dataset)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    batches = [order[s : s + batch_size] for s in range(start_batch * batch_size, n, batch_size)]
    wholes = [len(b) for b in batches]
    chosen = [(share(b) if share is not None else b).tolist() for b in batches]
    workers = loader_workers()
    loader = DataLoader(
        dataset, batch_sampler=chosen, num_workers=workers, pin_memory=device.type == "cuda",
        persistent_workers=False, prefetch_factor=4 if workers else None,
    )  # fmt: skip
    for (x, y), whole in zip(loader, wholes, strict=True):
        x, y = x.to(device, non_blocking=True), torch.as_tensor(y).to(device, non_blocking=True)
        yield _transformed(x, transforms), y, whole


def iter_batches(
    split: Split | TorchDataset[Any],
    batch_size: int,
    generator: torch.Generator | None,
    transforms: Sequence[Transform] = (),
    start_batch: int = 0,
    share: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | None = None,
    block: int = 1,
) -> Iterator[tuple[Tensor, Tensor, int]]:
    """Yield ``(inputs, targets)`` batches, shuffled with *generator* (in order when None).

    Batches are taken from the resident split in the order of the permutation, on its device.
    With *transforms*, *block* consecutive batches at a time (see ``block_batches``): each block is
    gathered with one index_select, the transforms run on it once, and its batches are views;
    without, each batch is gathered on its own. The permutation is drawn in full even when
    *start_batch* skips the first batches, and blocks start where they would have in an
    uninterrupted epoch, so a resumed epoch sees exactly the batches an uninterrupted one would,
    from the same transform calls. With *share* (data-parallel runs) each process gathers and
    transforms its share of every batch, batch by batch; the third item is the whole batch's size.
    A split that is not held in memory is read batch by batch through a DataLoader.
    """
    if not isinstance(split, Split):  # a Dataset that is not held in memory: read it through a DataLoader
        target = device or torch.device("cpu")
        yield from _loader_batches(split, batch_size, generator, transforms, start_batch, share, target)
        return
    n = len(split)
    inputs, targets = split.inputs, split.targets
    order = torch.randperm(n, generator=generator).to(inputs.device) if generator is not None else None
    if share is not None:  # data-parallel: each process gathers its share of every batch
        for start in range(start_batch * batch_size, n, batch_size):
            idx = (
                order[start : start + batch_size]
                if order is not None
                else torch.arange(start, min(start + batch_size, n), device=inputs.device)
            )
            mine = share(idx)
            yield _transformed(inputs.index_select(0, mine), transforms), targets.index_select(0, mine), len(idx)
        return
    per = max(1, block) if transforms else 1
    span = per * batch_size
    skip = start_batch % per * batch_size  # blocks start where an uninterrupted epoch's start: same calls
    for first in range((start_batch - start_batch % per) * batch_size, n, span):
        if order is None:
            xs, ys = inputs[first : first + span], targets[first : first + span]
        else:  # gathered a block at a time: no second copy of the split per epoch
            idx = order[first : first + span]
            xs, ys = inputs.index_select(0, idx), targets.index_select(0, idx)
        xs = _transformed(xs, transforms)
        size = ys.shape[0]
        for start in range(skip, size, batch_size):
            yield xs[start : start + batch_size], ys[start : start + batch_size], min(batch_size, size - start)
        skip = 0
