"""Reading and writing genphase's files: interactions (:func:`save_interactions`,
:func:`load_interactions`), torch checkpoints (:func:`load_checkpoint`), and conversion to shapiq.

Interactions files: one compressed ``.npz`` holding the arrays plus a ``__meta__`` entry with
JSON metadata (n, variables, solver, noise bound, value function and masker when known, genphase,
numpy and torch versions); the format itself is in :mod:`genphase._interactions_file`, below the
result type, which calls down into it (:meth:`AndOrInteractions.save`, :meth:`AndOrInteractions.load`).
Writes are atomic (temporary file, then rename).

Reading never runs pickled code: ``.npz`` files are opened with pickling disabled and torch
checkpoints (:func:`load_checkpoint`) with ``weights_only`` unless you explicitly trust the file.
A missing, truncated or foreign file raises :class:`~genphase.errors.CorruptFileError` naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._interactions_file import FORMAT_VERSION
from ._readers import read_torch
from .interactions import AndOrInteractions

__all__ = ["save_interactions", "load_interactions", "load_checkpoint", "to_shapiq", "FORMAT_VERSION"]


def save_interactions(result: AndOrInteractions, path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` (``.npz`` appended if missing), atomically. Returns the path.

    >>> import tempfile, numpy as np, genphase as gp
    >>> gp.save_interactions(gp.extract_and_or(np.arange(4.0)), tempfile.mkdtemp() + "/ints").name
    'ints.npz'
    """
    return result.save(path)


def load_interactions(path: str | os.PathLike) -> AndOrInteractions:
    """Read a file written by :func:`save_interactions`.

    Raises :class:`~genphase.errors.CorruptFileError` (naming the file) when it is missing, truncated,
    not an interactions file, or holds pickled objects.

    >>> import tempfile, numpy as np, genphase as gp
    >>> res = gp.extract_and_or(np.arange(4.0))
    >>> path = gp.save_interactions(res, tempfile.mkdtemp() + "/ints.npz")
    >>> gp.load_interactions(path).n
    2
    """
    return AndOrInteractions.load(path)


def _load_interactions(path: str | os.PathLike, fix: str) -> AndOrInteractions:
    """:func:`load_interactions` with the remedy ``fix`` named in its errors (run directories)."""
    return AndOrInteractions.load(path, fix=fix)


def load_checkpoint(
    path: str | os.PathLike, *, map_location: Any = None, trust_pickle: bool = False
) -> Any:
    """Load a torch checkpoint (a ``state_dict`` or any file of tensors, numbers, strings, lists, dicts).

    Pickled code never runs: the file is read with ``torch.load(..., weights_only=True)``, and one
    that needs more (a whole pickled ``nn.Module``, a ``__reduce__`` payload) raises
    :class:`~genphase.errors.UnsafePickleError`. ``trust_pickle=True`` lifts that guard and loads
    whole pickled objects: **the file can then run arbitrary code on your machine**; use it only for
    files you made yourself or whose author you trust.

    >>> import tempfile, torch
    >>> path = tempfile.mkdtemp() + "/m.pt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> sorted(load_checkpoint(path))
    ['bias', 'weight']
    """
    return read_torch(path, map_location=map_location, trust_pickle=trust_pickle)


def to_shapiq(result: AndOrInteractions, sample: Any = 0, *, kind: str = "and"):
    """One sample as ``shapiq.InteractionValues``: :meth:`AndOrInteractions.to_shapiq`.

    >>> import numpy as np, genphase as gp
    >>> iv = to_shapiq(gp.extract_and_or(np.array([0.0, 1.0, 1.0, 3.0])), kind="harsanyi")
    >>> round(float(iv[(0, 1)]), 6)
    1.0
    """
    return result.to_shapiq(sample, kind=kind)
