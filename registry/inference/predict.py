"""Run a trained model on raw inputs read from a file (no unpickling: .npy without pickles, or safetensors).

The inputs are untrusted: a file that is not a regular one, too large, of strings, objects or
complex numbers, or holding NaN or infinity is refused with an ``InputError`` that names it.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from registry.building.builder import Built
from registry.building.data import apply_transforms
from registry.errors import CheckpointError, DataError, InputError, ParamError, RegistryError
from registry.files.untrusted import Unreadable, check_npy_header, read_bounded
from registry.rundirs.safetensors_header import MalformedError, check_safetensors_bytes

__all__ = ["MAX_INPUT_BYTES", "predict_file", "safe_cell", "write_predictions"]

MAX_INPUT_BYTES = 2 * 2**30
KINDS_OF_NUMBERS = "booleans, integers or real numbers"


def _read(path: Path) -> torch.Tensor:
    if path.suffix not in (".npy", ".safetensors"):
        raise InputError(f"{path}: give the inputs as a .npy or .safetensors file")
    try:
        data = read_bounded(path, MAX_INPUT_BYTES)
        if path.suffix == ".npy":
            try:
                check_npy_header(io.BytesIO(data), len(data))  # what it declares, before numpy allocates it
            except Unreadable as e:
                raise DataError(f"{path}: {e}") from None
            array = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            check_safetensors_bytes(data)
            tensors = load_safetensors(data)
            if len(tensors) != 1:
                raise ValueError(f"holds {len(tensors)} tensors; give exactly one")
            return next(iter(tensors.values()))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except RegistryError:  # a DataError is a ValueError too: it says what is wrong itself
        raise
    except (OSError, ValueError, Unreadable, MalformedError, SafetensorError) as e:
        raise InputError(f"{path}: cannot read inputs: {e}") from None
    if array.dtype.kind not in "biuf":  # strings, objects, complex numbers, dates
        raise InputError(f"{path}: holds {array.dtype} values; inputs are arrays of {KINDS_OF_NUMBERS}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _records(built: Built, out: torch.Tensor) -> Iterator[dict[str, Any]]:
    """One record per output row, in the task's terms."""
    task, produces = built.task, built.model_plan.produces
    if task.kind == "regression":
        for row in out:
            values = [round(float(v), 6) for v in row.reshape(-1)]
            yield {"output": values[0] if len(values) == 1 else values}
        return
    probs = task.probabilities(out, produces)
    for row, p in zip(out, probs, strict=True):
        if not torch.isfinite(row).all():
            yield {"output": None, "error": "the model's output is not finite for this input"}
        elif task.kind == "multiclass":
            i = int(p.argmax())
            yield {"class": i, "label": task.labels[i], "probability": round(float(p[i]), 6)}
        elif task.kind == "binary":
            positive = float(p.reshape(-1)[0])
            i = int(positive > 0.5)
            yield {"class": i, "label": task.labels[i], "probability": round(positive if i else 1 - positive, 6)}
        else:
            yield {
                "labels": [name for name, q in zip(task.labels, p, strict=True) if q > 0.5],
                "probabilities": {name: round(float(q), 6) for name, q in zip(task.labels, p, strict=True)},
            }


def predict_file(
    built: Built,
    path: Path,
    fitted: dict[str, Any] | None = None,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
    warn: Callable[[str], None] | None = None,
    fitted_from: str = "data.json",
) -> Iterator[dict[str, Any]]:
    """Yield one record per input: the predicted class (or 0/1 label, or labels) with its probability, or the
    regression outputs.

    Inputs are raw samples in a ``.npy`` or ``.safetensors`` file, or what the dataset reads itself (a
    table's rows, a folder of images), prepared with what it *fitted* on its training split. Inputs that
    have names (an image's file) carry them first, as ``input``. *forward*, when given, takes the raw
    samples instead of the spec's transforms and model (an exported graph, which includes the transforms).
    *warn* hears what the dataset's reader says of the inputs (values it encoded as unknown); *fitted_from*
    names the file *fitted* was read from, for messages.

    Raises:
        InputError: the file cannot be read, or its inputs do not fit the model.
    """
    dataset, fitted = built.data.dataset, fitted or {}
    names: tuple[str, ...] | None = None
    if dataset.reader is not None and path.suffix not in (".npy", ".safetensors"):
        try:
            read = dataset.reader(path, fitted)
            x, names = read.samples, read.names
            for said in read.warnings:  # the API's caller hears them as Python warnings
                warn(said) if warn is not None else warnings.warn(said, stacklevel=2)
        except CheckpointError as e:  # the run's record of what the data fitted is unusable
            raise CheckpointError(f"{fitted_from}: {e}") from None
        except DataError:  # the inputs are hostile or have gaps: the data's own exit code
            raise
        except (RegistryError, ParamError) as e:  # the inputs are what is wrong here, not a spec or the data
            raise InputError(f"cannot read inputs: {e}") from None
    else:
        x = _read(path)
        if dataset.prepare is not None and x.dim() and tuple(x.shape[1:]) == dataset.sample_shape:
            x = dataset.prepare(x.to(dataset.sample_dtype), fitted)
    want = built.data.dataset.sample_shape
    if x.dim() == 0 or tuple(x.shape[1:]) != want:
        raise InputError(f"{path}: inputs have shape {tuple(x.shape)}; expected (N, {', '.join(map(str, want))})")
    if (x.is_floating_point() or x.is_complex()) and not torch.isfinite(x).all():
        raise InputError(f"{path}: inputs hold NaN or infinite values")
    x = x.to(built.data.dataset.sample_dtype)
    if forward is not None:
        out = forward(x)
    else:
        x = apply_transforms(x, built.data.transforms).to(built.device)
        built.model.eval()
        with torch.no_grad():
            out = built.model(x)
    if names is None:
        yield from _records(built, out)
    else:
        for name, record in zip(names, _records(built, out), strict=True):
            yield {"input": name, **record}


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A record as one CSV row: lists to numbered columns, nested tables to dotted ones."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        elif isinstance(value, list) and key != "labels":
            out.update({f"{key}_{i}": v for i, v in enumerate(value)})
        else:
            out[key] = ";".join(value) if isinstance(value, list) else value
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a CSV cell as a formula (OWASP's list for CSV injection)."""


def safe_cell(value: Any) -> Any:
    """*value* as a CSV cell a spreadsheet shows as text: a string that begins like a formula (``=1+1``,
    ``@SUM(...)``) gets a leading ``'``; numbers, and text that reads as one (``-1.5``), are left alone."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def write_predictions(records: Iterator[dict[str, Any]], out: TextIO, csv_format: bool, raw: bool = False) -> int:
    """Write *records* to *out*, as CSV (a header, then a row per input: ``row`` first) or as JSON lines.

    In CSV, labels and file names that begin like a spreadsheet formula are written as text (``safe_cell``),
    unless *raw* (for machine readers, which want the values as they are).

    Returns:
        How many were written.
    """
    rows = [_flat({"row": i, **r}) if csv_format else r for i, r in enumerate(records)]
    if csv_format:
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(out, fieldnames=[f if raw else safe_cell(f) for f in fields], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows if raw else ({safe_cell(k): safe_cell(v) for k, v in row.items()} for row in rows))
    else:
        out.writelines(json.dumps(row, allow_nan=False) + "\n" for row in rows)
    return len(rows)
