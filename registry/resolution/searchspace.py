"""A sweep's search space: checked against the spec before any trial runs, given to Optuna as its
distributions, and each trial's sampled values turned back into overrides of the spec.

``[sweep.space]`` maps key paths, as ``--set`` writes them, to distributions::

    [sweep.space]
    "optimizer.lr" = { type = "float", low = 1e-4, high = 0.3, log = true }
    "model.layers[1].out_features" = { type = "categorical", choices = [32, 64, 128] }
    "optimizer" = { type = "categorical", choices = [{ type = "sgd", lr = 0.05 }, { type = "adam" }] }

Every value a trial can take is tried against the spec's own schema first: each range's ends and
every choice, one at a time, through the same overrides ``--set`` uses. A value the spec refuses
is a problem located at its ``[sweep.space]`` entry, with the spec's own message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import Problem, SpecError, format_loc
from registry.resolution.resolver import components
from registry.spec.models import COMPOSITION_KEYS, Choice, FloatRange, IntRange, SweepSpec
from registry.spec.overrides import Override, inline_toml, parse_key
from registry.spec.paths import origin, resolve_value

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from registry.components.catalog import Catalog
    from registry.resolution.resolver import ResolvedSpec

__all__ = [
    "Param",
    "absolute_choices",
    "check_space",
    "distributions",
    "grid",
    "grid_size",
    "last_value",
    "params",
    "trial_overrides",
]

UNSEARCHABLE = ("sweep", "requires", *COMPOSITION_KEYS)
"""Top-level keys a sweep cannot vary: itself, what must be installed, and how the file is composed."""


@dataclass(frozen=True)
class Param:
    """One searched value: its key path as written (``optimizer.lr``), parsed, and its distribution."""

    key: str
    loc: tuple[str | int, ...]
    dist: FloatRange | IntRange | Choice

    @property
    def where(self) -> tuple[str | int, ...]:
        """Its entry's key path in the spec: ``sweep.space."optimizer.lr"``."""
        return ("sweep", "space", self.key)

    def encoded(self) -> dict[Any, Any]:
        """A categorical's choices as Optuna samples them (tables and arrays as their TOML text) -> the values."""
        assert isinstance(self.dist, Choice)
        return {c if _scalar(c) else inline_toml(c): c for c in self.dist.choices}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def params(sweep: SweepSpec, rs: ResolvedSpec) -> list[Param]:
    """The searched values of *sweep*, in the order written.

    Raises:
        SpecError: a key path cannot be read, cannot be searched, or overlaps another.
    """
    out, problems = _params(sweep, rs)
    if problems:
        raise SpecError(problems, rs.source)
    return out


def _params(sweep: SweepSpec, rs: ResolvedSpec) -> tuple[list[Param], list[Problem]]:
    """The searchable values, and the problems of the others."""
    problems: list[Problem] = []
    out: list[Param] = []
    for key, dist in sweep.space.items():
        where = ("sweep", "space", key)
        try:
            loc = parse_key(key, key)
        except SpecError as e:
            problems += [_at(rs, where, p.message) for p in e.problems]
            continue
        if str(loc[0]) in UNSEARCHABLE:
            problems.append(_at(rs, where, f"{loc[0]!r} cannot be searched: vary the spec's values, not its "
                                           f"{'sweep' if loc[0] == 'sweep' else 'composition'}"))  # fmt: skip
            continue
        overlaps = [o for o in out if o.loc[: len(loc)] == loc[: len(o.loc)]]
        if overlaps:
            problems.append(_at(rs, where, f"overlaps {overlaps[0].key!r}: one key path may not hold another"))
            continue
        out.append(Param(key, loc, dist))
    return out, problems


def _at(rs: ResolvedSpec, loc: tuple[str | int, ...], message: str) -> Problem:
    return rs.provenance.problem(loc, message) if rs.provenance else Problem(loc, message)


