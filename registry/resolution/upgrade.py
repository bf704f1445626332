"""``python -m registry upgrade SPEC``: rewrite a spec in the current format, keeping its comments and layout.

The text is edited in place, not regenerated: each key a migration renames is
replaced where it is written (``[train] best_metric``, ``train.best_metric``
or an inline table's key alike, found in the TOML syntax tree), and ``format``
is set (its value replaced, or a ``format = N`` line added before the first
statement). Everything else, comments, blank lines, quoting and order, stays
byte for byte. Before the file is written, the new text is parsed again and
must read as the old one migrated in memory; it is then written atomically.

From format 2 to 3 no key changes, but relative paths are read against the
file's folder instead of the working directory (``registry.spec.paths``): each
relative path the file itself writes (found with the plugins' ``SpecPath``
marks) is rewritten relative to its folder, so that it names the file it named
when run from the working directory of the upgrade, which the message says.
"""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import Problem, RegistryError, SpecError, format_loc
from registry.files.atomic import write_bytes
from registry.spec.formats import (
    FORMAT,
    FORMAT_KEY,
    MIGRATIONS,
    PATHS_FROM_FILE,
    conflict_message,
    conflicts,
    migrate,
    too_new,
)
from registry.spec.positions import key_lines, key_spans, value_spans
from registry.spec.provenance import Loc, walk
from registry.spec.reading import parse_spec, read_text

if TYPE_CHECKING:
    from registry.components.catalog import Catalog

__all__ = ["Change", "Upgrade", "relative_paths", "upgrade_file", "upgrade_text"]


@dataclass(frozen=True)
class Change:
    """One edit: its line in the old text and what it did."""

    line: int
    message: str


@dataclass(frozen=True)
class Upgrade:
    """A spec's text in the current format, and what changed (nothing when it was current)."""

    text: str
    version: int
    changes: tuple[Change, ...]


def _version(doc: dict[str, Any], source: str, lines: dict[tuple[str | int, ...], int]) -> int:
    declared = doc.get(FORMAT_KEY)
    if declared is None:  # absent: the current format, unless it uses keys that only an older one had
        paths = {loc for loc, _ in walk(doc)}
        old = [v for v, changes in MIGRATIONS.items() for c in changes if c.old in paths]
        return min(old, default=FORMAT)
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 1:
        raise SpecError([Problem((FORMAT_KEY,), f"must be an integer from 1 to {FORMAT} (got {declared!r})",
                                 lines.get((FORMAT_KEY,)))], source)  # fmt: skip
    if declared > FORMAT:
        raise SpecError([Problem((FORMAT_KEY,), too_new(declared), lines.get((FORMAT_KEY,)))], source)
    return declared


def upgrade_text(text: str, source: str = "<spec>", paths: Mapping[Loc, tuple[str, str]] | None = None) -> Upgrade:
    """*text* rewritten in the current format, with each change; the same text when it is current.

    *paths* gives, for key paths whose values are relative paths to rewrite (``upgrade_file`` finds them), the
    value written and the new one.

    Raises:
        SpecError: the text is not TOML, or its ``format`` is unreadable or newer than this registry reads.
    """
    doc = parse_spec(text, source)
    lines = key_lines(text)
    version = _version(doc, source, lines)
    if version == FORMAT and doc.get(FORMAT_KEY, FORMAT) == FORMAT:
        return Upgrade(text, version, ())
    clash = conflicts(doc, version)
    if clash:
        old, renamed = clash[0]
        raise SpecError([Problem(old, conflict_message(old, renamed), lines.get(old))], source)
    spans = key_spans(text)
    data = bytearray(text.encode("utf-8"))
    edits: list[tuple[int, int, bytes]] = []
    changes: list[Change] = []
    values = value_spans(text)
    expected = copy.deepcopy(doc)
    for loc, (written, now) in (paths or {}).items() if version < PATHS_FROM_FILE else ():
        start, end = values[loc]
        edits.append((start, end, json.dumps(now, ensure_ascii=False).encode("utf-8")))  # a TOML basic string
        changes.append(
            Change(
                lines[loc],
                f"{format_loc(loc)}: {written!r} -> {now!r} (format 2 read it against the "
                f"working directory, {os.getcwd()}; format 3 against this file's folder)",
            )
        )
        _set(expected, loc, now)
    for v in range(version, FORMAT):
        for c in MIGRATIONS.get(v, ()):
            if c.old in spans:
                start, end = spans[c.old]
                edits.append((start, end, c.new[-1].encode()))
                changes.append(Change(lines[c.old], f"{c.describe()} (format {v} -> {v + 1})"))
    newline = "\r\n" if "\r\n" in text else "\n"
    if (FORMAT_KEY,) in lines:
        n = lines[(FORMAT_KEY,)]
        offsets = [m.end() for m in re.finditer(b"\n", bytes(data))]
        start = ([0, *offsets])[n - 1]
        end = offsets[n - 1] if n - 1 < len(offsets) else len(data)
        row = bytes(data[start:end])
        m = re.search(rb"=\s*([^#\s]+)", row)
        assert m is not None  # a key's line holds its value
        edits.append((start + m.start(1), start + m.end(1), str(FORMAT).encode()))
        changes.append(Change(n, f"format = {FORMAT} (was {doc[FORMAT_KEY]})"))
    else:
        first = min(lines.values(), default=None)
        offsets = [0, *(m.end() for m in re.finditer(b"\n", bytes(data)))]
        at = offsets[first - 1] if first is not None else len(data)
        line = f"format = {FORMAT}  # the spec format this file is written in (python -m registry upgrade){newline}"
        edits.append((at, at, line.encode()))
        changes.append(Change(first or 1, f"format = {FORMAT} added (the file was in format {version})"))
    for start, end, new in sorted(edits, reverse=True):
        data[start:end] = new
    out = data.decode("utf-8")
    migrate(expected, version)
    expected[FORMAT_KEY] = FORMAT
    if parse_spec(out, source) != expected:  # pragma: no cover - a migration that edits the text wrongly
        raise RegistryError(f"{source}: the upgraded text does not read as the migrated spec; the file is unchanged")
    return Upgrade(out, version, tuple(sorted(changes, key=lambda c: c.line)))


