"""Exact sparsest AND-OR decomposition by ADMM with the closed-form Kronecker inverse.

Problem (SCIENCE.md Eq. 6 in the form of section 2b). For each sample, with ``a`` the AND
effects, ``Zup`` the superset-sum transform, ``t[U] = (-1)^|U| Moebius(v reversed)[U]`` and
``C q = (-1)^|U| Moebius(q reversed)`` the effect of the noise ``q`` on ``t``:

    min_{a, |q| <= eta}   sum_{T != {}} |a[T]|  +  sum_{U != {}} |(Zup a)[U] - t[U] - (C q)[U]|

The OR effects are ``I_or[U] = (-1)^|U| ((Zup a)[U] - t[U] - (C q)[U])``.

Splitting: ``p = a`` (L1), ``e = Zup a`` and ``f = C q`` (coupled L1 on ``e - f - t``),
``s = q`` (box). The ``a``- and ``q``-updates need ``(I + Zup^T Zup)^{-1}`` and
``(I + C^T C)^{-1}``; both are Kronecker products of 2x2 matrices and are applied exactly
through their eigenvectors with two fast transforms each. Everything else is elementwise.
Over-relaxation (1.9), a fixed rho = 2^(n/2) (:func:`default_rho`; residual balancing is
available but off) and per-sample early exit are used.

Certificate: every ``check_every`` iterations a feasible primal point (``a = p``, ``q`` clipped
into the box, OR effects derived exactly) and a dual point (the scaled multiplier of the
``e`` constraint, centred and scaled into the dual feasible set
``|y| <= 1, |Zeta y| <= 1, y[{}] = 0``) are formed; weak duality gives the lower bound
``-t.y - eta ||C^T y||_1`` and hence a certified relative gap.

Ties: the optimum value is unique, the minimiser often is not. genphase's rule is
(1) one-variable terms: AND {i} and OR {i} trigger on the same masks, so only their sum is
identified; :func:`genphase.solvers.solve` reports it split evenly (``merged()`` sums them);
(2) any other tie is broken by the deterministic ADMM trajectory started from the even split
``gamma = 0`` (``a = 0``): the same values and options always give the same effects.
An optional ``tiebreak`` > 0 adds ``(eps/2)||a||^2`` inside the L1 prox (off by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..transforms import kron_apply, moebius, order_parity, reverse, subset_orders, superset_moebius, superset_zeta, zeta

__all__ = ["ADMMOptions", "SolveResult", "solve_admm", "default_rho", "dual_lower_bound", "or_from_and", "t_vector"]


@dataclass(frozen=True)
class ADMMOptions:
    """Parameters of :func:`solve_admm`, in units of the normalised game (``max|v - v[{}]| = 1``)."""

    tol: float = 1e-3
    max_iter: int = 50000
    rho: float | None = None
    relax: float = 1.9
    check_every: int = 25
    adapt_every: int = 0
    adapt_mu: float = 5.0
    adapt_tau: float = 2.0
    tiebreak: float = 0.0
    abs_tol: float = 1e-10


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


_KTK = np.array([[1.0, 1.0], [1.0, 2.0]])  # per-variable factor of Zup^T Zup
_CTC = np.array([[1.0, -1.0], [-1.0, 2.0]])  # per-variable factor of C^T C


def _eig_solver(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x -> (I + kron(m,...,m))^{-1} x`` for a symmetric 2x2 ``m``."""
    evals, evecs = np.linalg.eigh(m)
    k = torch.as_tensor(np.array(subset_orders(n)), device=like.device).to(like.dtype)
    lam = (float(evals[0]) ** (n - k)) * (float(evals[1]) ** k)
    kernel = 1.0 / (1.0 + lam)
    vt, vv = evecs.T.copy(), evecs.copy()

    def apply(x: torch.Tensor) -> torch.Tensor:
        return kron_apply(kron_apply(x, vt) * kernel, vv)

    return apply


def _parity(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.array(order_parity(n)), dtype=like.dtype, device=like.device)


def t_vector(v: torch.Tensor) -> torch.Tensor:
    """``t[U] = (-1)^|U| Moebius(v reversed)[U]``, shape of ``v``."""
    n = v.shape[-1].bit_length() - 1
    return _parity(n, v) * moebius(reverse(v))


def _c_apply(q: torch.Tensor, par: torch.Tensor) -> torch.Tensor:
    return par * moebius(reverse(q))


