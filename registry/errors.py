"""The one error hierarchy of ``registry``.

Every error a user can cause, or a plugin can cause, is a ``RegistryError``;
the CLI (and only the CLI) turns them into messages and exit codes. Anything
else that escapes is a bug and keeps its traceback.

::

    RegistryError
    ├── SpecError (ValueError)                 a spec is wrong: holds every Problem found
    ├── UnknownComponentError (LookupError)    a name that no plugin registered
    ├── DuplicateComponentError (ValueError)   two plugins claim one kind and name
    ├── PluginLoadError (ImportError)          a plugin failed to import, hook or declare
    ├── PluginError (RuntimeError)             a plugin's component misbehaved when used
    ├── DatasetNotFoundError (FileNotFoundError) data files missing and not downloadable
    ├── DataError (ValueError)                 data files unusable (a corrupt image, an empty class folder)
    ├── CheckpointError (ValueError)           a checkpoint or run directory is unusable, or cannot be written
    ├── InputError (ValueError)                predict's inputs are unusable
    ├── TrainingError (RuntimeError)           the loss or a gradient became non-finite
    ├── DistributedError (RuntimeError)        another rank failed, or the process group timed out
    ├── ExportError (RuntimeError)             a model does not export, or its export computes something else
    ├── SweepError (RuntimeError)              a sweep's directory or study storage is unusable
    └── Interrupted                            SIGINT/SIGTERM: stopped after a checkpoint
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CheckpointError",
    "DataError",
    "DatasetNotFoundError",
    "ParamError",
    "DistributedError",
    "DuplicateComponentError",
    "ExportError",
    "InputError",
    "Interrupted",
    "PluginError",
    "PluginLoadError",
    "Problem",
    "RegistryError",
    "SpecError",
    "SweepError",
    "TrainingError",
    "UnknownComponentError",
    "format_loc",
]


def format_loc(loc: Sequence[str | int]) -> str:
    """Render a key path the way a user writes it: ``model.layers[2].out_features``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # as TOML quotes it, non-ASCII letters as written
            key = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part, ensure_ascii=False)
            out += f".{key}" if out else key
    return out or "(top level)"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


class RegistryError(Exception):
    """Base of every error that ``registry`` reports to a user."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (key path, maybe line) and what.

    ``source`` names the file that holds the value when it is not the spec itself (a base file).
    """

    loc: tuple[str | int, ...]
    message: str
    line: int | None = None
    source: str | None = None

    def render(self, source: str | None) -> str:
        where = self.source or source or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {format_loc(self.loc)}: {self.message}"


class SpecError(RegistryError, ValueError):
    """A spec (file or command-line override) is invalid.

    Attributes:
        source: the spec file's path, or None for a spec given as a mapping.
        problems: every problem found, in the order of the spec.
    """

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        # File order: the spec's own problems first, then each base file's; located problems by line, then the
        # unlocated ones; within a line by key path, so the order never depends on the order in which a
        # validator happened to report them.
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.source or "", p.line is None, p.line or 0, format_loc(p.loc)))
        )
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        n = len(self.problems)
        head = f"{self.source or '<spec>'}: {n} problem{'s' if n != 1 else ''} in the spec"
        return head + "\n" + "\n".join("  " + p.render(self.source) for p in self.problems)

    def with_source(self, source: str) -> SpecError:
        """Return the same problems attributed to *source*."""
        return SpecError(self.problems, source)


class UnknownComponentError(RegistryError, LookupError):
    """No plugin registered *name* for *kind*.

    Attributes:
        kind: the kind looked in (``layer``, ``loss``...).
        name: the name asked for.
        available: every name of that kind, sorted (the message lists them when there are at most MAX_LISTED).
        suggestions: the closest names, best first.
        other_kinds: kinds in which *name* does exist.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        available: Sequence[str],
        suggestions: Sequence[str] = (),
        other_kinds: Sequence[str] = (),
        note: str = "",
    ) -> None:
        self.note = note
        self.kind = kind
        self.name = name
        self.available = tuple(available)
        self.suggestions = tuple(suggestions)
        self.other_kinds = tuple(other_kinds)
        super().__init__(self._render())

    def _render(self) -> str:
        msg = f"unknown {self.kind} {self.name!r}"
        if self.other_kinds:
            msg += f" ({self.name!r} is {' and '.join(_a(k) for k in self.other_kinds)}, not {_a(self.kind)})"
        if "." in self.name:
            msg += " (a spec names registered components only, never an import path)"
        if self.suggestions:
            msg += f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        else:
            msg += "."
        if len(self.available) <= MAX_LISTED:  # more would bury the suggestions: the command lists them
            msg += f" Available: {', '.join(self.available) or '(none)'}"
        from registry.kinds import KINDS

        commands = ", ".join(
            f"python -m registry list {KINDS[k].plural if k in KINDS else k}" for k in self.kind.split(" or ")
        )
        msg += f" (see: {commands})"
        if self.note:
            msg += f". Note: {self.note}"
        return msg


MAX_LISTED = 20
"""An unknown name's message lists the names of its kind when there are at most this many."""


