"""The user's own images: a folder of class sub-folders of PNG/JPEG files (torchvision's ``ImageFolder`` layout).

The images are decoded once (by Pillow, which torchvision depends on), resized to the declared size and held as one
uint8 tensor, like MNIST's; the decoded tensor is cached (``~/.cache/torch-spec-registry/images``, keyed by
the files' names, sizes and times and by the size asked for), so a second run reads it instead of decoding
again. Declaring the dataset (``validate``) lists the folders and checks every file's signature; a file that
cannot be decoded is reported when the data is loaded, before the first step, naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from registry import (
    DataError,
    Dataset,
    DatasetNotFoundError,
    DatasetSplits,
    Inputs,
    ParamError,
    SpecPath,
    Split,
    example,
)

SUFFIXES = (".png", ".jpg", ".jpeg")
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
Size = Annotated[int, Field(ge=1, le=4096)]


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch-spec-registry" / "images"


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def _check_signature(path: Path) -> None:
    if not path.is_file():  # a FIFO must not block the read
        raise DataError(f"{path}: not a regular file (a pipe, a device or a folder is not an image)")
    try:
        head = _head(path)
    except OSError as e:
        raise DataError(f"{path}: not a readable image: {e.strerror or e}") from None
    if not any(head.startswith(sig) for sig in SIGNATURES):
        raise DataError(f"{path}: not a PNG or JPEG image (it begins with neither signature; its bytes are not shown)")


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(8)


def _classes(root: Path, param: str) -> list[tuple[str, list[Path]]]:
    """Each class sub-folder of *root* with its images, in name order."""
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root}: no such folder (data.{param})", [str(root)])
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root}: no class folders in it; put each class's images in a sub-folder named after it")
    found = []
    for folder in folders:
        images = _images(folder)
        if not images:
            raise DataError(f"{folder}: an empty class folder (no {', '.join(SUFFIXES)} files)")
        for image in images:
            _check_signature(image)
        found.append((folder.name, images))
    return found


def _decode(path: Path, size: tuple[int, int], channels: int) -> torch.Tensor:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():  # a FIFO named x.png must not block the decoder
        raise DataError(f"{path}: not a regular file (a pipe, a device or a folder is not an image)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                pixels = np.asarray(opened.convert("L" if channels == 1 else "RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{path}: more than {Image.MAX_IMAGE_PIXELS:,} pixels, the most an image may have "
                        "(Pillow's limit against decompression bombs)") from None  # fmt: skip
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot be decoded: {e}") from None
    image = torch.from_numpy(pixels.copy()).reshape(*pixels.shape[:2], channels).permute(2, 0, 1)
    if tuple(image.shape[1:]) == size:
        return image
    from torchvision.transforms.v2 import functional as F

    resized: torch.Tensor = F.resize(image, list(size), antialias=True)
    return resized


def decode_all(paths: list[Path], size: tuple[int, int], channels: int) -> torch.Tensor:
    """The images at *paths*, decoded and resized, as one uint8 tensor (N, C, H, W)."""
    out = torch.empty((len(paths), channels, *size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        out[i] = _decode(path, size, channels)
    return out


def _cached(paths: list[Path], size: tuple[int, int], channels: int) -> torch.Tensor:
    """decode_all, read from the cache when these very files were decoded at this size before."""
    from safetensors.torch import load_file, save

    from registry.files.atomic import write_bytes

    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    key = hashlib.sha256(json.dumps([stats, list(size), channels]).encode()).hexdigest()[:24]
    cache = _cache_dir() / f"{key}.safetensors"
    if cache.is_file():
        try:
            images = load_file(str(cache))["images"]
            if images.shape == (len(paths), channels, *size):
                return images
        except (OSError, ValueError, KeyError):
            pass  # a broken cache is decoded again
    images = decode_all(paths, size, channels)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(cache, save({"images": images}))
    except OSError:
        pass  # no cache this time: the next run decodes again
    return images


@example(root="data/images", size=8)
def image_folder(
    root: Annotated[
        str, Field(min_length=1, description="a folder of class sub-folders of PNG/JPEG images"), SpecPath("folder")
    ],
    size: Annotated[Size | tuple[Size, Size], Field(description="(height, width) every image is resized to")],
    channels: Annotated[Literal[1, 3], Field(description="1: greyscale, 3: RGB")] = 3,
    test_root: Annotated[
        str | None, Field(description="such a folder of test images (default: a split)"), SpecPath("folder")
    ] = None,
    test_fraction: Annotated[float, Field(gt=0, lt=1, description="share held out when there is no test_root")] = 0.2,
    split_seed: Annotated[int, Field(ge=0, description="seed of the (stratified) train/test split")] = 0,
) -> Dataset:
    """Your own images: class sub-folders of PNG/JPEG files, decoded once to uint8, resized, cached."""
    hw = (size, size) if isinstance(size, int) else (size[0], size[1])
    train_classes = _classes(Path(root).expanduser(), "root")
    names = [name for name, _ in train_classes]
    test_classes = None
    if test_root is not None:
        test_classes = _classes(Path(test_root).expanduser(), "test_root")
        if other := sorted({n for n, _ in test_classes} - set(names)):
            raise ParamError(
                "test_root", f"its class folders {', '.join(other)} are not among {root}'s: {', '.join(names)}"
            )

    def labelled(classes: list[tuple[str, list[Path]]]) -> tuple[list[Path], torch.Tensor]:
        paths = [p for _, images in classes for p in images]
        labels = [names.index(n) for n, images in classes for _ in images]
        return paths, torch.tensor(labels, dtype=torch.long)

    def load() -> DatasetSplits:
        paths, labels = labelled(train_classes)
        images = _cached(paths, hw, channels)
        if test_classes is not None:
            test_paths, test_labels = labelled(test_classes)
            return DatasetSplits(Split(images, labels), Split(_cached(test_paths, hw, channels), test_labels))
        from sklearn.model_selection import train_test_split

        index = list(range(len(paths)))
        train, test = train_test_split(index, test_size=test_fraction, random_state=split_seed, stratify=labels.numpy())
        train_t, test_t = torch.tensor(sorted(train)), torch.tensor(sorted(test))
        return DatasetSplits(Split(images[train_t], labels[train_t]), Split(images[test_t], labels[test_t]))

    def read(source: Path, state: dict[str, Any]) -> Inputs:
        paths = [source]
        if source.is_dir():  # its images, or else those of its sub-folders (a folder laid out as root is)
            paths = _images(source) or [p for sub in sorted(source.iterdir()) if sub.is_dir() for p in _images(sub)]
        if not paths:
            raise DataError(f"{source}: no {', '.join(SUFFIXES)} images in it or in its sub-folders")
        names = tuple(p.relative_to(source).as_posix() if source.is_dir() else p.name for p in paths)
        return Inputs(decode_all(paths, hw, channels), names)

    count = sum(len(images) for _, images in train_classes)
    train_samples = count if test_classes is not None else count - math.ceil(count * test_fraction)  # sklearn's split
    return Dataset((channels, *hw), torch.uint8, tuple(names), load, f"image folder {root}", reader=read,
                   train_samples=train_samples)  # fmt: skip


IMAGES = {"image_folder": image_folder}
