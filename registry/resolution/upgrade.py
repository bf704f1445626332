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
import os
import re
import stat
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
from registry.spec.paths import is_run_spec
from registry.spec.positions import key_lines, key_spans, value_spans
from registry.spec.provenance import Loc, Setting, walk
from registry.spec.reading import parse_spec, read_text

if TYPE_CHECKING:
    from registry.components.catalog import Catalog

__all__ = ["Change", "PathEdits", "Upgrade", "relative_paths", "upgrade_file", "upgrade_text"]


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


def upgrade_text(text: str, source: str = "<spec>", path_edits: PathEdits | None = None) -> Upgrade:
    """*text* rewritten in the current format, with each change; the same text when it is current.

    *path_edits* gives the relative paths to rewrite, and the values left that may be paths (``upgrade_file``
    finds them: ``relative_paths``).

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
    data = bytearray(text.encode("utf-8"))
    expected = copy.deepcopy(doc)
    edits: list[Edit] = []
    if path_edits is not None and version < PATHS_FROM_FILE:
        edits += _path_edits(text, lines, path_edits, expected)
    edits += _rename_edits(text, lines, version)
    edits.append(_format_edit(text, data, lines, doc, version))
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        if e.text is not None:
            data[e.start : e.end] = e.text
    out = data.decode("utf-8")
    migrate(expected, version)
    expected[FORMAT_KEY] = FORMAT
    if parse_spec(out, source) != expected:  # pragma: no cover - a migration that edits the text wrongly
        raise RegistryError(f"{source}: the upgraded text does not read as the migrated spec; the file is unchanged")
    changes = (Change(e.line, e.message) for e in edits)
    return Upgrade(out, version, tuple(sorted(changes, key=lambda c: c.line)))


@dataclass(frozen=True)
class Edit:
    """One change to a spec's text: the UTF-8 bytes ``[start, end)`` replaced by *text* (None: a change said, not
    made), and what the report says of it at its line."""

    start: int
    end: int
    text: bytes | None
    line: int
    message: str


def _path_edits(text: str, lines: dict[Loc, int], edits: PathEdits, expected: dict[str, Any]) -> list[Edit]:
    """Each relative path rewritten relative to the file's folder (*expected* updated); each value left said."""
    values, out = value_spans(text), []
    for loc, (written, now) in edits.paths.items():
        start, end = values[loc]
        said = f"format 2 read it against the working directory, {os.getcwd()}; format 3 against this file's folder"
        out.append(Edit(start, end, _toml_string(now).encode("utf-8"), lines[loc],
                        f"{format_loc(loc)}: {written!r} -> {now!r} ({said})"))  # fmt: skip
        _set(expected, loc, now)
    for loc, (written, now) in edits.unsure.items():
        said = f"if it is a path, format 3 reads it against this file's folder, and {now!r} names the file it named"
        out.append(Edit(0, 0, None, lines[loc], f"{format_loc(loc)}: {written!r} is left as it is: {said}"))
    return out


def _rename_edits(text: str, lines: dict[Loc, int], version: int) -> list[Edit]:
    """Each key a migration from *version* on renames, renamed where it is written."""
    spans, out = key_spans(text), []
    for v in range(version, FORMAT):
        for c in MIGRATIONS.get(v, ()):
            if c.old in spans:
                start, end = spans[c.old]
                out.append(
                    Edit(start, end, c.new[-1].encode(), lines[c.old], f"{c.describe()} (format {v} -> {v + 1})")
                )
    return out


def _format_edit(text: str, data: bytearray, lines: dict[Loc, int], doc: dict[str, Any], version: int) -> Edit:
    """``format = N`` set: its value replaced, or a line added before the first statement."""
    if (FORMAT_KEY,) in lines:
        n = lines[(FORMAT_KEY,)]
        offsets = [m.end() for m in re.finditer(b"\n", bytes(data))]
        start = ([0, *offsets])[n - 1]
        end = offsets[n - 1] if n - 1 < len(offsets) else len(data)
        m = re.search(rb"=\s*([^#\s]+)", bytes(data[start:end]))
        assert m is not None  # a key's line holds its value
        return Edit(start + m.start(1), start + m.end(1), str(FORMAT).encode(), n,
                    f"format = {FORMAT} (was {doc[FORMAT_KEY]})")  # fmt: skip
    newline = "\r\n" if "\r\n" in text else "\n"
    first = min(lines.values(), default=None)
    offsets = [0, *(m.end() for m in re.finditer(b"\n", bytes(data)))]
    at = offsets[first - 1] if first is not None else len(data)
    line = f"format = {FORMAT}  # the spec format this file is written in (python -m registry upgrade){newline}"
    return Edit(at, at, line.encode(), first or 1, f"format = {FORMAT} added (the file was in format {version})")


