"""Refuse a safetensors file that is malformed before any byte of it is turned into a tensor.

safetensors never unpickles, but a checkpoint is still untrusted input: this
module checks the header's size, that it is JSON without duplicate keys,
that every tensor has a known dtype and a byte range matching its shape, and
that the ranges neither overlap nor leave the data section.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from registry.files.untrusted import Unreadable, load_json

__all__ = ["MAX_HEADER_BYTES", "check_safetensors", "check_safetensors_bytes"]

MAX_HEADER_BYTES = 100 * 2**20
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


class MalformedError(ValueError):
    """The file is not a well-formed safetensors file (the message says why)."""


def check_safetensors(path: Path) -> dict[str, Any]:
    """Validate the structure of the safetensors file at *path*; return its header.

    Raises:
        MalformedError: the file is truncated, its header is too large or not JSON,
            has duplicate keys, or a tensor's range is wrong, overlapping or outside the data.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = _header_length(head, size)
        return _check_header(f.read(n), size - 8 - n)


def check_safetensors_bytes(data: bytes) -> dict[str, Any]:
    """``check_safetensors`` for a file already read into *data* (so that what is checked is what is used)."""
    n = _header_length(data[:8], len(data))
    return _check_header(data[8 : 8 + n], len(data) - 8 - n)


def _header_length(head: bytes, size: int) -> int:
    if len(head) < 8:
        raise MalformedError(f"truncated: {size} bytes, not even the 8-byte header length")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER_BYTES:
        raise MalformedError(f"header of {n:,} bytes declared; at most {MAX_HEADER_BYTES:,} are accepted")
    if 8 + n > size:
        raise MalformedError(f"truncated: the header needs {n:,} bytes but the file has {size - 8:,}")
    return int(n)


def _check_header(raw: bytes, data_size: int) -> dict[str, Any]:
    try:
        header = load_json(raw)
    except Unreadable as e:
        raise MalformedError(f"the header: {e}") from None
    if not isinstance(header, dict):
        raise MalformedError("the header is not a JSON object")
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise MalformedError(f"tensor {name!r}: entry must have dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise MalformedError(f"tensor {name!r}: unknown dtype {dtype!r}")
        ok_shape = isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)
        ok_offsets = isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
        if not ok_shape or not ok_offsets:
            raise MalformedError(f"tensor {name!r}: bad shape or data_offsets")
        start, end = offsets
        if not 0 <= start <= end <= data_size:
            raise MalformedError(f"tensor {name!r}: bytes {start}..{end} lie outside the {data_size:,}-byte data")
        if end - start != math.prod(shape) * DTYPE_BYTES[dtype]:
            raise MalformedError(f"tensor {name!r}: {end - start} bytes for shape {shape} of {dtype}")
        spans.append((start, end, name))
    spans.sort()
    for (_, e1, a), (s2, _, b) in zip(spans, spans[1:], strict=False):
        if s2 < e1:
            raise MalformedError(f"tensors {a!r} and {b!r} overlap (bytes {s2}..{e1})")
    return header