def _set(doc: Any, loc: Loc, value: Any) -> None:
    for part in loc[:-1]:
        doc = doc[part]
    doc[loc[-1]] = value


def relative_paths(path: str | Path, version: int, catalog: Catalog) -> dict[Loc, tuple[str, str]]:
    """The relative paths the file at *path* (in format *version*) writes itself, each with its value relative to
    the file's folder: key path -> (as written, as format 3 writes it). A component that does not resolve is left
    out (its values cannot be told to be paths)."""
    from registry.resolution.resolver import components, resolve_where_possible
    from registry.spec.compose import compose_file

    composed = compose_file(path, default_format=version)
    settings = composed.provenance.settings
    folder = os.path.dirname(os.path.abspath(path))
    found: dict[Loc, tuple[str, str]] = {}
    for r in components(resolve_where_possible(composed, catalog)):
        for name in r.component.schema.paths:
            loc: Loc = (*r.loc, name)
            s = settings.get(loc, [None])[-1]
            if s is not None and s.how == "reference" and s.via and s.target is not None:
                loc, s = s.target, s.via[-1]  # "${vars.data}": the named value is the one written
            if s is None or s.source != str(path) or s.how != "spec" or not isinstance(s.value, str):
                continue
            if os.path.isabs(os.path.expanduser(s.value)):
                continue
            now = os.path.relpath(os.path.join(os.getcwd(), s.value), folder).replace(os.sep, "/")
            if now != os.path.normpath(s.value).replace(os.sep, "/"):
                found[loc] = (s.value, now)
    return found


def upgrade_file(path: str | Path, write: bool = True, catalog: Catalog | None = None) -> Upgrade:
    """Upgrade the spec at *path* in place: a symbolic link's target, keeping its permissions, a UTF-8
    byte-order mark and CRLF line ends. With *catalog*, its relative paths are rewritten (``relative_paths``).

    Raises:
        SpecError: as ``upgrade_text``, or the file cannot be read or written.
    """
    text = read_text(path)
    version = _version(parse_spec(text, str(path)), str(path), key_lines(text))
    paths = relative_paths(path, version, catalog) if catalog is not None and version < PATHS_FROM_FILE else {}
    result = upgrade_text(text, str(path), paths)
    if write and result.changes:
        real = Path(path).resolve()
        try:
            mode = stat.S_IMODE(real.stat().st_mode)
            bom = real.read_bytes()[:3] == b"\xef\xbb\xbf"
            write_bytes(real, (b"\xef\xbb\xbf" if bom else b"") + result.text.encode("utf-8"))
            os.chmod(real, mode)
        except OSError as e:
            raise SpecError(
                [Problem((), f"cannot be written: {e.strerror or e}; it is unchanged")], str(path)
            ) from None
    return result
