"""IDX files (the MNIST / Fashion-MNIST format) and the loaders of the MNIST family.

An IDX file is: two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions ``d``, ``d``
big-endian uint32 sizes, then the data in C order (big-endian). Files may be gzipped.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DatasetNotFoundError, InputError
from .base import ArrayDataset

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "find_idx_file",
    "load_fashion_mnist",
    "load_idx_dataset",
    "load_mnist",
    "read_idx",
    "write_idx",
]

#: Where Debian's ``dataset-fashion-mnist`` package installs the four gzipped idx files.
FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASSES: list[str] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped if its name ends in ``.gz`` or its content starts with the gzip magic).

    Returns an array of the stored shape in native byte order (e.g. uint8 ``[N, 28, 28]``).

    >>> import tempfile
    >>> path = write_idx(tempfile.mkdtemp() + "/x-idx3-ubyte.gz", np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
    >>> read_idx(path).shape, read_idx(path).dtype
    ((2, 2, 2), dtype('uint8'))
    """
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{p} looks gzipped but cannot be decompressed ({exc}); re-download it") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise InputError(f"{p} is not an IDX file (bad magic number {raw[:4].hex()}); re-download it")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{p} is truncated (IDX header of {ndim} dimensions incomplete); re-download it")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(
            f"{p} holds {len(raw) - header} data bytes but its header {shape} needs {expected}; "
            "the file is truncated or corrupt, re-download it"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``); the inverse of :func:`read_idx`.

    >>> import tempfile
    >>> path = write_idx(tempfile.mkdtemp() + "/y-idx1-ubyte", np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path).tolist()
    [3, 1, 4]
    """
    a = np.asarray(array)
    code = _IDX_CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        raise InputError(f"IDX cannot store dtype {a.dtype}; use uint8, int8, int16, int32, float32 or float64")
    data = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    data += np.ascontiguousarray(a, dtype=_IDX_DTYPES[code]).tobytes()
    p = Path(path)
    p.write_bytes(gzip.compress(data) if p.name.endswith(".gz") else data)
    return p


def _candidates(split: str, kind: str) -> list[str]:
    dims = "idx3" if kind == "images" else "idx1"
    stems = [f"{split}-{kind}-{dims}-ubyte", f"{split}-{kind}.{dims}-ubyte", f"{split}-{kind}-{dims}"]
    return [s + ext for s in stems for ext in ("", ".gz")]


def find_idx_file(root: str | os.PathLike[str], split: str, kind: str) -> Path | None:
    """Locate ``{split}-{kind}-idx{3|1}-ubyte[.gz]`` (or the ``.idx3-ubyte`` spelling) under ``root``.

    ``split`` is ``"train"`` or ``"t10k"``, ``kind`` is ``"images"`` or ``"labels"``. The
    directory itself and the sub-directories ``raw``, ``MNIST/raw``, ``FashionMNIST/raw``
    (torchvision's layout) are searched.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = write_idx(root + "/t10k-labels-idx1-ubyte.gz", np.zeros(2, dtype=np.uint8))
    >>> find_idx_file(root, "t10k", "labels").name, find_idx_file(root, "train", "labels")
    ('t10k-labels-idx1-ubyte.gz', None)
    """
    base = Path(root).expanduser()
    for d in (base, base / "raw", base / "MNIST" / "raw", base / "FashionMNIST" / "raw"):
        for name in _candidates(split, kind):
            if (d / name).is_file():
                return d / name
    return None


def load_idx_dataset(
    root: str | os.PathLike[str],
    *,
    name: str,
    class_names: Sequence[str],
    install_hint: str,
) -> ArrayDataset:
    """Load the four MNIST-style idx files of ``root`` into an image :class:`ArrayDataset`.

    Images become float32 ``[N, 1, H, W]`` in ``[0, 1]`` and labels int64 ``[N]``; the
    ``t10k`` files are the test split. A missing file raises
    :class:`~genphase.errors.DatasetNotFoundError` ending with ``install_hint``.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for split, n in (("train", 4), ("t10k", 2)):  # a tiny MNIST-style directory: 4 + 2 images of 3x3
    ...     _ = write_idx(f"{root}/{split}-images-idx3-ubyte", np.full((n, 3, 3), 255, dtype=np.uint8))
    ...     _ = write_idx(f"{root}/{split}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 2)
    >>> ds = load_idx_dataset(root, name="tiny", class_names=["even", "odd"], install_hint="")
    >>> ds.summary(), float(ds.x_train.max())
    ('tiny (image): 4 train / 2 test, 2 classes, input_shape=(1, 3, 3)', 1.0)
    """
    files: dict[tuple[str, str], Path] = {}
    missing: list[str] = []
    for split in ("train", "t10k"):
        for kind in ("images", "labels"):
            found = find_idx_file(root, split, kind)
            if found is None:
                missing.append(_candidates(split, kind)[1])
            else:
                files[split, kind] = found
    if missing:
        raise DatasetNotFoundError(
            f"{name} not found under {str(root)!r}: missing {', '.join(missing)} (or their "
            f"uncompressed versions). {install_hint}"
        )
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "t10k"):
        images, labels = read_idx(files[split, "images"]), read_idx(files[split, "labels"])
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise InputError(
                f"{files[split, 'images']} / {files[split, 'labels']}: expected images [N, H, W] and "
                f"labels [N], got {images.shape} and {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise InputError(
                f"{files[split, 'labels']} holds labels outside 0..{len(class_names) - 1}; is it a {name} file?"
            )
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        arrays[f"x_{split}"] = (images.astype(np.float32) / np.float32(scale))[:, None]
        arrays[f"y_{split}"] = labels.astype(np.int64)
    if arrays["x_train"].shape[1:] != arrays["x_t10k"].shape[1:]:
        raise InputError(
            f"{name}: train images are {arrays['x_train'].shape[2:]} but test images "
            f"{arrays['x_t10k'].shape[2:]}"
        )
    return ArrayDataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_t10k"],
        y_test=arrays["y_t10k"],
        num_classes=len(class_names),
        modality="image",
        class_names=list(class_names),
        input_shape=tuple(arrays["x_train"].shape[1:]),
        name=name.lower(),
        meta={"source": {f"{s}-{k}": str(p) for (s, k), p in files.items()}},
    )


def load_fashion_mnist(root: str | os.PathLike[str] = FASHION_MNIST_ROOT) -> ArrayDataset:
    """Fashion-MNIST: 60000 train / 10000 test grayscale 28x28 images ``[N, 1, 28, 28]`` in ``[0, 1]``, 10 classes.

    Reads ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (gzipped or not) from ``root``,
    by default where Debian's ``dataset-fashion-mnist`` package puts them.

    >>> import tempfile
    >>> load_fashion_mnist(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.DatasetNotFoundError: ... Install it with: apt-get install dataset-fashion-mnist ...
    """
    hint = (
        "Install it with: apt-get install dataset-fashion-mnist (Debian/Ubuntu; files go to "
        f"{FASHION_MNIST_ROOT}), or pass root= a directory holding the four idx files from "
        "https://github.com/zalandoresearch/fashion-mnist"
    )
    return load_idx_dataset(root, name="fashion-mnist", class_names=FASHION_MNIST_CLASSES, install_hint=hint)


def load_mnist(root: str | os.PathLike[str] | None = None) -> ArrayDataset:
    """MNIST from a local directory of idx files: 60000 / 10000 images ``[N, 1, 28, 28]`` in ``[0, 1]``, 10 classes.

    ``root=None`` means ``$GENPHASE_DATA_DIR/mnist`` (default ``~/.genphase/data/mnist``).
    torchvision's ``root/MNIST/raw`` layout is found too. Nothing is downloaded.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> for split, n in (("train", 4), ("t10k", 2)):  # four idx files (here tiny, 28x28 images)
    ...     _ = write_idx(f"{root}/{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), dtype=np.uint8))
    ...     _ = write_idx(f"{root}/{split}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    >>> load_mnist(root).summary()
    'mnist (image): 4 train / 2 test, 10 classes, input_shape=(1, 28, 28)'
    """
    from .paths import default_root

    where = default_root("mnist") if root is None else Path(root)
    hint = (
        "Put the four MNIST idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, from a mirror of "
        "http://yann.lecun.com/exdb/mnist/) in that directory, or pass root=... "
        "(a small MNIST subset that needs no download: load_dataset('mnist-5k'))"
    )
    return load_idx_dataset(where, name="mnist", class_names=[str(d) for d in range(10)], install_hint=hint)
