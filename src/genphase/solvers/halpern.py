"""The default exact solver: Halpern-anchored Peaceman-Rachford splitting with restarts (HPR).

Problem (docs/solver.md, "Problem form"). For each sample, with ``a`` the AND effects, ``Zup``
the superset-sum transform, ``t[U] = (-1)^|U| Moebius(v reversed)[U]`` and ``C q`` the effect
of the noise ``q`` on ``t``:

    min_{a, |q| <= eta}   sum_{T != {}} |a[T]|  +  sum_{U != {}} |(Zup a)[U] - t[U] - (C q)[U]|

The OR effects are ``I_or[U] = (-1)^|U| ((Zup a)[U] - t[U] - (C q)[U])``.

Blocks: without noise ``(p, e)`` with ``p = a`` (L1) and ``e = Zup a`` (L1 on ``e - t``)
(:class:`_NoiseFreeSplit`); with a noise bound ``(p, e1, e2, g)`` with ``g = v + q`` the noisy
game (:class:`_NoisySplit`). The projection onto the graph of the linear map needs
``(I + Zup^T Zup)^{-1}`` and ``(I + C^T C)^{-1}``, Kronecker products of 2x2 matrices applied
exactly through their eigenvectors (:mod:`genphase.solvers.operators`). The iterates are
float32 and switch to the input's dtype when float32 round-off stalls the certificate
(:mod:`genphase.solvers.certificate`); each sample exits as soon as its certified gap reaches
``tol``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..transforms import _MOEBIUS as _MOEBIUS_M, _SUP_MOEBIUS as _SUP_MOEBIUS_M, _SUP_ZETA as _SUP_ZETA_M, _ZETA as _ZETA_M
from .certificate import BestPoint, best_dual, best_primal
from .operators import CTC, KTK, c_apply, eig_solver, operator, parity, t_vector
from .options import ADMMOptions, iterate_dtype
from .result import SolveResult

__all__ = ["solve_halpern", "halpern_rho"]


def halpern_rho(n: int) -> float:
    """Fixed penalty ``1.5 * 2^((n + 10) / 4)`` of the Halpern path (normalised games).

    A sweep of rho = c * 2^(n/2), c in 0.75..3, on 16 planted and 16 network games per n
    put the fastest c near 2 at n = 8, 1.5 at n = 10 and 1 at n = 12; this formula follows it.

    >>> halpern_rho(10)
    48.0
    """
    return 1.5 * 2.0 ** ((n + 10) / 4)


# restart rules of the Halpern path (as in HPR-LP): sufficient / necessary decrease of the
# fixed-point residual since the last restart, or a long stretch without restart
_RESTART_SUFFICIENT, _RESTART_NECESSARY, _RESTART_LONG = 0.2, 0.8, 0.2
# float32 iterates: every _STALL_CHECKS checks, a sample whose gap has not fallen below
# _STALL_RATIO of its value _STALL_CHECKS checks ago is stalled; half stalled -> input dtype
_STALL_CHECKS, _STALL_RATIO = 4, 0.8


def restart_anchors(res, it, every, s_next, anchor, k, r0, r_prev, since, force=None):
    """Restart rules of HPR-LP, per sample, applied every ``every`` iterations: the anchor moves
    to ``s_next`` (and the Halpern counter ``k`` resets) when the fixed-point residual ``res`` has
    fallen below 0.2 of its value ``r0`` at the last restart, or below 0.8 and rising again
    (``r_prev``: its value at the previous check), or when ``since`` (iterations since the last
    restart) exceeds 0.2 of all iterations ``it``; ``force`` (bool ``[B]``) restarts as well.
    Returns the new ``(anchor, k, r0, r_prev, since)``."""
    since = since + every
    restart = (res <= _RESTART_SUFFICIENT * r0) | ((res <= _RESTART_NECESSARY * r0) & (res > r_prev))
    restart = restart | (since >= _RESTART_LONG * it) | torch.isinf(r0)
    if force is not None:
        restart = restart | force
    anchor = torch.where(restart[:, None, None], s_next, anchor)
    k = torch.where(restart[:, None, None], torch.zeros_like(k), k)
    r0 = torch.where(restart, res, r0)
    since = torch.where(restart, torch.zeros_like(since), since)
    return anchor, k, r0, res, since


class _NoiseFreeSplit:
    """Blocks ``(p, e)``: ``p = a`` under the L1 norm, ``e = Zup a`` under ``||e - t||_1``."""

    def __init__(self, v: torch.Tensor, eta: torch.Tensor, rho: float, dt: torch.dtype, par: torch.Tensor) -> None:
        self.n = v.shape[-1].bit_length() - 1
        self.rho, self.par, self.dt = rho, par, dt
        self.t = t_vector(v)

    def cast(self, idt: torch.dtype) -> None:
        """(Re)build the operators and constants for iterates of dtype ``idt``."""
        n, like, dev = self.n, torch.empty(0, dtype=idt, device=self.t.device), self.t.device
        self.zeta_op, self.sup_op = operator(_ZETA_M, n, like), operator(_SUP_ZETA_M, n, like)
        self.solve_a = eig_solver(KTK, n, like)
        self.lam = torch.full((1 << n,), 1.0 / self.rho, dtype=idt, device=dev)
        self.lam[0] = 0.0
        self.shift = torch.stack((torch.zeros_like(self.t), self.t), 1).to(idt)

    def keep(self, mask: torch.Tensor) -> None:
        self.t, self.shift = self.t[mask], self.shift[mask]

    def start(self, a0: torch.Tensor) -> torch.Tensor:
        return torch.stack((a0, self.sup_op(a0)), 1)

    def multipliers(self, s: torch.Tensor) -> torch.Tensor:
        """``u = s - prox(s)``: soft-thresholds of ``s_p`` and ``s_e - t`` (weights ``1/rho``)."""
        return torch.clamp(s - self.shift, -self.lam, self.lam)

    def regularised_multipliers(self, s: torch.Tensor, shrink: torch.Tensor) -> torch.Tensor:
        """``u = s - prox(s)`` for ``|x| + (mu/2) x^2`` on both blocks: the soft-threshold is
        divided by ``1 + mu/rho``; ``shrink`` (``[B, 1, 2**n]``) holds ``1/(1 + mu/rho)`` per sample
        and 1 on the free entry ``{}``."""
        d = s - self.shift
        return d - (d - torch.clamp(d, -self.lam, self.lam)) * shrink

    def project(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact projection of ``r`` onto ``{(a, Zup a)}``; returns ``(x, a)``."""
        a = self.solve_a(r[:, 0] + self.zeta_op(r[:, 1]))
        return torch.stack((a, self.sup_op(a)), 1), a

    def certify(self, z, u, a):
        """Feasible point ``(and, or, noise)`` and lower bound, in the input's dtype."""
        p, orf = best_primal((z[:, 0], a), self.t, None, self.par, self.dt)
        lb = best_dual(self.rho * u[:, 1].to(self.dt), self.rho * u[:, 0].to(self.dt), self.t, None, self.par)
        return p, orf, None, lb


