"""The catalog: every component that the loaded plugins registered, by kind and name.

It is built once by ``registry.components.manager.build_catalog`` and then only read:
lookups by canonical name or alias, listings for the CLI, did-you-mean
suggestions for errors.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from registry.components.signatures import ParamSchema, SchemaDerivationError, derive_params
from registry.errors import DuplicateComponentError, PluginLoadError, UnknownComponentError
from registry.kinds import KINDS, KindInfo
from registry.spec.models import places
from registry.spec.places import ENTRY_KEYS

__all__ = [
    "KINDS",
    "Catalog",
    "Component",
    "Example",
    "KindInfo",
    "aliases",
    "example",
    "namespace",
    "replaces",
    "reserved_params",
]


def namespace(kind: str) -> tuple[str, ...]:
    """The kinds whose names must differ from *kind*'s: those that share a place of the spec with it.

    Layers and activations share ``model.layers``: a layer may not be called like an activation.
    """
    shared = {k for p in places() if kind in p.kinds for k in p.kinds} | {kind}
    return tuple(k for k in KINDS if k in shared)


def reserved_params(kind: str) -> tuple[str, ...]:
    """Parameter names a component of *kind* may not have: keys that mean something else where it is placed.

    The key that names it (``type``, ``dataset``), the settings of the table it shares (``[data]``'s
    ``batch_size``...) and, for layers, ``repeat`` and ``block``.
    """
    found: set[str] = set()
    for p in places():
        if kind in p.kinds:
            found |= {p.holds.key, *p.settings, *(ENTRY_KEYS if p.holds.is_module else ())}
    return tuple(sorted(found))


ALIASES_ATTR = "__registry_aliases__"
REPLACES_ATTR = "__registry_replaces__"
EXAMPLE_ATTR = "__registry_example__"


@dataclass(frozen=True)
class Example:
    """Parameters (and, for layers and transforms, a per-sample input shape and dtype) that a component works with."""

    params: Mapping[str, Any]
    input_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"


def example(
    input_shape: tuple[int, ...] | None = None, input_dtype: str = "float32", **params: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a factory with example parameters: the conformance kit (``registry.testing``) builds it with them.

    Needed when a parameter has no default (``out_features``), or a layer needs a particular
    input shape (``input_shape=(3, 8, 8)`` for a convolution) or dtype (``input_dtype="int64"`` for an embedding
    of token ids: the kit feeds it ids 0 and 1).
    """

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        setattr(factory, EXAMPLE_ATTR, Example(params, input_shape, input_dtype))
        return factory

    return mark


