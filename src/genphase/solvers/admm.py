"""Over-relaxed ADMM (``halpern=False``), the earlier iteration, and :func:`solve_admm`, the
entry point of both splitting solvers (the default Halpern path lives in
:mod:`genphase.solvers.halpern`).

Same problem form and splitting as the Halpern path (docs/solver.md): ``p = a`` (L1),
``e = Zup a`` (L1 on ``e - t - C q``) and, with a noise bound, ``s = q`` (box). Over-relaxation
1.9, a Gauss-Seidel ``a``/``q`` block for noise and a fixed rho = 2^(n/2) (:func:`default_rho`;
residual balancing is available through ``adapt_every`` but off). Certificate: every
``check_every`` iterations the primal point ``a = p`` completed by its exact OR effects and the
``e`` multiplier scaled into the dual feasible set (:mod:`genphase.solvers.certificate`).

The names this module exported before the solvers were split by algorithm stay importable
from here: :class:`ADMMOptions`, :class:`SolveResult`, :func:`halpern_rho`,
:func:`dual_lower_bound`, :func:`or_from_and`, :func:`t_vector`.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..transforms import superset_zeta, zeta
from .certificate import BestPoint, dual_lower_bound
from .halpern import halpern_rho, solve_halpern
from .operators import CTC, KTK, c_apply, ct_apply, eig_solver, or_from_and, parity, t_vector
from .options import ADMMOptions, check_interval, iterate_dtype
from .result import SolveResult

__all__ = ["ADMMOptions", "SolveResult", "solve_admm", "default_rho", "halpern_rho", "dual_lower_bound", "or_from_and", "t_vector"]


def default_rho(n: int) -> float:
    """Fixed penalty ``2^(n/2)`` for games normalised to ``max|v - v[{}]| = 1``.

    Chosen by sweeps on planted and network games at n = 8, 10, 12 (benchmarks/): a fixed rho of
    this size needed 3-6x fewer iterations than residual balancing, which oscillated.

    >>> default_rho(8)
    16.0
    """
    return float(max(1.0, 2.0 ** (n / 2)))


def solve_admm(
    v: torch.Tensor,
    eta: torch.Tensor,
    options: ADMMOptions = ADMMOptions(),
    init: torch.Tensor | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    trace: list | None = None,
    state_out: list | None = None,
) -> SolveResult:
    """Solve a batch. ``v``: ``[B, 2**n]`` float (normalised); ``eta``: ``[B]`` absolute noise bounds.

    ``init`` optionally gives starting AND effects ``[B, 2**n]`` (warm start, e.g. the previous
    checkpoint's result for the same samples). ``trace``, if a list, receives
    ``(iteration, best objective [B], best lower bound [B], rho [active])`` at every check.
    With ``options.halpern`` (default) the Halpern path runs; otherwise over-relaxed ADMM with a
    Gauss-Seidel ``a``/``q`` block for noise. ``state_out`` (Halpern path only) receives the
    per-sample states where the samples stopped. This is the L1 stage only: the tie rule is
    applied afterwards by :func:`genphase.solvers.solve` (:mod:`genphase.solvers.ties`).

    >>> v = torch.tensor([[0.0, 1.0, 1.0, 1.0]], dtype=torch.float64)  # OR{0,1}
    >>> r = solve_admm(v, torch.zeros(1, dtype=v.dtype), ADMMOptions(halpern=False))
    >>> bool(r.converged[0]), round(float(r.objective[0]), 6)
    (True, 1.0)
    """
    B, size = v.shape
    n = size.bit_length() - 1
    o = options
    iterate_dtype(o, v.dtype)  # validate early
    if o.halpern and o.adapt_every == 0:
        return solve_halpern(v, eta, o, init, progress, trace, state_out)
    dev, dt = v.device, v.dtype
    par = parity(n, v)
    t_all = t_vector(v)
    solve_a = eig_solver(KTK, n, v)
    noisy_all = eta > 0
    use_noise = bool(noisy_all.any())
    every = check_interval(o, use_noise, halpern=False)
    solve_q = eig_solver(CTC, n, v) if use_noise else None
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

    best = BestPoint(B, size, v, o)
    t, et = t_all, eta
    th = o.relax

    it = 0
    while best.active.numel() > 0 and it < o.max_iter:
        it += 1
        # ---- u-updates (exact least squares through the Kronecker eigenbasis);
        # with noise, a and q are updated one after the other (Gauss-Seidel).
        if use_noise:
            a = solve_a((p - up) + zeta(cq_prev + e - ue))
            ka = superset_zeta(a)
            q = solve_q((s - us) + ct_apply(ka - e + ue, par))
            cq = c_apply(q, par)
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
                dual = dual + rho[:, 0] ** 2 * (((s_new - s) - ct_apply(e_new - e, par)) ** 2).sum(-1)
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

        if it % every == 0 or it == o.max_iter:
            if use_noise:
                qf = torch.maximum(torch.minimum(q, et[:, None]), -et[:, None])
                cqf = c_apply(qf, par)
            else:
                qf, cqf = None, None
            orf = or_from_and(p, t, cqf, par)
            lb = dual_lower_bound(rho * ue, t, et, par)
            done = best.update(it, p, orf, qf, lb, progress, trace, rho[:, 0].clone())
            if bool(done.any()):
                keep = ~done
                p, e, up, ue, rho, t, et = p[keep], e[keep], up[keep], ue[keep], rho[keep], t[keep], et[keep]
                if use_noise:
                    s, us, cq_prev = s[keep], us[keep], cq_prev[keep]

    return best.result()
