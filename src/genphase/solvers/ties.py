"""The tie rule: which of several optima of Eq. 6 genphase reports (docs/solver.md, "Ties")."""

from __future__ import annotations

import torch

from .certificate import relative_gap
from .result import SolveResult

__all__ = ["split_singletons_evenly"]


def split_singletons_evenly(part: SolveResult, n: int) -> None:
    """One-variable terms: AND {i} and OR {i} trigger on the same masks, so only their sum is
    identified; report it split evenly (never raises the objective). Changes ``part`` in place.

    >>> import torch
    >>> r = SolveResult(torch.tensor([[0.0, 2.0]]), torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([2.0]),
    ...                 torch.tensor([2.0]), torch.zeros(1), torch.zeros(1), torch.ones(1, dtype=torch.bool))
    >>> split_singletons_evenly(r, 1); r.and_effects.tolist(), r.or_effects.tolist()
    ([[0.0, 1.0]], [[0.0, 1.0]])
    """
    idx = torch.as_tensor([1 << i for i in range(n)], dtype=torch.long, device=part.and_effects.device)
    a, o = part.and_effects, part.or_effects
    half = 0.5 * (a[:, idx] + o[:, idx])
    old = a[:, idx].abs().sum(-1) + o[:, idx].abs().sum(-1)
    a[:, idx] = half
    o[:, idx] = half
    part.objective = part.objective - old + 2.0 * half.abs().sum(-1)
    lb, ob = part.lower_bound, part.objective
    if part.gap.dtype.is_floating_point and not bool(torch.isnan(lb).any()):
        part.gap = relative_gap(ob, lb, 1e-12)
