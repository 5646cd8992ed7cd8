"""Tiny-ImageNet (200 classes of 64x64 images) from its standard directory layout kept locally."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetNotFoundError, InputError, MissingDependencyError
from .base import ArrayDataset

__all__ = ["load_tiny_imagenet"]

_EXTENSIONS = (".jpeg", ".jpg", ".png")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise MissingDependencyError(
            "loading Tiny-ImageNet needs Pillow to decode its JPEG files, which is not installed. "
            "Install it with: pip install pillow"
        ) from exc
    return Image


def _find_root(root: Path) -> Path:
    for d in (root, root / "tiny-imagenet-200"):
        if (d / "train").is_dir() and (d / "val" / "val_annotations.txt").is_file():
            return d
    raise DatasetNotFoundError(
        f"Tiny-ImageNet not found under {str(root)!r}: expected train/<wnid>/images/*.JPEG and "
        "val/images/*.JPEG with val/val_annotations.txt (directly or in tiny-imagenet-200/). Get "
        "http://cs231n.stanford.edu/tiny-imagenet-200.zip on a connected machine, unzip it into "
        "that directory, or pass root=..."
    )


def _read_images(paths: list[Path], image_size: int | None) -> np.ndarray:
    image_mod = _pil()
    out: np.ndarray | None = None
    for i, path in enumerate(paths):
        with image_mod.open(path) as im:
            im = im.convert("RGB")
            if image_size is not None and im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), image_mod.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
        if out is None:
            out = np.empty((len(paths), *arr.shape), dtype=np.uint8)
        elif arr.shape != out.shape[1:]:
            raise InputError(
                f"{path} is {arr.shape[1]}x{arr.shape[0]} but earlier images are "
                f"{out.shape[2]}x{out.shape[1]}; pass image_size=... to resize all images"
            )
        out[i] = arr
    if out is None:
        raise InputError("no images selected")
    return out.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)


def load_tiny_imagenet(
    root: str | os.PathLike[str] | None = None,
    *,
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
    max_train_per_class: int | None = None,
    image_size: int | None = None,
) -> ArrayDataset:
    """Tiny-ImageNet: images ``[N, 3, 64, 64]`` in ``[0, 1]``; the labelled ``val`` split is the test split.

    Layout (``root`` or ``root/tiny-imagenet-200``): ``wnids.txt``, ``words.txt`` (optional,
    class names), ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` and
    ``val/val_annotations.txt`` (``file\\twnid\\tx0\\ty0\\tx1\\ty1``). ``root=None`` means
    ``$GENPHASE_DATA_DIR/tiny-imagenet``. The full set (100000 + 10000 images) needs about
    5.4 GB as float32; restrict it with:

    Args:
        num_classes: keep the first ``num_classes`` wnids in sorted order.
        classes: keep these wnids (in this order) instead.
        max_train_per_class: keep the first (by file name) training images of each class.
        image_size: resize every image to ``image_size x image_size`` (bilinear).

    >>> import tempfile
    >>> load_tiny_imagenet(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.DatasetNotFoundError: Tiny-ImageNet not found under '...': expected train/<wnid>/images/*.JPEG ...
    """
    from .paths import default_root

    base = _find_root(default_root("tiny-imagenet") if root is None else Path(root).expanduser())
    if (base / "wnids.txt").is_file():
        wnids = sorted({w.strip() for w in (base / "wnids.txt").read_text().split() if w.strip()})
    else:
        wnids = sorted(d.name for d in (base / "train").iterdir() if d.is_dir())
    if classes is not None:
        unknown = [c for c in classes if c not in wnids]
        if unknown or not classes:
            raise InputError(f"classes {unknown or list(classes)} are not Tiny-ImageNet wnids under {base}")
        wnids = [str(c) for c in classes]
    elif num_classes is not None:
        if isinstance(num_classes, bool) or not 1 <= int(num_classes) <= len(wnids):
            raise InputError(f"num_classes must be in 1..{len(wnids)}, got {num_classes!r}")
        wnids = wnids[: int(num_classes)]
    if max_train_per_class is not None and max_train_per_class < 1:
        raise InputError(f"max_train_per_class must be >= 1, got {max_train_per_class!r}")
    if image_size is not None and image_size < 1:
        raise InputError(f"image_size must be >= 1, got {image_size!r}")
    index = {w: i for i, w in enumerate(wnids)}

    train_paths: list[Path] = []
    train_labels: list[int] = []
    for w in wnids:
        folder = base / "train" / w / "images"
        if not folder.is_dir():
            folder = base / "train" / w
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _EXTENSIONS) if folder.is_dir() else []
        if not files:
            raise DatasetNotFoundError(f"Tiny-ImageNet class {w}: no images in {base / 'train' / w / 'images'}")
        files = files[:max_train_per_class] if max_train_per_class else files
        train_paths += files
        train_labels += [index[w]] * len(files)

    test_paths: list[Path] = []
    test_labels: list[int] = []
    for line in (base / "val" / "val_annotations.txt").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        if parts[1] in index:
            test_paths.append(base / "val" / "images" / parts[0])
            test_labels.append(index[parts[1]])
    missing = [p for p in test_paths if not p.is_file()]
    if missing:
        raise DatasetNotFoundError(f"Tiny-ImageNet: {len(missing)} val images listed but missing, e.g. {missing[0]}")
    if not test_paths:
        raise DatasetNotFoundError(
            f"Tiny-ImageNet: val/val_annotations.txt under {base} lists no image of the selected classes"
        )

    names = list(wnids)
    words = base / "words.txt"
    if words.is_file():
        table = dict(line.split("\t", 1) for line in words.read_text().splitlines() if "\t" in line)
        names = [table.get(w, w).strip() for w in wnids]
    x_train = _read_images(train_paths, image_size)
    x_test = _read_images(test_paths, image_size)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise InputError(
            f"Tiny-ImageNet train images are {x_train.shape[2:]} but val images {x_test.shape[2:]}; pass image_size=..."
        )
    return ArrayDataset(
        x_train=x_train,
        y_train=np.asarray(train_labels, dtype=np.int64),
        x_test=x_test,
        y_test=np.asarray(test_labels, dtype=np.int64),
        num_classes=len(wnids),
        modality="image",
        class_names=names,
        input_shape=tuple(x_train.shape[1:]),
        name="tiny-imagenet",
        meta={"source": str(base), "wnids": list(wnids)},
    )