class _NoisySplit(_NoiseFreeSplit):
    """Blocks ``(p, e1, e2, g)`` for the noise-bounded problem, with ``g = v + q`` the noisy game:
    ``p = a`` (L1), ``e1 = Zup a`` and ``e2 = C g`` (L1 on ``e1 - e2``, since ``t + C q = C g``),
    and ``g`` in the box ``|g - v| <= eta``. The projection decouples into the ``a``-solve and the
    ``g``-solve, both exact through Kronecker eigenbases."""

    def __init__(self, v, eta, rho, dt, par) -> None:
        super().__init__(v, eta, rho, dt, par)
        self.v, self.eta = v, eta

    def cast(self, idt):
        super().cast(idt)
        like = torch.empty(0, dtype=idt, device=self.t.device)
        self.moeb_op, self.supmoeb_op = operator(_MOEBIUS_M, self.n, like), operator(_SUP_MOEBIUS_M, self.n, like)
        self.solve_g = eig_solver(CTC, self.n, like)
        self.par_i = self.par.to(idt)
        self.lo, self.hi = (self.v - self.eta[:, None]).to(idt), (self.v + self.eta[:, None]).to(idt)

    def keep(self, mask):
        super().keep(mask)
        self.v, self.eta, self.lo, self.hi = self.v[mask], self.eta[mask], self.lo[mask], self.hi[mask]

    def start(self, a0):
        g0 = self.v.to(a0.dtype)
        return torch.stack((a0, self.sup_op(a0), self._c(g0), g0), 1)

    def _c(self, g: torch.Tensor) -> torch.Tensor:
        """``C g`` (as :func:`_c_apply`) with the precompiled operators of the iterate dtype."""
        return self.par_i * self.moeb_op(g.flip(-1))

    def multipliers(self, s):
        # prox of |e1 - e2| / rho: the difference is soft-thresholded by 2/rho, the mean kept
        half = 0.5 * torch.clamp(s[:, 1] - s[:, 2], -2.0 * self.lam, 2.0 * self.lam)
        box = s[:, 3] - torch.minimum(torch.maximum(s[:, 3], self.lo), self.hi)
        return torch.stack((torch.clamp(s[:, 0], -self.lam, self.lam), half, -half, box), 1)

    def regularised_multipliers(self, s, shrink):
        # shrink: [B, 2, 2**n], 1/(1 + mu/rho) for the p-block and 1/(1 + 2 mu/rho) for the
        # difference e1 - e2 (prox of (|d| + mu/2 d^2) / rho on d = e1 - e2 has weight 2/rho)
        p = s[:, 0]
        up = p - (p - torch.clamp(p, -self.lam, self.lam)) * shrink[:, 0]
        d = s[:, 1] - s[:, 2]
        half = 0.5 * (d - (d - torch.clamp(d, -2.0 * self.lam, 2.0 * self.lam)) * shrink[:, 1])
        box = s[:, 3] - torch.minimum(torch.maximum(s[:, 3], self.lo), self.hi)
        return torch.stack((up, half, -half, box), 1)

    def project(self, r):
        a = self.solve_a(r[:, 0] + self.zeta_op(r[:, 1]))
        ct = self.supmoeb_op(self.par_i * r[:, 2]).flip(-1)  # C^T r_e2
        g = self.solve_g(r[:, 3] + ct)
        return torch.stack((a, self.sup_op(a), self._c(g), g), 1), a

    def certify(self, z, u, a):
        q = torch.minimum(torch.maximum(z[:, 3].to(self.dt) - self.v, -self.eta[:, None]), self.eta[:, None])
        cq = c_apply(q, self.par)
        p, orf = best_primal((z[:, 0], a), self.t, cq, self.par, self.dt)
        lb = best_dual(self.rho * u[:, 1].to(self.dt), self.rho * u[:, 0].to(self.dt), self.t, self.eta, self.par)
        return p, orf, q, lb


