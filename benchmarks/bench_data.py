"""Data benchmark: the user's own images and tables, `registry` against the usual code on the same files.

    python benchmarks/bench_data.py images      # a folder of Fashion-MNIST PNGs: registry vs ImageFolder + DataLoader
    python benchmarks/bench_data.py csv         # 1,000,000 rows x 20 numeric columns: registry vs pandas + torch
    python benchmarks/bench_data.py wide        # 50 rows x 100,000 columns: the table's declaration vs pandas' read

images: writes --per-class PNG files per class from the Debian Fashion-MNIST files (class sub-folders, the
layout torchvision's ImageFolder reads) and 100 per class for testing, then trains the same small CNN with the
same optimizer and batch size on them (--model: the notebook's MLP, or a small CNN whose own compute is most
of an epoch and so bounds the ratio), in separate processes, alternately: torchvision's `ImageFolder` +
`DataLoader` (PIL decode and ToTensor/Normalize per image, every epoch), and `registry run`'s runner on
`image_folder` (decoded once to one uint8 tensor and cached; a second run reads the cache). Reported: each
epoch's seconds (registry's first includes the decode) and the ratio ImageFolder / registry on the epochs
after the first (the median over the rounds).

csv: writes a CSV of --rows rows of 19 numeric features and one real target, then times, alternately in one
process, `pandas.read_csv` + `torch.tensor` (the floor: the parse and one copy) against the `table` dataset's
declaration and load (the same parse, the split, the standardisation fitted on the training rows and the
encoding). Reported: the median seconds of each and their ratio.

Both set torch to 1 thread: on a shared 2-core machine the default of 2 makes timings swing tenfold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEBIAN = "/usr/share/datasets/fashion-mnist"
CLASSES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")

SPEC = """\
seed = 0
[data]
dataset = "image_folder"
root = "{root}/train"
test_root = "{root}/test"
size = 28
channels = 1
batch_size = 64
transforms = [{{ type = "to_tensor" }}, {{ type = "normalize", mean = [0.5], std = [0.5] }}]
[model]
layers = {layers}
[loss]
type = "cross_entropy"
[optimizer]
type = "sgd"
lr = 0.01
momentum = 0.9
[train]
epochs = {epochs}
log_interval = 1000000
"""


MODELS = {  # the same network as spec layers and by hand
    "mlp": (
        '[{ type = "flatten" }, { type = "linear", out_features = 128 }, { type = "relu" }, '
        '{ type = "linear", out_features = 10 }]',
        lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)),
    ),
    "cnn": (
        '[{ type = "conv2d", out_channels = 16, kernel_size = 3, padding = 1 }, { type = "relu" }, '
        '{ type = "max_pool2d", kernel_size = 2 }, { type = "flatten" }, { type = "linear", out_features = 10 }]',
        lambda nn: nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 14 * 14, 10)
        ),
    ),
}


def write_pngs(root: Path, per_class: int, data: str) -> None:
    """Fashion-MNIST's first *per_class* training images of each class (and 100 test ones) as PNG files."""
    from PIL import Image
    from registry_torch.datasets import _locate
    from torchvision import datasets

    where = str(_locate("FashionMNIST", Path(data), False))
    for split, train, count in (("train", True, per_class), ("test", False, 100)):
        ds = datasets.FashionMNIST(where, train=train, download=False)
        images, labels = ds.data, ds.targets
        written = dict.fromkeys(range(10), 0)
        for i in range(len(labels)):
            label = int(labels[i])
            if written[label] >= count:
                continue
            folder = root / split / CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i].numpy()).save(folder / f"{i:05d}.png")
            written[label] += 1


def part_imagefolder(root: str, epochs: int, model_name: str) -> dict:
    import torch
    from torch import nn
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    tf = transforms.Compose([transforms.Grayscale(1), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train = torch.utils.data.DataLoader(datasets.ImageFolder(f"{root}/train", tf), batch_size=64, shuffle=True)
    model = MODELS[model_name][1](nn)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for x, y in train:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds}


def _built(root: str, epochs: int, model_name: str):
    from registry.building.builder import build
    from registry.components.manager import load_catalog
    from registry.resolution.resolver import resolve_text

    text = SPEC.format(root=root, epochs=epochs, layers=MODELS[model_name][0])
    return build(resolve_text(text, load_catalog(), "bench.toml"))


def part_registry(root: str, epochs: int, model_name: str) -> dict:
    import math

    from registry.training.loop import run
    from registry.training.splits import load_data

    result = run(_built(root, epochs, model_name), log=lambda _: None)
    load = result.seconds - sum(e.seconds for e in result.epochs)
    train = [e.train_seconds for e in result.epochs]
    floor = _built(root, 1, model_name)  # the same steps on one resident batch, transformed once: no data work
    x, y = load_data(floor).train.inputs[:64].float().div(255).sub(0.5).div(0.5), load_data(floor).train.targets[:64]
    steps = math.ceil(len(load_data(floor).train) / 64)
    t0 = time.perf_counter()
    floor.model.train()
    for _ in range(steps):
        floor.optimizer.zero_grad()
        floor.loss(floor.model(x), y).backward()
        floor.optimizer.step()
    return {"epoch_seconds": [load + train[0], *train[1:]], "load_seconds": load, "floor": time.perf_counter() - t0}


def part(name: str, root: str, epochs: int, cache: str, model_name: str) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": cache, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--part", name, "--root", root, "--epochs", str(epochs), "--model", model_name]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"part {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_images(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "images", Path(tmp) / "cache"
        write_pngs(root, args.per_class, args.data)
        print(f"{args.per_class * 10} training PNGs, 1,000 test PNGs; model {args.model}; ", end="")
        print(f"{args.epochs} epochs, {args.rounds} rounds")
        ratios, cold_loads, warm_loads = [], [], []
        for r in range(args.rounds):
            if (cache / "torch-spec-registry").exists():
                import shutil

                shutil.rmtree(cache / "torch-spec-registry")
            cold = part("registry", str(root), args.epochs, str(cache), args.model)  # decodes and writes the cache
            warm = part("registry", str(root), 1, str(cache), args.model)  # a second run: reads the cache
            ref = part("imagefolder", str(root), args.epochs, str(cache), args.model)
            later = statistics.median(ref["epoch_seconds"][1:]) / statistics.median(cold["epoch_seconds"][1:])
            ratios.append(later)
            cold_loads.append(cold["load_seconds"])
            warm_loads.append(warm["load_seconds"])
            fmt = lambda xs: " ".join(f"{x:.2f}" for x in xs)  # noqa: E731
            print(f"round {r + 1}: ImageFolder epochs {fmt(ref['epoch_seconds'])} s; "
                  f"registry {fmt(cold['epoch_seconds'])} s (first includes decoding {cold['load_seconds']:.2f} s); "
                  f"cached load in a second run {warm['load_seconds']:.2f} s; floor epoch {cold['floor']:.2f} s; "
                  f"ImageFolder/registry after the first epoch {later:.1f}x")  # fmt: skip
        median = statistics.median(ratios)
        print(f"median ImageFolder/registry on epochs after the first: {median:.1f}x (target >= 10x)")
        cold_s, warm_s = statistics.median(cold_loads), statistics.median(warm_loads)
        print(f"median registry decode-and-cache {cold_s:.2f} s, cached {warm_s:.2f} s")


