"""A run's data: loaded once, checked against the dataset's declaration, targets encoded, moved to the device.

A path the dataset reads is checked first (``registry.spec.paths``), so a missing file is said where the spec
writes it; with ``data.precompute`` the transforms are applied here, once; otherwise ``batch_transforms``
gives them for each batch.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset as TorchDataset

from registry.building.builder import Built
from registry.building.data import DatasetSplits, Split, Transform, apply_transforms
from registry.building.factory import plugin_fault, short_message
from registry.errors import DatasetNotFoundError, RegistryError
from registry.spec.paths import check_paths, locate_missing

__all__ = ["batch_transforms", "load_data", "raw_splits"]


def _check_splits(built: Built, splits: Any) -> DatasetSplits:
    c = built.resolved.dataset.component
    if not isinstance(splits, DatasetSplits):
        raise plugin_fault(c, f"returned {type(splits).__name__} from load(), not registry.DatasetSplits")
    for label, split in (("train", splits.train), ("test", splits.test)):
        if isinstance(split, Split):
            wrong = built.data.dataset.check(split, label)
            if wrong:
                raise plugin_fault(c, f"loaded data that differs from its declaration: {wrong}")
        elif not isinstance(split, TorchDataset):
            raise plugin_fault(c, f"gave its {label} split as {type(split).__name__}, not a Split or a torch Dataset")
    return splits


def raw_splits(built: Built) -> DatasetSplits:
    """What the dataset's ``load`` returns, its paths checked first; a missing file said where the spec writes it.

    Raises:
        DatasetNotFoundError: a path is not there (``registry.spec.paths``), or the loader found files missing.
        PluginError: its ``load`` raised something else.
    """
    r, where = built.resolved.dataset, built.resolved.provenance
    check_paths(r.path_values, where)
    try:
        return built.data.dataset.load()  # checked by the caller (_check_splits)
    except DatasetNotFoundError as e:
        raise locate_missing(e, r.path_values, where) from None
    except RegistryError:
        raise
    except Exception as e:  # a plugin's loader can raise anything: its fault, named
        raise plugin_fault(r.component, f"raised {type(e).__name__} while loading its data: {short_message(e)}") from e


def load_data(built: Built) -> DatasetSplits:
    """Load the dataset once, check it against its declaration, and move both splits to the run's device.

    With ``data.precompute`` the transforms are applied here, once, to the splits held in
    memory; otherwise ``batch_transforms`` returns them for each batch.

    Raises:
        DatasetNotFoundError: the dataset's files are missing.
        PluginError: its ``load`` raised something else, or returned data unlike what it declares.
    """
    splits = _check_splits(built, raw_splits(built))
    train, test = (_encoded(built, s) for s in (splits.train, splits.test))
    if built.resolved.spec.data.precompute and built.data.transforms:
        return DatasetSplits(_precomputed(built, train), _precomputed(built, test), splits.fitted)
    train, test = (s.to(built.device) if isinstance(s, Split) else s for s in (train, test))
    return DatasetSplits(train, test, splits.fitted)


def _encoded(built: Built, split: Split | TorchDataset[Any]) -> Split | TorchDataset[Any]:
    """*split* with its targets as the loss takes them (one-hot, a 0/1 column...), once for the whole split."""
    if not isinstance(split, Split):
        return split
    return Split(split.inputs, built.task.encode(split.targets), split.transformed)


def _precomputed(built: Built, split: Split | TorchDataset[Any]) -> Split | TorchDataset[Any]:
    if not isinstance(split, Split):  # streamed through a DataLoader, transformed batch by batch
        return split
    moved = split.to(built.device)
    return Split(apply_transforms(moved.inputs, built.data.transforms), moved.targets, transformed=True)


def batch_transforms(built: Built, split: Split | TorchDataset[Any] | None = None) -> tuple[Transform, ...]:
    """The transforms still to apply to the batches of *split*: none when ``load_data`` precomputed them.

    Without *split*: the spec's answer for a split held in memory (none with ``data.precompute``).
    """
    if split is None:
        return () if built.resolved.spec.data.precompute else built.data.transforms
    return () if isinstance(split, Split) and split.transformed else built.data.transforms
