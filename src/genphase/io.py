"""Persistence of :class:`~genphase.interactions.AndOrInteractions` and conversion to shapiq.

Format: one compressed ``.npz`` file holding the arrays plus a ``__meta__`` entry with JSON
metadata (n, variables, solver, noise bound, value function and masker when known, genphase,
numpy and torch versions). Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._atomic import atomic_write
from .errors import InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from .interactions import AndOrInteractions

__all__ = ["save_interactions", "load_interactions", "to_shapiq", "FORMAT_VERSION"]

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
    """Write ``result`` to ``path`` (``.npz`` appended if missing), atomically. Returns the path."""
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
    """Read a file written by :func:`save_interactions`."""
    from .interactions import AndOrInteractions

    path = Path(path)
    if not path.exists():
        raise InputError(f"no interactions file at {str(path)!r}")
    with np.load(path, allow_pickle=False) as data:
        if "__meta__" not in data:
            raise InputError(f"{str(path)!r} is not a genphase interactions file (no metadata entry)")
        meta = json.loads(bytes(data["__meta__"]).decode())
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(
                f"{str(path)!r} has format version {meta['format_version']}, newer than this genphase "
                f"({FORMAT_VERSION}); upgrade genphase to read it"
            )
        arrays = {k: data[k] for k in _ARRAYS}
    return AndOrInteractions(
        **arrays,
        noise_bound=float(meta["noise_bound"]),
        solver=str(meta["solver"]),
        variables=tuple(meta["variables"]) if meta.get("variables") is not None else None,
        metadata=dict(meta.get("metadata") or {}),
    )


def to_shapiq(result: "AndOrInteractions", sample: Any = 0, *, kind: str = "and"):
    """One sample as ``shapiq.InteractionValues``.

    ``kind="and"``: the AND effects (with ``bias`` as the empty coalition), index ``"Moebius"``;
    ``kind="harsanyi"``: the plain Moebius transform of ``values`` (shapiq's exact Moebius values);
    ``kind="or"``: the OR effects, index ``"Moebius"`` as the closest shapiq index.
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
