"""Run a trained model on raw inputs read from a file (no unpickling: .npy without pickles, or safetensors)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from registry.builder import Built
from registry.data import apply_transforms
from registry.errors import CheckpointError, Problem, SpecError
from registry.safetensors_check import MalformedError, check_safetensors
from registry.semantics import get_contract

__all__ = ["predict_file"]


def _read(path: Path) -> torch.Tensor:
    try:
        if path.suffix == ".npy":
            return torch.from_numpy(np.load(path, allow_pickle=False))
        if path.suffix == ".safetensors":
            check_safetensors(path)
            tensors = load_file(str(path))
            if len(tensors) != 1:
                raise ValueError(f"holds {len(tensors)} tensors; give exactly one")
            return next(iter(tensors.values()))
    except (OSError, ValueError, MalformedError, SafetensorError) as e:
        raise CheckpointError(f"{path}: cannot read inputs: {e}") from None
    raise SpecError([Problem(("inputs",), "give a .npy or .safetensors file")], str(path))


def _probabilities(row: torch.Tensor, produces: str) -> torch.Tensor:
    if produces == "log_probabilities":
        return row.exp()
    return row if produces == "probabilities" else row.softmax(0)


def predict_file(built: Built, path: Path) -> Iterator[dict[str, Any]]:
    """Yield one record per input: the predicted class (name and index) and its probability, or the raw output."""
    x = _read(path)
    want = built.data.dataset.sample_shape
    if tuple(x.shape[1:]) != want:
        raise SpecError(
            [Problem(("inputs",), f"inputs have shape {tuple(x.shape)}; expected (N, {', '.join(map(str, want))})")],
            str(path),
        )
    x = apply_transforms(x.to(built.data.dataset.sample_dtype), built.data.transforms).to(built.device)
    built.model.eval()
    with torch.no_grad():
        out = built.model(x)
    classes = built.data.dataset.classes
    produces = get_contract(built.resolved.layers[-1].component.factory).get("produces", "scores")
    for row in out:
        if classes and row.dim() == 1 and len(row) == len(classes):
            probs = _probabilities(row, produces)
            i = int(row.argmax())
            yield {"class": i, "label": classes[i], "probability": round(float(probs[i]), 6)}
        else:
            yield {"output": row.tolist()}
