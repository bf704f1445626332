"""A spec's ``[requires]``: the plugin distributions it needs, checked before anything is resolved.

::

    [requires]
    plugins = ["registry-example-plugin>=0.1"]

Each entry is a PEP 508 requirement. A missing or too old distribution, or one
that is installed but not loaded as a plugin, is a spec problem whose message
gives the ``pip install`` line (or the switch) that fixes it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence

from registry.components.catalog import Catalog
from registry.errors import Problem
from registry.spec.provenance import Provenance

__all__ = ["check_requires"]


def _one(index: int, text: str, catalog: Catalog) -> str | None:
    from packaging.requirements import InvalidRequirement, Requirement  # 0.07 s: only for specs with [requires]

    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        return f"{text!r} is not a requirement such as 'registry-example-plugin>=0.1' ({e})"
    if req.url is not None or any(c in text for c in "/\\"):
        return (
            f"{req.name!r} is given with a URL or a path; [requires] takes distribution names and versions only "
            "(such as 'registry-example-plugin>=0.1'): install from elsewhere yourself, then name it here"
        )
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return f"plugin distribution {req.name!r} is not installed; install it with: pip install '{text}'"
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return f"{req.name} {version} is installed, but the spec needs {text!r}; upgrade with: pip install -U '{text}'"
    loaded = {(p.distribution or "").lower().replace("_", "-") for p in catalog.plugins}
    if req.name.lower().replace("_", "-") not in loaded:
        failed = [f for f in catalog.failures if (f.distribution or "").lower().replace("_", "-") == req.name.lower()]
        if failed:
            return str(failed[0].render())
        return (
            f"{req.name} {version} is installed but not loaded as a plugin "
            "(is REGISTRY_DISABLE_PLUGIN_AUTOLOAD set, or REGISTRY_PLUGINS without it?)"
        )
    return None


def check_requires(plugins: Sequence[str], catalog: Catalog, where: Provenance | None = None) -> list[Problem]:
    """One problem per unmet requirement in ``requires.plugins``.

    Args:
        plugins: the requirement strings.
        catalog: what is loaded.
        where: locates each requirement (for messages).
    """
    out = []
    for i, text in enumerate(plugins):
        message = _one(i, text, catalog)
        if message:
            loc = ("requires", "plugins", i)
            out.append(where.problem(loc, message) if where else Problem(loc, message))
    return out
