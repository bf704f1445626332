"""Datasets: torchvision's MNIST loading path on IDX files written here, Debian's Fashion-MNIST, digits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from registry import Dataset, DatasetNotFoundError

from .conftest import write_idx

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=False)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _check(splits, tensors) -> None:
    assert torch.equal(splits.train.inputs, tensors["train_images"])
    assert torch.equal(splits.train.targets, tensors["train_labels"])
    assert torch.equal(splits.test.inputs, tensors["t10k_images"])
    assert torch.equal(splits.test.targets, tensors["t10k_labels"])
    assert splits.train.targets.dtype == torch.long


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_files_in_torchvisions_layout(catalog, tmp_path, cache, gz) -> None:
    """IDX files (plain or .gz) in ROOT/MNIST/raw load through torchvision.datasets.MNIST, values intact."""
    tensors = write_idx(tmp_path / "MNIST" / "raw", gz=gz)
    ds = catalog.get("dataset", "mnist").factory(root=str(tmp_path), download=False)
    assert isinstance(ds, Dataset) and ds.sample_shape == (28, 28) and ds.num_classes == 10
    _check(ds.load(), tensors)
    assert not cache.exists()  # torchvision's own folder is used in place


@pytest.mark.parametrize("gz", [False, True])
def test_files_directly_in_root_are_staged_in_the_cache(catalog, tmp_path, cache, gz) -> None:
    """The four files straight in ROOT (as Debian lays them out) are copied to the cache, ROOT is untouched."""
    src = tmp_path / "flat"
    tensors = write_idx(src, gz=gz, seed=3)
    before = sorted(os.listdir(src))
    _check(catalog.get("dataset", "fashion_mnist").factory(root=str(src)).load(), tensors)
    assert sorted(os.listdir(src)) == before
    staged = list(cache.glob("torch-spec-registry/datasets/*/FashionMNIST/raw/*"))
    assert sorted(p.name for p in staged) == sorted(n.removesuffix(".gz") for n in before)


def test_missing_files_name_what_was_looked_for(catalog, tmp_path) -> None:
    """Without the files and with download off, the error lists the files, both folders and the fix."""
    ds = catalog.get("dataset", "fashion_mnist").factory(root=str(tmp_path), download=False)
    assert ds.available is not None
    with pytest.raises(DatasetNotFoundError, match=r"FashionMNIST files not found: looked for train-images-idx3-ubyte"):
        ds.available()  # what validate asks: it refuses what run would
    with pytest.raises(DatasetNotFoundError, match=r"FashionMNIST files not found: looked for train-images-idx3-ubyte") as e:
        ds.load()
    assert str(tmp_path / "FashionMNIST" / "raw") in str(e.value)
    assert "apt-get install dataset-fashion-mnist" in str(e.value)
    assert len(e.value.looked_for) == 8


def test_a_failed_download_is_a_dataset_error(catalog, tmp_path, monkeypatch) -> None:
    """download = true without a network ends in DatasetNotFoundError, not a traceback."""
    import torchvision.datasets.utils as utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(utils, "download_url", offline)
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", offline)
    ds = catalog.get("dataset", "mnist").factory(root=str(tmp_path), download=True)
    with pytest.raises(DatasetNotFoundError, match="MNIST: could not load or download") as e:
        ds.load()
    assert str(e.value).endswith(
        "network is unreachable; to work offline, copy the four files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (plain or .gz) into {tmp_path} or {tmp_path / 'MNIST' / 'raw'}"
    )


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_loads(catalog, cache) -> None:
    """The real Fashion-MNIST files from Debian's package load: 60,000/10,000 images, 10 balanced classes."""
    splits = catalog.get("dataset", "fashion_mnist").factory(root=str(DEBIAN_FASHION)).load()
    assert splits.train.inputs.shape == (60000, 28, 28) and splits.test.inputs.shape == (10000, 28, 28)
    assert splits.train.inputs.dtype == torch.uint8
    assert torch.bincount(splits.train.targets).tolist() == [6000] * 10


def test_digits_is_bundled_and_split_reproducibly(catalog) -> None:
    """digits: 1,797 8x8 images in [0, 1], split 1,438/359 by a seeded permutation, the same every time."""
    make = catalog.get("dataset", "digits").factory
    a, b = make().load(), make().load()
    assert (len(a.train), len(a.test)) == (1438, 359)
    assert a.train.inputs.shape == (1438, 8, 8) and float(a.train.inputs.max()) == 1.0
    assert torch.equal(a.test.targets, b.test.targets)
    assert not torch.equal(make(split_seed=1).load().test.targets, a.test.targets)
