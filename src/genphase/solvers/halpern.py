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

import numpy as np
import torch

from ..transforms import _SUP_ZETA as _SUP_ZETA_M
from ..transforms import _ZETA as _ZETA_M
from ..transforms import zeta
from .certificate import BestPoint, best_primal, dual_lower_bound
from .finish import support_finish
from .operators import C1, KTK, block_operator, c_apply, eig_parts, l1, operator, parity, t_vector
from .options import ADMMOptions, check_interval, iterate_dtype
from .result import SolveResult

__all__ = ["solve_halpern", "halpern_rho", "median_effect", "finish_start"]


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
# _STALL_RATIO of its value _STALL_CHECKS checks ago is stalled; half stalled -> input dtype.
# (4 checks and 0.8 also fired on slow but steady noise-bounded solves, which then ran in float64)
_STALL_CHECKS, _STALL_RATIO = 8, 0.98
# per-sample penalty (docs/solver.md, "Penalty"): rho = _RHO_C * (||y|| / ||z||)^_RHO_GAMMA, the
# multipliers' size over the effects' size, first measured at iteration _RHO_FIRST and again at
# each restart (applied when off by more than the factor _RHO_HYSTERESIS); kept within
# _RHO_RANGE of halpern_rho(n)
_RHO_C, _RHO_GAMMA, _RHO_FIRST, _RHO_HYSTERESIS, _RHO_RANGE = 6.4, 0.75, 50, 1.5, 64.0
# the same rule on noise-bounded problems: constant _G_RHO / beta(n), with the g block scaled by
# beta(n) = 2^((n - 8) / 2) within [1, 4] (noise_scale); swept on 4 x 16 games at n = 10 and 12
_G_RHO = 5.6
# the median correction (docs/solver.md, "Penalty"; issue #29), noise-free problems: at the first
# check at or after iteration _MEDIAN_AT, rho_med = _MEDIAN_C / median|effect| over the nonzero
# effects of the prox point; a sample whose rho_med exceeds _MEDIAN_KAPPA times its current rho
# takes rho_med and keeps it (the size rule no longer applies to it). The size rule's ||z||_2 is
# dominated by a few large effects; on near-sparse games (a few large terms and many tiny ones) it
# chose rho 8-25x below the best fixed rho (10x the iterations); on planted, random-network and
# trained-MLP games both rules agree within 2x, and there nothing changes
_MEDIAN_C, _MEDIAN_AT, _MEDIAN_KAPPA = 0.25, 100, 4.0
# the movement correction, noise-bounded problems (the median correction does not fire there:
# the bound absorbs the tiny dense tail): at each restart from iteration _MOVE_FIRST, the ratio
# ||dy|| / ||dz|| of the multipliers' and the iterate's movement since the last restart (HPR-LP's
# and PDLP's primal weight), over all blocks; a sample where it exceeds _MOVE_KAPPA times its rho
# leaves the size rule and follows rho <- sqrt(rho * ratio) at its restarts (hysteresis as above)
_MOVE_FIRST, _MOVE_KAPPA = 200, 4.0
# the exact finish on the identified support (noise-bounded problems; solvers/finish.py): the
# columns are the nonzero effects of the prox point and those whose dual constraint is within
# _FINISH_SHARE of the largest; the rows are the values whose noise is within _FINISH_SHARE of its bound
_FINISH_SHARE = 0.9
_FINISH_ALL = 16


def finish_start(n: int) -> int:
    """First iteration of the exact finish (noise-bounded problems) by default: 2,000 from n = 12,
    four times later per variable fewer. A finish costs about as much as 1,000-6,000 iterations at
    n = 10 and at n = 12 (HiGHS on the restricted problem, 3-8 rounds); at n = 10 the slowest
    near-sparse games took 8,800 iterations, and finishing them at 2,000 cost more time than it
    saved, while at n = 12 they took 20,000-50,000.

    >>> finish_start(12), finish_start(16), finish_start(10)
    (2000, 2000, 32000)
    """
    return 2000 * 4 ** max(0, 12 - n)


