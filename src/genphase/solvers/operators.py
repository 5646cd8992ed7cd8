"""Linear maps of the problem form (docs/solver.md): ``t``, ``Zup``, ``C``, exact OR completion and
the Kronecker inverses ``(I + kron(m, ..., m))^{-1}`` used by the splitting solvers."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..transforms import (
    _apply_plan,
    _plan_torch,
    kron_operator,
    moebius,
    order_parity,
    reverse,
    subset_orders,
    superset_moebius,
    superset_zeta,
)

__all__ = ["t_vector", "or_from_and", "KTK", "CTC", "C1", "block_operator", "eig_parts"]

#: per-variable factor of ``Zup^T Zup``
KTK = np.array([[1.0, 1.0], [1.0, 2.0]])
#: per-variable factor of ``C^T C``
CTC = np.array([[1.0, -1.0], [-1.0, 2.0]])
#: per-variable factor of ``C`` (``C q = parity * Moebius(reverse(q))``; ``C1.T @ C1 == CTC``)
C1 = np.array([[0.0, 1.0], [-1.0, 1.0]])
#: up to this n, :func:`block_operator` applies all blocks in one batched product per chunk
#: (fewer, larger BLAS calls: 2-3x faster at n = 10 with small batches); above, block by block
FUSE_MAX_N = 12


def operator(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> kron(m, ..., m) x`` (``n`` factors) in ``like``'s dtype and device."""
    if n == 0:
        return lambda x: x.clone()  # the empty Kronecker product is the 1x1 identity
    return kron_operator(m, n, dtype=like.dtype, device=like.device)


def block_operator(mats: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> y`` with ``y[:, i, ..., :] = kron(mats[i, ...], ..., mats[i, ...]) x[:, i, ..., :]``.

    ``mats`` has shape ``[*L, 2, 2]`` (one 2x2 factor per block); ``x`` has shape ``[B, *L', 2**n]``
    with ``L'`` broadcastable to ``L`` (a block axis of size 1 feeds every factor of that axis);
    ``y`` has shape ``[B, *L, 2**n]``.

    >>> op = block_operator(np.stack([np.eye(2), 2 * np.eye(2)]), 1, torch.empty(0))
    >>> op(torch.ones(1, 1, 2)).tolist()
    [[[1.0, 1.0], [2.0, 2.0]]]
    """
    mats = np.asarray(mats, dtype=np.float64)
    lead = mats.shape[:-2]
    if n == 0:  # the empty Kronecker product is the 1x1 identity
        return lambda x: x.expand(x.shape[0], *lead, x.shape[-1]).clone()
    flat = mats.reshape(-1, 2, 2)
    plans = [_plan_torch(m, n, like.dtype, like.device) for m in flat]
    if n > FUSE_MAX_N:
        def apply_each(x: torch.Tensor) -> torch.Tensor:
            xb = x.expand(x.shape[0], *lead, x.shape[-1]).reshape(x.shape[0], len(plans), x.shape[-1])
            return torch.stack([_apply_plan(xb[:, i], plans[i]) for i in range(len(plans))], 1).reshape(
                x.shape[0], *lead, x.shape[-1])
        return apply_each
    stacked = [torch.stack([p[c] for p in plans]).reshape(*lead, *plans[0][c].shape) for c in range(len(plans[0]))]

    def apply(x: torch.Tensor) -> torch.Tensor:
        B, size = x.shape[0], x.shape[-1]
        y, lo = x, 0
        for mat in stacked:
            d = mat.shape[-1]
            if lo == 0:  # bits [0, c): (rows, d) @ factor^T (stored transposed), all blocks at once
                y = y.reshape(B, *y.shape[1:-1], -1, d) @ mat
            else:
                y = mat.reshape(*lead, 1, d, d) @ y.reshape(B, *lead, -1, d, 1 << lo)
            lo += d.bit_length() - 1
        return y.reshape(B, *lead, size)

    return apply


def eig_parts(m: np.ndarray, n: int, like: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Eigenvectors ``w`` (2x2) of a symmetric 2x2 ``m`` and the kernel ``1 / (1 + lam)`` over the
    eigenvalues ``lam`` of ``kron(m, ..., m)`` in the basis ``kron(w, ..., w)`` (``[2**n]``, ``like``'s
    dtype): ``(I + kron(m,...))^{-1} = kron(w) diag(kernel) kron(w)^T``.

    >>> import numpy as np
    >>> m = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> w, kernel = eig_parts(m, 2, torch.zeros(1, dtype=torch.float64))
    >>> W = np.kron(w, w)
    >>> bool(np.allclose(W @ np.diag(kernel.numpy()) @ W.T, np.linalg.inv(np.eye(4) + np.kron(m, m))))
    True
    """
    evals, evecs = np.linalg.eigh(m)
    k = torch.as_tensor(np.array(subset_orders(n)), device=like.device).to(torch.float64)
    lam = (float(evals[0]) ** (n - k)) * (float(evals[1]) ** k)
    return evecs, (1.0 / (1.0 + lam)).to(like.dtype)


def eig_solver(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x -> (I + kron(m,...,m))^{-1} x`` for a symmetric 2x2 ``m``, in ``like``'s dtype."""
    evecs, kernel = eig_parts(m, n, like)
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
