"""Batched input transforms, applied once to a whole split (first dimension = samples).

``to_tensor`` and ``normalize`` compute exactly what torchvision's per-sample
``ToTensor``/``Normalize`` compute, on a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor

from registry import aliases, example

PositiveFloats = Annotated[list[float], Field(min_length=1)]
ImageSize = Annotated[int, Field(ge=1)] | tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]


class ToTensor:
    """uint8 images -> float in [0, 1], channels first: (N, H, W) -> (N, 1, H, W), (N, H, W, C) -> (N, C, H, W)."""

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        elif x.dim() == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = x.permute(0, 3, 1, 2).contiguous()
        if x.dtype == torch.uint8:
            return x.to(torch.get_default_dtype()).div_(255)  # in place on the fresh float copy
        return x.to(torch.get_default_dtype())

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel (dimension 1)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = tuple(mean)
        self.std = tuple(std)
        self._cache: dict[tuple[torch.dtype, torch.device, int], tuple[Tensor, Tensor]] = {}

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        key = (x.dtype, x.device, x.dim())
        if key not in self._cache:  # made once per dtype/device, not on every batch
            channels = x.shape[1] if x.dim() > 1 else 1
            for label, values in (("mean", self.mean), ("std", self.std)):
                if len(values) not in (1, channels):
                    allowed = "1 value" if channels == 1 else f"1 value or {channels}"
                    raise ValueError(
                        f"{label} has {len(values)} values but the input has {channels} "
                        f"channel{'s' if channels != 1 else ''}; give {allowed}"
                    )
            shape = (1, -1) + (1,) * (x.dim() - 2)
            self._cache[key] = (
                torch.as_tensor(self.mean, dtype=x.dtype, device=x.device).view(shape),
                torch.as_tensor(self.std, dtype=x.dtype, device=x.device).view(shape),
            )
        return self._cache[key]

    def __call__(self, x: Tensor) -> Tensor:
        mean, std = self._stats(x)
        out = x.sub(mean)
        return out.div_(std)  # in place on the fresh result of sub: one allocation, same arithmetic

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class _TorchvisionOp:
    def __init__(self, name: str, **kwargs: object) -> None:
        self.name = name
        self.kwargs = kwargs

    def __call__(self, x: Tensor) -> Tensor:
        from torchvision.transforms.v2 import functional as F  # imported only when used: 2 s

        if x.dim() != 4:
            raise ValueError(f"{self.name} needs image batches (N, C, H, W); put to_tensor before it")
        out: Tensor = getattr(F, self.name)(x, **self.kwargs)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"


@aliases("ToTensor")
def to_tensor() -> ToTensor:
    """Images to float tensors in [0, 1], channels first (as torchvision's ToTensor)."""
    return ToTensor()


@aliases("Normalize")
@example(mean=[0.5], std=[0.25])
def normalize(
    mean: Annotated[PositiveFloats, Field(description="per-channel mean (1 value or one per channel)")],
    std: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1, description="per-channel std, > 0")],
) -> Normalize:
    """Standardise each channel: (x - mean) / std."""
    return Normalize(mean, std)


@aliases("Resize")
@example(size=4)
def resize(
    size: Annotated[ImageSize, Field(description="output (height, width), or the shorter side")],
) -> _TorchvisionOp:
    """Resize images (bilinear, antialiased), with torchvision."""
    return _TorchvisionOp("resize", size=[size] if isinstance(size, int) else list(size), antialias=True)


@aliases("CenterCrop")
@example(size=4)
def center_crop(size: Annotated[ImageSize, Field(description="output (height, width), or one side")]) -> _TorchvisionOp:
    """Crop the centre of images, with torchvision."""
    return _TorchvisionOp("center_crop", output_size=[size] if isinstance(size, int) else list(size))


@aliases("Pad")
@example(padding=1)
def pad(
    padding: Annotated[int, Field(ge=0, description="pixels added on every side")],
    fill: Annotated[float, Field(description="value of the added pixels")] = 0.0,
) -> _TorchvisionOp:
    """Pad images on every side, with torchvision."""
    return _TorchvisionOp("pad", padding=[padding], fill=fill)


TRANSFORMS = {f.__name__: f for f in (to_tensor, normalize, resize, center_crop, pad)}


class RandomCrop:
    """Pad each image, then crop it back to its size at a random offset (one offset per sample)."""

    def __init__(self, padding: int) -> None:
        self.padding = padding

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError("random_crop needs image batches (N, C, H, W); put to_tensor before it")
        n, _, h, w = x.shape
        p = self.padding
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n, 1), device=x.device)
        dx = torch.randint(0, 2 * p + 1, (n, 1), device=x.device)
        rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
        cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        return padded[batch, chans, rows, cols]

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability p (drawn per sample)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, x: Tensor) -> Tensor:
        flip = torch.rand(x.shape[0], device=x.device) < self.p
        return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


@aliases("RandomCrop")
@example(padding=2)
def random_crop(
    padding: Annotated[int, Field(ge=1, description="pixels of zero padding on every side")] = 4,
) -> RandomCrop:
    """Random translation: pad by `padding`, crop back at a random offset per image (for data.augment)."""
    return RandomCrop(padding)


@aliases("RandomHorizontalFlip")
def random_horizontal_flip(
    p: Annotated[float, Field(ge=0, le=1, description="probability of flipping each image")] = 0.5,
) -> RandomHorizontalFlip:
    """Mirror images left-right at random, per image (for data.augment)."""
    return RandomHorizontalFlip(p)


TRANSFORMS.update({f.__name__: f for f in (random_crop, random_horizontal_flip)})
