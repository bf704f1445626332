"""Mixed precision: autocast for the forward pass and the loss, and a gradient scaler where float16 needs one.

``train.precision`` names it: ``float32`` (the default: nothing changes), ``bfloat16`` (autocast on the CPU
or on a CUDA device that supports it; bfloat16 keeps float32's range, so no scaler), ``float16`` (CUDA
only, with torch's ``GradScaler``, whose state every checkpoint keeps). The weights and the optimizer stay
float32; only the operations autocast chooses run in the lower precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["PRECISIONS", "autocast", "make_scaler", "unsupported"]

PRECISIONS = ("float32", "bfloat16", "float16")


def unsupported(precision: str, device: torch.device) -> str | None:
    """Why *precision* cannot train on *device*, or None when it can."""
    if precision == "float32":
        return None
    if device.type == "cpu":
        if precision == "float16":
            return "float16 autocast needs CUDA (with a gradient scaler); on the CPU use 'bfloat16'"
        return None
    if device.type == "cuda":
        if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
            return f"{torch.cuda.get_device_name(device)} does not support bfloat16; use 'float16' or 'float32'"
        return None
    return f"mixed precision is supported on the CPU and on CUDA, not on {device.type!r}; use 'float32'"


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Autocast to *precision* on *device* for the forward pass and the loss (no-op for float32)."""
    if precision == "float32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=getattr(torch, precision)):
        yield


def make_scaler(precision: str, device: torch.device) -> Any:
    """torch's GradScaler for float16 on CUDA; None otherwise (float32, bfloat16)."""
    if precision != "float16":
        return None
    return torch.amp.GradScaler(device.type)
