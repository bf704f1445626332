"""Datasets: MNIST and Fashion-MNIST through torchvision's own classes, and scikit-learn's 8x8 digits.

torchvision and scikit-learn are imported inside the loaders only: importing
torchvision alone costs about 2 s, which ``list`` and ``validate`` do not pay.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.error import URLError

import torch
from pydantic import Field

from registry import Dataset, DatasetNotFoundError, DatasetSplits, SpecPath, Split, aliases

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# torchvision's class attributes, copied so that validate need not import torchvision.
MNIST_CLASSES = tuple(f"{i} - {w}" for i, w in enumerate("zero one two three four five six seven eight nine".split()))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
HINTS = {
    "MNIST": "set download = true where the network is reachable",
    "FashionMNIST": "on Debian/Ubuntu `apt-get install dataset-fashion-mnist` puts them in "
    "/usr/share/datasets/fashion-mnist (use that as root), or set download = true",
}


def _offline(cls_name: str, root: Path) -> str:
    """Where to put the files by hand, for a machine without the network."""
    return (
        f"to work offline, copy the four files {', '.join(IDX_FILES)} (plain or .gz) into {root} "
        f"or {root / cls_name / 'raw'}"
    )


Root = Annotated[
    str,
    Field(min_length=1, description="folder holding the four IDX files (or <Class>/raw below it)"),
    SpecPath("folder", must_exist=False),  # a download creates it
]
Download = Annotated[bool, Field(description="fetch the files with torchvision when they are not found")]


def _find_idx(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in *folder*, each plain or gzipped, or None if any is missing."""
    found = {}
    for name in IDX_FILES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            return None
    return found


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _stage(found: dict[str, Path], raw: Path) -> None:
    """Put plain copies of *found* into torchvision's raw folder (atomic per file)."""
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in found.items():
        dst = raw / name
        if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
            continue  # staged before, from these same files
        fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, gzip.open(src) if src.suffix == ".gz" else open(src, "rb") as inp:
                shutil.copyfileobj(inp, out)
            os.replace(tmp, dst)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _cache_root(source: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
    return base / "torch-spec-registry" / "datasets" / digest


def _locate(cls_name: str, root: Path, download: bool) -> Path:
    """Return the root to give torchvision's class, staging or downloading the files first."""
    raw = root / cls_name / "raw"
    if all((raw / n).is_file() for n in IDX_FILES):
        return root
    found = _find_idx(raw)
    if found is not None and _writable(raw):  # gzipped in torchvision's own folder: extract beside them
        _stage(found, raw)
        return root
    found = found or _find_idx(root)
    if found is not None:  # a folder of someone else's (a Debian package's, say): stage a copy in the cache
        target = _cache_root(root)
        _stage(found, target / cls_name / "raw")
        return target
    if download:
        return root
    raise _not_found(cls_name, root)


def _load_idx(cls_name: str, root: str, download: bool) -> DatasetSplits:
    from torchvision import datasets  # the real loading (and downloading) code

    cls = getattr(datasets, cls_name)
    where = _locate(cls_name, Path(root).expanduser(), download)
    try:
        train = cls(str(where), train=True, download=download)
        test = cls(str(where), train=False, download=download)
    except (RuntimeError, URLError, OSError) as e:
        raise DatasetNotFoundError(
            f"{cls_name}: could not load or download into {where}: {e}; {_offline(cls_name, Path(root))}"
        ) from e
    return DatasetSplits(Split(train.data, train.targets.long()), Split(test.data, test.targets.long()))


def _present(cls_name: str, root: str, download: bool) -> None:
    """With download off, the files must be there: ``validate`` refuses what ``run`` would (nothing is staged)."""
    folder = Path(root).expanduser()
    raw = folder / cls_name / "raw"
    if download or _find_idx(raw) is not None or _find_idx(folder) is not None:
        return
    raise _not_found(cls_name, folder)


def _not_found(cls_name: str, root: Path) -> DatasetNotFoundError:
    raw = root / cls_name / "raw"
    looked = [str(root / f"{n}[.gz]") for n in IDX_FILES] + [str(raw / f"{n}[.gz]") for n in IDX_FILES]
    return DatasetNotFoundError(
        f"{cls_name} files not found: looked for {', '.join(IDX_FILES)} (plain or .gz) in {root} and in {raw}, "
        f"and download is off; {HINTS[cls_name]}",
        looked,
    )


@aliases("MNIST")
def mnist(root: Root = "data", download: Download = False) -> Dataset:
    """MNIST handwritten digits, 28x28 grey, 60,000 train / 10,000 test (torchvision)."""
    load = lambda: _load_idx("MNIST", root, download)  # noqa: E731
    available = lambda: _present("MNIST", root, download)  # noqa: E731
    return Dataset((28, 28), torch.uint8, MNIST_CLASSES, load, "MNIST", train_samples=60_000, available=available)


@aliases("FashionMNIST")
def fashion_mnist(root: Root = "data", download: Download = False) -> Dataset:
    """Fashion-MNIST clothing images, 28x28 grey, 60,000 train / 10,000 test (torchvision)."""
    load = lambda: _load_idx("FashionMNIST", root, download)  # noqa: E731
    available = lambda: _present("FashionMNIST", root, download)  # noqa: E731
    return Dataset(
        (28, 28), torch.uint8, FASHION_CLASSES, load, "FashionMNIST", train_samples=60_000, available=available
    )


def _load_digits(test_fraction: float, split_seed: int) -> DatasetSplits:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).div(16.0)  # pixel values 0..16 -> [0, 1]
    targets = torch.as_tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(split_seed))
    n_test = round(len(images) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return DatasetSplits(Split(images[train], targets[train]), Split(images[test], targets[test]))


def digits(
    test_fraction: Annotated[float, Field(gt=0, lt=1, description="share of the 1,797 images held out")] = 0.2,
    split_seed: Annotated[int, Field(description="seed of the train/test split")] = 0,
) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images), as floats in [0, 1]; no download."""
    return Dataset(
        (8, 8),
        torch.float32,
        tuple(str(i) for i in range(10)),
        lambda: _load_digits(test_fraction, split_seed),
        "scikit-learn digits",
        train_samples=1797 - round(1797 * test_fraction),
    )


TestFraction = Annotated[float, Field(gt=0, lt=1, description="share of the samples held out for testing")]
SplitSeed = Annotated[int, Field(ge=0, description="seed of the train/test split")]
Standardize = Annotated[
    bool, Field(description="shift and scale each feature by the training split's mean and standard deviation")
]


def _table_splits(
    loader: str, test_fraction: float, split_seed: int, classes: bool, standardize: bool
) -> DatasetSplits:
    """One of scikit-learn's bundled tables, split (stratified by class for classification) and standardised."""
    import numpy as np
    import sklearn.datasets
    from sklearn.model_selection import train_test_split

    bunch = getattr(sklearn.datasets, loader)()
    x, y = np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target)
    stratify = y if classes else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=split_seed, stratify=stratify
    )
    fitted: dict[str, list[float]] = {}
    if standardize:  # from the training split only: the test split must not shape its own inputs
        mean, std = x_train.mean(0), x_train.std(0)
        std[std == 0] = 1.0
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
        fitted = {"mean": mean.tolist(), "std": std.tolist()}

    def targets(values: np.ndarray) -> torch.Tensor:
        if classes:
            return torch.as_tensor(values, dtype=torch.long)
        return torch.as_tensor(values, dtype=torch.float32).reshape(len(values), -1)

    return DatasetSplits(
        Split(torch.as_tensor(x_train), targets(y_train)), Split(torch.as_tensor(x_test), targets(y_test)), fitted
    )


