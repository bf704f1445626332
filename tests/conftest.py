from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable
from pathlib import Path

# One intra-op thread here and in every process a test starts (torchrun ranks, CLI subprocesses): the suite's
# models are small, and on a 2-core machine two processes of 2 threads each slow each other down manyfold.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from registry.components.catalog import Catalog  # noqa: E402
from registry.components.manager import load_catalog  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

QUICK = """\
seed = 0
[data]
dataset = "digits"
batch_size = 32
transforms = [{ type = "to_tensor" }, { type = "normalize", mean = [0.3], std = [0.38] }]
[model]
layers = [
  { type = "flatten" },
  { type = "linear", out_features = 32 },
  { type = "relu" },
  { type = "linear", out_features = 10 },
  { type = "log_softmax", dim = 1 },
]
[loss]
type = "nll"
[optimizer]
type = "sgd"
lr = 0.05
momentum = 0.9
[train]
epochs = 1
log_interval = 20
device = "cpu"
"""


NESTED = """\
seed = 0
[data]
dataset = "digits"
batch_size = 32
transforms = [{ type = "to_tensor" }]

[model.blocks.conv_bn]
type = "sequential"
layers = [
  { type = "conv2d", out_channels = 8, kernel_size = 3, padding = 1, bias = false },
  { type = "batch_norm" },
  { type = "relu" },
]

[model.blocks.res]
type = "residual"
layers = [
  { block = "conv_bn" },
  { type = "conv2d", out_channels = 8, kernel_size = 3, padding = 1 },
]

[model]
layers = [
  { block = "conv_bn" },
  { block = "res", repeat = 2 },
  { type = "parallel", merge = "concat", branches = [
      [{ type = "max_pool2d", kernel_size = 2 }],
      [{ type = "avg_pool2d", kernel_size = 2 }],
  ] },
  { type = "flatten" },
  { type = "linear", out_features = 10 },
]

[loss]
type = "cross_entropy"

[optimizer]
type = "adam"
lr = 0.01

[train]
epochs = 1
log_interval = 20
device = "cpu"
"""
"""A nested model on the digits: named blocks (one inside another, one used three times), a residual with an
identity shortcut, repeat, parallel branches concatenated."""


@pytest.fixture
def catalog() -> Catalog:
    """A fresh catalog of the built-ins only (installed third-party plugins left out)."""
    return load_catalog(load_entrypoints=False)


@pytest.fixture
def builtins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see the built-in plugin alone, whatever third-party plugins this environment has installed."""
    from registry.components.manager import DISABLE_AUTOLOAD_ENV

    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write spec text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "spec.toml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return write


def write_idx(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    """Write the four MNIST IDX files (big-endian headers, uint8 payload) and return their tensors."""
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
        labels = torch.randint(0, 10, (n,), dtype=torch.uint8, generator=g)
        files = {
            f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x0803, n, 28, 28) + images.numpy().tobytes(),
            f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x0801, n) + labels.numpy().tobytes(),
        }
        for name, payload in files.items():
            if gz:
                with gzip.open(folder / f"{name}.gz", "wb") as f:
                    f.write(payload)
            else:
                (folder / name).write_bytes(payload)
        tensors[f"{prefix}_images"], tensors[f"{prefix}_labels"] = images, labels.long()
    return tensors


def shipped(name: str, folder: Path | None = None) -> Path:
    """A copy of ``specs/NAME`` (with ``specs/base/``) in *folder* (default: the working directory), where a
    test writes the data its relative paths name: beside it, as for every spec."""
    import shutil

    folder = folder or Path.cwd()
    shutil.copytree(SPECS / "base", folder / "base", dirs_exist_ok=True)
    return Path(shutil.copy(SPECS / name, folder / name))


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test from its own empty folder, so default run directories (runs/...) never land in the repo."""
    monkeypatch.chdir(tmp_path)