def restart_due(res, it, since, r0, r_prev, fresh=None):
    """The restart rules of HPR-LP, per sample, at a check: restart when the fixed-point residual
    ``res`` has fallen below 0.2 of its value ``r0`` at the last restart, or below 0.8 and rising
    again (``r_prev``: its value at the previous check), or when ``since`` (iterations since the
    last restart, this check's included) reaches 0.2 of all iterations ``it``. ``fresh`` (bool
    ``[B]``): samples whose penalty just changed; their references are re-based to ``res`` and
    they do not restart at this check. Returns ``(restart, r0)`` (``r0`` re-based, not yet reset).

    >>> inf = torch.tensor([float("inf")])
    >>> restart_due(torch.tensor([1.0]), 50, torch.tensor([25.0]), inf, inf)[0].tolist()
    [True]
    """
    if fresh is not None:
        r0, r_prev = torch.where(fresh, res, r0), torch.where(fresh, res, r_prev)
    restart = (res <= _RESTART_SUFFICIENT * r0) | ((res <= _RESTART_NECESSARY * r0) & (res > r_prev))
    restart = restart | (since >= _RESTART_LONG * it) | torch.isinf(r0)
    return (restart if fresh is None else restart & ~fresh), r0


def _move_anchors(restart, s_next, anchor, k, since):
    """Where ``restart``: the anchor moves to ``s_next``, the Halpern counter ``k`` and ``since`` reset."""
    anchor = torch.where(restart[:, None, None], s_next, anchor)
    k = torch.where(restart[:, None, None], torch.zeros_like(k), k)
    return anchor, k, torch.where(restart, torch.zeros_like(since), since)


def restart_anchors(res, it, every, s_next, anchor, k, r0, r_prev, since, force=None):
    """:func:`restart_due` applied every ``every`` iterations, ``force`` (bool ``[B]``) restarting
    as well: the anchor moves to ``s_next`` (and the Halpern counter ``k`` resets) where a sample
    restarts. Returns the new ``(anchor, k, r0, r_prev, since)``."""
    since = since + every
    restart, _ = restart_due(res, it, since, r0, r_prev)
    if force is not None:
        restart = restart | force
    anchor, k, since = _move_anchors(restart, s_next, anchor, k, since)
    return anchor, k, torch.where(restart, res, r0), res, since


