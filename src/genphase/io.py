"""Persistence of :class:`~genphase.interactions.AndOrInteractions` and conversion to shapiq.

Format: one compressed ``.npz`` file holding the arrays plus a ``__meta__`` entry with JSON
metadata (n, variables, solver, noise bound, value function and masker when known, genphase,
numpy and torch versions). Writes are atomic (temporary file, then rename).

Reading never runs pickled code: ``.npz`` files are opened with pickling disabled and torch
checkpoints (:func:`load_checkpoint`) with ``weights_only`` unless you explicitly trust the file.
A missing, truncated or foreign file raises :class:`~genphase.errors.CorruptFileError` naming it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._atomic import atomic_write
from ._readers import DEFAULT_FIX, read_npz, read_torch
from .errors import CorruptFileError, InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from .interactions import AndOrInteractions

__all__ = ["save_interactions", "load_interactions", "load_checkpoint", "to_shapiq", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_ARRAYS = (
    "and_effects", "or_effects", "bias", "noise", "values", "objective",
    "lower_bound", "gap", "iterations", "converged",
)


def _versions() -> dict[str, str]:
    import torch

    from . import __version__

    return {"genphase": __version__, "numpy": np.__version__, "torch": torch.__version__}


def save_interactions(result: "AndOrInteractions", path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` (``.npz`` appended if missing), atomically. Returns the path.

    >>> import tempfile
    >>> from genphase import AndOrInteractions
    >>> res = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> path = save_interactions(res, tempfile.mkdtemp() + "/ints")  # ".npz" is appended
    >>> path.name, load_interactions(path).and_effects.tolist()
    ('ints.npz', [0.0, 0.0, 0.0, 1.0])
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "n": result.n,
        "batch_shape": list(result.batch_shape),
        "noise_bound": result.noise_bound,
        "solver": result.solver,
        "variables": list(result.variables) if result.variables is not None else None,
        "metadata": result.metadata,
        "versions": _versions(),
    }
    arrays = {k: getattr(result, k) for k in _ARRAYS}
    payload = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
    atomic_write(path, lambda fh: np.savez_compressed(fh, __meta__=payload, **arrays))
    return path


def load_interactions(path: str | os.PathLike) -> "AndOrInteractions":
    """Read a file written by :func:`save_interactions`.

    Raises :class:`~genphase.errors.CorruptFileError` (naming the file) when it is missing, truncated,
    not an interactions file, or holds pickled objects.

    >>> import tempfile, numpy as np, genphase as gp
    >>> res = gp.extract_and_or(np.arange(4.0))
    >>> path = gp.save_interactions(res, tempfile.mkdtemp() + "/ints.npz")
    >>> gp.load_interactions(path).n
    2
    """
    return _load_interactions(path, DEFAULT_FIX)


def _load_interactions(path: str | os.PathLike, fix: str) -> "AndOrInteractions":
    from .interactions import AndOrInteractions

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
    missing = [k for k in _ARRAYS if k not in data] + [k for k in ("noise_bound", "solver") if k not in meta]
    if missing:
        raise CorruptFileError(f"{str(path)!r} lacks the entries {missing} of an interactions file; {fix}", path)
    try:
        return AndOrInteractions(
            **{k: data[k] for k in _ARRAYS},
            noise_bound=float(meta["noise_bound"]),
            solver=str(meta["solver"]),
            variables=tuple(meta["variables"]) if meta.get("variables") is not None else None,
            metadata=dict(meta.get("metadata") or {}),
        )
    except (InputError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"{str(path)!r} holds inconsistent interactions ({exc}); {fix}", path) from exc


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


def to_shapiq(result: "AndOrInteractions", sample: Any = 0, *, kind: str = "and"):
    """One sample as ``shapiq.InteractionValues``.

    ``kind="and"``: the AND effects (with ``bias`` as the empty coalition), index ``"Moebius"``;
    ``kind="harsanyi"``: the plain Moebius transform of ``values`` (shapiq's exact Moebius values);
    ``kind="or"``: the OR effects, index ``"Moebius"`` as the closest shapiq index.

    >>> from genphase import AndOrInteractions
    >>> res = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 0.0], bias=0.5)
    >>> iv = to_shapiq(res, kind="and")  # the bias is the empty coalition
    >>> iv.index, iv.n_players, iv.dict_values
    ('Moebius', 2, {(): 0.5, (0, 1): 2.0})
    """
    shapiq = require("shapiq", "shapiq", "Conversion to shapiq.InteractionValues")
    from .transforms import moebius

    one = result[sample] if result.batch_shape else result
    if kind == "and":
        vec = one.and_effects.copy()
        vec[0] = one.bias
    elif kind == "or":
        vec = one.or_effects.copy()
        vec[0] = one.bias
    elif kind == "harsanyi":
        vec = moebius(one.values)
    else:
        raise InputError(f"kind must be 'and', 'or' or 'harsanyi', got {kind!r}")
    n = result.n
    nz = np.nonzero(vec)[0]
    if 0 not in nz:
        nz = np.concatenate([[0], nz])
    lookup = {}
    vals = np.empty(len(nz))
    for pos, mask in enumerate(nz):
        lookup[tuple(i for i in range(n) if (int(mask) >> i) & 1)] = pos
        vals[pos] = vec[mask]
    return shapiq.InteractionValues(
        values=vals,
        index="Moebius",
        max_order=n,
        min_order=0,
        n_players=n,
        interaction_lookup=lookup,
        baseline_value=float(vec[0]),
        estimated=False,
    )
