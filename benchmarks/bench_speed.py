"""Speed benchmark: a hand-written loop in the seed notebook's style vs `registry run` vs the floor, side by side.

One invocation runs each part in its own subprocess (so that each has its own
peak memory), on the same machine and the same Fashion-MNIST files, and
prints per-epoch seconds, test accuracy, peak RSS and the ratios. It also
times `python -m registry validate` and `list` against `python -c "import torch"`.

    python benchmarks/bench_speed.py                   # the notebook's MLP, 1 epoch each
    python benchmarks/bench_speed.py --epochs 10       # the accuracy comparison
    python benchmarks/bench_speed.py --model cnn       # specs/fashion_mnist_cnn.toml against the same CNN by hand

Shared machines drift by more than the 20 % that separates `registry` from the
floor, so that ratio is also measured where drift cannot bias it: in one more
process, the runner's training epoch (`registry.training.loop.train_epoch`, what `run`
calls each epoch) and a floor epoch run back to back, alternately first, and
the ratio is the median over the pairs. The start-up commands are timed in
interleaved rounds against `import torch`.

Parts:
  notebook  the notebook's code: torchvision FashionMNIST + ToTensor/Normalize per PIL image,
            DataLoader(batch 64, shuffle), its train() and test() functions, and the network written by
            hand (benchmarks/handwritten.py: SimpleNN with SGD(0.01, 0.9), or FashionCNN with Adam(0.002))
  registry  `registry` on the model's spec through its runner (what `run` does)
  floor     the same optimizer steps on one resident batch: no data work at all
  pairs     registry and floor epochs alternately, in one process (the ratio)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBIAN = "/usr/share/datasets/fashion-mnist"
MODELS = {  # name: (spec, hand-written class, its optimizer, its loss, registry/floor target)
    "mlp": ("fashion_mnist_simple.toml", "SimpleNN", ("SGD", {"lr": 0.01, "momentum": 0.9}), "nll_loss", 1.2),
    "cnn": ("fashion_mnist_cnn.toml", "FashionCNN", ("Adam", {"lr": 0.002}), "cross_entropy", 1.15),
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_notebook(epochs: int, data: str, model_name: str) -> dict:
    import torch
    import torch.nn.functional as F
    from registry_torch.datasets import _locate
    from torchvision import datasets, transforms

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import handwritten

    _, cls, (opt_name, opt_args), loss_name, _ = MODELS[model_name]
    root = str(_locate("FashionMNIST", Path(data), False))
    torch.manual_seed(0)
    loss_fn = getattr(F, loss_name)

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_dataset = datasets.FashionMNIST(root, train=True, download=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=64, shuffle=True)
    test_dataset = datasets.FashionMNIST(root, train=False, download=False, transform=transform)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=1000, shuffle=False)
    model = getattr(handwritten, cls)()
    optimizer = getattr(torch.optim, opt_name)(model.parameters(), **opt_args)

    def train(model, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            optimizer.zero_grad()
            output = model(data)
            loss = loss_fn(output, target)
            loss.backward()
            optimizer.step()
            if batch_idx % 100 == 0:
                _ = f"{loss.item():.6f}"

    def test(model, test_loader):
        model.eval()
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data)
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        return correct / len(test_loader.dataset)

    seconds, train_seconds, acc = [], [], 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        train(model, train_loader, optimizer, epoch)
        train_seconds.append(time.perf_counter() - t0)
        acc = test(model, test_loader)
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "train_seconds": train_seconds, "accuracy": acc}


def _spec(model_name: str) -> Path:
    return ROOT / "specs" / MODELS[model_name][0]


def _built(epochs: int, data: str, model_name: str):
    from registry.building.builder import build
    from registry.components.manager import load_catalog
    from registry.resolution.resolver import load_and_resolve
    from registry.spec.overrides import parse_override

    sets = [parse_override(f"train.epochs={epochs}"), parse_override(f"data.root={json.dumps(data)}")]
    return build(load_and_resolve(_spec(model_name), load_catalog(), sets))


def part_registry(epochs: int, data: str, model_name: str) -> dict:
    from registry.training.loop import run

    result = run(_built(epochs, data, model_name), log=lambda _: None)
    return {
        "epoch_seconds": [e.seconds for e in result.epochs],
        "train_seconds": [e.train_seconds for e in result.epochs],
        "accuracy": result.final.test_accuracy,
        "load_seconds": result.seconds - sum(e.seconds for e in result.epochs),
    }


def _floor(built, train):
    """One floor epoch: as many optimizer steps as a real epoch, all on the split's first batch, transformed once."""
    import math

    from registry.training.splits import batch_transforms

    x, y = train.inputs[:64], train.targets[:64]
    for t in batch_transforms(built, train):
        x = t(x)
    model, loss_fn, opt = built.model, built.loss, built.optimizer
    steps = math.ceil(len(train) / 64)

    def epoch() -> None:
        model.train()
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    return epoch


def part_floor(epochs: int, data: str, model_name: str) -> dict:
    from registry.training.splits import load_data

    built = _built(1, data, model_name)
    epoch = _floor(built, load_data(built).train)
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch()
        seconds.append(time.perf_counter() - t0)
    return {"epoch_seconds": seconds, "train_seconds": seconds, "accuracy": None}