def _ct_apply(y: torch.Tensor, par: torch.Tensor) -> torch.Tensor:
    return reverse(superset_moebius(par * y))


def or_from_and(a: torch.Tensor, t: torch.Tensor, cq: torch.Tensor | None, par: torch.Tensor) -> torch.Tensor:
    """Exact OR effects implied by AND effects ``a`` (and noise effect ``C q``); entry 0 set to 0."""
    r = superset_zeta(a) - t
    if cq is not None:
        r = r - cq
    out = par * r
    out[..., 0] = 0.0
    return out


def default_rho(n: int) -> float:
    """Fixed penalty ``2^(n/2)`` for games normalised to ``max|v - v[{}]| = 1``.

    Chosen by sweeps on planted and network games at n = 8, 10, 12 (benchmarks/): a fixed rho of
    this size needed 3-6x fewer iterations than residual balancing, which oscillated.
    """
    return float(max(1.0, 2.0 ** (n / 2)))


def _l1(x: torch.Tensor) -> torch.Tensor:
    return x[..., 1:].abs().sum(-1)


def dual_lower_bound(y: torch.Tensor, t: torch.Tensor, eta: torch.Tensor, par: torch.Tensor) -> torch.Tensor:
    """Certified lower bound on the optimum from any dual candidate ``y`` (``[B, 2**n]``).

    The dual is ``max -t.y - eta ||C^T y||_1`` over ``|y[U]| <= 1``, ``|sum_{U subset T} y[U]| <= 1``,
    ``y[{}] = 0``. ``y`` is scaled into that set; both signs are tried; the result is >= 0.
    """
    y = y.clone()
    y[..., 0] = 0.0
    s = torch.maximum(y.abs().amax(-1), zeta(y).abs().amax(-1))
    s = torch.clamp(s, min=1.0)
    lin = (t * y).sum(-1)
    pen = eta * _ct_apply(y, par).abs().sum(-1) if bool((eta > 0).any()) else torch.zeros_like(lin)
    best = torch.maximum(-lin - pen, lin - pen) / s
    return torch.clamp(best, min=0.0)