def _ends(param: Param) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Each value to try, and the key path (inside the entry) that gives it."""
    d = param.dist
    if isinstance(d, Choice):
        for i, choice in enumerate(d.choices):
            yield ("choices", i), choice
    else:
        yield ("low",), d.low
        if d.high != d.low:
            yield ("high",), last_value(d)


def last_value(d: FloatRange | IntRange) -> float:
    """The largest value the range gives (``high``, or the last step below it)."""
    if d.step is None:
        return d.high
    last = d.low + math.floor((d.high - d.low) / d.step + 1e-9) * d.step
    return d.high if math.isclose(last, d.high, rel_tol=1e-9) else last


def _step_problem(d: FloatRange | IntRange) -> str | None:
    if d.step is None or isinstance(d, IntRange) and d.step == 1:
        return None
    steps = (d.high - d.low) / d.step
    if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
        return f"high - low ({d.high - d.low:g}) is not a multiple of step ({d.step:g}): high would never be sampled"
    return None


def check_space(
    rs: ResolvedSpec, catalog: Catalog, path: str | Path, overrides: Sequence[Override] = (), default_format: int = 2
) -> list[Param]:
    """Check every value a trial can take against the spec at *path* (with *overrides*); return the space.

    Each range's ends and each choice are applied alone, as an override, and the spec resolved again;
    what the spec refuses is reported at the entry (``sweep.space."optimizer.lr".low``), with the spec's
    message. A grid sampler needs every range to be finite.

    Raises:
        SpecError: every problem found, each located at its ``[sweep.space]`` entry.
    """
    from registry.resolution.resolver import load_and_resolve

    sweep = rs.spec.sweep
    assert sweep is not None
    space, problems = _params(sweep, rs)
    for param in space:
        if not isinstance(param.dist, Choice) and (why := _step_problem(param.dist)) is not None:
            problems.append(_at(rs, (*param.where, "step"), why))
        for inner, value in _ends(param):
            try:
                load_and_resolve(path, catalog, [*overrides, _override(param, value, "the sweep's search space")],
                                 default_format)  # fmt: skip
            except SpecError as e:
                for p in e.problems:
                    said = f"{format_loc(p.loc)}: {p.message}" if p.loc != param.loc else p.message
                    said = said.removesuffix(f" (from the sweep's search space: {param.key}={inline_toml(value)})")
                    problems.append(_at(rs, (*param.where, *inner), f"{inline_toml(value)} is refused: {said}"))
    if sweep.sampler == "grid":
        for param in space:
            if isinstance(param.dist, FloatRange) and param.dist.step is None:
                message = f"a grid needs every range to be finite: {format_loc(param.where)} has no step"
                problems.append(_at(rs, ("sweep", "sampler"), message))
    if problems:
        raise SpecError(problems, rs.source)
    return space


def _override(param: Param, value: Any, origin: str) -> Override:
    return Override(f"{param.key}={inline_toml(value)}", param.loc, value, origin=origin, flag="")


def trial_overrides(space: Sequence[Param], sampled: Mapping[str, Any], origin: str) -> list[Override]:
    """The overrides that make a trial's spec from the values Optuna sampled (keyed by key path)."""
    out = []
    for param in space:
        value = sampled[param.key]
        if isinstance(param.dist, Choice):
            value = param.encoded()[value]
        elif isinstance(param.dist, IntRange):
            value = int(value)
        out.append(_override(param, value, origin))
    return out


def distributions(space: Sequence[Param]) -> dict[str, BaseDistribution]:
    """Optuna's distributions of *space*, keyed by key path (the trial's parameter names)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, BaseDistribution] = {}
    for param in space:
        d = param.dist
        if isinstance(d, Choice):
            out[param.key] = CategoricalDistribution(list(param.encoded()))
        elif isinstance(d, IntRange):
            out[param.key] = IntDistribution(d.low, int(last_value(d)), log=d.log, step=d.step)
        else:
            out[param.key] = FloatDistribution(d.low, last_value(d), log=d.log, step=d.step)
    return out


def grid(space: Sequence[Param]) -> dict[str, list[Any]]:
    """Every value of each (finite) parameter, for Optuna's grid sampler."""
    out: dict[str, list[Any]] = {}
    for param in space:
        d = param.dist
        if isinstance(d, Choice):
            out[param.key] = list(param.encoded())
        else:
            assert d.step is not None, "check_space refuses a grid over a continuous range"
            n = round((last_value(d) - d.low) / d.step) + 1
            out[param.key] = [type(d.low)(d.low + i * d.step) for i in range(n)]
    return out


def grid_size(space: Sequence[Param]) -> int:
    """How many combinations a grid over *space* has."""
    return math.prod(len(values) for values in grid(space).values())


def absolute_choices(doc: dict[str, Any], rs: ResolvedSpec, space: Sequence[Param]) -> None:
    """In *doc* (the sweep's resolved spec, as it is stored), each relative path a categorical offers, made absolute
    by the spec's rule for paths: against the folder of the file that writes the choice. A trial applies a choice
    as an override, which would read it against the working directory of whoever runs the trial."""
    marked = {(*r.loc, name) for r in components(rs) for name in r.component.schema.paths}
    for param in space:
        if not isinstance(param.dist, Choice) or tuple(param.loc) not in marked:
            continue
        choices = doc["sweep"]["space"][param.key]["choices"]
        for i, choice in enumerate(choices):
            if isinstance(choice, str):
                where = (*param.where, "choices", i)
                choices[i] = resolve_value(choice, origin(rs.provenance, where).folder)
