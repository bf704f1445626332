"""Run a trained model on raw inputs read from a file (no unpickling: .npy without pickles, or safetensors).

The inputs are untrusted: a file that is not a regular one, too large, of strings, objects or
complex numbers, or holding NaN or infinity is refused with an ``InputError`` that names it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from registry.builder import Built
from registry.data import apply_transforms
from registry.errors import InputError
from registry.safetensors_check import MalformedError, check_safetensors_bytes
from registry.untrusted import Unreadable, read_bounded

__all__ = ["MAX_INPUT_BYTES", "predict_file"]

MAX_INPUT_BYTES = 2 * 2**30
KINDS_OF_NUMBERS = "booleans, integers or real numbers"


def _read(path: Path) -> torch.Tensor:
    if path.suffix not in (".npy", ".safetensors"):
        raise InputError(f"{path}: give the inputs as a .npy or .safetensors file")
    try:
        data = read_bounded(path, MAX_INPUT_BYTES)
        if path.suffix == ".npy":
            array = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            check_safetensors_bytes(data)
            tensors = load_safetensors(data)
            if len(tensors) != 1:
                raise ValueError(f"holds {len(tensors)} tensors; give exactly one")
            return next(iter(tensors.values()))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError, Unreadable, MalformedError, SafetensorError) as e:
        raise InputError(f"{path}: cannot read inputs: {e}") from None
    if array.dtype.kind not in "biuf":  # strings, objects, complex numbers, dates
        raise InputError(f"{path}: holds {array.dtype} values; inputs are arrays of {KINDS_OF_NUMBERS}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _probabilities(row: torch.Tensor, produces: str) -> torch.Tensor:
    if produces == "log_probabilities":
        return row.exp()
    return row if produces == "probabilities" else row.softmax(0)


def predict_file(built: Built, path: Path) -> Iterator[dict[str, Any]]:
    """Yield one record per input: the predicted class (name and index) and its probability, or the raw output.

    Raises:
        InputError: the file cannot be read, or its inputs do not fit the model.
    """
    x = _read(path)
    want = built.data.dataset.sample_shape
    if x.dim() == 0 or tuple(x.shape[1:]) != want:
        raise InputError(f"{path}: inputs have shape {tuple(x.shape)}; expected (N, {', '.join(map(str, want))})")
    if (x.is_floating_point() or x.is_complex()) and not torch.isfinite(x).all():
        raise InputError(f"{path}: inputs hold NaN or infinite values")
    x = apply_transforms(x.to(built.data.dataset.sample_dtype), built.data.transforms).to(built.device)
    built.model.eval()
    with torch.no_grad():
        out = built.model(x)
    classes = built.data.dataset.classes
    produces = built.model_plan.produces
    for row in out:
        if not torch.isfinite(row).all():
            yield {"output": None, "error": "the model's output is not finite for this input"}
        elif classes and row.dim() == 1 and len(row) == len(classes):
            probs = _probabilities(row, produces)
            i = int(row.argmax())
            yield {"class": i, "label": classes[i], "probability": round(float(probs[i]), 6)}
        else:
            yield {"output": row.tolist()}
