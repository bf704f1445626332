"""The size types the layer families share: a positive size or a non-negative padding, for one dimension or, as
a number or a tuple, for 2 or 3 (kernel, stride, dilation, padding)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Size = Annotated[int, Field(ge=1)]
Pad = Annotated[int, Field(ge=0)]
Size2 = Size | tuple[Size, Size]
Size3 = Size | tuple[Size, Size, Size]
Pad2 = Pad | tuple[Pad, Pad]
Pad3 = Pad | tuple[Pad, Pad, Pad]
