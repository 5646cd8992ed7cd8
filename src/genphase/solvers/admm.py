"""Exact sparsest AND-OR decomposition by ADMM with the closed-form Kronecker inverse.

Problem (SCIENCE.md Eq. 6, with optional bounded noise): for each sample, find
AND effects ``alpha`` and (negated) OR effects ``beta`` minimising

    sum_{T != {}} |alpha[T]| + |beta[T]|
    subject to  | Z alpha + R Z beta - v |  <=  eta      (elementwise over all 2^n masks)

where ``Z`` is the subset-sum transform and ``R`` the complement map. ``Z alpha`` is the
AND output ``o_and``, ``R Z beta`` the OR output ``o_or`` and their sum is ``v + q``.
The OR effects are ``-beta`` (entry 0 excepted). With ``eta = 0`` this is exactly
min over gamma of ||I_and||_1 + ||I_or||_1.

Splitting: ``p1 = alpha, p2 = beta, e1 = Z alpha, e2 = R Z beta``; the alpha/beta update
needs ``(I + Z^T Z)^{-1}``, which is the Kronecker product of 2x2 eigen-decompositions and
costs four fast transforms; the rest are elementwise proxes (soft threshold and a
projection onto ``|e1 + e2 - v| <= eta``). Over-relaxation, per-sample residual balancing
of rho, and per-sample early exit are used. Every ``check_every`` iterations a feasible
primal point and a feasible dual point are built; the dual point gives a certified lower
bound on the optimum (weak duality), hence a certified relative gap.

Tie-breaking: a tiny strictly convex term ``(eps/2) * (||alpha||^2 + ||beta||^2)`` (entries
``T != {}``) is added inside the solver, so among L1-optimal decompositions the one with the
least sum of squared effects is approached (exact regularisation of LPs). This splits
strength evenly between decompositions that tie, e.g. a one-variable effect is returned as
half AND, half OR. The reported objective and gap are those of the pure L1 problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..transforms import kron_apply, reverse, subset_orders, superset_zeta, zeta

__all__ = ["ADMMOptions", "SolveResult", "solve_admm", "dual_lower_bound", "feasible_primal"]


@dataclass(frozen=True)
class ADMMOptions:
    """Parameters of :func:`solve_admm` (all in units of the normalised game)."""

    tol: float = 1e-3
    max_iter: int = 20000
    rho: float = 1.0
    relax: float = 1.6
    check_every: int = 20
    adapt_every: int = 20
    adapt_mu: float = 5.0
    adapt_tau: float = 2.0
    tiebreak: float = 1e-6
    abs_tol: float = 1e-9


@dataclass
class SolveResult:
    """Raw solver output, tensors of shape ``[B, 2**n]`` / ``[B]`` on the input's device."""

    and_effects: torch.Tensor
    or_effects: torch.Tensor
    noise: torch.Tensor
    objective: torch.Tensor
    lower_bound: torch.Tensor
    gap: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor


# Eigen-decomposition of the per-variable factor of Z^T Z = [[2, 1], [1, 1]]
# (rows/cols: bit absent, bit present).
_ZTZ = np.array([[2.0, 1.0], [1.0, 1.0]])
_EVALS, _EVECS = np.linalg.eigh(_ZTZ)


def _inv_kernel(n: int, like: torch.Tensor) -> torch.Tensor:
    """``1 / (1 + prod_i lambda_{bit_i})`` in the Kronecker eigenbasis, shape ``[2**n]``."""
    k = torch.as_tensor(subset_orders(n), device=like.device)
    lam = _EVALS[0] ** (n - k).to(like.dtype) * _EVALS[1] ** k.to(like.dtype)
    return 1.0 / (1.0 + lam)


