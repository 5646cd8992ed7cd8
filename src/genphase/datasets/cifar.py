"""CIFAR-10 from the official "python version" pickle batches kept locally."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetNotFoundError, InputError
from .base import ArrayDataset

__all__ = ["CIFAR10_CLASSES", "load_cifar10"]

CIFAR10_CLASSES: list[str] = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip

_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = "test_batch"
_TARBALL = "cifar-10-python.tar.gz"


class _BatchUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays (what the CIFAR batches contain), nothing executable."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"CIFAR batch refers to {module}.{name}, which is not allowed")


def _unpickle(data: bytes, origin: str) -> dict[str, Any]:
    try:
        obj = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise InputError(f"{origin} is not a CIFAR-10 python batch ({exc}); re-download it") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{origin} is not a CIFAR-10 python batch (a dict was expected)")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _batch_arrays(batch: dict[str, Any], origin: str) -> tuple[np.ndarray, np.ndarray]:
    if "data" not in batch or "labels" not in batch:
        raise InputError(f"{origin} lacks the 'data' / 'labels' entries of a CIFAR-10 batch")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise InputError(f"{origin}: expected data [N, 3072] and labels [N], got {data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _read_batches(root: Path) -> tuple[dict[str, bytes], str]:
    for d in (root, root / "cifar-10-batches-py"):
        if all((d / f).is_file() for f in (*_TRAIN, _TEST)):
            files = {f: (d / f).read_bytes() for f in (*_TRAIN, _TEST)}
            if (d / "batches.meta").is_file():
                files["batches.meta"] = (d / "batches.meta").read_bytes()
            return files, str(d)
    tar_path = root / _TARBALL
    if tar_path.is_file():
        files = {}
        with tarfile.open(tar_path, "r:gz") as tar:
            for member in tar.getmembers():
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in (*_TRAIN, _TEST, "batches.meta"):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        files[base] = fh.read()
        if all(f in files for f in (*_TRAIN, _TEST)):
            return files, str(tar_path)
    raise DatasetNotFoundError(
        f"CIFAR-10 not found under {str(root)!r}: expected the python batches data_batch_1 .. "
        f"data_batch_5 and test_batch there or in cifar-10-batches-py/, or {_TARBALL}. Get "
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz on a connected machine, copy it "
        "into that directory (extracted or not), or pass root=..."
    )


def load_cifar10(root: str | os.PathLike[str] | None = None) -> ArrayDataset:
    """CIFAR-10: 50000 train / 10000 test colour images ``[N, 3, 32, 32]`` in ``[0, 1]``, 10 classes.

    ``root`` holds ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (directly or in
    ``cifar-10-batches-py/``) or the tarball ``cifar-10-python.tar.gz``; ``root=None`` means
    ``$GENPHASE_DATA_DIR/cifar10`` (default ``~/.genphase/data/cifar10``). The pickles are read
    with an unpickler restricted to numpy arrays. Class names come from ``batches.meta`` when present.

    >>> import tempfile
    >>> load_cifar10(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.DatasetNotFoundError: CIFAR-10 not found under '...': expected the python batches data_batch_1 .. data_batch_5 and test_batch there ...
    """
    from .paths import default_root

    where = default_root("cifar10") if root is None else Path(root).expanduser()
    files, origin = _read_batches(where)
    train = [_batch_arrays(_unpickle(files[f], f"{origin}/{f}"), f"{origin}/{f}") for f in _TRAIN]
    x_test, y_test = _batch_arrays(_unpickle(files[_TEST], f"{origin}/{_TEST}"), f"{origin}/{_TEST}")
    names = list(CIFAR10_CLASSES)
    if "batches.meta" in files:
        meta = _unpickle(files["batches.meta"], f"{origin}/batches.meta")
        raw = meta.get("label_names")
        if isinstance(raw, list) and len(raw) == 10:
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw]
    scale = np.float32(1.0 / 255.0)
    return ArrayDataset(
        x_train=np.concatenate([x for x, _ in train]).astype(np.float32) * scale,
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test.astype(np.float32) * scale,
        y_test=y_test,
        num_classes=10,
        modality="image",
        class_names=names,
        input_shape=(3, 32, 32),
        name="cifar10",
        meta={"source": origin},
    )
