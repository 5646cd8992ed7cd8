"""The typed result every solver returns (:class:`SolveResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Union

import numpy as np
import torch

__all__ = ["SolveResult"]

Arr = Union[torch.Tensor, np.ndarray]


@dataclass
class SolveResult:
    """Per-sample solver output. Inside the solvers the arrays are torch tensors on the input's
    device; :func:`genphase.solvers.solve` returns numpy arrays (:meth:`numpy`).

    Shapes (``B`` samples, ``n`` variables): ``and_effects``, ``or_effects``, ``noise``
    ``[B, 2**n]`` (entry 0 of the effects is 0); ``objective`` (Eq. 6 over ``T != {}``),
    ``lower_bound`` (certified), ``gap`` (certified relative gap), ``iterations`` and
    ``converged`` ``[B]``. ``metadata`` is a JSON-friendly dict shared by the batch (e.g. the
    tie rule).

    >>> import torch
    >>> r = SolveResult(*(torch.zeros(1, 2) for _ in range(3)), *(torch.zeros(1) for _ in range(5)))
    >>> r.numpy().and_effects.shape
    (1, 2)
    """

    and_effects: Arr
    or_effects: Arr
    noise: Arr
    objective: Arr
    lower_bound: Arr
    gap: Arr
    iterations: Arr
    converged: Arr
    metadata: dict[str, Any] = field(default_factory=dict)

    def arrays(self) -> dict[str, Arr]:
        """The per-sample fields by name (every field but ``metadata``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "metadata"}

    def numpy(self) -> "SolveResult":
        """The same result with every array as a numpy array on the CPU."""
        conv = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in self.arrays().items()}
        return replace(self, **conv)

    @staticmethod
    def concat(parts: list["SolveResult"]) -> "SolveResult":
        """Concatenate numpy results along the batch axis; metadata: the first part's, with list
        values merged over all parts (sorted, without repeats)."""
        names = parts[0].arrays().keys()
        meta = dict(parts[0].metadata)
        for key, val in meta.items():
            if isinstance(val, list):
                meta[key] = sorted({x for p in parts for x in p.metadata.get(key, [])})
        return SolveResult(**{k: np.concatenate([np.asarray(getattr(p, k)) for p in parts]) for k in names}, metadata=meta)
