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

Two iterations use this splitting:

* by default (``halpern=True``), Halpern-anchored Peaceman-Rachford steps with restarts
  (:func:`_solve_halpern`, rho = :func:`halpern_rho`), iterating in float32 and switching to
  the input's dtype when float32 round-off stalls the certificate. With a noise bound the
  noise enters through the noisy game ``g = v + q`` (:class:`_NoisySplit`), which keeps the
  projection exact and decoupled;
* ``halpern=False``: over-relaxed ADMM (1.9) with a Gauss-Seidel ``a``/``q`` block for noise
  and a fixed rho = 2^(n/2) (:func:`default_rho`; residual balancing is available but off).

Both exit per sample as soon as its certified gap reaches ``tol``.

Certificate: every ``check_every`` iterations each active sample gets a feasible primal point
(AND effects completed by their exact OR effects, ``q`` clipped into the box) and a dual point
scaled into the dual feasible set ``|y| <= 1, |Zeta y| <= 1, y[{}] = 0``; weak duality gives
the lower bound ``-t.y - eta ||C^T y||_1`` (:func:`dual_lower_bound`) and hence a certified
relative gap. The Halpern path tries two primal points (the soft-thresholded ``p`` and the
projected ``a``) and three blends of two multiplier estimates (:func:`_best_dual`); the ADMM
path uses ``a = p`` and the ``e`` multiplier.

Ties: the optimum value is unique, the minimiser often is not. genphase's rule is
(1) one-variable terms: AND {i} and OR {i} trigger on the same masks, so only their sum is
identified; :func:`genphase.solvers.solve` reports it split evenly (``merged()`` sums them);
(2) any other tie is broken by the deterministic trajectory of the iteration started from
``a = 0``: the same values, options, batch and device always give the same effects. (Solved in
another batch, a sample's effects can move by round-off-level amounts, well inside the
certified gap: BLAS rounding and the float32 -> float64 switch depend on the batch.)
An optional ``tiebreak`` > 0 adds ``(eps/2)||a||^2`` inside the L1 prox (off by default); it
puts a floor of about ``eps`` under the certified gap, so keep ``eps <= tol / 10``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import InputError
from ..transforms import _MOEBIUS as _MOEBIUS_M, _SUP_MOEBIUS as _SUP_MOEBIUS_M, _SUP_ZETA as _SUP_ZETA_M, _ZETA as _ZETA_M, kron_operator, moebius, order_parity, reverse, subset_orders, superset_moebius, superset_zeta, zeta

__all__ = ["ADMMOptions", "SolveResult", "solve_admm", "default_rho", "halpern_rho", "dual_lower_bound", "or_from_and", "t_vector"]


@dataclass(frozen=True)
class ADMMOptions:
    """Parameters of :func:`solve_admm`, in units of the normalised game (``max|v - v[{}]| = 1``).

    ``halpern`` (default on; used when ``adapt_every == 0``): Halpern-anchored Peaceman-Rachford
    iterations with restarts instead of over-relaxed ADMM (``relax`` then unused). ``iterate_dtype``: dtype of the iterates of that path, ``"float32"``
    or ``"float64"``; ``None`` picks float32 when ``tol >= 1e-5`` (the certificate, the returned
    effects and universal matching are always evaluated in the input's dtype).
    """

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
    halpern: bool = True
    iterate_dtype: str | None = None


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


