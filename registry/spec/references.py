"""References: a value written once and used anywhere, as ``"${vars.width}"`` or ``"${optimizer.lr}"``.

A string that is exactly one reference takes the value it names, with its type
(a number stays a number, a table a table); references inside a longer string
(``"runs/${vars.name}-${seed}"``) are replaced by the text of a string, number
or boolean. ``$${`` writes a literal ``${``. A reference names any key path of
the composed spec (``vars.hidden``, ``model.layers[0].out_features``); values
are substituted after bases and ``--set`` are applied, so a child or the
command line can change a value that its base refers to. The ``[vars]`` table
itself is removed once every reference is resolved.

An unknown key path, a cycle, a reference to a table or array inside a longer
string, and references that copy more than ``MAX_VALUES`` values are problems
located at the string that holds the reference.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from registry.errors import Problem, SpecError, format_loc
from registry.spec.provenance import Loc, Provenance, Setting, walk

__all__ = ["MAX_VALUES", "VARS", "parse_path", "resolve_references"]

VARS = "vars"
MAX_VALUES = 100_000
"""Values that references may copy in all (a reference copies what it names, references inside it included)."""
MAX_TEXT = 1_000_000
"""Characters that references may write into strings, in all."""
MAX_CHAIN = 64
"""References that name references, at most this deep."""

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PART = re.compile(r"([A-Za-z0-9_-]+)|\"([^\"]*)\"|\[(\d+)\]")


def parse_path(text: str) -> Loc | None:
    """``model.layers[0].out_features`` -> its key path; None when it cannot be read."""
    loc: list[str | int] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        if loc and text[pos] == "." and pos + 1 < len(text) and text[pos + 1] != "[":
            pos += 1
        m = _PART.match(text, pos)
        if m is None:
            return None
        loc.append(int(m.group(3)) if m.group(3) is not None else (m.group(1) or m.group(2) or ""))
        pos = m.end()
    return tuple(loc) if loc and isinstance(loc[0], str) else None


def _text(value: Any) -> str | None:
    """How *value* reads inside a longer string, or None when it cannot be written there."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime.datetime is a date
        return value.isoformat()
    return None