class _Group:
    """Samples iterated together in one dtype: the problem data ``prob``, the global indices
    ``active``, the Halpern state ``(s, anchor, k, r0, r_prev, since)``, the stall reference."""

    def __init__(self, prob, active, state, dtype) -> None:
        self.prob, self.active, self.state, self.dtype = prob, active, state, dtype
        self.ref_gap = torch.full((active.numel(),), math.inf, dtype=torch.float64, device=active.device)
        self.checks = 0

    def keep(self, mask: torch.Tensor) -> None:
        self.prob.keep(mask)
        self.active, self.ref_gap = self.active[mask], self.ref_gap[mask]


def solve_halpern(
    v: torch.Tensor,
    eta: torch.Tensor,
    options: ADMMOptions = ADMMOptions(),
    init: torch.Tensor | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    trace: list | None = None,
    state_out: list | None = None,
) -> SolveResult:
    """Halpern-anchored Peaceman-Rachford splitting with restarts (both problem forms).

    ``v``: ``[B, 2**n]`` normalised games; ``eta``: ``[B]`` absolute noise bounds; ``init``:
    optional starting AND effects ``[B, 2**n]``; ``progress(it, done, active)`` and ``trace``
    as in :func:`genphase.solvers.admm.solve_admm`. ``state_out``, if a list, receives each
    sample's state ``s`` (``[B, blocks, 2**n]``, input dtype) where it stopped: the tie stage
    (:mod:`genphase.solvers.ties`) continues from it.

    With ``prox`` the separable L1/box step and ``x`` the exact projection of ``2z - s`` onto
    the graph of the linear map (a :class:`_NoiseFreeSplit` or :class:`_NoisySplit`), the state
    ``s`` ([B, blocks, 2**n]) follows ``z = prox(s)``, ``T(s) = s + 2(x - z)`` (nonexpansive) and
    the Halpern step ``s <- lerp(anchor, T(s), (k+1)/(k+2))``, which converges at rate O(1/k) in
    the fixed-point residual; restarting the anchor (rules of HPR-LP) makes it fast on LPs. In a
    sweep over planted and network games at n = 8-12 this needed about half the iterations of
    the over-relaxed ADMM. The certificate is formed in the input's dtype: the primal point is
    the better of ``z_p`` (exactly sparse) and the projected ``a``, each completed by its exact
    OR effects; the dual point is the best blend of the two multiplier estimates
    (:func:`~genphase.solvers.certificate.best_dual`).

    >>> v = torch.tensor([[0.0, 1.0, 1.0, 1.0]], dtype=torch.float64)  # OR{0,1}
    >>> r = solve_halpern(v, torch.zeros(1, dtype=v.dtype))
    >>> bool(r.converged[0]), round(float(r.objective[0]), 6)
    (True, 1.0)
    """
    B, size = v.shape
    n = size.bit_length() - 1
    o = options
    dev, dt = v.device, v.dtype
    idt = iterate_dtype(o, dt)
    rho = halpern_rho(n) if o.rho is None else float(o.rho)
    noisy = bool((eta > 0).any())
    cls, par = (_NoisySplit if noisy else _NoiseFreeSplit), parity(n, v)
    prob = cls(v, eta, rho, dt, par)
    prob.cast(idt)
    a0 = torch.zeros(B, size, dtype=idt, device=dev) if init is None else init.to(dtype=idt, device=dev).clone()
    a0[:, 0] = 0.0
    s = prob.start(a0)
    r0 = torch.full((B,), math.inf, dtype=idt, device=dev)
    state = (s, s, torch.zeros(B, 1, 1, dtype=idt, device=dev), r0, r0.clone(), torch.zeros(B, dtype=idt, device=dev))
    best = BestPoint(B, size, v, o)
    final = torch.zeros((B, *s.shape[1:]), dtype=dt, device=dev) if state_out is not None else None
    # two groups in lockstep: the samples still in the iterate dtype, and those handed over to the
    # input's dtype; the hand-over is decided per sample, so a sample follows the same path alone
    # or in any batch
    groups = [_Group(prob, torch.arange(B, device=dev), state, idt)]

    it = 0
    while it < o.max_iter and any(g.active.numel() for g in groups):
        it += 1
        moved = []
        for g in groups:
            if g.active.numel() == 0:
                continue
            prob, (s, anchor, k, r0, r_prev, since) = g.prob, g.state
            u = prob.multipliers(s)  # scaled multipliers; z = prox(s) = s - u
            r = torch.add(s, u, alpha=-2.0)  # 2 z - s
            x, a = prob.project(r)
            s_next = torch.lerp(anchor, torch.lerp(r, x, 2.0), (k + 1.0) / (k + 2.0))  # T(s) = 2x - r
            k = k + 1.0
            if it % o.check_every == 0 or it == o.max_iter:
                na = g.active.numel()
                act = best.active = g.active
                z = s - u
                p, orf, qf, lb = prob.certify(z, u, a)
                done = best.update(it, p, orf, qf, lb, progress, trace, torch.full((na,), rho, dtype=dt, device=dev))
                res = 2.0 * (x - z).square().sum((1, 2)).sqrt()  # ||s - T(s)||
                anchor, k, r0, r_prev, since = restart_anchors(res, it, o.check_every, s_next, anchor, k, r0, r_prev, since)
                if bool(done.any()):
                    if final is not None:
                        final[act[done]] = s_next[done].to(dt)
                    keep = ~done
                    s_next, anchor, k, r0, r_prev, since = s_next[keep], anchor[keep], k[keep], r0[keep], r_prev[keep], since[keep]
                    g.keep(keep)
                g.checks += 1
                if g.dtype != dt and g.checks % _STALL_CHECKS == 0 and g.active.numel() > 0 and it < o.max_iter:
                    # float32 round-off puts a floor under the certificate: a sample that stops
                    # improving continues from the same state in the input's dtype
                    gap = best.gap()[g.active]
                    stalled = gap > _STALL_RATIO * g.ref_gap
                    g.ref_gap = gap
                    if bool(stalled.any()):
                        moved.append((g.active[stalled], tuple(y[stalled].to(dt) for y in (s_next, anchor, k, r0, r_prev, since))))
                        keep = ~stalled
                        s_next, anchor, k, r0, r_prev, since = s_next[keep], anchor[keep], k[keep], r0[keep], r_prev[keep], since[keep]
                        g.keep(keep)
            g.state = (s_next, anchor, k, r0, r_prev, since)
        for idx, st in moved:
            hi = [g for g in groups if g.dtype == dt and g.active.numel()]
            if hi:
                idx, st = torch.cat((hi[0].active, idx)), tuple(torch.cat(pair) for pair in zip(hi[0].state, st))
            prob = cls(v[idx], eta[idx], rho, dt, par)
            prob.cast(dt)
            groups = [g for g in groups if g.dtype != dt] + [_Group(prob, idx, st, dt)]
    for g in groups:
        if final is not None and g.active.numel():
            final[g.active] = g.state[0].to(dt)
    if final is not None:
        state_out.append(final)
    return best.result()