def _operator(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    if n == 0:
        return lambda x: x.clone()  # the empty Kronecker product is the 1x1 identity
    return kron_operator(m, n, dtype=like.dtype, device=like.device)


def _eig_solver(m: np.ndarray, n: int, like: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x -> (I + kron(m,...,m))^{-1} x`` for a symmetric 2x2 ``m``, in ``like``'s dtype."""
    evals, evecs = np.linalg.eigh(m)
    k = torch.as_tensor(np.array(subset_orders(n)), device=like.device).to(like.dtype)
    lam = (float(evals[0]) ** (n - k)) * (float(evals[1]) ** k)
    kernel = 1.0 / (1.0 + lam)
    to_eig, from_eig = _operator(evecs.T.copy(), n, like), _operator(evecs.copy(), n, like)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return from_eig(to_eig(x) * kernel)

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


def halpern_rho(n: int) -> float:
    """Fixed penalty ``1.5 * 2^((n + 10) / 4)`` of the Halpern path (normalised games).

    A sweep of rho = c * 2^(n/2), c in 0.75..3, on 16 planted and 16 network games per n
    put the fastest c near 2 at n = 8, 1.5 at n = 10 and 1 at n = 12; this formula follows it.
    """
    return 1.5 * 2.0 ** ((n + 10) / 4)


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


# restart rules of the Halpern path (as in HPR-LP): sufficient / necessary decrease of the
# fixed-point residual since the last restart, or a long stretch without restart
_RESTART_SUFFICIENT, _RESTART_NECESSARY, _RESTART_LONG = 0.2, 0.8, 0.2
# float32 iterates: every _STALL_CHECKS checks, a sample whose gap has not fallen below
# _STALL_RATIO of its value _STALL_CHECKS checks ago is stalled; half stalled -> input dtype
_STALL_CHECKS, _STALL_RATIO = 4, 0.8
# weights of the multiplier blends tried by _best_dual
_DUAL_BLENDS = (0.25, 0.5, 0.75)


class _Best:
    """Best certified point per sample, with per-sample early exit (``active`` shrinks)."""

    def __init__(self, B: int, size: int, like: torch.Tensor, options: ADMMOptions) -> None:
        dt, dev = like.dtype, like.device
        self.o = options
        self.a = torch.zeros(B, size, dtype=dt, device=dev)
        self.or_ = torch.zeros_like(self.a)
        self.q = torch.zeros_like(self.a)
        self.obj = torch.full((B,), math.inf, dtype=dt, device=dev)
        self.lb = torch.zeros(B, dtype=dt, device=dev)
        self.it = torch.zeros(B, dtype=torch.long, device=dev)
        self.conv = torch.zeros(B, dtype=torch.bool, device=dev)
        self.active = torch.arange(B, device=dev)

    def update(self, it: int, p, orf, qf, lb, progress=None, trace=None, rho=None) -> torch.Tensor:
        """Record the feasible point ``(p, orf, qf)`` and bound ``lb`` of the active samples;
        return the mask (over the active samples) of those now converged, and drop them."""
        active = self.active
        obj = _l1(p) + _l1(orf)
        better = obj < self.obj[active]
        idx = active[better]
        self.a[idx] = p[better]
        self.or_[idx] = orf[better]
        if qf is not None:
            self.q[idx] = qf[better]
        self.obj[idx] = obj[better]
        self.lb[active] = torch.maximum(self.lb[active], lb)
        self.it[active] = it
        ob, lbb = self.obj[active], self.lb[active]
        done = (ob - lbb <= self.o.tol * lbb) | (ob <= self.o.abs_tol)
        if progress is not None:
            progress(it, int(done.sum()), int(active.numel()))
        if trace is not None:
            trace.append((it, self.obj.clone(), self.lb.clone(), rho))
        self.conv[active[done]] = True
        self.active = active[~done]
        return done

    def gap(self) -> torch.Tensor:
        """Certified relative gap of every sample, ``[B]``."""
        tol = self.o.abs_tol
        gap = (self.obj - self.lb) / torch.clamp(self.lb, min=tol)
        return torch.where(self.obj <= tol, torch.zeros_like(gap), torch.clamp(gap, min=0.0))

    def result(self) -> SolveResult:
        gap = self.gap()
        self.a[:, 0] = 0.0
        return SolveResult(
            and_effects=self.a,
            or_effects=self.or_,
            noise=self.q,
            objective=self.obj,
            lower_bound=self.lb,
            gap=gap,
            iterations=self.it,
            converged=self.conv,
        )


def _iterate_dtype(options: ADMMOptions, dt: torch.dtype) -> torch.dtype:
    if options.iterate_dtype is None:
        return torch.float32 if options.tol >= 1e-5 else dt
    try:
        return {"float32": torch.float32, "float64": torch.float64}[options.iterate_dtype]
    except KeyError:
        raise InputError(
            f"iterate_dtype must be 'float32', 'float64' or None (float32 unless tol < 1e-5), "
            f"got {options.iterate_dtype!r}"
        ) from None


def _best_primal(candidates, t, cq, par, dt):
    """Per sample, the candidate AND effects (cast to ``dt``) whose exact OR completion (given
    the noise effect ``cq`` or None) has the smallest objective; returns ``(and, or)``."""
    best_a = best_o = best_obj = None
    for cand in candidates:
        cand = cand.to(dt, copy=True)
        cand[:, 0] = 0.0
        orf = or_from_and(cand, t, cq, par)
        obj = _l1(cand) + _l1(orf)
        if best_a is None:
            best_a, best_o, best_obj = cand, orf, obj
        else:
            win = (obj < best_obj)[:, None]
            best_a, best_o = torch.where(win, cand, best_a), torch.where(win, orf, best_o)
            best_obj = torch.minimum(obj, best_obj)
    return best_a, best_o


def _best_dual(y_e, y_p, t, eta, par):
    """Best weak-duality bound (``eta``: noise bounds ``[B]`` or None) over blends of two
    multiplier estimates: ``y_e``, that of the ``e = Zup a`` constraint, and ``-Moebius(y_p)``,
    the one implied by stationarity in ``a`` (``y_p + Zeta y_e = 0``). Every blend is a valid
    candidate; blending cut the median iterations to a certified 1e-3 by 13-26% at n = 8-12
    against ``y_e`` alone."""
    y_from_p = -moebius(y_p)
    if eta is None:
        eta = torch.zeros(len(t), dtype=t.dtype, device=t.device)
    bounds = [dual_lower_bound(w * y_e + (1.0 - w) * y_from_p, t, eta, par) for w in _DUAL_BLENDS]
    return torch.stack(bounds).amax(0)


class _NoiseFreeSplit:
    """Blocks ``(p, e)``: ``p = a`` under the L1 norm, ``e = Zup a`` under ``||e - t||_1``."""

    def __init__(self, v: torch.Tensor, eta: torch.Tensor, rho: float, dt: torch.dtype, par: torch.Tensor) -> None:
        self.n = v.shape[-1].bit_length() - 1
        self.rho, self.par, self.dt = rho, par, dt
        self.t = t_vector(v)

    def cast(self, idt: torch.dtype) -> None:
        """(Re)build the operators and constants for iterates of dtype ``idt``."""
        n, like, dev = self.n, torch.empty(0, dtype=idt, device=self.t.device), self.t.device
        self.zeta_op, self.sup_op = _operator(_ZETA_M, n, like), _operator(_SUP_ZETA_M, n, like)
        self.solve_a = _eig_solver(_KTK, n, like)
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

    def project(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact projection of ``r`` onto ``{(a, Zup a)}``; returns ``(x, a)``."""
        a = self.solve_a(r[:, 0] + self.zeta_op(r[:, 1]))
        return torch.stack((a, self.sup_op(a)), 1), a

    def certify(self, z, u, a):
        """Feasible point ``(and, or, noise)`` and lower bound, in the input's dtype."""
        p, orf = _best_primal((z[:, 0], a), self.t, None, self.par, self.dt)
        lb = _best_dual(self.rho * u[:, 1].to(self.dt), self.rho * u[:, 0].to(self.dt), self.t, None, self.par)
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
        self.moeb_op, self.supmoeb_op = _operator(_MOEBIUS_M, self.n, like), _operator(_SUP_MOEBIUS_M, self.n, like)
        self.solve_g = _eig_solver(_CTC, self.n, like)
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

    def project(self, r):
        a = self.solve_a(r[:, 0] + self.zeta_op(r[:, 1]))
        ct = self.supmoeb_op(self.par_i * r[:, 2]).flip(-1)  # C^T r_e2
        g = self.solve_g(r[:, 3] + ct)
        return torch.stack((a, self.sup_op(a), self._c(g), g), 1), a

    def certify(self, z, u, a):
        q = torch.minimum(torch.maximum(z[:, 3].to(self.dt) - self.v, -self.eta[:, None]), self.eta[:, None])
        cq = _c_apply(q, self.par)
        p, orf = _best_primal((z[:, 0], a), self.t, cq, self.par, self.dt)
        lb = _best_dual(self.rho * u[:, 1].to(self.dt), self.rho * u[:, 0].to(self.dt), self.t, self.eta, self.par)
        return p, orf, q, lb


def _solve_halpern(v, eta, options, init, progress, trace) -> SolveResult:
    """Halpern-anchored Peaceman-Rachford splitting with restarts (both problem forms).

    With ``prox`` the separable L1/box step and ``x`` the exact projection of ``2z - s`` onto
    the graph of the linear map (a :class:`_NoiseFreeSplit` or :class:`_NoisySplit`), the state
    ``s`` ([B, blocks, 2**n]) follows ``z = prox(s)``, ``T(s) = s + 2(x - z)`` (nonexpansive) and
    the Halpern step ``s <- lerp(anchor, T(s), (k+1)/(k+2))``, which converges at rate O(1/k) in
    the fixed-point residual; restarting the anchor (rules of HPR-LP) makes it fast on LPs. In a
    sweep over planted and network games at n = 8-12 this needed about half the iterations of
    the over-relaxed ADMM. The certificate is formed in the input's dtype: the primal point is
    the better of ``z_p`` (exactly sparse) and the projected ``a``, each completed by its exact
    OR effects; the dual point is the best blend of the two multiplier estimates
    (:func:`_best_dual`).
    """
    B, size = v.shape
    n = size.bit_length() - 1
    o = options
    dev, dt = v.device, v.dtype
    idt = _iterate_dtype(o, dt)
    rho = halpern_rho(n) if o.rho is None else float(o.rho)
    noisy = bool((eta > 0).any())
    prob = (_NoisySplit if noisy else _NoiseFreeSplit)(v, eta, rho, dt, _parity(n, v))
    prob.cast(idt)
    a0 = torch.zeros(B, size, dtype=idt, device=dev) if init is None else init.to(dtype=idt, device=dev).clone()
    a0[:, 0] = 0.0
    s = prob.start(a0)
    anchor = s
    k = torch.zeros(B, 1, 1, dtype=idt, device=dev)
    r0 = torch.full((B,), math.inf, dtype=idt, device=dev)
    r_prev = r0.clone()
    since = torch.zeros(B, dtype=idt, device=dev)
    best = _Best(B, size, v, o)
    ref_gap = torch.full((B,), math.inf, dtype=dt, device=dev)
    checks = 0

    it = 0
    while best.active.numel() > 0 and it < o.max_iter:
        it += 1
        u = prob.multipliers(s)  # scaled multipliers; z = prox(s) = s - u
        if o.tiebreak > 0:
            u[:, 0] = s[:, 0] - (s[:, 0] - u[:, 0]) / (1.0 + o.tiebreak * prob.lam)
        r = torch.add(s, u, alpha=-2.0)  # 2 z - s
        x, a = prob.project(r)
        s_next = torch.lerp(anchor, torch.lerp(r, x, 2.0), (k + 1.0) / (k + 2.0))  # T(s) = 2x - r
        k = k + 1.0
        if it % o.check_every == 0 or it == o.max_iter:
            na = best.active.numel()
            z = s - u
            if o.tiebreak > 0:
                # the p-multiplier carries the quadratic term (rho u_p = sign + eps z_p); drop it
                u = u.clone()
                u[:, 0] -= o.tiebreak * z[:, 0] / rho
            p, orf, qf, lb = prob.certify(z, u, a)
            done = best.update(it, p, orf, qf, lb, progress, trace, torch.full((na,), rho, dtype=dt, device=dev))
            res = 2.0 * (x - z).square().sum((1, 2)).sqrt()  # ||s - T(s)||
            since = since + o.check_every
            restart = (res <= _RESTART_SUFFICIENT * r0) | ((res <= _RESTART_NECESSARY * r0) & (res > r_prev))
            restart = restart | (since >= _RESTART_LONG * it) | torch.isinf(r0)
            r_prev = res
            anchor = torch.where(restart[:, None, None], s_next, anchor)
            k = torch.where(restart[:, None, None], torch.zeros_like(k), k)
            r0 = torch.where(restart, res, r0)
            since = torch.where(restart, torch.zeros_like(since), since)
            if bool(done.any()):
                keep = ~done
                s_next, anchor, k, r0, r_prev, since = s_next[keep], anchor[keep], k[keep], r0[keep], r_prev[keep], since[keep]
                ref_gap = ref_gap[keep]
                prob.keep(keep)
            checks += 1
            if idt == torch.float32 and dt == torch.float64 and checks % _STALL_CHECKS == 0 and best.active.numel() > 0:
                # float32 round-off puts a floor under the certificate: once most samples stop
                # improving, continue from the same state in the input's dtype
                gap = best.gap()[best.active]
                stalled = gap > _STALL_RATIO * ref_gap
                ref_gap = gap
                if bool(stalled.float().mean() >= 0.5):
                    idt = dt
                    prob.cast(idt)
                    s_next, anchor, k, r0, r_prev, since = (y.to(dt) for y in (s_next, anchor, k, r0, r_prev, since))
        s = s_next
    return best.result()


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
    With ``options.halpern`` (default) the Halpern path runs; otherwise over-relaxed ADMM with a
    Gauss-Seidel ``a``/``q`` block for noise.
    """
    B, size = v.shape
    n = size.bit_length() - 1
    o = options
    _iterate_dtype(o, v.dtype)  # validate early
    if o.tiebreak > 0.1 * o.tol:
        warnings.warn(
            f"tiebreak={o.tiebreak} is large against tol={o.tol}: the quadratic term puts a floor of "
            f"about tiebreak under the certified gap, so samples may not converge; use tiebreak <= tol / 10",
            RuntimeWarning,
            stacklevel=3,
        )
    if o.halpern and o.adapt_every == 0:
        return _solve_halpern(v, eta, o, init, progress, trace)
    dev, dt = v.device, v.dtype
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

    best = _Best(B, size, v, o)
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
            lb = dual_lower_bound(rho * ue, t, et, par)
            done = best.update(it, p, orf, qf, lb, progress, trace, rho[:, 0].clone())
            if bool(done.any()):
                keep = ~done
                p, e, up, ue, rho, t, et = p[keep], e[keep], up[keep], ue[keep], rho[keep], t[keep], et[keep]
                if use_noise:
                    s, us, cq_prev = s[keep], us[keep], cq_prev[keep]

    return best.result()