class _Resolver:
    def __init__(self, doc: dict[str, Any], prov: Provenance) -> None:
        self.doc = doc
        self.prov = prov
        self.problems: list[Problem] = []
        self.stack: list[Loc] = []
        self.done: set[Loc] = set()
        self.copied = 0
        self.written = 0
        self.too_much = False

    def fail(self, loc: Loc, message: str) -> None:
        self.problems.append(self.prov.problem(loc, message))

    def lookup(self, target: Loc) -> tuple[bool, Any]:
        node: Any = self.doc
        for part in target:
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return False, None
        return True, node

    def unknown(self, target: Loc) -> str:
        """What exists where *target* stops existing, for the message."""
        node: Any = self.doc
        for i, part in enumerate(target):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
                continue
            if isinstance(node, Mapping):
                keys = sorted(str(k) for k in node)
                near = difflib.get_close_matches(str(part), keys, n=1)
                hint = f"; did you mean {format_loc((*target[:i], near[0]))!r}?" if near else ""
                where = format_loc(target[:i]) if i else "the spec"
                return f"{where} has no key {part!r} (it has: {', '.join(keys) or 'nothing'}){hint}"
            if isinstance(node, list) and isinstance(part, int):
                if part < len(node):
                    node = node[part]
                    continue
                return f"{format_loc(target[:i])} has {len(node)} items"
            return f"{format_loc(target[:i])} is not a table or an array"
        return "it does not exist"

    def value(self, target: Loc, at: Loc) -> tuple[bool, Any]:
        """The resolved value at *target*, resolving the references inside it first, and those on the way to it
        (``${optimizer.lr}`` where ``optimizer = "${vars.opt}"``)."""
        if target in self.stack:
            cycle = " -> ".join("${%s}" % format_loc(t) for t in [*self.stack[self.stack.index(target) :], target])
            self.fail(at, f"references form a cycle: {cycle}")
            return False, None
        if len(self.stack) >= MAX_CHAIN:
            self.fail(at, f"references name references more than {MAX_CHAIN} deep")
            return False, None
        for cut in range(1, len(target)):
            ok, node = self.lookup(target[:cut])
            if ok and isinstance(node, str) and "${" in node and target[:cut] not in self.done:
                self.value(target[:cut], at)
        ok, node = self.lookup(target)
        if not ok:
            return False, None
        if target not in self.done:
            self.stack.append(target)
            node = self.node(node, target)
            self.stack.pop()
            self.set(target, node)
        return True, node

    def set(self, loc: Loc, value: Any) -> None:
        parent: Any = self.lookup(loc[:-1])[1] if loc else None
        if parent is not None:
            parent[loc[-1]] = value
        self.done.add(loc)

    def node(self, node: Any, loc: Loc) -> Any:
        """*node* (at *loc*) with every reference inside it replaced."""
        if loc in self.done:
            return node
        if isinstance(node, str) and "${" in node:
            node = self.string(node, loc)
        elif isinstance(node, dict):
            for k in list(node):
                node[k] = self.node(node[k], (*loc, k))
        elif isinstance(node, list):
            for i in range(len(node)):
                node[i] = self.node(node[i], (*loc, i))
        self.done.add(loc)
        return node

    def string(self, text: str, loc: Loc) -> Any:
        refs = [m for m in _REF.finditer(text) if m.group(0) != "$${"]
        if _REF.sub("", text).count("${"):
            start = _REF.sub("", text).index("${")
            self.fail(
                loc, f"{_REF.sub('', text)[start:][:40]!r} is not closed: write ${{...}}, or $${{ for a literal ${{"
            )
            return text
        whole = len(refs) == 1 and refs[0].span() == (0, len(text))
        out: list[str] = []
        pos = 0
        for m in _REF.finditer(text):
            out.append(text[pos : m.start()])
            pos = m.end()
            if m.group(0) == "$${":
                out.append("${")
                continue
            written = m.group(0)
            target = parse_path(m.group(1))
            if target is None:
                self.fail(loc, f"cannot read the reference {written!r}: write ${{vars.NAME}} or ${{table.key[0].key}}")
                return text
            ok, value = self.value(target, loc)
            if not ok:
                if not self.problems or self.problems[-1].loc != loc:
                    self.fail(loc, f"{written} refers to nothing: {self.unknown(target)}")
                return text
            via = self.history(target)
            if whole:
                self.copied += sum(1 for _ in walk(value))
                if self.copied > MAX_VALUES:  # said once, at the reference that went past the limit
                    if not self.too_much:
                        self.fail(loc, f"references copy more than {MAX_VALUES:,} values in all")
                    self.too_much = True
                    return text
                value = copy.deepcopy(value)
                self.record(loc, value, written, target, via)
                return value
            piece = _text(value)
            if piece is None:
                kind = "a table" if isinstance(value, Mapping) else "an array" if isinstance(value, list) else "a date"
                self.fail(loc, f'{written} is {kind}, which only a whole string "{written}" can take')
                return text
            self.written += len(piece)
            if self.written > MAX_TEXT:
                if not self.too_much:
                    self.fail(loc, f"references write more than {MAX_TEXT:,} characters into strings in all")
                self.too_much = True
                return text
            out.append(piece)
        out.append(text[pos:])
        result = "".join(out)
        if refs:
            self.record(loc, result, ", ".join(m.group(0) for m in refs), None, ())
        return result

    def history(self, target: Loc) -> tuple[Setting, ...]:
        for cut in range(len(target), -1, -1):
            found = self.prov.settings.get(target[:cut])
            if found:
                return tuple(found)
        return ()

    def record(self, loc: Loc, value: Any, note: str, target: Loc | None, via: tuple[Setting, ...]) -> None:
        here = self.prov.last(loc)
        source, line = (here.source, self.prov.where(loc)[1]) if here else (self.prov.source or "<spec>", None)
        for sub, v in walk(value, loc):
            leaf = not isinstance(v, dict)
            below = sub[len(loc) :]  # a key inside a table that the reference copied: its own settings there
            where = self.history((*target, *below)) if target is not None and below else via
            self.prov.record(sub, Setting(v if leaf else None, source, line, "reference", note, target, where))


def resolve_references(doc: dict[str, Any], prov: Provenance) -> None:
    """Replace every reference in *doc* (in place), record each in *prov*, and drop ``[vars]``.

    Raises:
        SpecError: unknown, unreadable or cyclic references, or too large a result, each located.
    """
    r = _Resolver(doc, prov)
    r.node(doc, ())
    if r.problems:
        raise SpecError(r.problems, prov.source)
    vars_ = doc.pop(VARS, None)
    if vars_ is not None and not isinstance(vars_, dict):
        raise SpecError([prov.problem((VARS,), f"must be a table of values (got {json.dumps(vars_)})")], prov.source)