class DuplicateComponentError(RegistryError, ValueError):
    """Two plugins registered the same name (or alias) where a spec could not tell them apart.

    Attributes:
        kind: the kind of the second claim.
        name: the name claimed twice.
        plugins: the first claimant and the second.
        held_kind: the kind the first claimant registered it as (another kind that shares a place).
    """

    def __init__(
        self,
        kind: str,
        name: str,
        first: str,
        second: str,
        first_label: str = "",
        second_label: str = "",
        held_kind: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.plugins = (first, second)
        self.held_kind = held_kind or kind
        what = kind if self.held_kind == kind else f"{self.held_kind} and {kind}"
        where = "" if self.held_kind == kind else f" ({_a(self.held_kind)} and {_a(kind)} share a place in specs)"
        super().__init__(
            f"{what} {name!r} is registered by both {first_label or repr(first)} and "
            f"{second_label or repr(second)}{where}; uninstall one of them, or have the plugin that means to "
            "replace the other mark its factory with @registry.replaces"
        )


class PluginLoadError(RegistryError, ImportError):
    """A plugin could not be imported, its hook raised, or it declared something unusable.

    Attributes:
        plugin: the plugin's name (entry-point name or built-in module).
        distribution: the distribution that provides it, if known.
    """

    def __init__(self, message: str, plugin: str, distribution: str | None = None) -> None:
        self.plugin = plugin
        self.distribution = distribution
        super().__init__(message)


class PluginError(RegistryError, RuntimeError):
    """A plugin's component misbehaved when used: its factory or its dataset's ``load`` raised something
    other than a refusal of its parameters, or it returned the wrong kind of object, or data that
    differs from what it declared.

    Attributes:
        component: ``kind:name`` of the component.
        plugin: the plugin that registered it.
        distribution: the distribution that ships it, if known.
    """

    def __init__(self, message: str, component: str, plugin: str, distribution: str | None = None) -> None:
        self.component = component
        self.plugin = plugin
        self.distribution = distribution
        super().__init__(message)


class ParamError(ValueError):
    """Raised by a factory whose parameter *param* does not fit (a column a table lacks): ``registry`` reports
    it as a problem of the spec at that parameter's key path. (A plain ``ValueError`` is reported at the
    component's.) Not a ``RegistryError``: it is the factory's way of saying which parameter is wrong."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(message)


class DataError(RegistryError, ValueError):
    """A dataset's files are there but unusable: a corrupt image, an empty class folder, a broken table."""


class InputError(RegistryError, ValueError):
    """The inputs given to ``predict`` cannot be used (the message names the file and why)."""


class DistributedError(RegistryError, RuntimeError):
    """A data-parallel run broke: another rank failed, or a collective waited past ``train.dist_timeout``."""


class DatasetNotFoundError(RegistryError, FileNotFoundError):
    """A dataset's files are not on disk and could not be downloaded."""

    def __init__(self, message: str, looked_for: Sequence[str] = ()) -> None:
        self.looked_for = tuple(looked_for)
        super().__init__(message)


class ExportError(RegistryError, RuntimeError):
    """A model cannot be exported, or the exported program's outputs differ from the model's (by how much)."""


class SweepError(RegistryError, RuntimeError):
    """A sweep cannot go on: its directory is not a sweep's, or its study's storage cannot be opened or joined."""


class TrainingError(RegistryError, RuntimeError):
    """The run started but could not go on: the loss or a gradient became non-finite."""


class CheckpointError(RegistryError, ValueError):
    """A checkpoint is missing, truncated, malformed or unsafe; or a run directory cannot be written."""


class Interrupted(RegistryError):
    """SIGINT or SIGTERM stopped the run; a checkpoint was written first.

    Attributes:
        signal_name: "SIGINT" or "SIGTERM".
    """

    def __init__(self, message: str, signal_name: str) -> None:
        self.signal_name = signal_name
        super().__init__(message)