class _NoiseFreeSplit:
    """Blocks ``(p, e)``: ``p = a`` under the L1 norm, ``e = Zup a`` under ``||e - t||_1``."""

    #: blocks that hold effects (AND effects and their superset sums): the size ``||z||`` of the rho rule
    effect_blocks = 2
    rho_c = _RHO_C

    def __init__(self, v: torch.Tensor, eta: torch.Tensor, rho: torch.Tensor, dt: torch.dtype, par: torch.Tensor) -> None:
        self.n = v.shape[-1].bit_length() - 1
        self.par, self.dt = par, dt
        self.rho = rho  # [B] per-sample penalties, in the input's dtype
        self.t = t_vector(v)
        # the (a, Zup a) projection in the input's dtype, for the certificate
        self.exact = _graph_projection(self.n, torch.empty(0, dtype=dt, device=v.device))

    def cast(self, idt: torch.dtype) -> None:
        """(Re)build the operators and constants for iterates of dtype ``idt``."""
        n, like, dev = self.n, torch.empty(0, dtype=idt, device=self.t.device), self.t.device
        self.sup_op = operator(_SUP_ZETA_M, n, like)
        self.graph = _graph_projection(n, like) if idt != self.dt else self.exact
        self.free = torch.ones((1 << n,), dtype=idt, device=dev)
        self.free[0] = 0.0  # the {} entries carry no L1 weight
        self.set_rho(self.rho)
        self.shift = torch.stack((torch.zeros_like(self.t), self.t), 1).to(idt)

    def set_rho(self, rho: torch.Tensor) -> None:
        """Per-sample penalties ``rho`` ``[B]``; the L1 thresholds ``lam`` are ``1 / rho`` (0 on ``{}``)."""
        self.rho = rho
        self.lam = (1.0 / rho).to(self.free.dtype)[:, None, None] * self.free

    def keep(self, mask: torch.Tensor) -> None:
        self.t, self.shift = self.t[mask], self.shift[mask]
        self.set_rho(self.rho[mask])

    def start(self, a0: torch.Tensor) -> torch.Tensor:
        return torch.stack((a0, self.sup_op(a0)), 1)

    def effects(self, s: torch.Tensor) -> torch.Tensor:
        """The AND effects and the OR effects up to sign, ``[B, 2, 2**n]``, at the prox point of
        ``s``: ``(z_p, z_e - t)``, formed as ``d - clamp(d)`` so that they are exactly zero below the
        threshold (``z_e - t`` from ``z = s - u`` carries the float32 round-off of ``t`` everywhere)."""
        d = s[:, :2] - self.shift
        return d - torch.clamp(d, -self.lam, self.lam)

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
        x = self.graph(r)
        return x, x[:, 0]

    def exact_step(self, r: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, d_e)`` in the input's dtype: the projected AND effects and the ``e`` block of the
        projection's step ``d = x - r`` for the ``(p, e)`` blocks of ``r``, recomputed in the input's
        dtype when the iterates are float32 (``x``: the iterate's projection)."""
        if x.dtype == self.dt:
            return x[:, 0], x[:, 1] - r[:, 1]
        r64 = r[:, :2].to(self.dt)
        x64 = self.exact(r64)
        return x64[:, 0], x64[:, 1] - r64[:, 1]

    def certify(self, z: torch.Tensor, r: torch.Tensor, x: torch.Tensor):
        """Feasible point ``(and, or, noise)`` and lower bound, in the input's dtype, at the
        iterate with prox point ``z``, reflection ``r`` and projection ``x``.

        Primal: the better of ``z_p`` (exactly sparse) and the projected ``a``, each completed by
        its exact OR effects. Dual: ``rho d_e`` with ``d = P(r) - r`` the projection's step,
        recomputed in the input's dtype (:meth:`exact_step`). The projection makes
        ``d_p + Zeta d_e = 0`` exact, so ``y = rho d_e`` satisfies stationarity in ``a`` and only
        needs scaling into ``|y| <= 1, |Zeta y| <= 1``. Against the multiplier blends used before,
        it cut the iterations to a certified 1e-3 by 2.5x at n = 12 and 3-4x at n = 16; computed
        from float32 iterates its round-off floored the gap near 1.3e-3 at n = 14
        (docs/solver.md, "Iterations")."""
        a, d_e = self.exact_step(r, x)
        p, orf = best_primal((z[:, 0], a), self.t, None, self.par, self.dt)
        zero = torch.zeros(len(self.t), dtype=self.dt, device=self.t.device)
        lb = dual_lower_bound(self.rho[:, None] * d_e, self.t, zero, self.par)
        return p, orf, None, lb


class _NoisySplit(_NoiseFreeSplit):
    """Blocks ``(p, e1, e2, g)`` for the noise-bounded problem, with ``g = beta q`` the noise
    scaled by ``beta = 2^((n - 8) / 2)``: ``p = a`` (L1), ``e1 = Zup a`` and ``e2 = C g / beta`` (L1 on
    ``e1 - e2 - t``, the OR effects up to sign), and ``g`` in the box ``|g| <= beta eta``. The
    projection decouples into the ``a``-solve and the ``g``-solve, both exact through Kronecker
    eigenbases. The scale ``beta`` weights the ``g`` block ``beta^2`` times more in the projection.
    The iterate holds the noise itself, not the noisy game ``v + q``: in float32 its round-off is
    then relative to ``eta``, not to ``max |v|``, and the Moebius transform in ``C`` does not
    amplify it into the OR effects (with ``v + q`` the certified gap stalled near 1e-3)."""

    def __init__(self, v, eta, rho, dt, par) -> None:
        super().__init__(v, eta, rho, dt, par)
        self.v, self.eta = v, eta
        self.beta = noise_scale(self.n)
        self.rho_c = _G_RHO / self.beta

    def cast(self, idt):
        super().cast(idt)
        n, like = self.n, torch.empty(0, dtype=idt, device=self.t.device)
        # C / beta is the Kronecker product of C1 / beta^(1/n); the projection onto
        # {(a, Zup a, C g / beta, g)} splits into the a-part and the g-part, each through its eigenbasis
        cg = C1 / self.beta ** (1.0 / n)
        wa, ka = eig_parts(KTK, n, like)
        wg, kg = eig_parts(cg.T @ cg, n, like)
        self.kernel = torch.stack((ka, kg))
        self.to_eig = block_operator(np.stack([[wa.T, wa.T @ _ZETA_M], [wg.T @ cg.T, wg.T]]), n, like)
        self.from_eig = block_operator(np.stack([[wa, _SUP_ZETA_M @ wa], [cg @ wg, wg]]), n, like)
        self.hi = (self.beta * self.eta[:, None]).to(idt)
        self.lo = -self.hi

    def keep(self, mask):
        super().keep(mask)
        self.v, self.eta, self.lo, self.hi = self.v[mask], self.eta[mask], self.lo[mask], self.hi[mask]

    def start(self, a0):
        g0 = torch.zeros_like(a0)
        return torch.stack((a0, self.sup_op(a0), g0, g0), 1)

    def effects(self, s):
        # (a, e1 - e2 - t) at the prox point: the AND effects and the OR effects up to sign
        lam, p = self.lam[:, 0], s[:, 0]
        d = s[:, 1] - s[:, 2] - self.shift[:, 1]
        return torch.stack((p - torch.clamp(p, -lam, lam), d - torch.clamp(d, -2.0 * lam, 2.0 * lam)), 1)

    def multipliers(self, s):
        # prox of |e1 - e2 - t| / rho: the difference (less t) is soft-thresholded by 2/rho, the mean kept
        lam = self.lam[:, 0]
        half = 0.5 * torch.clamp(s[:, 1] - s[:, 2] - self.shift[:, 1], -2.0 * lam, 2.0 * lam)
        box = s[:, 3] - torch.minimum(torch.maximum(s[:, 3], self.lo), self.hi)
        return torch.stack((torch.clamp(s[:, 0], -lam, lam), half, -half, box), 1)

    def regularised_multipliers(self, s, shrink):
        # shrink: [B, 2, 2**n], 1/(1 + mu/rho) for the p-block and 1/(1 + 2 mu/rho) for the
        # difference e1 - e2 (prox of (|d| + mu/2 d^2) / rho on d = e1 - e2 has weight 2/rho)
        lam, p = self.lam[:, 0], s[:, 0]
        up = p - (p - torch.clamp(p, -lam, lam)) * shrink[:, 0]
        d = s[:, 1] - s[:, 2] - self.shift[:, 1]
        half = 0.5 * (d - (d - torch.clamp(d, -2.0 * lam, 2.0 * lam)) * shrink[:, 1])
        box = s[:, 3] - torch.minimum(torch.maximum(s[:, 3], self.lo), self.hi)
        return torch.stack((up, half, -half, box), 1)

    def project(self, r):
        B, _, size = r.shape
        w = self.to_eig(r.reshape(B, 2, 2, size)).sum(2) * self.kernel  # (a-part, g-part)
        x = self.from_eig(w[:, :, None]).reshape(B, 4, size)
        return x, x[:, 0]

    def certify(self, z, r, x):
        a, d_e = self.exact_step(r, x)
        lo, hi = -self.eta[:, None], self.eta[:, None]
        q = torch.minimum(torch.maximum(z[:, 3].to(self.dt) / self.beta, lo), hi)
        cq = c_apply(q, self.par)
        p, orf = best_primal((z[:, 0], a), self.t, cq, self.par, self.dt)
        lb = dual_lower_bound(self.rho[:, None] * d_e, self.t, self.eta, self.par)
        return p, orf, q, lb

    def finish(self, s, z, r, x, p, orf, q, lb, open_):
        """The exact finish (:func:`~genphase.solvers.finish.support_finish`) for the samples
        ``open_`` (bool ``[B]``), from the support the iterate identifies: the nonzero effects of
        the prox point and the effects whose dual constraint is within ``_FINISH_SHARE`` of the
        largest (with ``y = rho d_e``, the certificate's dual), and the values whose noise is within
        ``_FINISH_SHARE`` of its bound. Every round's answer is certified as :meth:`certify`'s
        (its noise in the box, its OR effects completed exactly, its dual scaled into the feasible
        set); where it is better, it replaces the candidate ``(p, orf, q)``, and the lower bound
        ``lb`` takes the larger. Returns the four, updated."""
        idx = torch.nonzero(open_).flatten().tolist()
        if not idx:
            return p, orf, q, lb
        p, orf, q, lb = p.clone(), orf.clone(), q.clone(), lb.clone()
        _, d_e = self.exact_step(r, x)
        y = self.rho[:, None] * d_e
        m_and, m_or = zeta(y).abs(), y.abs()
        top = torch.maximum(m_and[:, 1:].amax(-1), m_or[:, 1:].amax(-1))
        eff = self.effects(s)
        qi = (z[:, 3].to(self.dt) / self.beta).abs()
        obj = l1(p) + l1(orf)
        par = self.par.cpu().numpy()
        dtype, device = self.t.dtype, self.t.device
        for i in idx:
            t_i = self.t[i:i + 1]
            cols = [torch.nonzero((eff[i, j] != 0) | (m > _FINISH_SHARE * top[i])).flatten().cpu().numpy()
                    for j, m in ((0, m_and[i]), (1, m_or[i]))]
            rows = torch.nonzero(qi[i] >= _FINISH_SHARE * self.eta[i]).flatten().cpu().numpy()
            e = float(self.eta[i])
            for a_c, q_c, y_c in support_finish(self.v[i].cpu().numpy(), e, par, cols[0], cols[1], rows):
                q_t = torch.as_tensor(q_c, dtype=dtype, device=device)[None]
                pa, po = best_primal((torch.as_tensor(a_c, device=device)[None],), t_i, c_apply(q_t, self.par), self.par, self.dt)
                ob = l1(pa) + l1(po)
                if bool(ob[0] < obj[i]):
                    p[i], orf[i], q[i], obj[i] = pa[0], po[0], q_t[0], ob[0]
                y_t = torch.as_tensor(y_c, dtype=dtype, device=device)[None]
                lb[i] = torch.maximum(lb[i], dual_lower_bound(y_t, t_i, self.eta[i:i + 1], self.par)[0])
        return p, orf, q, lb


class _Group:
    """Samples iterated together in one dtype: the problem data ``prob`` (with their penalties),
    the global indices ``active``, the Halpern state ``(s, anchor, k, r0, r_prev, since, fresh)``
    (``fresh``: the penalty just changed, re-base the restart test at the next check) and the
    stall reference."""

    def __init__(self, prob, active, state, dtype) -> None:
        self.prob, self.active, self.state, self.dtype = prob, active, state, dtype
        self.ref_gap = torch.full((active.numel(),), math.inf, dtype=torch.float64, device=active.device)
        self.checks = 0

    def keep(self, mask: torch.Tensor) -> None:
        self.prob.keep(mask)
        self.active, self.ref_gap = self.active[mask], self.ref_gap[mask]
        self.state = tuple(y[mask] for y in self.state)


def noise_scale(n: int) -> float:
    """Scale ``beta`` of the noise block (:class:`_NoisySplit`): ``2^((n - 8) / 2)`` within [1, 4].

    With the rho rule's constant ``5.6 / beta``, a sweep on 64 noise-bounded games (r = 0.02)
    found beta = 2 and 4 best at n = 10 and 12 (iterations summed over the games: 127k against
    153k with beta = 4 at n = 10; 273k against 285-334k with beta = 2-2.8 at n = 12); at n = 14
    beta = 8 took 1.6x the iterations of beta = 4 on network games, hence the cap.

    >>> noise_scale(10), noise_scale(12), noise_scale(16)
    (2.0, 4.0, 4.0)
    """
    return float(min(4.0, max(1.0, 2.0 ** ((n - 8) / 2))))


def _graph_projection(n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``r [B, 2, 2**n] -> (a, Zup a)`` with ``a = (I + Zeta Zup)^{-1} (r_p + Zeta r_e)``, the exact
    projection onto ``{(a, Zup a)}`` in ``like``'s dtype: ``w = E^T r_p + E^T Zeta r_e`` in the
    eigenbasis ``E`` of ``Zup^T Zup``, scaled by the kernel, then ``(E w, Zup E w)``; two batched
    block transforms (:func:`~genphase.solvers.operators.block_operator`)."""
    w, kernel = eig_parts(KTK, n, like)
    to_eig = block_operator(np.stack([w.T, w.T @ _ZETA_M]), n, like)
    from_eig = block_operator(np.stack([w, _SUP_ZETA_M @ w]), n, like)

    def apply(r: torch.Tensor) -> torch.Tensor:
        return from_eig((to_eig(r).sum(1) * kernel)[:, None])

    return apply


def _rescale(prob: _NoiseFreeSplit, s: torch.Tensor, rho_new: torch.Tensor) -> torch.Tensor:
    """Re-express the state ``s = z + y / rho`` at the same prox point ``z`` and multipliers ``y``
    under the penalties ``rho_new`` (``z`` stays the prox point: ``y`` lies in its subdifferential);
    sets ``prob``'s penalties."""
    u = prob.multipliers(s)
    y = u * prob.rho[:, None, None].to(u.dtype)
    prob.set_rho(rho_new)
    return s - u + y / rho_new[:, None, None].to(u.dtype)


def _rho_target(prob: _NoiseFreeSplit, z: torch.Tensor, u: torch.Tensor, rho0: float) -> torch.Tensor:
    """The rho rule: ``prob.rho_c * (||y|| / ||z||)^_RHO_GAMMA`` over the effect blocks, per sample,
    with ``y = rho u`` the multipliers and ``z`` the prox point."""
    nb = prob.effect_blocks
    y = (u[:, :nb].square().sum((1, 2)).sqrt().to(prob.rho.dtype)) * prob.rho
    zn = z[:, :nb].square().sum((1, 2)).sqrt().to(prob.rho.dtype)
    ratio = y / torch.clamp(zn, min=1e-30)
    target = prob.rho_c * ratio ** _RHO_GAMMA
    target = torch.where(torch.isfinite(target) & (target > 0), target, prob.rho)
    return torch.clamp(target, rho0 / _RHO_RANGE, rho0 * _RHO_RANGE)


def median_effect(eff: torch.Tensor) -> torch.Tensor:
    """Per sample, the median of ``|eff|`` over its nonzero entries, the ``{}`` entries left out
    (``eff``: ``[B, blocks, 2**n]``, exactly sparse); ``nan`` where every entry is zero. One batched
    sort; the lower median for an even count.

    >>> median_effect(torch.tensor([[[9.0, 0.0, 3.0, -1.0], [5.0, 0.0, 0.0, 2.0]]])).tolist()
    [2.0]
    """
    a = eff.abs()
    a[..., 0] = 0.0
    a = a.reshape(a.shape[0], -1)
    k = (a > 0).sum(-1)
    idx = a.shape[-1] - k + torch.clamp(k - 1, min=0) // 2  # ascending: the zeros come first
    med = torch.sort(a, -1).values.gather(-1, torch.clamp(idx, max=a.shape[-1] - 1)[:, None])[:, 0]
    return torch.where(k > 0, med, torch.full_like(med, math.nan))


def _median_target(prob: _NoiseFreeSplit, s: torch.Tensor, rho0: float) -> torch.Tensor:
    """The median rule: ``_MEDIAN_C / median|effect|`` at the prox point of ``s`` (``0`` where the
    prox point has no nonzero effect), kept within ``_RHO_RANGE`` of ``rho0``."""
    target = (_MEDIAN_C / median_effect(prob.effects(s))).to(prob.rho.dtype)
    target = torch.nan_to_num(target, nan=0.0, posinf=0.0)
    return torch.clamp(target, rho0 / _RHO_RANGE, rho0 * _RHO_RANGE)


def _movement_target(prob: _NoiseFreeSplit, z: torch.Tensor, u: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """``||y - y_a|| / ||z - z_a||`` per sample over all blocks: the movement of the multipliers
    ``y = rho u`` over that of the prox point since the anchor (the state at the last restart)."""
    ua = prob.multipliers(anchor)
    dy = (u - ua).square().sum((1, 2)).sqrt().to(prob.rho.dtype) * prob.rho
    dz = (z - (anchor - ua)).square().sum((1, 2)).sqrt().to(prob.rho.dtype)
    ratio = dy / torch.clamp(dz, min=1e-30)
    return torch.where(torch.isfinite(ratio) & (ratio > 0), ratio, prob.rho)


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
    the fixed-point residual; restarting the anchor (rules of HPR-LP) makes it fast on LPs. The
    penalty rho is per sample: it starts at :func:`halpern_rho` and follows the rho rule
    (:func:`_rho_target`) unless ``options.rho`` fixes it; a sample leaves that rule for the median
    correction (noise-free, :func:`median_effect`, once at iteration 100) or the movement correction
    (noise-bounded, :func:`_movement_target`, at restarts from iteration 200) where those put rho
    more than 4x higher (docs/solver.md, "Penalty (per sample)"). The certificate is formed in the input's dtype
    (:meth:`_NoiseFreeSplit.certify`).

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
    adapt = o.rho is None
    rho0 = halpern_rho(n) if o.rho is None else float(o.rho)
    noisy = bool((eta > 0).any())
    cls, par = (_NoisySplit if noisy else _NoiseFreeSplit), parity(n, v)
    every = check_interval(o, noisy)
    prob = cls(v, eta, torch.full((B,), rho0, dtype=dt, device=dev), dt, par)
    prob.cast(idt)
    a0 = torch.zeros(B, size, dtype=idt, device=dev) if init is None else init.to(dtype=idt, device=dev).clone()
    a0[:, 0] = 0.0
    s = prob.start(a0)
    r0 = torch.full((B,), math.inf, dtype=idt, device=dev)
    fresh = torch.zeros(B, dtype=torch.bool, device=dev)
    state = (s, s, torch.zeros(B, 1, 1, dtype=idt, device=dev), r0, r0.clone(), torch.zeros(B, dtype=idt, device=dev), fresh)
    best = BestPoint(B, size, v, o)
    final = torch.zeros((B, *s.shape[1:]), dtype=dt, device=dev) if state_out is not None else None
    final_rho = prob.rho.clone()
    # two groups in lockstep: the samples still in the iterate dtype, and those handed over to the
    # input's dtype; the hand-over is decided per sample, so a sample follows the same path alone
    # or in any batch
    groups = [_Group(prob, torch.arange(B, device=dev), state, idt)]
    rho_set = not adapt  # the first rho estimate is made (at the same iteration for every sample)
    # the median correction: once, at the first check from _MEDIAN_AT on (noise-free, adaptive rho);
    # pinned[i]: sample i took the median rule's rho and keeps it
    median_due = adapt and not noisy
    # the movement correction (noise-bounded problems): pinned samples follow it instead
    pinned = torch.zeros(B, dtype=torch.bool, device=dev)
    # the exact finish (noise-bounded problems): at the first check from o.finish_at on, then at
    # twice that iteration, four times, ..., and at the cap, for every sample still open
    finish_at = finish_start(n) if o.finish_at is None else int(o.finish_at)
    next_finish = finish_at if (noisy and finish_at > 0) else math.inf

    it = 0
    while it < o.max_iter and any(g.active.numel() for g in groups):
        it += 1
        check = it % every == 0 or it == o.max_iter
        finish = check and (it >= next_finish or (it == o.max_iter and next_finish < math.inf))
        moved = []
        for g in groups:
            if g.active.numel() == 0:
                continue
            prob, (s, anchor, k, r0, r_prev, since, fresh) = g.prob, g.state
            u = prob.multipliers(s)  # scaled multipliers; z = prox(s) = s - u
            r = torch.add(s, u, alpha=-2.0)  # 2 z - s
            x, _ = prob.project(r)
            s_next = torch.lerp(anchor, torch.lerp(r, x, 2.0), (k + 1.0) / (k + 2.0))  # T(s) = 2x - r
            k = k + 1.0
            if not check:
                g.state = (s_next, anchor, k, r0, r_prev, since, fresh)
                continue
            act = best.active = g.active
            z = s - u
            p, orf, qf, lb = prob.certify(z, r, x)
            if finish:
                ob, lbb = torch.minimum(best.obj[act], l1(p) + l1(orf)), torch.maximum(best.lb[act], lb)
                # samples the movement correction took (near-sparse-like) from finish_at; every open
                # sample from _FINISH_ALL x finish_at, and at the cap
                due = pinned[act] | (it >= _FINISH_ALL * finish_at) | (it == o.max_iter)
                p, orf, qf, lb = prob.finish(s, z, r, x, p, orf, qf, lb, due & (ob - lbb > o.tol * lbb) & (ob > o.abs_tol))
            done = best.update(it, p, orf, qf, lb, progress, trace, prob.rho.clone())
            res = 2.0 * (x - z).square().sum((1, 2)).sqrt()  # ||s - T(s)||
            since = since + every
            restart, r0 = restart_due(res, it, since, r0, r_prev, fresh)
            r_prev = res
            r0 = torch.where(restart, res, r0)
            change = torch.zeros_like(restart)
            if adapt and it >= _RHO_FIRST:
                # the rho rule, at the first estimate and at restarts; a changed rho restarts the
                # anchor at the re-expressed state, and the restart test is re-based at the next check
                target = _rho_target(prob, z, u, rho0)
                off = (torch.log(target / prob.rho).abs() > math.log(_RHO_HYSTERESIS)) & restart
                change = (torch.ones_like(restart) if not rho_set else off) & ~pinned[act]
                if noisy and it >= _MOVE_FIRST:
                    move = _movement_target(prob, z, u, anchor)
                    enter = (move > _MOVE_KAPPA * prob.rho) & restart & ~pinned[act]
                    pinned[act[enter]] = True
                    follow = pinned[act]
                    smooth = torch.clamp(torch.sqrt(move * prob.rho), rho0 / _RHO_RANGE, rho0 * _RHO_RANGE)
                    target = torch.where(follow, smooth, target)
                    steer = (torch.log(target / prob.rho).abs() > math.log(_RHO_HYSTERESIS)) & restart & follow
                    change = change | steer | enter
                if median_due and it >= _MEDIAN_AT:
                    med = _median_target(prob, s, rho0)
                    up = med > _MEDIAN_KAPPA * prob.rho
                    pinned[act[up]] = True
                    target, change = torch.where(up, med, target), change | up
                if bool(change.any()):
                    s_next = _rescale(prob, s_next, torch.where(change, target, prob.rho))
                    restart = restart | change
            fresh = change
            anchor, k, since = _move_anchors(restart, s_next, anchor, k, since)
            g.state = (s_next, anchor, k, r0, r_prev, since, fresh)
            if bool(done.any()):
                if final is not None:
                    final[act[done]] = s_next[done].to(dt)
                    final_rho[act[done]] = prob.rho[done]
                g.keep(~done)
            g.checks += 1
            if g.dtype != dt and g.checks % _STALL_CHECKS == 0 and g.active.numel() > 0 and it < o.max_iter:
                # float32 round-off puts a floor under the certificate: a sample that stops
                # improving continues from the same state (and penalty) in the input's dtype
                gap = best.gap()[g.active]
                stalled = gap > _STALL_RATIO * g.ref_gap
                g.ref_gap = gap
                if bool(stalled.any()):
                    st = tuple(y[stalled].to(dt) if y.is_floating_point() else y[stalled] for y in g.state)
                    moved.append((g.active[stalled], g.prob.rho[stalled], st))
                    g.keep(~stalled)
        if check and adapt and it >= _RHO_FIRST:
            rho_set = True
        if check and it >= _MEDIAN_AT:
            median_due = False
        if finish:
            next_finish = 2 * max(next_finish, it)
        for idx, rho_m, st in moved:
            hi = [g for g in groups if g.dtype == dt and g.active.numel()]
            if hi:
                idx, rho_m = torch.cat((hi[0].active, idx)), torch.cat((hi[0].prob.rho, rho_m))
                st = tuple(torch.cat(pair) for pair in zip(hi[0].state, st))
            prob = cls(v[idx], eta[idx], rho_m, dt, par)
            prob.cast(dt)
            groups = [g for g in groups if g.dtype != dt] + [_Group(prob, idx, st, dt)]
    for g in groups:
        if final is not None and g.active.numel():
            final[g.active] = g.state[0].to(dt)
            final_rho[g.active] = g.prob.rho
    if final is not None:
        state_out.append((final, final_rho))
    return best.result()