def bench_csv(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    from registry.components.manager import load_catalog

    table = load_catalog(load_entrypoints=False).get("dataset", "table").factory
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(args.rows, 20)).round(6), columns=[*(f"f{i}" for i in range(19)), "y"])
        frame.to_csv(path, index=False)
        del frame
        print(f"{path.stat().st_size / 1e6:.0f} MB: {args.rows:,} rows x 20 numeric columns; {args.rounds} rounds")

        def floor() -> None:
            read = pd.read_csv(path)
            torch.tensor(read.to_numpy(dtype=np.float32))

        def registry() -> None:
            ds = table(path=str(path), targets="y", features=None, categorical=(), test_path=None, test_fraction=0.2,
                       split_seed=0, target_kind="auto", standardize=True)  # fmt: skip
            ds.load()

        times = _alternate(floor, registry, args.rounds)
        f, g = statistics.median(times["floor"]), statistics.median(times["registry"])
        print(f"pandas.read_csv + torch.tensor: {' '.join(f'{t:.2f}' for t in times['floor'])} s (median {f:.2f})")
        runs = " ".join(f"{t:.2f}" for t in times["registry"])
        print(f"registry table (read, split, fit, encode): {runs} s (median {g:.2f})")
        print(f"registry / floor: {g / f:.2f}x (target <= 1.2x)")


def _alternate(floor: Any, registry: Any, rounds: int) -> dict[str, list[float]]:
    """Each of the two timed *rounds* times, alternately first (one process drifts less than two)."""
    times: dict[str, list[float]] = {"floor": [], "registry": []}
    for r in range(rounds):
        for name, fn in (("floor", floor), ("registry", registry))[:: 1 if r % 2 == 0 else -1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def bench_wide(args: argparse.Namespace) -> None:
    """A table of --columns numeric columns and 50 rows: the table dataset's declaration (what validate does:
    the read, every column's checks, the split, the fit and the encoding) against pandas.read_csv alone."""
    import numpy as np
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    from registry.components.manager import load_catalog

    table = load_catalog(load_entrypoints=False).get("dataset", "table").factory
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        rng = np.random.default_rng(0)
        names = [f"c{i}" for i in range(args.columns)]
        with open(path, "w") as f:
            f.write(",".join([*names, "label"]) + "\n")
            for r in range(50):
                f.write(",".join(f"{v:.3f}" for v in rng.random(args.columns)) + f",{r % 2}\n")
        print(f"{path.stat().st_size / 1e6:.0f} MB: 50 rows x {args.columns:,} numeric columns; {args.rounds} rounds")
        times = _alternate(lambda: pd.read_csv(path), lambda: table(path=str(path), targets="label").load(),
                           args.rounds)  # fmt: skip
        f, g = statistics.median(times["floor"]), statistics.median(times["registry"])
        print(f"pandas.read_csv: {' '.join(f'{t:.2f}' for t in times['floor'])} s (median {f:.2f})")
        print(f"registry table declared and loaded: {' '.join(f'{t:.2f}' for t in times['registry'])} s "
              f"(median {g:.2f})")  # fmt: skip
        print(f"registry / pandas: {g / f:.2f}x (target <= 3x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", choices=["images", "csv", "wide"])
    ap.add_argument("--columns", type=int, default=100_000, help="columns of the CSV (wide)")
    ap.add_argument("--per-class", type=int, default=400, help="training PNGs per class (images)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", choices=list(MODELS), default="mlp", help="the notebook's MLP, or a small CNN (images)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the CSV (csv)")
    ap.add_argument("--data", default=DEBIAN, help="folder with the Fashion-MNIST IDX files (images)")
    ap.add_argument("--part", choices=["imagefolder", "registry"], help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.part:
        import torch

        torch.set_num_threads(1)
        fn = part_imagefolder if args.part == "imagefolder" else part_registry
        print(json.dumps(fn(args.root, args.epochs, args.model)))
    elif args.what == "images":
        bench_images(args)
    elif args.what == "csv":
        bench_csv(args)
    elif args.what == "wide":
        bench_wide(args)
    else:
        ap.error("say what to measure: images or csv")


if __name__ == "__main__":
    main()
