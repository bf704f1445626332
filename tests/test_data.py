"""Batching: resident tensors and, for data that does not fit in memory, a DataLoader in the same seeded order."""

from __future__ import annotations

import types

import torch
from torch.utils.data import TensorDataset

import registry
from registry.building.builder import build
from registry.building.data import Dataset, DatasetSplits, Split, iter_batches
from registry.components.manager import build_catalog, load_plugins
from registry.resolution.resolver import load_and_resolve
from registry.training.loop import run

from .conftest import QUICK


def test_batches_cover_every_sample_once_in_seeded_order() -> None:
    """One epoch: each index exactly once, in the order of the seeded permutation; resuming at batch 3 continues it."""
    split = Split(torch.arange(100).float().view(100, 1), torch.arange(100))
    batches = list(iter_batches(split, 32, torch.Generator().manual_seed(7)))
    order = torch.randperm(100, generator=torch.Generator().manual_seed(7))
    assert [len(y) for _, y, _ in batches] == [32, 32, 32, 4]
    assert torch.equal(torch.cat([y for _, y, _ in batches]), order)
    tail = list(iter_batches(split, 32, torch.Generator().manual_seed(7), start_batch=3))
    assert len(tail) == 1 and torch.equal(tail[0][1], order[96:])


def test_transforms_run_a_block_of_batches_at_a_time_with_the_values_of_batch_by_batch() -> None:
    """Consecutive batches are gathered and transformed together (one call per block), same values as one by one."""
    from registry_torch.transforms import Normalize, ToTensor

    import registry.building.data as data

    images = torch.randint(0, 256, (1000, 28, 28), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    split = Split(images, torch.arange(1000))
    calls: list[int] = []

    def to_tensor(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return ToTensor()(x)

    steps = (to_tensor, Normalize([0.2860], [0.3530]))
    assert data.block_batches(64, 4 * 28 * 28) == 5  # float32 images: 5 batches of 64 are about 1 MB
    batches = list(iter_batches(split, 64, torch.Generator().manual_seed(7), steps, start_batch=2, block=5))
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(7))[128:]
    # resumed at batch 2: the blocks are still batches 0-4, 5-9, 10-14 and 15 (40 samples), as in a whole epoch,
    # so every sample goes through the same transform call; batches 0 and 1 are not handed out
    assert calls == [320, 320, 320, 40]
    assert [len(x) for x, _, _ in batches] == [64] * 13 + [40]
    assert torch.equal(torch.cat([y for _, y, _ in batches]), order)
    expected = Normalize([0.2860], [0.3530])(ToTensor()(images[order]))
    assert torch.equal(torch.cat([x for x, _, _ in batches]), expected)  # bit for bit


def test_precomputed_splits_are_marked_and_not_transformed_again(write_spec) -> None:
    """data.precompute: the resident splits hold float inputs, and batches are not transformed a second time."""
    from registry.training.splits import batch_transforms, load_data

    spec = write_spec(QUICK.replace("batch_size = 32", "batch_size = 32\nprecompute = true"))
    built = build(load_and_resolve(spec, build_catalog(load_plugins(load_entrypoints=False))))
    splits = load_data(built)
    assert splits.train.transformed and splits.test.transformed
    assert splits.train.inputs.dtype == torch.float32 and splits.train.inputs.shape[1:] == (1, 8, 8)
    assert batch_transforms(built, splits.train) == ()
    raw = built.data.dataset.load().train
    assert torch.equal(splits.train.inputs, built.data.transforms[1](built.data.transforms[0](raw.inputs)))


def test_shares_of_a_batch_partition_it() -> None:
    """Two ranks' shares of every batch are disjoint and together the whole batch."""
    from registry.training.distributed import Ranks, shard

    split = Split(torch.zeros(10, 1), torch.arange(10))
    parts = [
        [y for _, y, _ in iter_batches(split, 4, torch.Generator().manual_seed(0), share=lambda i, r=r: shard(i, Ranks(r, 2, r)))]
        for r in (0, 1)
    ]
    whole = [y for _, y, _ in iter_batches(split, 4, torch.Generator().manual_seed(0))]
    assert [torch.cat([a, b]).tolist() for a, b in zip(*parts)] == [w.tolist() for w in whole]


def _streamed_digits(test_fraction: float = 0.2) -> Dataset:
    """The bundled digits, served as map-style torch Datasets (the DataLoader path)."""
    memory = registry_torch_digits(test_fraction)

    def load() -> DatasetSplits:
        s = memory.load()
        return DatasetSplits(TensorDataset(s.train.inputs, s.train.targets), TensorDataset(s.test.inputs, s.test.targets))

    return Dataset(memory.sample_shape, memory.sample_dtype, memory.classes, load)


def registry_torch_digits(test_fraction: float) -> Dataset:
    from registry_torch.datasets import digits

    return digits(test_fraction=test_fraction)


def test_dataloader_path_trains_exactly_like_the_in_memory_path(write_spec) -> None:
    """The same data served as a torch Dataset through a DataLoader gives bit-identical weights and metrics."""
    plugins = load_plugins(load_entrypoints=False)
    mod = types.ModuleType("streamed")
    mod.registry_datasets = registry.hookimpl(lambda: {"streamed_digits": _streamed_digits})
    mod.registry_datasets.__name__ = "registry_datasets"
    plugins.pm.register(mod, name="streamed")
    catalog = build_catalog(plugins)
    results = {}
    for name in ("digits", "streamed_digits"):
        spec = write_spec(QUICK.replace('dataset = "digits"', f'dataset = "{name}"').replace("epochs = 1", "epochs = 2"), f"{name}.toml")
        built = build(load_and_resolve(spec, catalog))
        result = run(built, log=lambda _: None)
        results[name] = ([p.detach().clone() for p in built.model.parameters()], [(e.test_loss, e.test_correct) for e in result.epochs])
    (wa, ma), (wb, mb) = results["digits"], results["streamed_digits"]
    assert all(torch.equal(a, b) for a, b in zip(wa, wb))
    assert ma == mb
