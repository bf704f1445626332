"""``registry explain``: for each value of the resolved spec, where it came from and what it replaced.

The sources, in the order they apply: a default (the component's, or the spec
format's), each base file, the spec itself, ``--set`` arguments, and
references. ``print-config --explain`` writes the same as comments beside the
resolved TOML.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomli_w

from registry.errors import Problem, SpecError, format_loc
from registry.resolution.resolver import Resolved, ResolvedSpec, components, resolved_dict
from registry.spec.formats import FORMAT_KEY
from registry.spec.models import Spec
from registry.spec.positions import key_lines
from registry.spec.problems import closest, field_at
from registry.spec.provenance import Loc, Setting

__all__ = ["Explanation", "annotated_toml", "explain", "render_explanations"]

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Explanation:
    """How the value at one key path of the resolved spec came to be.

    Attributes:
        loc: the key path.
        value: its final value.
        default: the default it would have had (None when it has none), and whose default that is.
        settings: every assignment, oldest first; the last one is the value's (empty: the default).
    """

    loc: Loc
    value: Any
    default: tuple[Any, str] | None
    settings: tuple[Setting, ...]


def _leaves(value: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    """Each final value: scalars, and arrays that hold no tables (an array of tables is walked into)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, (*loc, k))
    elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _leaves(v, (*loc, i))
    else:
        yield loc, value


def _components(rs: ResolvedSpec) -> dict[Loc, Resolved]:
    out: dict[Loc, Resolved] = {}
    for r in components(rs):
        out.setdefault(r.loc, r)
    return out


def _spec_default(loc: Loc, data: Any) -> Any:
    info = field_at(Spec, loc, data)
    return _NO_DEFAULT if info is None or info.is_required() else info.get_default(call_default_factory=True)


def _default(rs: ResolvedSpec, comps: Mapping[Loc, Resolved], loc: Loc) -> tuple[Any, str] | None:
    owner = comps.get(loc[:-1])
    if owner is not None and isinstance(loc[-1], str):
        info = type(owner.params).model_fields.get(loc[-1])
        if info is not None:
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            return None if default is None else (_plain(default), f"{owner.name}'s default")
    value = _spec_default(loc, rs.spec.model_dump(exclude_none=True))  # the data picks a union's table
    return None if value is _NO_DEFAULT or value is None else (_plain(value), "the spec format's default")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def _relative(loc: Loc) -> str:
    """``[0].x``: a key path below another."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _settings(rs: ResolvedSpec, loc: Loc, refs: Sequence[tuple[Loc, Setting]]) -> tuple[Setting, ...]:
    """The settings of *loc*, then the references inside it (an array's elements): those were applied last."""
    if rs.provenance is None:
        return ()
    own = rs.provenance.settings.get(loc, [])
    n = len(loc)
    inside = [dataclasses.replace(s, note=f"at {_relative(sub[n:])}: {s.note}") for sub, s in refs
              if len(sub) > n and sub[:n] == loc]  # fmt: skip
    return (*own, *inside)


def explain(rs: ResolvedSpec, key: Sequence[str | int] | None = None) -> list[Explanation]:
    """How each value of the resolved spec (or each under *key*) came to be, in the resolved spec's order.

    Raises:
        SpecError: *key* names no value of the resolved spec.
    """
    comps = _components(rs)
    leaves = [(loc, v) for loc, v in _leaves(resolved_dict(rs)) if loc != (FORMAT_KEY,)]  # how it is read, not a value
    if key is not None:
        want = tuple(key)
        chosen = [(loc, v) for loc, v in leaves if loc[: len(want)] == want]
        if not chosen:
            names = sorted({format_loc(loc[: len(want)]) for loc, _ in leaves if len(loc) >= len(want)})
            near = closest(format_loc(want), names)
            hint = f"; did you mean {near!r}?" if near else ""
            raise SpecError([Problem(want, f"is not a key of the resolved spec{hint}")], rs.source)
        leaves = chosen
    every = rs.provenance.settings.items() if rs.provenance else ()
    refs = [(sub, s) for sub, found in every for s in found if s.how == "reference"]  # looked through once
    return [Explanation(loc, value, _default(rs, comps, loc), _settings(rs, loc, refs)) for loc, value in leaves]


def _show(value: Any) -> str:
    """A value as TOML writes it, on one line."""
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{format_loc((k,))} = {_show(v)}" for k, v in value.items()) + " }"
    return tomli_w.dumps({"v": value}).strip().removeprefix("v = ")


def _line(s: Setting) -> str:
    out = f"  {s.how:<10} {s.where:<36} {_show(s.value)}"
    if s.how == "--set":
        out += f"    ({s.note})"
    elif s.how == "reference" and s.via:
        chain = ", over ".join(f"{_show(v.value)} ({v.how} {v.where})" for v in reversed(s.via))
        out += f"    ({s.note}: {format_loc(s.target or ())} = {chain})"
    elif s.how == "reference":
        out += f"    ({s.note})"
    return out


def render_explanations(items: Sequence[Explanation]) -> str:
    """``explain``'s text: each key path and value, then its sources, oldest first (the last one won)."""
    out = []
    for e in items:
        out.append(f"{format_loc(e.loc)} = {_show(e.value)}")
        if e.default is not None:
            out.append(f"  {'default':<10} {e.default[1]:<36} {_show(e.default[0])}")
        elif not e.settings:
            out.append(f"  {'resolved':<10} (filled in when the spec was resolved)")
        out.extend(_line(s) for s in e.settings)
    return "\n".join(out) + "\n"


def _origin(e: Explanation) -> str:
    if not e.settings:
        return "default" if e.default is not None else "resolved"
    s = e.settings[-1]
    if s.how == "reference":
        return f"{s.note} ({s.via[-1].where})" if s.via else s.note
    return s.note if s.how == "--set" else s.where


def annotated_toml(rs: ResolvedSpec) -> str:
    """The resolved spec as TOML, each line ending with a comment that says where its values came from."""
    text = tomli_w.dumps(resolved_dict(rs))
    lines = key_lines(text)
    by_line: dict[int, list[tuple[Loc, str]]] = {}
    for e in explain(rs):
        line = lines.get(e.loc)
        if line is not None:
            by_line.setdefault(line, []).append((e.loc, _origin(e)))
    out = []
    for n, row in enumerate(text.splitlines(), start=1):
        found = by_line.get(n)
        if found:
            keys: dict[str, list[str]] = {}
            for loc, origin in found:
                keys.setdefault(origin, []).append(str(loc[-1]))
            note = found[0][1] if len(keys) == 1 else "; ".join(f"{', '.join(k)}: {o}" for o, k in keys.items())
            row = f"{row}  # {note}"
        out.append(row)
    return "\n".join(out) + "\n"