def aliases(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a factory with other names it answers to (the torch class name, say).

    It only annotates the function; registering still goes through a hook.
    """

    def mark(factory: Callable[..., Any]) -> Callable[..., Any]:
        setattr(factory, ALIASES_ATTR, tuple(names))
        return factory

    return mark


def replaces(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a factory that deliberately replaces a component of the same kind and name.

    Without it, a second plugin claiming a name is an error naming both plugins.
    """
    setattr(factory, REPLACES_ATTR, True)
    return factory


@dataclass(frozen=True)
class Component:
    """One registered component.

    Attributes:
        kind: one of ``KINDS``.
        name: the canonical snake_case name.
        factory: the plugin's function or class that builds it.
        plugin: the name of the plugin that registered it.
        aliases: other names that resolve to it.
        description: one line, from the factory's docstring.
        distribution: the distribution that ships its plugin, if known.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    aliases: tuple[str, ...]
    description: str
    distribution: str | None = None

    @property
    def origin(self) -> str:
        """Its plugin, and distribution where known, for messages: ``plugin 'example' (registry-example-plugin)``."""
        return f"plugin {self.plugin!r}" + (f" ({self.distribution})" if self.distribution else "")

    def __str__(self) -> str:
        """``kind:name``: stable, for test ids and messages."""
        return f"{self.kind}:{self.name}"

    @property
    def example(self) -> Example:
        """The factory's ``@registry.example`` (defaults only, when it has none)."""
        found = getattr(self.factory, EXAMPLE_ATTR, None)
        return found if isinstance(found, Example) else Example({})

    @cached_property
    def schema(self) -> ParamSchema:
        """Its parameter schema, derived from the factory's signature on first use.

        Raises:
            PluginLoadError: the signature cannot be turned into a schema.
        """
        try:
            return derive_params(self.factory, f"{self.kind} {self.name}", len(KINDS[self.kind].injected))
        except SchemaDerivationError as e:
            raise PluginLoadError(f"{self.kind} {self.name!r}: {e}", self.plugin) from e


class Catalog:
    """Index of components by kind and by every name they answer to.

    Attributes:
        plugins: the plugins that contributed (``registry.components.manager.PluginInfo``).
        failures: the plugins left out, and why (``registry.components.manager.PluginFailure``).
        replaced: ``(kind, name, old plugin, new plugin)`` for each deliberate replacement.
        clashes: names claimed twice, each left with its first claimant (``DuplicateComponentError``).
        warnings: what loading the plugins has to say (an unknown name in ``REGISTRY_PLUGINS``).
    """

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        self._names: dict[str, dict[str, Component]] = {k: {} for k in KINDS}
        self.plugins: tuple[Any, ...] = ()
        self.failures: tuple[Any, ...] = ()
        self.replaced: list[tuple[str, str, str, str]] = []
        self.clashes: list[DuplicateComponentError] = []
        self.warnings: tuple[str, ...] = ()

    def add(self, component: Component, replace: bool = False, describe: Callable[[str], str] = repr) -> None:
        """Add *component*; refuse a name or alias that another plugin holds in the same namespace.

        Args:
            component: the component.
            replace: take over a component of the same kind and name (declared by the plugin with
                ``@registry.replaces``); the replacement keeps the aliases of the one it replaces.
            describe: renders a plugin name for messages (with its distribution).

        Raises:
            DuplicateComponentError: the name or an alias is taken in its kind, or in a kind that shares a
                place of the spec with it (a layer called like an activation).
        """
        old = self._by_kind[component.kind].get(component.name) if replace else None
        if old is not None:
            self._remove(old)
            keep = tuple(a for a in old.aliases if a not in component.aliases)
            component = dataclasses.replace(component, aliases=(*component.aliases, *keep))
        for n in (component.name, *component.aliases):
            for k in namespace(component.kind):
                held = self._names[k].get(n)
                if held is not None:
                    if old is not None:
                        self._put(old)
                    raise DuplicateComponentError(
                        component.kind, n, held.plugin, component.plugin, describe(held.plugin),
                        describe(component.plugin), held.kind,
                    )  # fmt: skip
        if old is not None:
            self.replaced.append((component.kind, component.name, old.plugin, component.plugin))
        self._put(component)

    def _put(self, c: Component) -> None:
        self._by_kind[c.kind][c.name] = c
        for n in (c.name, *c.aliases):
            self._names[c.kind][n] = c

    def _remove(self, c: Component) -> None:
        self._by_kind[c.kind].pop(c.name)
        for n in (c.name, *c.aliases):
            self._names[c.kind].pop(n, None)

    def get(self, kind: str | tuple[str, ...], name: str) -> Component:
        """Look *name* up in *kind* (or in several kinds, which never share a name).

        Raises:
            UnknownComponentError: with the available names and the closest matches.
        """
        kinds = (kind,) if isinstance(kind, str) else kind
        for k in kinds:
            found = self._names[k].get(name)
            if found is not None:
                return found
        available = sorted({n for k in kinds for n in self._by_kind[k]})
        canonical = {n: c.name for k in kinds for n, c in self._names[k].items()}
        tail = name.rsplit(".", 1)[-1]  # 'torch.nn.ReLU' -> suggest what 'ReLU' is
        close = difflib.get_close_matches(tail, sorted(canonical), n=6, cutoff=0.6)
        folded = {n.lower().replace("_", ""): n for n in canonical}.get(tail.lower().replace("_", "").replace("-", ""))
        if folded:
            close.insert(0, folded)
        suggestions = list(dict.fromkeys(canonical[n] for n in close))[:3]
        others = [k for k in KINDS if k not in kinds and name in self._names[k]]
        note = "; ".join(f"{f.render()}, so its components are missing" for f in self.failures)
        raise UnknownComponentError(" or ".join(kinds), name, available, suggestions, others, note)

    def find(self, name: str) -> list[Component]:
        """Every component, of any kind, that answers to *name*."""
        return [self._names[k][name] for k in KINDS if name in self._names[k]]

    def list(self, kind: str | None = None) -> list[Component]:
        """Components of *kind* (all kinds when None), sorted by kind order then name."""
        kinds = [kind] if kind else list(KINDS)
        return [c for k in kinds for _, c in sorted(self._by_kind[k].items())]

    def __iter__(self) -> Iterator[Component]:
        return iter(self.list())

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kind.values())
