"""TOML text -> ``Spec``: read the file, parse it, validate it, and locate every problem."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from registry.errors import Problem, SpecError
from registry.locate import locate_line
from registry.spec import Spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["MAX_SPEC_BYTES", "load_spec", "parse_spec", "strict_validate", "validate_spec"]

M = TypeVar("M", bound=BaseModel)

MAX_SPEC_BYTES = 1_000_000


def read_text(path: str | Path) -> str:
    """Read a spec file, refusing what cannot be a spec (too large, not UTF-8, missing)."""
    p = Path(path)
    src = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError([Problem((), f"the file is {size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,}")], src)
        return p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError([Problem((), "no such file")], src) from None
    except IsADirectoryError:
        raise SpecError([Problem((), "is a directory, not a spec file")], src) from None
    except UnicodeDecodeError as e:
        raise SpecError([Problem((), f"is not UTF-8 text ({e.reason} at byte {e.start})")], src) from None
    except OSError as e:
        raise SpecError([Problem((), f"cannot be read: {e.strerror}")], src) from None


def parse_spec(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse TOML *text* into a plain mapping, with the line and column of a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        if m:
            msg += f" (column {m.group(2)})"
        raise SpecError([Problem((), f"invalid TOML: {msg}", line)], source) from None
    except RecursionError:
        raise SpecError([Problem((), "invalid TOML: nested too deeply")], source) from None


def strict_validate(model: type[M], data: Any) -> M:
    """Validate *data* the way TOML means it: a string is never a number, a float never an int.

    Pydantic's strict JSON mode has exactly TOML's rules (arrays may fill tuples,
    integers may fill floats); values JSON lacks (TOML dates) arrive as strings.
    """
    return model.model_validate_json(json.dumps(data, default=str), strict=True)


def _message(err: Mapping[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if "input" in err and kind not in ("model_type", "dict_type", "list_type"):
        return f"{msg} (got {err['input']!r})"
    return str(msg)


def problems_from(error: ValidationError, text: str | None, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    """One ``Problem`` per pydantic error, with its key path and, when *text* is given, its line."""
    out = []
    for err in error.errors():
        loc = prefix + tuple(err["loc"])
        out.append(Problem(loc, _message(err), locate_line(text, loc) if text else None))
    return out


def validate_spec(data: Mapping[str, Any], source: str | None = None, text: str | None = None) -> Spec:
    """Validate a parsed mapping into a ``Spec``, reporting every problem at once."""
    try:
        return strict_validate(Spec, data)
    except ValidationError as e:
        raise SpecError(problems_from(e, text), source) from None


def load_spec(path: str | Path) -> tuple[Spec, str]:
    """Read, parse and validate the spec at *path*.

    Returns:
        The ``Spec`` and the file's text (kept to locate later problems by line).

    Raises:
        SpecError: every problem found, each with the file, key path and line.
    """
    src = str(path)
    text = read_text(path)
    return validate_spec(parse_spec(text, src), src, text), text