def part_pairs(pairs: int, data: str, model_name: str) -> dict:
    """Adjacent epochs in one process: the runner's training epoch and a floor epoch, alternately first.

    ``train_epoch`` is what ``run`` calls for each epoch (here with its reporting hook only: the checkpoint
    and signal hooks do nothing without a run directory). The first pair includes warm-up;
    the median absorbs it.
    """
    from registry.rundirs.checkpoints import Progress
    from registry.training.loop import start, train_epoch
    from registry.training.policies import Reporting
    from registry.training.splits import load_data

    # two models: the floor's steps leave the run's alone
    registry, floor = _built(1, data, model_name), _built(1, data, model_name)
    splits = load_data(registry)
    floor_epoch = _floor(floor, splits.train)
    state = start(registry, lambda _: None, splits=splits)
    state.generator.manual_seed(0)
    reporting = Reporting()

    def registry_epoch() -> None:
        state.progress = Progress()
        train_epoch(state, reporting)

    ratios = []
    for i in range(pairs):
        seconds = {}
        for name, epoch in (("registry", registry_epoch), ("floor", floor_epoch))[:: 1 if i % 2 == 0 else -1]:
            t0 = time.perf_counter()
            epoch()
            seconds[name] = time.perf_counter() - t0
        ratios.append(seconds["registry"] / seconds["floor"])
    return {"ratios": ratios}


PARTS = {"notebook": part_notebook, "registry": part_registry, "floor": part_floor, "pairs": part_pairs}


def run_part(name: str, epochs: int, data: str, model_name: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--part", name, "--epochs", str(epochs), "--data", data, "--model", model_name],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"part {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def walls(cmds: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    """Wall times of each command, *repeat* rounds interleaved (after one untimed round).

    Bytecode is cached as after any pip install (torch's is compiled when it is installed; an
    editable checkout's is written on first import), even where PYTHONDONTWRITEBYTECODE is set.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for r in range(repeat + 1):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT, env=env)
            if r:
                times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--model", choices=list(MODELS), default="mlp", help="which spec and hand-written network")
    ap.add_argument("--data", default=DEBIAN, help="folder with the four Fashion-MNIST IDX files")
    ap.add_argument("--part", choices=list(PARTS), help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds of the start-up commands (median)")
    ap.add_argument("--pairs", type=int, default=6, help="adjacent registry/floor epoch pairs (median ratio)")
    args = ap.parse_args()
    if args.part:
        out = PARTS[args.part](args.epochs, args.data, args.model)
        out["peak_rss_mb"] = peak_mb()
        print(json.dumps(out))
        return

    spec, _, _, _, target = MODELS[args.model]
    print(f"model: {args.model} ({spec}); cores: {os.cpu_count()}; epochs: {args.epochs}; pairs: {args.pairs}")
    print(f"data: {args.data}\n")
    results = {name: run_part(name, args.epochs, args.data, args.model) for name in ("notebook", "registry", "floor")}
    ratios = run_part("pairs", args.pairs, args.data, args.model)["ratios"]
    print(f"{'part':<10} {'train s/epoch':>14} {'+ test s/epoch':>15} {'test acc':>9} {'peak RSS MB':>12}")
    for name, r in results.items():
        acc = "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        print(
            f"{name:<10} {statistics.mean(r['train_seconds']):>14.3f} {statistics.mean(r['epoch_seconds']):>15.3f} "
            f"{acc:>9} {r['peak_rss_mb']:>12.0f}"
        )
    each = ", ".join(f"{r:.2f}" for r in ratios)
    fl = statistics.mean(results["floor"]["train_seconds"])
    print(f"\nregistry / floor (training)      = {statistics.median(ratios):.2f}   (target <= {target})")
    print(f"  adjacent epoch pairs in one process: {each}")
    print(f"  the two separate processes above:    {statistics.mean(results['registry']['train_seconds']) / fl:.2f}")
    nb, rg = (statistics.mean(results[k]["train_seconds"]) for k in ("notebook", "registry"))
    nb_all, rg_all = (statistics.mean(results[k]["epoch_seconds"]) for k in ("notebook", "registry"))
    print(f"notebook / registry (training)   = {nb / rg:.1f}x" + ("  (target >= 6)" if args.model == "mlp" else ""))
    print(f"notebook / floor (training)      = {nb / fl:.2f}x  (what the notebook's data path adds to the compute)")
    print(f"notebook / registry (train+test) = {nb_all / rg_all:.1f}x")
    rss = results["registry"]["peak_rss_mb"] / results["notebook"]["peak_rss_mb"]
    print(f"peak RSS registry / notebook     = {rss:.2f}   (target <= 1.3)")
    if results["notebook"]["accuracy"] is not None:
        gap = 100 * (results["registry"]["accuracy"] - results["notebook"]["accuracy"])
        print(f"accuracy registry - notebook = {gap:+.2f} points")
    print(f"registry data load + transform (once): {results['registry']['load_seconds']:.2f} s")

    py = sys.executable
    cmds = {
        "torch": [py, "-c", "import torch"],
        "validate": [py, "-m", "registry", "validate", str(_spec(args.model))],
        "list": [py, "-m", "registry", "list"],
        "--help": [py, "-m", "registry", "--help"],
    }
    t = walls(cmds, args.repeat)
    torch_s = statistics.median(t["torch"])

    def extra(name: str) -> float:  # the median over rounds of (command - import torch in the same round)
        return statistics.median(a - b for a, b in zip(t[name], t["torch"], strict=True))

    print(f"\nstart-up (median of {args.repeat} interleaved rounds):  import torch {torch_s:.2f} s")
    print(f"  validate = import torch + {extra('validate'):.2f} s  (target <= + 0.3 s)")
    print(f"  list     = import torch + {extra('list'):.2f} s")
    print(f"  --help   {statistics.median(t['--help']):.2f} s")


if __name__ == "__main__":
    main()