def _toml_string(value: str) -> str:
    """*value* as a TOML basic string (tomli_w escapes what TOML forbids raw, DEL and control characters)."""
    import tomli_w

    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


def _set(doc: Any, loc: Loc, value: Any) -> None:
    for part in loc[:-1]:
        doc = doc[part]
    doc[loc[-1]] = value


@dataclass(frozen=True)
class PathEdits:
    """What format 3 changes in a format-2 file: its relative paths, rewritten (key path -> as written, as format 3
    writes it), and the values left as they are that may be paths (a ``[vars]`` string no path of this file uses)."""

    paths: dict[Loc, tuple[str, str]]
    unsure: dict[Loc, tuple[str, str]]


_PATHLIKE = re.compile(r"[/\\]|\.[A-Za-z0-9]{1,8}$")


def _relative(value: object) -> bool:
    return isinstance(value, str) and not os.path.isabs(os.path.expanduser(value)) and "${" not in value


def _named(setting: Setting) -> tuple[Loc | None, Setting]:
    """Through whole-string references, the key path and setting of the value named last (None: not a reference)."""
    target: Loc | None = None
    while setting.how == "reference" and setting.via and setting.target is not None:
        target, setting = setting.target, setting.via[-1]
    return target, setting


def relative_paths(path: str | Path, version: int, catalog: Catalog) -> PathEdits:
    """The relative paths the file at *path* (in format *version*) writes itself, each with its value relative to
    the file's folder, found through the components' ``SpecPath`` marks in every component table, complete or not.

    Raises:
        SpecError: a value cannot be told to be a path or not (a component no installed plugin registers), or a
            path of this file is built from references inside a string (it cannot be rewritten).
    """
    from registry.resolution.resolver import walk_components
    from registry.spec.compose import compose_file

    composed = compose_file(path, default_format=version)
    walked = walk_components(composed, catalog)
    source = str(path)
    if walked.unknown:
        loc, name = walked.unknown[0]
        why = f"names {name!r}, which no installed plugin registers: upgrade cannot tell which of its values are paths"
        raise SpecError([Problem(loc, f"{why}; install the plugin first")], source)
    settings = composed.provenance.settings
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    edits = PathEdits({}, {})
    for comp, table in walked.tables:
        for name in comp.schema.paths:
            if (*table, name) not in settings:
                continue
            target, s = _named(settings[(*table, name)][-1])
            if s.how == "reference" and s.source == source:
                why = f"is built from references ({s.note}): upgrade cannot rewrite it"
                raise SpecError([Problem((*table, name), f"{why}; write it relative to this file's folder")], source)
            if s.source == source and s.how == "spec" and _relative(s.value):
                edits.paths[target or (*table, name)] = (s.value, _rebased(s.value, folder))
    for loc, found in settings.items():  # [vars] strings that look like paths and that no path of this file uses
        s = found[-1]
        if loc[:1] == ("vars",) and loc not in edits.paths and s.source == source and s.how == "spec":
            if _relative(s.value) and _PATHLIKE.search(s.value):
                edits.unsure[loc] = (s.value, _rebased(s.value, folder))
    return edits


def _rebased(value: str, folder: str) -> str:
    """*value*, read against the working directory, as a path relative to *folder* (``/`` between parts)."""
    return os.path.relpath(os.path.join(os.getcwd(), value), folder).replace(os.sep, "/")


def upgrade_file(path: str | Path, write: bool = True, catalog: Catalog | None = None) -> Upgrade:
    """Upgrade the spec at *path* in place: a symbolic link's target, keeping its permissions, a UTF-8
    byte-order mark and CRLF line ends. With *catalog*, its relative paths are rewritten (``relative_paths``).

    Raises:
        SpecError: as ``upgrade_text``, or the file cannot be read or written.
    """
    if is_run_spec(path):
        why = "is a run directory's spec (run.json records its hash): it is read as it was written and never rewritten"
        raise SpecError([Problem((), f"{why}; upgrade the spec the run was made from")], str(path))
    text = read_text(path)
    version = _version(parse_spec(text, str(path)), str(path), key_lines(text))
    edits = relative_paths(path, version, catalog) if catalog is not None and version < PATHS_FROM_FILE else None
    result = upgrade_text(text, str(path), edits)
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