def _solve_normal(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Apply ``(I + Z^T Z)^{-1}`` along the last axis."""
    y = kron_apply(x, _EVECS.T)
    y = y * kernel
    return kron_apply(y, _EVECS)


def _l1(x: torch.Tensor) -> torch.Tensor:
    return x[..., 1:].abs().sum(-1)


def feasible_primal(
    alpha: torch.Tensor, beta: torch.Tensor, v: torch.Tensor, eta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Make ``(alpha, beta)`` exactly feasible: keep ``alpha``, let ``beta`` absorb the residual.

    Returns ``(alpha, beta, q, objective)`` with ``q = clip(Z alpha + R Z beta - v, +-eta)`` and
    ``R Z beta = v + q - Z alpha`` holding to round-off.
    """
    za = zeta(alpha)
    resid = za + reverse(zeta(beta)) - v
    q = torch.maximum(torch.minimum(resid, eta[:, None]), -eta[:, None])
    y = v + q - za
    # R Z beta = y  <=>  beta = M R y
    beta = kron_apply(reverse(y), np.array([[1.0, 0.0], [-1.0, 1.0]]))
    obj = _l1(alpha) + _l1(beta)
    return alpha, beta, q, obj


def dual_lower_bound(lam: torch.Tensor, v: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Certified lower bound on the optimum from any dual candidate ``lam`` (shape ``[B, 2**n]``).

    The dual of the problem is ``max -v.lam - eta ||lam||_1`` over ``lam`` with
    ``sum(lam) = 0``, ``|Zup lam|[T] <= 1`` and ``|Zup R lam|[T] <= 1`` for ``T != {}``.
    ``lam`` is centred and scaled into that set; both signs are tried.
    """
    lam = lam - lam.mean(-1, keepdim=True)
    s1 = superset_zeta(lam)[..., 1:].abs().amax(-1)
    s2 = superset_zeta(reverse(lam))[..., 1:].abs().amax(-1)
    s = torch.clamp(torch.maximum(s1, s2), min=1.0)
    lin = (v * lam).sum(-1)
    pen = eta * lam.abs().sum(-1)
    best = torch.maximum(-lin - pen, lin - pen) / s
    return torch.clamp(best, min=0.0)


def solve_admm(
    v: torch.Tensor,
    eta: torch.Tensor,
    options: ADMMOptions = ADMMOptions(),
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    progress=None,
) -> SolveResult:
    """Solve a batch. ``v``: ``[B, 2**n]`` float64 (normalised); ``eta``: ``[B]`` noise bounds.

    ``init`` optionally gives starting ``(alpha, beta)`` (warm start, e.g. the previous
    checkpoint's AND effects and negated OR effects).
    """
    B, size = v.shape
    n = size.bit_length() - 1
    dev, dt = v.device, v.dtype
    kernel = _inv_kernel(n, v)
    w = torch.ones(size, dtype=dt, device=dev)
    w[0] = 0.0  # entry {} is free
    o = options

    # state, shape [2, B, size]: index 0 = alpha side, 1 = beta side
    if init is None:
        p = torch.zeros(2, B, size, dtype=dt, device=dev)
    else:
        p = torch.stack([init[0], init[1]]).to(dtype=dt, device=dev).clone()
    ze = zeta(p)
    e = torch.stack([ze[0], reverse(ze[1])])
    e = _project(e, v, eta)
    u = torch.zeros_like(p)
    d = torch.zeros_like(p)
    rho = torch.full((B, 1), float(o.rho), dtype=dt, device=dev)

    out_alpha = torch.zeros(B, size, dtype=dt, device=dev)
    out_beta = torch.zeros_like(out_alpha)
    out_q = torch.zeros_like(out_alpha)
    out_obj = torch.full((B,), math.inf, dtype=dt, device=dev)
    out_lb = torch.zeros(B, dtype=dt, device=dev)
    out_it = torch.zeros(B, dtype=torch.long, device=dev)
    out_conv = torch.zeros(B, dtype=torch.bool, device=dev)
    active = torch.arange(B, device=dev)

    va, etaa = v, eta
    it = 0
    while active.numel() > 0 and it < o.max_iter:
        it += 1
        # --- u-update: (I + Z^T Z) x = (p - u) + Z^T (e' - d') with e' = [e1, R e2]
        rhs_e = e - d
        rhs_e = torch.stack([rhs_e[0], reverse(rhs_e[1])])
        x = _solve_normal((p - u) + superset_zeta(rhs_e), kernel)
        zx = zeta(x)
        ax = torch.stack([zx[0], reverse(zx[1])])
        # --- over-relaxation
        hx = o.relax * x + (1.0 - o.relax) * p
        hax = o.relax * ax + (1.0 - o.relax) * e
        # --- g-update
        r = rho[None]
        c = hx + u
        thr = w / r
        p_new = torch.sign(c) * torch.clamp(c.abs() - thr, min=0.0)
        if o.tiebreak > 0:
            p_new = p_new / (1.0 + (o.tiebreak * w) / r)
        e_new = _project(hax + d, va, etaa)
        # --- dual update
        u = u + hx - p_new
        d = d + hax - e_new
        if it % o.adapt_every == 0:
            pr = torch.sqrt(((x - p_new) ** 2).sum((0, 2)) + ((ax - e_new) ** 2).sum((0, 2)))
            dp = p_new - p
            de = e_new - e
            de_back = superset_zeta(torch.stack([de[0], reverse(de[1])]))
            dr = rho[:, 0] * torch.sqrt(((dp + de_back) ** 2).sum((0, 2)))
            up = pr > o.adapt_mu * dr
            down = dr > o.adapt_mu * pr
            scale = torch.ones_like(rho[:, 0])
            scale = torch.where(up, torch.full_like(scale, o.adapt_tau), scale)
            scale = torch.where(down, torch.full_like(scale, 1.0 / o.adapt_tau), scale)
            rho = rho * scale[:, None]
            u = u / scale[None, :, None]
            d = d / scale[None, :, None]
        p, e = p_new, e_new

        if it % o.check_every == 0 or it == o.max_iter:
            alpha, beta, q, obj = feasible_primal(p[0], p[1], va, etaa)
            lam = rho * (d[0] + d[1]) * 0.5
            lb = dual_lower_bound(lam, va, etaa)
            better = obj < out_obj[active]
            idx_b = active[better]
            out_alpha[idx_b] = alpha[better]
            out_beta[idx_b] = beta[better]
            out_q[idx_b] = q[better]
            out_obj[idx_b] = obj[better]
            out_lb[active] = torch.maximum(out_lb[active], lb)
            out_it[active] = it
            ob = out_obj[active]
            gap = (ob - out_lb[active]) / torch.clamp(out_lb[active], min=o.abs_tol)
            done = (gap <= o.tol) | (ob <= o.abs_tol)
            if progress is not None:
                progress(it, int(done.sum()), active.numel())
            if bool(done.any()):
                out_conv[active[done]] = True
                keep = ~done
                active = active[keep]
                p, e, u, d = p[:, keep], e[:, keep], u[:, keep], d[:, keep]
                rho = rho[keep]
                va, etaa = va[keep], etaa[keep]

    gap = (out_obj - out_lb) / torch.clamp(out_lb, min=o.abs_tol)
    gap = torch.where(out_obj <= o.abs_tol, torch.zeros_like(gap), gap)
    return SolveResult(
        and_effects=out_alpha,
        or_effects=-out_beta,
        noise=out_q,
        objective=out_obj,
        lower_bound=out_lb,
        gap=torch.clamp(gap, min=0.0),
        iterations=out_it,
        converged=out_conv,
    )


def _project(e: torch.Tensor, v: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Project pairs ``(e1, e2)`` onto ``|e1 + e2 - v| <= eta`` (elementwise)."""
    s = e[0] + e[1]
    target = torch.maximum(torch.minimum(s, v + eta[:, None]), v - eta[:, None])
    corr = 0.5 * (target - s)
    return e + corr[None]

