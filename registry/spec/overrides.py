"""``--set key.path=value``: command-line changes to a spec, applied before it is validated.

The value is a TOML literal (``3e-4``, ``true``, ``[1, 2]``, ``"text"``); a bare word that is not
one (``mnist``) is taken as a string, as Hydra does. Problems with an override say that it came
from the command line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import tomli_w

from registry.errors import Problem, SpecError, format_loc
from registry.files.untrusted import MAX_DEPTH, depth

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Override", "apply_overrides", "inline_toml", "parse_key", "parse_override"]

SOURCE = "command line"
_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


@dataclass(frozen=True)
class Override:
    """One ``--set`` (or a Python API override): the key path and the parsed value.

    Attributes:
        origin: where it was given, for messages: ``the command line`` or ``overrides``.
        flag: how it is written there (``--set``; nothing for the API's ``overrides`` dict).
    """

    text: str
    loc: tuple[str | int, ...]
    value: Any
    origin: str = "the command line"
    flag: str = "--set"

    @property
    def said(self) -> str:
        """The override as its user wrote it: ``--set optimizer.lr=0.1``, or ``optimizer.lr=0.1``."""
        return f"{self.flag} {self.text}" if self.flag else self.text


def inline_toml(value: Any) -> str:
    """*value* as a TOML value on one line (``{ type = "adam", lr = 0.1 }``).

    Raises:
        TypeError: it is not a TOML value.
    """
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{tomli_w.dumps({k: 0}).split(' = ')[0]} = {inline_toml(v)}" for k, v in value.items())
            + " }"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline_toml(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")


def parse_key(text: str, key: str, api: bool = False) -> tuple[str | int, ...]:
    """The key path *key* (``a.b[2].c``) of the override *text* (``--set`` on the command line, or with *api*,
    a key of the Python API's ``overrides``, which the messages name as such).

    Raises:
        SpecError: it cannot be read.
    """
    said, source = (f"overrides[{key!r}]", "overrides") if api else (f"--set {text}", SOURCE)
    loc: list[str | int] = []
    pos = 0
    while pos < len(key):
        if key[pos] == "." and loc and pos + 1 < len(key):
            pos += 1
        m = _TOKEN.match(key, pos)
        if m is None:
            raise SpecError([Problem((), f"{said}: cannot read the key path {key!r} (write a.b[2].c)")], source)
        loc.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not loc or not isinstance(loc[0], str):
        raise SpecError([Problem((), f"{said}: the key path must start with a name")], source)
    return tuple(loc)


def parse_override(text: str) -> Override:
    """Parse ``key.path=value``.

    Raises:
        SpecError: no ``=``, or an unreadable key path.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecError([Problem((), f"--set {text}: expected KEY.PATH=VALUE")], SOURCE)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word: a string
    except RecursionError:
        raise SpecError(
            [Problem((), f"--set {text}: the value is nested more than {MAX_DEPTH} levels deep")], SOURCE
        ) from None
    if depth(value) > MAX_DEPTH:
        raise SpecError([Problem((), f"--set {text}: the value is nested more than {MAX_DEPTH} levels deep")], SOURCE)
    return Override(text, parse_key(text, key.strip()), value)


def apply_overrides(data: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """Set each override's value in the parsed spec *data* (in place); return it.

    Raises:
        SpecError: a path that runs through a value that is not a table or list, or an index out of range.
    """
    problems = []
    for o in overrides:
        node: Any = data
        for i, part in enumerate(o.loc[:-1]):
            nxt = o.loc[i + 1]
            if isinstance(part, int):
                ok = isinstance(node, list) and part < len(node)
                if not ok:
                    problems.append(_out_of_range(o, o.loc[: i + 1], node))
                    break
                node = node[part]
            else:
                if not isinstance(node, dict):
                    problems.append(Problem(o.loc[:i], f"is not a table, so {o.said} cannot go into it", None))
                    break
                node = node.setdefault(part, [] if isinstance(nxt, int) else {})
        else:
            last = o.loc[-1]
            if isinstance(last, int):
                if not isinstance(node, list) or last > len(node):
                    problems.append(_out_of_range(o, o.loc, node))
                    continue
                if last == len(node):
                    node.append(o.value)
                else:
                    node[last] = o.value
            elif isinstance(node, dict):
                node[last] = o.value
            else:
                problems.append(Problem(o.loc[:-1], f"is not a table, so {o.said} cannot go into it", None))
    if problems:
        raise SpecError(problems, SOURCE)
    return data


def _out_of_range(o: Override, loc: tuple[str | int, ...], node: Any) -> Problem:
    size = len(node) if isinstance(node, list) else 0
    where = format_loc(loc[:-1])
    return Problem(loc, f"{o.said}: {where} has {size} items (indexes 0 to {size - 1})", None)
