"""A spec composed from its bases, ``unset``, ``--set`` and references, with where every value came from.

A spec may build on others::

    base = ["base/seed.toml", "base/mnist.toml"]   # relative to this file; merged in order
    unset = ["train.grad_clip"]                     # removed from what the bases set

The rules, applied to each base in order and then to the file itself:

- a table merges key by key into the inherited table;
- a table that names its ``type`` is a new component: it replaces the inherited one as a whole
  (a table without ``type``, as ``[optimizer] lr = 0.1``, changes only the keys it sets);
- an array, and any other value, replaces the inherited one as a whole;
- ``unset`` removes key paths that the bases set, before the file's own values are merged.

A base may have bases of its own (at most ``MAX_BASE_DEPTH`` deep); a cycle,
a missing base or a base that is not TOML is a problem located at the
``base`` key that names it. Then ``--set`` arguments are applied, then
references (``registry.spec.references``) are replaced by the values they name.
Every assignment is recorded in the spec's ``Provenance``, so a problem is
reported in the file that holds its value, and ``explain`` can tell how each
value came to be.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from registry.errors import Problem, SpecError
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
from registry.spec.models import COMPOSITION_KEYS, Composition
from registry.spec.overrides import Override, apply_overrides
from registry.spec.paths import is_run_spec
from registry.spec.positions import key_lines
from registry.spec.problems import problems_from
from registry.spec.provenance import COMMAND_LINE, Loc, Provenance, Setting, walk
from registry.spec.reading import parse_spec, read_text, strict_validate
from registry.spec.references import resolve_references

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["MAX_BASE_DEPTH", "SPEC_PATH", "Composed", "base_files", "base_roots", "compose", "compose_file"]

MAX_BASE_DEPTH = 8
"""Bases of bases, at most this deep."""
SPEC_PATH = "REGISTRY_SPEC_PATH"
"""The environment variable that lists folders (``os.pathsep`` between them) whose files a spec may name as bases,
beside its own folder tree."""

Settings = dict[Loc, list[Setting]]


@dataclass(frozen=True)
class Composed:
    """The spec's values after bases, ``unset``, ``--set`` and references, and where each came from."""

    doc: dict[str, Any]
    provenance: Provenance


def base_roots(path: Path | None) -> tuple[str, ...]:
    """The folders a spec's bases may come from: the spec's own folder tree (the working directory's, for a
    spec that is not a file), then each folder of ``REGISTRY_SPEC_PATH`` (set by the user, never by a spec)."""
    own = os.path.realpath(path.parent if path else Path.cwd())
    extra = [os.path.realpath(p) for p in os.environ.get(SPEC_PATH, "").split(os.pathsep) if p]
    return (own, *extra)


def _inside(real: str, roots: Sequence[str]) -> bool:
    return any(os.path.commonpath([real, root]) == root for root in roots)


