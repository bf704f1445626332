"""One rule for the paths a spec writes: a relative path is read against the folder of the file that writes it.

A component marks a parameter as a path with ``SpecPath`` (``Annotated[str, SpecPath()]``); the resolver
then makes its value absolute, by the rule TypeScript's ``extends`` and Docker Compose follow too:

- a value written in a spec file (the spec itself or a base) is read against that file's folder, so a spec
  and its data move together and it runs the same from any working directory;
- a value given with ``--set`` or the API's ``overrides``, a spec given as a dict or text, and a
  component's default are read against the working directory, as a command line's paths are;
- a file in spec format 2 or older reads its relative paths against the working directory, as those
  formats did (``python -m registry upgrade`` rewrites them relative to the file);
- ``~`` is the user's home; an absolute path is taken as written.

Every absolute path is written into the run directory's ``spec.toml`` (and a sweep's ``best.toml``), so
they too run from anywhere. A path that must exist and does not is a ``DatasetNotFoundError`` that shows
where the spec writes it, the value written, the absolute path tried and the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from registry.errors import DatasetNotFoundError, format_loc
from registry.spec.formats import FORMAT_KEY, PATHS_FROM_FILE
from registry.spec.provenance import COMMAND_LINE, Loc, Provenance, Setting

__all__ = [
    "Origin",
    "PathValue",
    "SpecPath",
    "check_paths",
    "is_run_spec",
    "locate_missing",
    "missing_message",
    "origin",
    "resolve_value",
    "writer",
]


@dataclass(frozen=True)
class SpecPath:
    """Marks a component's parameter as a path: ``path: Annotated[str, SpecPath()]``.

    The builder passes the factory an absolute path, resolved by this module's rule, and checks that it is
    there before the data is loaded (``must_exist=False`` for a folder that a download creates).

    Attributes:
        kind: ``file`` or ``folder``: what must be there.
        must_exist: whether the builder checks it before loading (the factory may check it itself).
    """

    kind: Literal["file", "folder"] = "file"
    must_exist: bool = True


@dataclass(frozen=True)
class Origin:
    """Where a relative path is read from, and why (for messages)."""

    folder: str
    why: str


def writer(where: Provenance | None, loc: Sequence[str | int]) -> Setting | None:
    """The setting that wrote the value at *loc* as text: through whole-string references (``"${vars.data}"``, and
    a reference to a reference) to the value they name; None for a default (nothing wrote it)."""
    found = where.settings.get(tuple(loc)) if where else None
    if not found:
        return None
    s = found[-1]
    while s.how == "reference" and s.via:
        s = s.via[-1]
    return s


def origin(where: Provenance | None, loc: Sequence[str | int]) -> Origin:
    """The folder a relative value at *loc* is read against: the file that writes it, or the working directory."""
    cwd = os.getcwd()
    s = writer(where, loc)
    if s is None or where is None:
        return Origin(cwd, "a default, read against the working directory")
    if s.how == "--set":
        given = "with --set" if s.source == COMMAND_LINE else "in the API's overrides"
        return Origin(cwd, f"given {given}, read against the working directory")
    folder = where.folders.get(s.source)
    if folder is not None:
        return Origin(folder, f"relative to the folder of {s.source}, which writes it")
    version = where.formats.get(s.source)
    if version is not None and version < PATHS_FROM_FILE:
        why = f"{s.source} is in spec format {version}, which reads paths against the working directory"
        if is_run_spec(s.source):
            return Origin(cwd, f"{why}: run it from the folder the run was started in")
        return Origin(cwd, f"{why}; python -m registry upgrade {s.source} rewrites them relative to it")
    return Origin(cwd, f"{s.source} is not a file: read against the working directory")


def is_run_spec(path: str | os.PathLike[str]) -> bool:
    """Whether *path* is a run directory's ``spec.toml`` (beside its ``run.json``): read as written, never rewritten
    (its hash is recorded)."""
    return os.path.basename(path) == "spec.toml" and os.path.isfile(os.path.join(os.path.dirname(path), "run.json"))


def resolve_value(value: str, base: str) -> str:
    """*value* as an absolute path: ``~`` expanded, a relative one joined to *base* (normalised textually: *base* is
    a real folder, so ``..`` means what the operating system makes of it)."""
    expanded = os.path.expanduser(value)
    return os.path.normpath(expanded if os.path.isabs(expanded) else os.path.join(base, expanded))


def _exists(path: str, kind: str) -> bool:
    return os.path.isdir(path) if kind == "folder" else os.path.isfile(path)


def _shown(where: Provenance | None, loc: Loc) -> str:
    """``file:line: key.path`` for *loc*."""
    key = format_loc(loc)
    if where is None:
        return key
    s = where.last(loc)
    source, line = where.where(loc)
    source = source or where.source or (s.source if s else None)
    if s is not None and s.how == "--set":
        return f"{key} (from {s.source}: {s.note})"
    return f"{source}:{line}: {key}" if source and line else f"{source}: {key}" if source else key


def _written(where: Provenance | None, loc: Loc) -> str | None:
    s = writer(where, loc)
    return s.value if s is not None and isinstance(s.value, str) else None


def missing_message(where: Provenance | None, loc: Loc, path: str, kind: str) -> str:
    """A missing path, shown where the spec writes it, as tried, as written, with the working directory."""
    written = _written(where, loc)
    how = origin(where, loc)
    other = "folder" if kind == "file" else "file"
    found = f"{path} is a {other}, not a {kind}" if os.path.exists(path) else f"no such {kind}: {path}"
    text = f"{_shown(where, loc)}: {found}"
    if written is None or not os.path.isabs(os.path.expanduser(written)):
        shown = f"{written!r}, " if written is not None and written != path else ""
        text += f" ({shown}{how.why}; the working directory is {os.getcwd()})"
    beside = resolve_value(written, os.getcwd()) if written is not None else path
    s = writer(where, loc)
    if beside != path and _exists(beside, kind) and s is not None and s.source in (where.folders if where else {}):
        text += (f". {beside} exists: a spec written for the working directory is in spec format 2; say "
                 f"'{FORMAT_KEY} = 2' at the top of {s.source}, and python -m registry upgrade rewrites its "
                 "paths")  # fmt: skip
    return text


PathValue = tuple[Loc, SpecPath, str]
"""A component's path parameter: its key path, its mark and its (absolute) value (``Resolved.path_values``)."""


