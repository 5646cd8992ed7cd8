"""Linear maps of the problem form (docs/solver.md): ``t``, ``Zup``, ``C``, exact OR completion and
the Kronecker inverses ``(I + kron(m, ..., m))^{-1}`` used by the splitting solvers."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..transforms import kron_operator, moebius, order_parity, reverse, subset_orders, superset_moebius, superset_zeta

__all__ = ["t_vector", "or_from_and", "KTK", "CTC"]

#: per-variable factor of ``Zup^T Zup``
KTK = np.array([[1.0, 1.0], [1.0, 2.0]])
#: per-variable factor of ``C^T C``
CTC = np.array([[1.0, -1.0], [-1.0, 2.0]])


def operator(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> kron(m, ..., m) x`` (``n`` factors) in ``like``'s dtype and device."""
    if n == 0:
        return lambda x: x.clone()  # the empty Kronecker product is the 1x1 identity
    return kron_operator(m, n, dtype=like.dtype, device=like.device)


def eig_solver(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x -> (I + kron(m,...,m))^{-1} x`` for a symmetric 2x2 ``m``, in ``like``'s dtype."""
    evals, evecs = np.linalg.eigh(m)
    k = torch.as_tensor(np.array(subset_orders(n)), device=like.device).to(like.dtype)
    lam = (float(evals[0]) ** (n - k)) * (float(evals[1]) ** k)
    kernel = 1.0 / (1.0 + lam)
    to_eig, from_eig = operator(evecs.T.copy(), n, like), operator(evecs.copy(), n, like)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return from_eig(to_eig(x) * kernel)

    return apply


def parity(n: int, like: torch.Tensor) -> torch.Tensor:
    """``(-1)^|U|`` for every subset, in ``like``'s dtype and device."""
    return torch.as_tensor(np.array(order_parity(n)), dtype=like.dtype, device=like.device)


def t_vector(v: torch.Tensor) -> torch.Tensor:
    """``t[U] = (-1)^|U| Moebius(v reversed)[U]``, shape of ``v``.

    >>> t_vector(torch.tensor([[0.0, 1.0]])).tolist()
    [[1.0, 1.0]]
    """
    n = v.shape[-1].bit_length() - 1
    return parity(n, v) * moebius(reverse(v))


def c_apply(q: torch.Tensor, par: torch.Tensor) -> torch.Tensor:
    """``C q``: the effect of the noise ``q`` on ``t``."""
    return par * moebius(reverse(q))


def ct_apply(y: torch.Tensor, par: torch.Tensor) -> torch.Tensor:
    """``C^T y``."""
    return reverse(superset_moebius(par * y))


def or_from_and(a: torch.Tensor, t: torch.Tensor, cq: torch.Tensor | None, par: torch.Tensor) -> torch.Tensor:
    """Exact OR effects implied by AND effects ``a`` (and noise effect ``C q``); entry 0 set to 0.

    >>> v = torch.tensor([[0.0, 1.0]])
    >>> or_from_and(torch.zeros(1, 2, dtype=v.dtype), t_vector(v), None, parity(1, v)).tolist()
    [[0.0, 1.0]]
    """
    r = superset_zeta(a) - t
    if cq is not None:
        r = r - cq
    out = par * r
    out[..., 0] = 0.0
    return out


def l1(x: torch.Tensor) -> torch.Tensor:
    """``sum_{T != {}} |x[T]|`` over the last axis."""
    return x[..., 1:].abs().sum(-1)