def solve_admm(
    v: torch.Tensor,
    eta: torch.Tensor,
    options: ADMMOptions = ADMMOptions(),
    init: torch.Tensor | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    trace: list | None = None,
) -> SolveResult:
    """Solve a batch. ``v``: ``[B, 2**n]`` float (normalised); ``eta``: ``[B]`` absolute noise bounds.

    ``init`` optionally gives starting AND effects ``[B, 2**n]`` (warm start, e.g. the previous
    checkpoint's result for the same samples). ``trace``, if a list, receives
    ``(iteration, best objective [B], best lower bound [B], rho [active])`` at every check.
    """
    B, size = v.shape
    n = size.bit_length() - 1
    dev, dt = v.device, v.dtype
    o = options
    par = _parity(n, v)
    t_all = t_vector(v)
    solve_a = _eig_solver(_KTK, n, v)
    noisy_all = eta > 0
    use_noise = bool(noisy_all.any())
    solve_q = _eig_solver(_CTC, n, v) if use_noise else None
    w = torch.ones(size, dtype=dt, device=dev)
    w[0] = 0.0

    a0 = torch.zeros(B, size, dtype=dt, device=dev) if init is None else init.to(dtype=dt, device=dev).clone()
    a0[:, 0] = 0.0
    p = a0
    e = superset_zeta(a0)
    up = torch.zeros_like(p)
    ue = torch.zeros_like(p)
    if use_noise:
        s = torch.zeros_like(p)
        us = torch.zeros_like(p)
        cq_prev = torch.zeros_like(p)
    rho0 = default_rho(n) if o.rho is None else float(o.rho)
    rho = torch.full((B, 1), rho0, dtype=dt, device=dev)

    out_a = torch.zeros(B, size, dtype=dt, device=dev)
    out_or = torch.zeros_like(out_a)
    out_q = torch.zeros_like(out_a)
    out_obj = torch.full((B,), math.inf, dtype=dt, device=dev)
    out_lb = torch.zeros(B, dtype=dt, device=dev)
    out_it = torch.zeros(B, dtype=torch.long, device=dev)
    out_conv = torch.zeros(B, dtype=torch.bool, device=dev)
    active = torch.arange(B, device=dev)
    t, et = t_all, eta
    th = o.relax

    it = 0
    while active.numel() > 0 and it < o.max_iter:
        it += 1
        # ---- u-updates (exact least squares through the Kronecker eigenbasis);
        # with noise, a and q are updated one after the other (Gauss-Seidel).
        if use_noise:
            a = solve_a((p - up) + zeta(cq_prev + e - ue))
            ka = superset_zeta(a)
            q = solve_q((s - us) + _ct_apply(ka - e + ue, par))
            cq = _c_apply(q, par)
            kaq = ka - cq
        else:
            a = solve_a((p - up) + zeta(e - ue))
            ka = superset_zeta(a)
            kaq = ka
        ha = th * a + (1 - th) * p
        hka = th * kaq + (1 - th) * e
        r = rho
        # ---- g-updates
        cp = ha + up
        p_new = torch.sign(cp) * torch.clamp(cp.abs() - w / r, min=0.0)
        if o.tiebreak > 0:
            p_new = p_new / (1.0 + o.tiebreak * w / r)
        d0 = hka + ue - t
        e_new = t + torch.sign(d0) * torch.clamp(d0.abs() - w / r, min=0.0)
        if use_noise:
            hq = th * q + (1 - th) * s
            s_new = torch.maximum(torch.minimum(hq + us, et[:, None]), -et[:, None])
            us = us + hq - s_new
            cq_prev = cq
        up = up + ha - p_new
        ue = ue + hka - e_new

        if o.adapt_every > 0 and it % o.adapt_every == 0:
            prim = ((a - p_new) ** 2).sum(-1) + ((kaq - e_new) ** 2).sum(-1)
            dual_vec = (p_new - p) + zeta(e_new - e)
            dual = rho[:, 0] ** 2 * (dual_vec**2).sum(-1)
            if use_noise:
                prim = prim + ((q - s_new) ** 2).sum(-1)
                dual = dual + rho[:, 0] ** 2 * (((s_new - s) - _ct_apply(e_new - e, par)) ** 2).sum(-1)
            prim, dual = prim.sqrt(), dual.sqrt()
            scale = torch.ones_like(rho[:, 0])
            scale = torch.where(prim > o.adapt_mu * dual, torch.full_like(scale, o.adapt_tau), scale)
            scale = torch.where(dual > o.adapt_mu * prim, torch.full_like(scale, 1.0 / o.adapt_tau), scale)
            rho = rho * scale[:, None]
            up = up / scale[:, None]
            ue = ue / scale[:, None]
            if use_noise:
                us = us / scale[:, None]
        p, e = p_new, e_new
        if use_noise:
            s = s_new

        if it % o.check_every == 0 or it == o.max_iter:
            if use_noise:
                qf = torch.maximum(torch.minimum(q, et[:, None]), -et[:, None])
                cqf = _c_apply(qf, par)
            else:
                qf, cqf = None, None
            orf = or_from_and(p, t, cqf, par)
            obj = _l1(p) + _l1(orf)
            lb = dual_lower_bound(rho * ue, t, et, par)
            better = obj < out_obj[active]
            idx = active[better]
            out_a[idx] = p[better]
            out_or[idx] = orf[better]
            if qf is not None:
                out_q[idx] = qf[better]
            out_obj[idx] = obj[better]
            out_lb[active] = torch.maximum(out_lb[active], lb)
            out_it[active] = it
            ob, lbb = out_obj[active], out_lb[active]
            done = (ob - lbb <= o.tol * lbb) | (ob <= o.abs_tol)
            if progress is not None:
                progress(it, int(done.sum()), int(active.numel()))
            if trace is not None:
                trace.append((it, out_obj.clone(), out_lb.clone(), rho[:, 0].clone()))
            if bool(done.any()):
                out_conv[active[done]] = True
                keep = ~done
                active = active[keep]
                p, e, up, ue, rho, t, et = p[keep], e[keep], up[keep], ue[keep], rho[keep], t[keep], et[keep]
                if use_noise:
                    s, us, cq_prev = s[keep], us[keep], cq_prev[keep]

    gap = (out_obj - out_lb) / torch.clamp(out_lb, min=o.abs_tol)
    gap = torch.where(out_obj <= o.abs_tol, torch.zeros_like(gap), torch.clamp(gap, min=0.0))
    out_a[:, 0] = 0.0
    return SolveResult(
        and_effects=out_a,
        or_effects=out_or,
        noise=out_q,
        objective=out_obj,
        lower_bound=out_lb,
        gap=gap,
        iterations=out_it,
        converged=out_conv,
    )
