"""Find the line of a key path in TOML text, for error messages.

``tomllib`` keeps no positions, so this scans the text: table headers
(``[a.b]``, ``[[a.b]]``), ``key = value`` lines, and inline arrays and tables
(``layers = [{ type = "linear" }, ...]``), skipping strings and comments. It
returns the line of the deepest part of the path it can find: the key itself,
or the table or array element that should hold it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["locate_line"]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_re(key: str) -> re.Pattern[str]:
    return re.compile(r"(?:^|[\s{,])(?:\"%s\"|'%s'|%s)\s*=" % ((re.escape(key),) * 3), re.MULTILINE)


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    triple = text[i : i + 3] == quote * 3
    end = quote * 3 if triple else quote
    j = i + len(end)
    while j < len(text):
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text.startswith(end, j):
            return j + len(end)
        if text[j] == "\n" and not triple:
            return j
        j += 1
    return j


def _value_span(text: str, start: int) -> tuple[int, int]:
    """The span of the value that begins at or after *start* (up to the matching bracket or line end)."""
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c in "\"'":
            j = _skip_string(text, j)
            continue
        if c == "#":
            while j < len(text) and text[j] != "\n":
                j += 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i, j + 1
        elif c == "\n" and depth == 0:
            return i, j
        j += 1
    return i, j


def _element(text: str, span: tuple[int, int], index: int) -> tuple[int, int] | None:
    """The span of element *index* of the array or inline table occupying *span*."""
    i, end = span[0] + 1, span[1] - 1
    count = 0
    while i < end:
        c = text[i]
        if c in " \t\r\n,":
            i += 1
            continue
        if c == "#":
            while i < end and text[i] != "\n":
                i += 1
            continue
        elem = _value_span(text, i)
        if count == index:
            return elem
        count += 1
        i = max(elem[1], i + 1)
    return None


def _find_key(text: str, span: tuple[int, int], key: str) -> tuple[int, int] | None:
    """The span of the value of *key* directly inside *span* (a table body or inline table)."""
    body_start = span[0] + (1 if text[span[0] : span[0] + 1] == "{" else 0)
    depth = 0
    i = body_start
    pat = _key_re(key)
    while i < span[1]:
        c = text[i]
        if c in "\"'":
            m = pat.match(text, i - 1) if i > 0 else None
            if depth == 0 and m:
                return _value_span(text, m.end())
            i = _skip_string(text, i)
            continue
        if c == "#":
            while i < span[1] and text[i] != "\n":
                i += 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif depth == 0:
            m = pat.match(text, i - 1 if i > body_start else i)
            if m and m.start() >= body_start - 1:
                return _value_span(text, m.end())
        i += 1
    return None


def _table_bodies(text: str, lines: list[str]) -> dict[str, list[tuple[int, int]]]:
    offsets, pos = [], 0
    for ln in lines:
        offsets.append(pos)
        pos += len(ln)
    headers = []
    for n, ln in enumerate(lines):
        m = _HEADER.match(ln)
        if m:
            headers.append((n, re.sub(r"\s*\.\s*", ".", m.group(2)).replace('"', "")))
    bodies: dict[str, list[tuple[int, int]]] = {"": [(0, offsets[headers[0][0]] if headers else len(text))]}
    for k, (n, name) in enumerate(headers):
        end = offsets[headers[k + 1][0]] if k + 1 < len(headers) else len(text)
        bodies.setdefault(name, []).append((offsets[n] + len(lines[n]), end))
    return bodies


def locate_line(text: str, loc: Sequence[str | int]) -> int | None:
    """Return the 1-based line where *loc* (or its deepest existing ancestor) stands, or None."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return None
    bodies = _table_bodies(text, lines)
    best: int | None = None
    span: tuple[int, int] | None = None
    rest = list(loc)
    # The longest leading run of keys that names a [table] or [[array]] header.
    for cut in range(len(rest), 0, -1):
        head = rest[:cut]
        if not all(isinstance(k, str) for k in head):
            continue
        name = ".".join(str(k) for k in head)
        if name in bodies:
            blocks = bodies[name]
            idx = 0
            if cut < len(rest) and isinstance(rest[cut], int) and len(blocks) > 1:
                idx, cut = int(rest[cut]), cut + 1
            if idx < len(blocks):
                span = blocks[idx]
                best = text.count("\n", 0, span[0])
                rest = rest[cut:]
            break
    if span is None:
        span = bodies[""][0]
    for part in rest:
        found = _element(text, span, part) if isinstance(part, int) else _find_key(text, span, part)
        if found is None:
            break
        span = found
        best = text.count("\n", 0, span[0]) + 1
    return best
