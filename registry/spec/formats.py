"""Versions of the spec format, and the migrations between them.

A spec may say which format it is written in (``format = 1``); without it, a
spec is in the current format, ``FORMAT``. An older spec is migrated when it is
read, each file (a base included) by its own format, and ``python -m registry
upgrade SPEC`` rewrites it in the current format, keeping its comments and
layout: only the keys a migration renames change, in place, and ``format`` is
set. A run directory's ``spec.toml`` written before formats existed is format 1.

The formats:

1. Up to registry 0.1's policies: ``[train] best_metric`` picks the best checkpoint.
2. ``[train] best_metric`` is ``[train] monitor``: the test value that picks the best
   checkpoint and that early stopping and a plateau scheduler watch unless they name another
   (Lightning and Keras call it ``monitor`` too). Bases, ``unset`` and ``[vars]``.
3. A relative path (a table's ``path``, an image folder's ``root``...) is read against the folder of the
   file that writes it, as a base is, instead of the working directory (``registry.spec.paths``). No key
   changes; ``upgrade`` rewrites each relative path of the file so that it names the same file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FORMAT",
    "FORMAT_KEY",
    "MIGRATIONS",
    "PATHS_FROM_FILE",
    "RUN_DIR_FORMAT",
    "conflict_message",
    "conflicts",
    "Rename",
    "declared_format",
    "migrate",
    "too_new",
]

FORMAT = 3
"""The current spec format."""

PATHS_FROM_FILE = 3
"""The first format whose relative paths are read against the file's folder (before: the working directory)."""

FORMAT_KEY = "format"

RUN_DIR_FORMAT = 1
"""The format of a run directory's ``spec.toml`` that does not say: written before formats existed."""

Loc = tuple[str, ...]


@dataclass(frozen=True)
class Rename:
    """A key renamed in its table: ``old`` (a key path) is now ``new`` (the same table, another name)."""

    old: Loc
    new: Loc

    def describe(self) -> str:
        return f"{'.'.join(self.old)} -> {'.'.join(self.new)}"


MIGRATIONS: dict[int, tuple[Rename, ...]] = {
    1: (Rename(("train", "best_metric"), ("train", "monitor")),),
}
"""For each format, the changes that take a spec in it to the next one."""


def too_new(version: int) -> str:
    """The message for a spec in a format newer than this registry reads."""
    return (
        f"spec format {version} is newer than this registry reads (1 to {FORMAT}): pip install -U torch-spec-registry"
    )


def declared_format(doc: Mapping[str, Any], default: int = FORMAT) -> Any:
    """The format a parsed spec says it is written in (*default* when it does not say)."""
    return doc.get(FORMAT_KEY, default)


def _renames(doc: Mapping[str, Any], version: int) -> Iterator[tuple[Rename, int, dict[str, Any]]]:
    """Each rename from *version* on whose old key *doc* sets, with the format it leaves and the table that holds it."""
    for v in range(version, FORMAT):
        for change in MIGRATIONS.get(v, ()):
            table: Any = doc
            for part in change.old[:-1]:
                table = table.get(part) if isinstance(table, dict) else None
            if isinstance(table, dict) and change.old[-1] in table:
                yield change, v, table


def conflicts(doc: Mapping[str, Any], version: int) -> list[tuple[Loc, Loc]]:
    """Renames from *version* on whose old and new keys *doc* both sets (one setting written twice)."""
    return [(c.old, c.new) for c, _, table in _renames(doc, version) if c.new[-1] in table]


def conflict_message(old: Loc, new: Loc) -> str:
    since = next((v + 1 for v, changes in MIGRATIONS.items() for c in changes if (c.old, c.new) == (old, new)), FORMAT)
    return f"{'.'.join(old)} and {'.'.join(new)} are one setting (its name before and since format {since}): keep one"


def migrate(doc: dict[str, Any], version: int) -> list[tuple[Rename, int]]:
    """Take *doc* (parsed, in format *version*) to the current format, in place.

    Returns:
        Each change applied, with the format it left.
    """
    done = []
    for change, v, table in _renames(doc, version):  # lazily: a later format's rename sees the earlier ones
        table[change.new[-1]] = table.pop(change.old[-1])
        done.append((change, v))
    return done
