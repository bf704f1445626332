"""The line of every key path in a TOML text, from a real parser's syntax tree.

``tomllib`` keeps no positions, so the text is parsed a second time with
tree-sitter's TOML grammar (``tree-sitter-toml``), which gives every node its
row. The tree is walked with TOML's own rules: ``[table]`` and ``[[array]]``
headers open a path (an array of tables counts its elements, nested ones per
parent element), dotted keys at any level name every table they pass through,
and arrays and inline tables give their elements and keys their own lines.
Keys are decoded by ``tomllib`` itself (escapes in quoted keys included), so a
path here is spelled exactly as in the parsed document.

Only texts that ``tomllib`` accepted are given to this module; a text the
grammar reads differently still gets the lines of every part it did read.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["key_lines", "key_spans", "locate_line", "value_spans"]

Loc = tuple[str | int, ...]

_KEYS = ("bare_key", "quoted_key", "dotted_key")


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_toml

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_toml.language()))


def _decode_key(raw: bytes) -> tuple[str, ...]:
    """A key as written (``a."b.c".d``) -> its parts, decoded by tomllib."""
    doc: Any = tomllib.loads(raw.decode("utf-8") + " = 0")
    parts: list[str] = []
    while isinstance(doc, dict):
        (key, doc), *_ = doc.items()
        parts.append(key)
    return tuple(parts)


class _Walker:
    def __init__(self, src: bytes) -> None:
        self.src = src
        self.lines: dict[Loc, int] = {}
        self.spans: dict[Loc, tuple[int, int]] = {}  # where the last part of a key path is written (bytes)
        self.values: dict[Loc, tuple[int, int]] = {}  # where a key's or an element's value is written (bytes)
        self.arrays: dict[Loc, int] = {}  # array-of-tables path -> elements seen so far

    def key(self, node: Any) -> tuple[str, ...]:
        return _decode_key(self.src[node.start_byte : node.end_byte])

    def span(self, loc: Loc, key_node: Any) -> None:
        """Record where the last part of *loc* is written: *key_node*'s last part."""
        if key_node.type == "dotted_key":
            key_node = [c for c in key_node.children if c.type in ("bare_key", "quoted_key")][-1]
        self.spans.setdefault(loc, (key_node.start_byte, key_node.end_byte))

    def mark(self, loc: Loc, row: int, *, own: bool = True) -> None:
        """Record *loc* at 0-based *row*: its own line, or (``own=False``) a table a dotted key passes through."""
        if own:
            self.lines[loc] = row + 1
        else:
            self.lines.setdefault(loc, row + 1)

    def header(self, parts: tuple[str, ...], row: int, array: bool) -> Loc:
        """The concrete path a ``[table]`` or ``[[array]]`` header opens, indexes of enclosing arrays included."""
        loc: Loc = ()
        for i, part in enumerate(parts):
            loc = (*loc, part)
            last = i == len(parts) - 1
            if last and array:
                n = self.arrays.get(loc, 0)
                self.arrays[loc] = n + 1
                self.mark(loc, row, own=False)
                loc = (*loc, n)
                self.mark(loc, row)
            elif loc in self.arrays:
                self.mark(loc, row, own=False)
                loc = (*loc, self.arrays[loc] - 1)
            else:
                self.mark(loc, row, own=last)
        return loc

    def pair(self, node: Any, table: Loc) -> None:
        key_node = next(c for c in node.children if c.type in _KEYS)
        value = next((c for c in node.children[2:] if c.is_named and c.type != "comment"), None)  # a comment may follow
        parts = self.key(key_node)
        row = node.start_point[0]
        for i in range(1, len(parts)):
            self.mark((*table, *parts[:i]), row, own=False)
        loc = (*table, *parts)
        self.mark(loc, row)
        self.span(loc, key_node)
        self.value(value, loc)

    def value(self, node: Any, loc: Loc) -> None:
        if node is None:
            return
        self.values.setdefault(loc, (node.start_byte, node.end_byte))
        if node.type == "inline_table":
            for child in node.children:
                if child.type == "pair":
                    self.pair(child, loc)
        elif node.type == "array":
            i = 0
            for child in node.children:
                if child.is_named and child.type not in ("comment", "ERROR"):
                    self.mark((*loc, i), child.start_point[0])
                    self.value(child, (*loc, i))
                    i += 1

    def document(self, root: Any) -> None:
        for node in root.children:
            if node.type == "pair":
                self.pair(node, ())
            elif node.type in ("table", "table_array_element"):
                key_node = next(c for c in node.children if c.type in _KEYS)
                table = self.header(self.key(key_node), node.start_point[0], node.type == "table_array_element")
                self.span(table[:-1] if isinstance(table[-1], int) else table, key_node)
                for child in node.children:
                    if child.type == "pair":
                        self.pair(child, table)


def _walk(text: str) -> _Walker:
    src = text.encode("utf-8")
    w = _Walker(src)
    w.document(_parser().parse(src).root_node)
    return w


def key_lines(text: str) -> dict[Loc, int]:
    """Every key path of *text* (tables, keys, array elements) -> its 1-based line.

    A key's line is where it is written; a table's is its header, or the first
    dotted key that passes through it; an array element's is where it begins.
    """
    return _walk(text).lines


def key_spans(text: str) -> dict[Loc, tuple[int, int]]:
    """Key path -> the UTF-8 byte span where its last part is first written (``best_metric`` in ``[train]``'s
    ``best_metric = ...``, in ``train.best_metric = ...``, or in a ``[train.best_metric]`` header)."""
    return _walk(text).spans


def value_spans(text: str) -> dict[Loc, tuple[int, int]]:
    """Key path -> the UTF-8 byte span of its value as written (a string's quotes included), for keys and array
    elements written as ``key = value`` or inside an array or inline table (not for ``[table]`` headers)."""
    return _walk(text).values


@lru_cache(maxsize=64)
def _cached(text: str) -> dict[Loc, int]:
    return key_lines(text)


def locate_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The line of *loc* in *text*, or of its deepest part that the text writes; None if no part is written."""
    lines = _cached(text)
    for cut in range(len(loc), 0, -1):
        line = lines.get(tuple(loc[:cut]))
        if line is not None:
            return line
    return None
