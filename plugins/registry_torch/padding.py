"""Padding layers: zero, constant, reflection, replication and circular padding over 1, 2 or 3 spatial
dimensions, torch's ``ZeroPad2d``, ``ReflectionPad1d``... one component each."""

# No ``from __future__ import annotations``: the factories are made in a loop, and their annotations must be the
# objects themselves for the parameter schema to read them.

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field
from torch import nn

from registry import aliases, example

from .sizes import Pad

SIDES = {1: "left, right", 2: "left, right, top, bottom", 3: "left, right, top, bottom, front, back"}
KINDS = {
    "zero": ("ZeroPad", "zeros"),
    "constant": ("ConstantPad", "the constant value"),
    "reflection": ("ReflectionPad", "the input reflected at its edge (its edge value not repeated)"),
    "replication": ("ReplicationPad", "the input's edge value repeated"),
    "circular": ("CircularPad", "the input wrapped around (the other side's values)"),
}
EXAMPLE_SHAPES = {1: (2, 6), 2: (2, 6, 6), 3: (2, 4, 4, 4)}


def _make(kind: str, dims: int) -> Callable[..., nn.Module]:
    torch_name, fill = KINDS[kind]
    cls = getattr(nn, f"{torch_name}{dims}d")
    sizes = tuple[(Pad,) * (2 * dims)]  # type: ignore[misc]
    padding_type = Annotated[Pad | sizes, Field(description=f"one size for every side, or ({SIDES[dims]})")]

    if kind == "constant":

        def constant(padding: Any, value: float = 0.0) -> nn.Module:
            return cls(padding, value)  # type: ignore[no-any-return]

        constant.__annotations__ = {"padding": padding_type, "value": Annotated[float, Field(description="the value")],
                                    "return": nn.Module}  # fmt: skip
        made = constant
    else:

        def plain(padding: Any) -> nn.Module:
            return cls(padding)  # type: ignore[no-any-return]

        plain.__annotations__ = {"padding": padding_type, "return": nn.Module}
        made = plain
    name = f"{kind}_pad{dims}d"
    made.__name__ = made.__qualname__ = name
    made.__doc__ = f"Pads the last {dims} dimension{'s' if dims > 1 else ''} with {fill} (torch's {cls.__name__})."
    return aliases(cls.__name__)(example(input_shape=EXAMPLE_SHAPES[dims], padding=1)(made))


PADDING = {f.__name__: f for f in (_make(kind, dims) for kind in KINDS for dims in (1, 2, 3))}
