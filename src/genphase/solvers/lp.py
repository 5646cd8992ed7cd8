"""Exact LP reference solver (scipy HiGHS) for small ``n``; used for verification and benchmarks.

It solves the same problem as :mod:`genphase.solvers.halpern` as an explicit sparse LP with
``3**n``-nonzero constraint blocks, so it is practical up to about ``n = 10..12``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import optimize, sparse

from .result import SolveResult

__all__ = ["solve_lp_highs", "solve_highs"]


def _zeta_matrix(n: int) -> sparse.csr_matrix:
    z1 = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0]]))
    m = sparse.csr_matrix(np.ones((1, 1)))
    for _ in range(n):
        m = sparse.kron(z1, m, format="csr")
    return m


def solve_lp_highs(v: np.ndarray, eta: np.ndarray | float = 0.0, *, time_limit: float | None = None):
    """Solve each sample of ``v`` (``[B, 2**n]``) exactly with HiGHS.

    Returns ``(and_effects, or_effects, noise, objective)`` as numpy arrays; entry 0 of the
    effects is 0. ``eta`` is the absolute noise bound per sample (scalar or ``[B]``).

    >>> import numpy as np
    >>> v = np.array([[0.0, 0.0, 0.0, 1.0]])  # v(S) = 1 only when both variables are present: one AND effect
    >>> and_eff, or_eff, noise, obj = solve_lp_highs(v)
    >>> (and_eff.round(6) + 0.0).tolist(), float(np.abs(or_eff).sum().round(6)), obj.round(6).tolist()
    ([[0.0, 0.0, 0.0, 1.0]], 0.0, [1.0])
    """
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    B, size = v.shape
    n = size.bit_length() - 1
    eta = np.broadcast_to(np.asarray(eta, dtype=np.float64), (B,))
    Z = _zeta_matrix(n)
    RZ = Z[::-1]
    I = sparse.identity(size, format="csr")
    # variables: alpha+ (size), alpha- (size), beta+ (size), beta- (size), q (size)
    A = sparse.hstack([Z, -Z, RZ, -RZ, -I], format="csr")
    c = np.concatenate([np.ones(size), np.ones(size), np.ones(size), np.ones(size), np.zeros(size)])
    for blk in range(4):
        c[blk * size] = 0.0  # the {} entries are free and cost nothing
    ands, ors, qs, objs = [], [], [], []
    opts = {"presolve": True}
    if time_limit is not None:
        opts["time_limit"] = float(time_limit)
    for b in range(B):
        bounds = [(0, None)] * (4 * size) + [(-eta[b], eta[b])] * size
        res = optimize.linprog(c, A_eq=A, b_eq=v[b], bounds=bounds, method="highs", options=opts)
        if res.x is None:
            raise RuntimeError(f"HiGHS failed on sample {b}: {res.message}")
        x = res.x
        alpha = x[:size] - x[size : 2 * size]
        beta = x[2 * size : 3 * size] - x[3 * size : 4 * size]
        alpha[0] = 0.0
        beta[0] = 0.0
        ands.append(alpha)
        ors.append(-beta)
        qs.append(x[4 * size :])
        objs.append(res.fun)
    return np.stack(ands), np.stack(ors), np.stack(qs), np.asarray(objs)


def solve_highs(vb: torch.Tensor, eta: torch.Tensor, **options) -> SolveResult:
    """:func:`solve_lp_highs` on a torch batch ``vb`` ``[B, 2**n]`` (noise bounds ``eta`` ``[B]``),
    as a :class:`SolveResult` in ``vb``'s dtype and device; its lower bound is the LP optimum
    (exact up to HiGHS's optimality tolerance, about 1e-9), its gap 0.

    >>> r = solve_highs(torch.tensor([[0.0, 1.0, 1.0, 1.0]], dtype=torch.float64), torch.zeros(1))
    >>> round(float(r.objective[0]), 9)
    1.0
    """
    a, o, q, obj = solve_lp_highs(vb.cpu().numpy(), eta.cpu().numpy(), **options)
    t = lambda x: torch.as_tensor(x, dtype=vb.dtype, device=vb.device)  # noqa: E731
    obj_t = t(obj)
    return SolveResult(
        and_effects=t(a),
        or_effects=t(o),
        noise=t(q),
        objective=obj_t,
        lower_bound=obj_t.clone(),
        gap=torch.zeros_like(obj_t),
        iterations=torch.zeros_like(obj_t, dtype=torch.long),
        converged=torch.ones_like(obj_t, dtype=torch.bool),
    )
