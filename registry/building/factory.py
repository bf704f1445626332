"""Calling into a plugin: a component's factory, with what it raises and returns sorted into the right error.

A factory that raises ``ValueError`` or ``TypeError`` refuses its parameters
(the hook contract): that is the spec's problem, at the component's place. Any
other exception, or a result that is not what the component's kind builds,
is the plugin's fault: a ``PluginError`` naming the component and its
distribution. torch's messages lose the C++ backtrace some of them carry.
"""

from __future__ import annotations

import importlib
from typing import Any

from registry.components.catalog import Component
from registry.errors import ParamError, PluginError, RegistryError
from registry.kinds import KINDS
from registry.resolution.resolver import Resolved

__all__ = ["Refused", "build_plain", "call_factory", "check_returns", "plugin_fault", "short_message"]

_BACKTRACE_MARKS = ("\nException raised from", "\nframe #", "\nC++ CapturedTraceback", "\n\nThe above exception")


def short_message(error: BaseException, limit: int = 400) -> str:
    """*error*'s message without a C++ backtrace, on one line, at most *limit* characters."""
    text = str(error) or type(error).__name__
    for mark in _BACKTRACE_MARKS:
        text = text.split(mark, 1)[0]
    text = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Refused(ValueError):
    """A factory refused its parameters (internal: the builder turns it into a Problem at ``loc``, the
    component's key path or, for a ``registry.ParamError``, its parameter's)."""

    def __init__(self, resolved: Resolved, message: str, param: str | None = None) -> None:
        self.resolved = resolved
        self.loc = resolved.loc if param is None else (*resolved.loc, param)
        super().__init__(message)


def plugin_fault(c: Component, what: str) -> PluginError:
    """A ``PluginError`` for *c*: ``layer 'x' of plugin 'p' (dist) {what}``."""
    return PluginError(f"{c.kind} {c.name!r} of {c.origin} {what}", str(c), c.plugin, c.distribution)


def check_returns(c: Component, obj: Any) -> Any:
    """Return *obj* if it is what *c*'s kind builds; raise ``PluginError`` otherwise."""
    spec = KINDS[c.kind].returns
    if spec:
        module, _, name = spec.partition(":")
        cls = getattr(importlib.import_module(module), name)
        if not isinstance(obj, cls):
            raise plugin_fault(c, f"returned {type(obj).__name__} ({obj!r:.60}), not a {cls.__module__}.{cls.__name__}")
    elif not callable(obj):
        raise plugin_fault(c, f"returned {type(obj).__name__}, which is not callable")
    return obj


def call_factory(r: Resolved, *args: Any, **overrides: Any) -> Any:
    """Build *r*'s component with its parameters (and *overrides*), checking what comes back.

    Raises:
        Refused: the factory raised ValueError or TypeError (its parameters do not work together).
        PluginError: it raised anything else, or returned the wrong kind of object.
    """
    c = r.component
    try:
        obj = c.factory(*args, **{**r.kwargs, **overrides})
    except RegistryError:
        raise  # it says what is wrong itself (data missing or unusable)
    except ParamError as e:
        raise Refused(r, f"{c.kind} {c.name!r}: {short_message(e)}", e.param) from e
    except (ValueError, TypeError) as e:
        raise Refused(r, f"{c.kind} {c.name!r} refused its parameters: {short_message(e)}") from e
    except Exception as e:  # a plugin's factory can raise anything: its fault, named, with the cause chained
        raise plugin_fault(c, f"raised {type(e).__name__} when built: {short_message(e)}") from e
    return check_returns(c, obj)


def build_plain(r: Resolved, *args: Any, **injected: Any) -> Any:
    """Build *r*'s component with the components it holds built first (each as its own factory returns it).

    *args* and *injected* are what the builder passes itself (an optimizer's parameters, a metric's task).

    Raises:
        Refused, PluginError: as ``call_factory``, for *r* or what it holds.
    """
    nested: dict[str, Any] = {}
    for name, value in r.nested.items():
        if isinstance(value, tuple):
            nested[name] = [build_plain(v) for v in value]
        else:
            nested[name] = None if value is None else build_plain(value)
    return call_factory(r, *args, **nested, **injected)
