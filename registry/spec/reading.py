"""Reading a spec: the file read bounded, its TOML parsed, its numbers checked, a model validated as TOML means it.

Composition (``registry.spec.compose``) reads every file through here; resolution validates the composed spec.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from registry.errors import Problem, SpecError
from registry.files.untrusted import MAX_DEPTH, Unreadable, depth, read_bounded
from registry.spec.problems import Loc
from registry.spec.provenance import Provenance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "FLOAT_LIMIT",
    "MAX_SPEC_BYTES",
    "check_values",
    "parse_spec",
    "read_text",
    "strict_validate",
]

M = TypeVar("M", bound=BaseModel)

MAX_SPEC_BYTES = 1_000_000
INT_RANGE = (-(2**63), 2**63 - 1)  # TOML's integers are 64-bit
FLOAT_LIMIT = 3.4028234663852886e38  # the largest float32: torch computes in it, and a larger number overflows


def read_text(path: str | Path) -> str:
    """Read a spec file, refusing what cannot be a spec (missing, not a regular file, too large, not UTF-8).

    A UTF-8 byte-order mark is accepted, as TOML editors write one.
    """
    src = str(path)
    try:
        data = read_bounded(path, MAX_SPEC_BYTES)
        return data.decode("utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise SpecError([Problem((), "no such file")], src) from None
    except IsADirectoryError:
        raise SpecError([Problem((), "is a directory, not a spec file")], src) from None
    except Unreadable as e:
        raise SpecError([Problem((), str(e))], src) from None
    except UnicodeDecodeError as e:
        raise SpecError([Problem((), f"is not UTF-8 text ({e.reason} at byte {e.start})")], src) from None
    except OSError as e:
        raise SpecError([Problem((), f"cannot be read: {e.strerror}")], src) from None


def _syntax_message(message: str, text: str, line: int | None) -> str:
    if message.startswith("Cannot overwrite a value") and line is not None:
        key = text.splitlines()[line - 1].split("=", 1)[0].strip()
        return f"duplicate key {key!r}: it is already set above"
    return f"invalid TOML: {message}"


def parse_spec(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse TOML *text* into a plain mapping, with the line and column of a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        if m and not msg.startswith("Cannot overwrite"):
            msg += f" (column {m.group(2)})"
        raise SpecError([Problem((), _syntax_message(msg, text, line), line)], source) from None
    except RecursionError:
        raise SpecError([Problem((), f"invalid TOML: nested more than {MAX_DEPTH} levels deep")], source) from None


def _numbers(value: Any, loc: Loc) -> list[tuple[Loc, str]]:
    """Problems with the numbers in *value*: integers beyond 64 bits, floats beyond float32."""
    out: list[tuple[Loc, str]] = []
    stack: list[tuple[Any, Loc]] = [(value, loc)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, Mapping):
            stack.extend((v, (*at, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*at, i)) for i, v in enumerate(node))
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int) and not INT_RANGE[0] <= node <= INT_RANGE[1]:
            out.append((at, f"{node} does not fit in 64 bits: TOML integers are between -2^63 and 2^63 - 1"))
        elif isinstance(node, float) and math.isfinite(node) and abs(node) > FLOAT_LIMIT:
            out.append((at, f"{node:g} is beyond what torch's float32 holds (at most {FLOAT_LIMIT:.4g} in size)"))
    return sorted(out, key=lambda p: str(p[0]))


def check_values(doc: Mapping[str, Any], where: Provenance | None = None) -> list[Problem]:
    """Problems with values that TOML or torch cannot hold, and with nesting deeper than ``MAX_DEPTH``."""
    if depth(doc) > MAX_DEPTH:
        return [Problem((), f"nested more than {MAX_DEPTH} levels deep")]
    return [where.problem(loc, msg) if where else Problem(loc, msg) for loc, msg in _numbers(doc, ())]


def strict_validate(model: type[M], data: Any) -> M:
    """Validate *data* the way TOML means it: a string is never a number, a float never an int.

    Pydantic's strict JSON mode has exactly TOML's rules (arrays may fill tuples,
    integers may fill floats); values JSON lacks (TOML dates) arrive as strings.
    """
    return model.model_validate_json(json.dumps(data, default=str), strict=True)