def _standardized(x: torch.Tensor, fitted: dict[str, Any]) -> torch.Tensor:
    """Raw features as the splits hold them: shifted and scaled by the training split's statistics."""
    if "mean" not in fitted:
        return x
    mean, std = (torch.tensor(fitted[k], dtype=x.dtype) for k in ("mean", "std"))
    return (x - mean) / std


SIZES = {"load_iris": 150, "load_wine": 178, "load_breast_cancer": 569, "load_diabetes": 442, "load_linnerud": 20}


def _bundled_table(
    loader: str, features: int, classes: tuple[str, ...], outputs: int, test_fraction: float, split_seed: int,
    standardize: bool, description: str,
) -> Dataset:  # fmt: skip
    n = SIZES[loader]
    return Dataset(
        (features,),
        torch.float32,
        classes,
        lambda: _table_splits(loader, test_fraction, split_seed, bool(classes), standardize),
        description,
        target_shape=None if classes else (outputs,),
        target_dtype=None if classes else torch.float32,
        prepare=_standardized,
        train_samples=n - math.ceil(n * test_fraction),  # train_test_split's rounding
    )


@aliases("Iris")
def iris(test_fraction: TestFraction = 0.2, split_seed: SplitSeed = 0, standardize: Standardize = True) -> Dataset:
    """Fisher's iris flowers (150): 4 measurements, 3 species; scikit-learn's bundled copy, no download."""
    return _bundled_table("load_iris", 4, ("setosa", "versicolor", "virginica"), 0, test_fraction, split_seed,
                          standardize, "scikit-learn iris")  # fmt: skip


@aliases("Wine")
def wine(test_fraction: TestFraction = 0.2, split_seed: SplitSeed = 0, standardize: Standardize = True) -> Dataset:
    """Wines from three cultivars (178): 13 chemical measurements; scikit-learn's bundled copy, no download."""
    return _bundled_table("load_wine", 13, ("class_0", "class_1", "class_2"), 0, test_fraction, split_seed,
                          standardize, "scikit-learn wine")  # fmt: skip


@aliases("BreastCancer")
def breast_cancer(
    test_fraction: TestFraction = 0.2, split_seed: SplitSeed = 0, standardize: Standardize = True
) -> Dataset:
    """Breast tumours (569), malignant or benign: 30 features of cell nuclei; binary; bundled, no download."""
    return _bundled_table("load_breast_cancer", 30, ("malignant", "benign"), 0, test_fraction, split_seed,
                          standardize, "scikit-learn breast cancer")  # fmt: skip


@aliases("Diabetes")
def diabetes(test_fraction: TestFraction = 0.2, split_seed: SplitSeed = 0, standardize: Standardize = True) -> Dataset:
    """Diabetes progression after a year (442 patients) from 10 baseline values; regression; bundled, no download."""
    return _bundled_table("load_diabetes", 10, (), 1, test_fraction, split_seed, standardize, "scikit-learn diabetes")


@aliases("Linnerud")
def linnerud(test_fraction: TestFraction = 0.25, split_seed: SplitSeed = 0, standardize: Standardize = True) -> Dataset:
    """Linnerud (20 men): 3 exercise counts -> 3 body measurements; multi-output regression; bundled, no download."""
    return _bundled_table("load_linnerud", 3, (), 3, test_fraction, split_seed, standardize, "scikit-learn linnerud")


DATASETS = {f.__name__: f for f in (mnist, fashion_mnist, digits, iris, wine, breast_cancer, diabetes, linnerud)}