class _Composer:
    def __init__(self, source: str, default_format: int, roots: Sequence[str] = ()) -> None:
        self.roots = tuple(roots)
        self.prov = Provenance(source)
        self.problems: list[Problem] = []
        self.default_format = default_format
        self.merged: set[str] = set()  # the files merged so far (real paths): each is merged once

    def problem(self, name: str, loc: Loc, message: str, line: int | None) -> None:
        self.problems.append(Problem(loc, message, line, None if name == self.prov.source else name))

    def layer(
        self, text: str, name: str, path: Path | None, how: str, chain: Sequence[str]
    ) -> tuple[dict[str, Any], Settings]:
        """One file: its bases merged, its ``unset`` applied, its own values on top."""
        self.prov.texts[name] = text
        doc = parse_spec(text, name)
        lines = key_lines(text)
        declared = FORMAT_KEY in doc
        comp = self.composition(doc, name, lines)
        version = comp.format if declared else self.default_format
        self.format(doc, name, lines, version, declared)
        self.prov.formats[name] = version
        if path is not None and version >= PATHS_FROM_FILE:
            self.prov.folders[name] = os.path.realpath(os.path.dirname(os.path.abspath(path)))  # as the OS reads ..
        merged: dict[str, Any] = {}
        settings: Settings = {}
        bases = [comp.base] if isinstance(comp.base, str) else comp.base
        for i, base in enumerate(bases):
            loc: Loc = ("base",) if isinstance(comp.base, str) else ("base", i)
            if base in bases[:i]:
                self.problem(name, loc, f"{base!r} is named twice", _line(lines, loc))
                continue
            found = self.base(base, name, path, loc, lines, chain)
            if found is not None:
                _merge(merged, settings, *found, ())
        if comp.unset and not bases:
            self.problem(name, ("unset",), "there is nothing to unset: this spec has no base", _line(lines, ("unset",)))
        for i, key in enumerate(comp.unset if bases else ()):
            self.unset(merged, settings, key, name, ("unset", i), lines)
        own: Settings = {}
        for loc, value in walk(doc):
            leaf = not isinstance(value, dict)  # a copy: references are replaced in place later
            own[loc] = [Setting(copy.deepcopy(value) if leaf else None, name, lines.get(loc), how)]
        _merge(merged, settings, doc, own, ())
        return merged, settings

    def format(self, doc: dict[str, Any], name: str, lines: dict[Loc, int], version: int, declared: bool) -> None:
        """Take *doc* from its format to the current one; name the keys an older format had in a current file."""
        if version > FORMAT:
            self.problem(name, (FORMAT_KEY,), too_new(version), _line(lines, (FORMAT_KEY,)))
            return
        if version < FORMAT:
            for was, now in conflicts(doc, version):
                self.problem(name, was, conflict_message(was, now), _line(lines, was))
            done = migrate(doc, version)
            renamed = self.prov.renamed.setdefault(name, {})
            for change, _ in done:
                renamed[change.new] = change.old
                for loc in [loc for loc in lines if loc[: len(change.old)] == change.old]:
                    lines[(*change.new, *loc[len(change.old) :])] = lines[loc]
            if declared:  # a run directory's spec from before formats is read silently: it cannot be rewritten
                said = [f"{'.'.join(c.old)} is now {'.'.join(c.new)}" for c, _ in done]
                if version < PATHS_FROM_FILE:
                    said.append("relative paths are read against the working directory")
                what = ", ".join(said)
                hint = ("a run directory's spec is read as it was written" if is_run_spec(name)
                        else f"python -m registry upgrade {name} rewrites it in format {FORMAT}")  # fmt: skip
                self.prov.notes.append(f"{name} is in spec format {version} ({what}): {hint}")
        for v, changes in MIGRATIONS.items():
            for c in changes if v < version else ():  # renamed before the file's own format: a key it cannot have
                node: Any = doc
                for part in c.old:
                    node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
                if node is not _MISSING:
                    message = f"is {'.'.join(c.new)} since spec format {v + 1}: write {c.new[-1]}"
                    if not declared:
                        message += f", or add 'format = {v}' at the top"
                    if not declared and not name.startswith("<"):  # a dict or a string has no file to upgrade
                        message += f", or run python -m registry upgrade {name}"
                    self.problem(name, c.old, message, _line(lines, c.old))

    def composition(self, doc: dict[str, Any], name: str, lines: dict[Loc, int]) -> Composition:
        keys = {k: doc.pop(k) for k in COMPOSITION_KEYS if k in doc and k != "vars"}
        try:
            return strict_validate(Composition, keys)
        except ValidationError as e:
            for p in problems_from(e, keys, Composition):
                self.problem(name, p.loc, p.message, _line(lines, p.loc))
            return Composition()

    def base(
        self, base: str, name: str, path: Path | None, loc: Loc, lines: dict[Loc, int], chain: Sequence[str]
    ) -> tuple[dict[str, Any], Settings] | None:
        line = _line(lines, loc)
        target = (path.parent if path else Path.cwd()) / base
        shown = os.path.normpath(os.path.join(os.path.dirname(name), base)) if path else base
        real = os.path.realpath(target)
        if real in chain:
            cycle = " -> ".join([*(os.path.relpath(c) for c in chain[chain.index(real) :]), os.path.relpath(real)])
            self.problem(name, loc, f"{base!r} is a base of itself: {cycle}", line)
            return None
        if not _inside(real, self.roots):  # a spec from elsewhere must not read the user's other files
            self.problem(name, loc, f"base {base!r} is outside the spec's folder {self.roots[0]}: a base is a file "
                         f"in the spec's own folder tree, or in a folder listed in {SPEC_PATH}", line)  # fmt: skip
            return None
        if len(chain) > MAX_BASE_DEPTH:
            self.problem(name, loc, f"bases are nested more than {MAX_BASE_DEPTH} deep (at {base!r})", line)
            return None
        if not target.exists():
            self.problem(name, loc, f"base {base!r} not found (looked for {shown})", line)
            return None
        if not target.is_file():
            self.problem(name, loc, f"base {base!r} is not a spec file ({shown} is a directory)", line)
            return None
        if real in self.merged:  # reached again through another base: merged once, where it was first reached
            return None
        self.merged.add(real)
        try:
            text = read_text(target)
            return self.layer(text, shown, target, "base", [*chain, real])
        except SpecError as e:  # the base itself is unreadable or not TOML: its own problems, in its own file
            self.problems += [Problem(p.loc, p.message, p.line, p.source or shown) for p in e.problems]
            return None

    def unset(
        self, merged: dict[str, Any], settings: Settings, key: str, name: str, loc: Loc, lines: dict[Loc, int]
    ) -> None:
        """Remove *key* (``table.key``) from what the bases set."""
        parts = tuple(key.split("."))
        node: Any = merged
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            message = f"{key!r} is not set by the bases (unset takes key paths table.key, no indexes)"
            self.problem(name, loc, message, _line(lines, loc))
            return
        del node[parts[-1]]
        _forget(settings, parts, set())
        settings.pop(parts, None)


