"""The file format of interactions: one compressed ``.npz`` holding the arrays and a ``__meta__``
entry with JSON metadata. Knows arrays and mappings only, never the result type: the result
(:class:`genphase.interactions.AndOrInteractions`) calls down into it, and
:mod:`genphase.io` is the public face above both.

Writes are atomic (temporary file, then rename); reads never unpickle (``allow_pickle=False``)
and raise :class:`~genphase.errors.CorruptFileError` naming the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._atomic import atomic_write
from ._readers import DEFAULT_FIX, read_npz
from .errors import CorruptFileError, InputError

__all__ = ["FORMAT_VERSION", "ARRAY_FIELDS", "write_interactions_file", "read_interactions_file"]

FORMAT_VERSION = 1
#: the array fields of a result, stored one ``.npz`` entry each
ARRAY_FIELDS = (
    "and_effects", "or_effects", "bias", "noise", "values", "objective",
    "lower_bound", "gap", "iterations", "converged",
)


def _versions() -> dict[str, str]:
    import torch

    from . import __version__

    return {"genphase": __version__, "numpy": np.__version__, "torch": torch.__version__}


def write_interactions_file(path: str | os.PathLike, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write ``arrays`` (the :data:`ARRAY_FIELDS`) and ``meta`` to ``path`` (``.npz`` appended if
    missing), atomically; the format version and the library versions are added to ``meta``.
    Returns the path written.

    >>> import tempfile, numpy as np
    >>> arrays = {k: np.zeros(4) for k in ARRAY_FIELDS}
    >>> p = write_interactions_file(tempfile.mkdtemp() + "/x", arrays, {"noise_bound": 0.0, "solver": "hpr"})
    >>> p.suffix, read_interactions_file(p)[1]["solver"]
    ('.npz', 'hpr')
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"format_version": FORMAT_VERSION, **meta, "versions": _versions()}
    payload = np.frombuffer(json.dumps(full, default=str).encode(), dtype=np.uint8)
    atomic_write(path, lambda fh: np.savez_compressed(fh, __meta__=payload, **{k: arrays[k] for k in ARRAY_FIELDS}))
    return path


def read_interactions_file(path: str | os.PathLike, fix: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a file written by :func:`write_interactions_file`; ``fix`` is the
    remedy named in the errors (a missing, truncated or foreign file, or one that needs pickling,
    raises :class:`~genphase.errors.CorruptFileError`; a newer format an :class:`InputError`).

    >>> read_interactions_file("/nonexistent/ints.npz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genphase.errors.CorruptFileError: no interactions file at '/nonexistent/ints.npz'; ...
    """
    fix = DEFAULT_FIX if fix is None else fix
    path = Path(path)
    if not path.exists():
        raise CorruptFileError(f"no interactions file at {str(path)!r}; {fix}", path)
    data = read_npz(path, fix=fix)
    if "__meta__" not in data:
        raise CorruptFileError(f"{str(path)!r} is not a genphase interactions file (no metadata entry); {fix}", path)
    try:
        meta = json.loads(bytes(data["__meta__"]).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{str(path)!r} has unreadable metadata ({exc}); {fix}", path) from exc
    if not isinstance(meta, dict):
        raise CorruptFileError(f"{str(path)!r} has malformed metadata (not a mapping); {fix}", path)
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            f"{str(path)!r} has format version {meta['format_version']}, newer than this genphase "
            f"({FORMAT_VERSION}); upgrade genphase to read it"
        )
    missing = [k for k in ARRAY_FIELDS if k not in data] + [k for k in ("noise_bound", "solver") if k not in meta]
    if missing:
        raise CorruptFileError(f"{str(path)!r} lacks the entries {missing} of an interactions file; {fix}", path)
    return {k: data[k] for k in ARRAY_FIELDS}, meta