def check_paths(values: Iterable[PathValue], where: Provenance | None) -> None:
    """Refuse paths that must exist and are not there (every component's, checked before its factory runs).

    Raises:
        DatasetNotFoundError: every missing one, each located (``missing_message``), one per line.
    """
    missing = [(loc, mark, value) for loc, mark, value in values if mark.must_exist and not _exists(value, mark.kind)]
    if missing:
        lines = [missing_message(where, loc, value, mark.kind) for loc, mark, value in missing]
        raise DatasetNotFoundError("\n".join(lines), [value for _, _, value in missing])


def locate_missing(
    error: DatasetNotFoundError, values: Iterable[PathValue], where: Provenance | None
) -> DatasetNotFoundError:
    """*error*, raised by a component's loader, with where the spec writes each of its paths that it names."""
    notes = []
    for loc, _, value in values:
        if value in str(error) or any(p.startswith(value) for p in error.looked_for):
            written = _written(where, loc)
            said = f" = {written!r}" if written is not None and written != value else ""
            notes.append(f"{_shown(where, loc)}{said} is {value} ({origin(where, loc).why}; the working directory "
                         f"is {os.getcwd()})")  # fmt: skip
    return DatasetNotFoundError(f"{error}\n  " + "\n  ".join(notes), error.looked_for) if notes else error