_MISSING = object()


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _forget(settings: Settings, loc: Loc, keep: set[Loc]) -> None:
    n = len(loc)
    for key in [k for k in settings if len(k) > n and k[:n] == loc and k not in keep]:
        del settings[key]


def _merge(acc: dict[str, Any], settings: Settings, doc: dict[str, Any], own: Settings, at: Loc) -> None:
    """Merge *doc* (with its settings *own*) into *acc* (with *settings*) by the module's rules."""
    for key, value in doc.items():
        loc = (*at, key)
        old = acc.get(key)
        component = isinstance(value, dict) and "type" in value and loc != ("vars",)  # a var named type: no
        if isinstance(value, dict) and isinstance(old, dict) and not component:
            settings.setdefault(loc, []).extend(own.get(loc, ()))
            _merge(old, settings, value, own, loc)
            continue
        # Replaced whole: what the inherited value set below here is gone, except the same keys set again.
        new = [sub for sub, _ in walk(value, loc)]
        if isinstance(old, (dict, list)):  # only a table or an array has settings below it
            again = (
                {sub for sub in new if not any(isinstance(p, int) for p in sub[len(loc) :])}
                if isinstance(old, dict)
                else set()
            )
            _forget(settings, loc, again)
        acc[key] = value
        for sub in new:
            settings.setdefault(sub, []).extend(own.get(sub, ()))


def _record_overrides(settings: Settings, doc: dict[str, Any], overrides: Sequence[Override]) -> None:
    for o in overrides:
        _forget(settings, o.loc, set())
        for sub, value in walk(o.value, o.loc):
            leaf = not isinstance(value, dict)
            settings.setdefault(sub, []).append(
                Setting(value if leaf else None, COMMAND_LINE if o.flag else "overrides", None, "--set", o.said)
            )


def base_files(text: str, read: Callable[[str], str], folder: str = "") -> dict[str, str]:
    """The bases *text* names, and theirs, as paths relative to its folder -> their text (read by *read*)."""
    found: dict[str, str] = {}
    names = tomllib.loads(text).get("base", [])
    for name in [names] if isinstance(names, str) else names:
        rel = os.path.normpath(os.path.join(folder, name)).replace(os.sep, "/")
        if rel not in found:
            found[rel] = read(rel)
            found.update(base_files(found[rel], read, os.path.dirname(rel)))
    return found


def compose(
    text: str,
    source: str | None = None,
    path: Path | None = None,
    overrides: Sequence[Override] = (),
    default_format: int = FORMAT,
) -> Composed:
    """Compose the spec *text* (read from *path*, shown as *source*) with its bases, ``--set`` and references.

    Each file is first taken from its spec format to the current one; a file that does not say its format
    is in *default_format* (the current one, except for a run directory's spec from before formats).

    Raises:
        SpecError: every problem of composition, each in the file that holds it.
    """
    name = source or "<spec>"
    c = _Composer(name, default_format, base_roots(path))
    chain = [os.path.realpath(path)] if path else []
    doc, settings = c.layer(text, name, path, "spec", chain)
    if c.problems:
        raise SpecError(c.problems, source)
    try:
        apply_overrides(doc, overrides)
    except SpecError as e:  # an override that cannot go in: said where it was given, for this spec
        origin = COMMAND_LINE if any(o.flag for o in overrides) else "overrides"
        raise SpecError([dataclasses.replace(p, source=origin) for p in e.problems], source) from None
    _record_overrides(settings, doc, overrides)
    c.prov.settings = settings
    resolve_references(doc, c.prov)
    return Composed(doc, c.prov)


def compose_file(path: str | Path, overrides: Sequence[Override] = (), default_format: int = FORMAT) -> Composed:
    """Read the spec at *path* and compose it (``compose``)."""
    return compose(read_text(path), str(path), Path(path), overrides, default_format)
