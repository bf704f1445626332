"""Where every value of a composed spec was written, and what it replaced.

A spec is composed from several sources: its bases, the file itself, ``--set``
arguments, and references (``"${vars.width}"``). Each assignment to a key path
is a ``Setting``; ``Provenance`` keeps them in the order they were applied, and
answers two questions: which file and line hold the value at a key path (so
that every problem is reported where its value is written), and how the value
came to be (``registry explain``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.errors import Problem
from registry.spec.positions import locate_line

__all__ = ["COMMAND_LINE", "Loc", "Provenance", "Setting", "walk"]

Loc = tuple[str | int, ...]
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Setting:
    """One assignment of a value to a key path.

    Attributes:
        value: the value as written (a reference's setting holds the value it resolved to).
        source: the file that holds it, or ``COMMAND_LINE``.
        line: its line there (None on the command line).
        how: ``base``, ``spec``, ``--set`` or ``reference``.
        note: ``--set a.b=1``, ``${vars.width}``, or why a table was replaced whole.
        target: for a reference, the key path it names.
        via: for a reference, the settings of the value it names, oldest first.
    """

    value: Any
    source: str
    line: int | None
    how: str
    note: str = ""
    target: Loc | None = None
    via: tuple[Setting, ...] = ()

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"


def walk(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Every key path under *value* (itself first), with its value: tables' keys and arrays' elements."""
    yield loc, value
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from walk(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, (*loc, i))


@dataclass
class Provenance:
    """The settings of every key path of a composed spec, and the texts of the files they came from.

    Attributes:
        source: the spec file the user named (problems there need not name it again).
        texts: each file read, by the path used in messages -> its text.
        settings: key path -> its settings, oldest first.
        renamed: for a file in an older spec format, each renamed key path -> the one its text writes.
        notes: what the user should know about how the spec was read (an older format), for warnings.
        formats: each file read -> the spec format it was read in.
        folders: each file whose relative paths are read against its folder -> that folder, absolute
            (``registry.spec.paths``); the others' are read against the working directory.
    """

    source: str | None = None
    texts: dict[str, str] = field(default_factory=dict)
    settings: dict[Loc, list[Setting]] = field(default_factory=dict)
    renamed: dict[str, dict[Loc, Loc]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_text(cls, source: str | None, text: str | None) -> Provenance:
        """One file, holding every value: the provenance of a spec that has no bases."""
        name = source or "<spec>"
        return cls(source, {name: text} if text else {}, {(): [Setting(None, name, None, "spec")]})

    # -- recording ----------------------------------------------------------------------------

    def record(self, loc: Loc, setting: Setting) -> None:
        self.settings.setdefault(loc, []).append(setting)

    def forget_below(self, loc: Loc, keep: set[Loc] = frozenset()) -> None:  # type: ignore[assignment]
        """Drop the settings of the key paths strictly under *loc*, except those in *keep*."""
        n = len(loc)
        for key in [k for k in self.settings if len(k) > n and k[:n] == loc and k not in keep]:
            del self.settings[key]

    # -- questions ----------------------------------------------------------------------------

    def last(self, loc: Sequence[str | int]) -> Setting | None:
        """The setting that wrote *loc*, or the deepest table or array above it that some setting wrote."""
        for cut in range(len(loc), -1, -1):
            found = self.settings.get(tuple(loc[:cut]))
            if found:
                return found[-1]
        return None

    def where(self, loc: Sequence[str | int]) -> tuple[str | None, int | None]:
        """The file (None for the spec itself) and line that hold the value at *loc*."""
        s = self.last(loc)
        if s is None or s.source == COMMAND_LINE:
            return None, None
        text = self.texts.get(s.source)
        for new, old in self.renamed.get(s.source, {}).items():
            if tuple(loc[: len(new)]) == new:
                loc = (*old, *loc[len(new) :])
        line = locate_line(text, loc) if text else None
        return (None if s.source == (self.source or "<spec>") else s.source), line

    def line(self, loc: Sequence[str | int]) -> int | None:
        """The line of *loc* in the file that holds it."""
        return self.where(loc)[1]

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A problem at *loc*, located in the file and at the line that hold its value.

        A value that a reference put there says so: which reference, and where the value it names is set.
        """
        source, line = self.where(loc)
        s = self.last(loc)
        if s is not None and s.how == "reference" and s.via:
            message += f" (the value of {s.note}, set at {s.via[-1].where})"
        return Problem(tuple(loc), message, line, source)
