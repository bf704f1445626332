"""The example data that shipped specs read, written from known values: no download, no network.

``registry init --example table_csv`` (or ``image_folder``) writes the spec and, beside it in the working
directory where the spec's relative paths point, the files it reads; the tests and the benchmark write
the same files. Nothing that exists is overwritten.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

__all__ = ["EXAMPLE_FILES", "write_arrays", "write_example_data", "write_for", "write_images", "write_table"]


def write_table(folder: Path, rows: int = 400, seed: int = 0, name: str = "table.csv") -> Path:
    """A table of applicants: age, income, city (text), score -> approved (yes/no), and amount (a value).

    Whether an applicant is approved follows from income and city, so a small network learns it. A ``.csv``
    name is written with the standard library; ``.parquet`` needs pandas and pyarrow (the ``tables`` extra).
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = rng.normal(50, 15, rows).round(2)
    city = rng.choice(["paris", "lyon", "nice"], rows)
    score = rng.normal(0, 1, rows).round(4)
    signal = income + (city == "paris") * 20 + rng.normal(0, 5, rows)
    approved = np.where(signal > 60, "yes", "no")
    amount = (income * 3 + age + rng.normal(0, 10, rows)).round(2)
    columns = {"age": age, "income": income, "city": city, "score": score, "approved": approved, "amount": amount}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if path.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(columns).to_parquet(path)
    else:
        with open(path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(zip(*(c.tolist() for c in columns.values()), strict=True))
    return path


def write_images(folder: Path, per_class: int = 30, classes: int = 10, size: int = 8) -> Path:
    """Class sub-folders of PNG files: scikit-learn's 8x8 digits, as images a user would have."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts = dict.fromkeys(range(classes), 0)
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        if label >= classes or counts[label] >= per_class:
            continue
        counts[label] += 1
        target = folder / str(label)
        target.mkdir(parents=True, exist_ok=True)
        pixels = (image * 16).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).resize((size, size)).save(target / f"{i:04d}.png")
    return folder


def write_arrays(path: Path, samples: int = 300, seed: int = 0) -> Path:
    """inputs (6 features) and targets (3 classes, from the first two features) in a .npz or .safetensors file."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(samples, 6)).astype(np.float32)
    targets = (inputs[:, 0] > 0).astype(np.int64) + (inputs[:, 1] > 0.5).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file({"inputs": inputs, "targets": targets}, str(path))
    else:
        np.savez(path, inputs=inputs, targets=targets)
    return path


def write_tokens(path: Path, samples: int = 400, steps: int = 12, vocabulary: int = 20, seed: int = 0) -> Path:
    """inputs: sequences of token ids (int64, 0 to vocabulary - 1); targets: whether id 3 occurs more often than id 4
    (a label that depends on the words, not on their order). A .npz file for arrays with token_ids = true."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocabulary, size=(samples, steps))
    targets = ((ids == 3).sum(1) > (ids == 4).sum(1)).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, inputs=ids, targets=targets)
    return path


# Which example spec reads which file (relative to the working directory), and what writes it.
EXAMPLE_FILES = {
    "table_csv": ("data/table.csv", lambda folder: write_table(folder / "data")),
    "image_folder": ("data/images", lambda folder: write_images(folder / "data" / "images")),
}


def write_for(example: str, folder: Path) -> Path | None:
    """Write the data *example* reads under *folder* unless it is there already; the path written, or None."""
    if example not in EXAMPLE_FILES:
        return None
    relative, write = EXAMPLE_FILES[example]
    if (folder / relative).exists():
        return None
    write(folder)
    return folder / relative


def write_example_data(folder: Path) -> None:
    """Every file the shipped specs and the built-in datasets' examples read: data/table.csv, data/arrays.npz,
    data/tokens.npz and data/images under *folder* (the working directory, where their relative paths point)."""
    write_table(folder / "data")
    write_arrays(folder / "data" / "arrays.npz")
    write_tokens(folder / "data" / "tokens.npz")
    write_images(folder / "data" / "images")
