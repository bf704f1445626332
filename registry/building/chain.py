"""``Chain``: the layers of a spec's array, built in order, each input size inferred from what reaches it.

``[model] layers = [...]`` is a chain, and so is every array of layers a
container holds (``registry.Layers``, ``registry.Branches``): the builder
passes the container the built ``Chain``, which knows the per-sample shape it
takes and the one it gives.
"""

from __future__ import annotations

from typing import Annotated

from torch import nn

from registry.kinds import MODULE_KINDS
from registry.spec.places import Holds

__all__ = ["Branches", "Chain", "Layers"]


class Chain(nn.Sequential):
    """An ``nn.Sequential`` of built layers, with the per-sample shapes it maps between.

    Attributes:
        in_shape: the shape of one sample it takes (no batch dimension).
        out_shape: the shape of one sample it gives.
    """

    def __init__(self, *modules: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        super().__init__(*modules)
        self.in_shape = in_shape
        self.out_shape = out_shape


Layers = Annotated[Chain, Holds(MODULE_KINDS)]
"""A parameter that holds an array of layers: passed built, as one ``Chain`` fed by the container's input."""

Branches = Annotated[list[Chain], Holds(MODULE_KINDS)]
"""A parameter that holds an array of arrays of layers: one ``Chain`` per array, each fed by the container's input."""
