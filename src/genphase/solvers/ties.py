"""The tie rules: which of several optima of Eq. 6 genphase reports (docs/solver.md, "Ties").

Two rules, chosen with the option ``ties``:

* ``"cold-start"`` (default): the optimum the default iteration reaches from its fixed cold start
  (AND effects and multipliers zero); a warm start is not used. No extra work; reproducible to
  the solver's tolerance (docs/solver.md, "The default rule"). :func:`cold_start_rule` states it.
* ``"least-norm"``: the least-L2-norm optimum, certified, independent of the algorithm; 4.5-140
  times slower (tens of times on network games; docs/solver.md, "Cost"). The rest of this
  docstring describes it.

Rule. In units of the normalised game (``max_S |v[S] - v[{}]| = 1``), the reported effects
``x = (I_and, I_or)`` (entries ``T != {}``) are the unique minimiser ``x_mu`` of

    ||I_and||_1 + ||I_or||_1 + (mu / 2) (||I_and||^2 + ||I_or||^2)

over all decompositions that match the (noisy) game exactly, ``mu = tiebreak`` (default
:data:`TIE_MU`). The quadratic term is strongly convex, so ``x_mu`` is unique; it depends on the
values (and the noise bound) alone, never on the starting point, the batch or the dtype. It
regularises AND and OR alike, so it is symmetric in AND/OR and splits a one-variable pair
``AND {i}`` / ``OR {i}`` (identical columns) evenly. Among exactly tied L1 optima it prefers
the least-norm one (exact regularisation: below some ``mu_bar > 0`` the minimiser IS the
least-norm L1 optimum); near-ties closer than about ``mu ||x||^2`` are blended, so the answer
moves continuously with the values.

Guarantees, per sample, both certified:

* L1: ``objective <= (1 + tol) * lower_bound`` (the L1 dual bound of the first stage). ``x_mu``
  is not an L1 optimum when ``mu`` exceeds the game's exact-regularisation threshold; its
  excess is at most ``(mu/2)(||x_ln||^2 - ||x_mu||^2)`` (``x_ln``: the least-norm L1 optimum).
  Where the certified ``x_mu`` is further than ``tol`` from the lower bound, ``mu`` is divided
  by :data:`MU_SHRINK` for that sample (at most :data:`MAX_SHRINKS` times) and ``x_mu``
  recomputed. This decision compares with the first stage's lower bound, which depends on the
  path within ``tol``: a sample whose excess lies near ``tol`` can end at different ``mu`` in
  two solves. ``metadata["tie_mu"]`` lists the values of ``mu`` used.
* Tie: ``||x - x_mu||_2 <= tie_tol * max|x|`` from the regularised duality gap and the strong
  convexity of the regularised problem: ``||x - x_mu||^2 <= 2 (Phi_mu(x) - D_mu(y)) / mu``
  (:func:`regularised_dual`). Two solves of the same values therefore agree within
  ``2 tie_tol`` of the largest effect, whatever their warm start, batch or dtype.

Computation (:func:`canonical_stage`): the L1 problem is solved first (certified to ``tol``,
warm-startable); the Halpern iteration then continues from that state on the regularised
problem, whose prox is the soft-threshold divided by ``1 + mu / rho`` on both blocks, in the
input's dtype, until both certificates hold.
"""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from ..transforms import moebius, singleton_bitmasks, zeta
from .certificate import relative_gap
from .operators import c_apply, ct_apply, l1, or_from_and, parity
from .options import ADMMOptions, check_interval
from .result import SolveResult

__all__ = ["TIE_MU", "TIE_TOL", "TIE_RULES", "tie_rule", "cold_start_rule", "check_tie_options", "regularised_dual", "canonical_stage", "split_singletons_evenly"]

#: default ``mu`` of the tie rule (option ``tiebreak``), in units of the normalised game
TIE_MU = 0.5
#: default certified distance to ``x_mu``, as a fraction of ``max|effect|`` (option ``tie_tol``)
TIE_TOL = 5e-3
#: ``mu`` is divided by this where the certified ``x_mu`` is further than ``tol`` from the L1
#: optimum (per sample, at most :data:`MAX_SHRINKS` times)
MU_SHRINK = 4.0
MAX_SHRINKS = 3
#: valid ranges of the two options
TIE_MU_RANGE = (1e-4, 10.0)
TIE_TOL_RANGE = (1e-8, 0.05)
_BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tie_rule(mu: float, tie_tol: float) -> str:
    """One-line statement of the rule with its parameters (stored in the result's metadata).

    >>> tie_rule(0.5, 5e-3)[:40]
    'x_mu = argmin ||I_and||_1 + ||I_or||_1 +'
    """
    return (
        f"x_mu = argmin ||I_and||_1 + ||I_or||_1 + (mu/2)(||I_and||^2 + ||I_or||^2) over exact decompositions, "
        f"mu = {mu:g} in units of the normalised game (max|v - v[{{}}]| = 1); certified "
        f"||x - x_mu||_2 <= {tie_tol:g} * max|effect|"
    )


def cold_start_rule() -> str:
    """One-line statement of the default rule ``ties="cold-start"`` (stored in the result's metadata).

    >>> cold_start_rule().split(" (")[0]
    'cold-start: the optimum the iteration'
    """
    return (
        "cold-start: the optimum the iteration (Halpern-anchored Peaceman-Rachford unless halpern=False) reaches "
        "from its fixed cold start (AND effects and multipliers 0), certified to tol (at n <= 10, a sample still "
        "open at the iteration cap: HiGHS's optimum; with a noise bound, a sample that the finish on its identified "
        "support certifies: that restricted LP's optimum); warm_start is not used; the same for a sample alone or in "
        "any batch up to float32 rounding; among tied optima it depends on the solver's options and version "
        "(docs/solver.md, 'The default rule')"
    )


#: values of the option ``ties`` (the first is the default)
TIE_RULES = ("cold-start", "least-norm")


def check_tie_options(mu: float, tie_tol: float, ties: str = "least-norm") -> None:
    """Raise :class:`~genphase.errors.InputError` naming the valid range of a bad option.

    >>> check_tie_options(0.5, 5e-3)
    """
    if ties not in TIE_RULES:
        raise InputError(
            f"ties must be one of {TIE_RULES} ('cold-start', the default, is the cold path's optimum; "
            f"'least-norm' the certified least-norm one, tens of times slower on network games), got {ties!r}"
        )
    lo, hi = TIE_MU_RANGE
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not (lo <= mu <= hi):
        raise InputError(
            f"tiebreak is the mu of the tie rule (docs/solver.md, 'Ties') and must lie in [{lo:g}, {hi:g}], got {mu!r}; "
            f"the default is {TIE_MU:g}"
        )
    lo, hi = TIE_TOL_RANGE
    if isinstance(tie_tol, bool) or not isinstance(tie_tol, (int, float)) or not (lo <= tie_tol <= hi):
        raise InputError(
            f"tie_tol is the certified distance to the tie rule's answer as a fraction of max|effect| and must lie in "
            f"[{lo:g}, {hi:g}], got {tie_tol!r}; the default is {TIE_TOL:g}"
        )


def _psi(s: torch.Tensor) -> torch.Tensor:
    """``sign(s) (|s| - 1)_+``: the gradient of ``h*(s) = (|s| - 1)_+^2 / 2`` (times ``mu``)."""
    return torch.sign(s) * torch.clamp(s.abs() - 1.0, min=0.0)


def regularised_dual(y: torch.Tensor, t: torch.Tensor, eta: torch.Tensor, par: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Lower bound on the regularised optimum from any dual candidate ``y`` (``[B, 2**n]``).

    With ``h(x) = |x| + (mu/2) x^2``, whose conjugate is ``(|s| - 1)_+^2 / (2 mu)``, the dual of
    the regularised problem is ``max -t.y - eta ||C^T y||_1 - (||psi(y)||^2 + ||psi(Zeta y)||^2) / (2 mu)``
    over ``y[{}] = 0`` (no constraint: every ``y`` gives a bound); both signs of ``y`` are tried.
    As ``mu -> 0`` it becomes the L1 dual of :func:`~genphase.solvers.certificate.dual_lower_bound`.

    >>> from genphase.solvers.operators import t_vector
    >>> v = torch.tensor([[0.0, 1.0]])  # AND{0} = OR{0} = 1/2: optimum 1 + mu/4, dual optimum y = -(1 + mu/2)
    >>> float(regularised_dual(torch.tensor([[0.0, -1.5]]), t_vector(v), torch.zeros(1), parity(1, v), torch.tensor([1.0])))
    1.25
    """
    y = y.clone()
    y[..., 0] = 0.0
    lin = (t * y).sum(-1)
    quad = _psi(y)[..., 1:].square().sum(-1) + _psi(zeta(y))[..., 1:].square().sum(-1)
    pen = eta * ct_apply(y, par).abs().sum(-1) if bool((eta > 0).any()) else torch.zeros_like(lin)
    return torch.maximum(-lin, lin) - pen - quad / (2.0 * mu)


def split_singletons_evenly(part: SolveResult, n: int) -> None:
    """One-variable terms: AND {i} and OR {i} trigger on the same masks, so only their sum is
    identified; report it split evenly (never raises the objective, and never moves the point
    away from ``x_mu``, which splits them evenly itself). Changes ``part`` in place.

    >>> import torch
    >>> r = SolveResult(torch.tensor([[0.0, 2.0]]), torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([2.0]),
    ...                 torch.tensor([2.0]), torch.zeros(1), torch.zeros(1), torch.ones(1, dtype=torch.bool))
    >>> split_singletons_evenly(r, 1); r.and_effects.tolist(), r.or_effects.tolist()
    ([[0.0, 1.0]], [[0.0, 1.0]])
    """
    idx = torch.as_tensor(singleton_bitmasks(n), device=part.and_effects.device)
    a, o = part.and_effects, part.or_effects
    half = 0.5 * (a[:, idx] + o[:, idx])
    old = a[:, idx].abs().sum(-1) + o[:, idx].abs().sum(-1)
    a[:, idx] = half
    o[:, idx] = half
    part.objective = part.objective - old + 2.0 * half.abs().sum(-1)
    lb, ob = part.lower_bound, part.objective
    if part.gap.dtype.is_floating_point and not bool(torch.isnan(lb).any()):
        part.gap = relative_gap(ob, lb, 1e-12)


def canonical_stage(
    v: torch.Tensor,
    eta: torch.Tensor,
    part: SolveResult,
    state: torch.Tensor | None,
    options: ADMMOptions,
    max_iter: int,
) -> None:
    """Replace the effects of ``part`` (an L1 solution of the normalised games ``v`` with its
    certified lower bound) by the tie rule's ``x_mu``, certified (module docstring); changes
    ``part`` in place: effects, noise, objective, gap, ``iterations`` (added) and ``converged``
    (kept only where both certificates hold within ``max_iter`` further iterations).

    ``state``: the first stage's Halpern state and penalty per sample (``([B, blocks, 2**n], [B])``),
    or None to start from ``part``'s AND effects with the penalty :func:`~genphase.solvers.halpern.halpern_rho`.

    >>> from genphase.solvers.halpern import solve_halpern
    >>> v = torch.tensor([[0.0, 0.5, 0.5, 1.0]], dtype=torch.float64)  # (x0 + x1)/2: singletons or AND{0,1} + OR{0,1}
    >>> r = solve_halpern(v, torch.zeros(1, dtype=v.dtype))
    >>> canonical_stage(v, torch.zeros(1, dtype=v.dtype), r, None, ADMMOptions(), 20000)
    >>> [round(x, 2) for x in r.and_effects[0].tolist()], bool(r.converged[0])
    ([0.0, 0.17, 0.17, 0.17], True)
    """
    from .halpern import _NoiseFreeSplit, _NoisySplit, halpern_rho, restart_anchors

    o = options
    check_tie_options(o.tiebreak, o.tie_tol)
    B, size = v.shape
    if B == 0:
        return
    n = size.bit_length() - 1
    dev, dt = v.device, v.dtype
    par = parity(n, v)
    noisy = bool((eta > 0).any())
    every = check_interval(o, noisy)
    if state is None:
        rho = torch.full((B,), halpern_rho(n) if o.rho is None else float(o.rho), dtype=dt, device=dev)
    else:
        rho = state[1].to(dt).clone()
    prob = (_NoisySplit if noisy else _NoiseFreeSplit)(v, eta, rho, dt, par)
    prob.cast(dt)
    t = prob.t
    s = prob.start(part.and_effects.to(dt)) if state is None else state[0].to(dt).clone()
    lb = part.lower_bound.to(dt)
    lam_pos = (prob.lam > 0).to(dt)

    def shrink_of(mu: torch.Tensor) -> torch.Tensor:
        f = 1.0 / (1.0 + mu[:, None, None] / rho[:, None, None])
        if not noisy:
            return 1.0 + (f - 1.0) * lam_pos  # [B, 1, size]; 1 on the free entry {}
        f2 = 1.0 / (1.0 + 2.0 * mu[:, None, None] / rho[:, None, None])
        return 1.0 + (torch.cat((f, f2), 1) - 1.0) * lam_pos  # [B, 2, size]

    mu = torch.full((B,), float(o.tiebreak), dtype=dt, device=dev)
    shrinks = torch.zeros(B, dtype=torch.long, device=dev)
    shrink = shrink_of(mu)
    best_phi = torch.full((B,), math.inf, dtype=dt, device=dev)
    best_dual = torch.full((B,), -math.inf, dtype=dt, device=dev)
    best_a = part.and_effects.to(dt).clone()
    best_o = part.or_effects.to(dt).clone()
    best_q = part.noise.to(dt).clone()
    best_l1 = torch.full((B,), math.inf, dtype=dt, device=dev)
    ok = torch.zeros(B, dtype=torch.bool, device=dev)
    its = torch.zeros(B, dtype=torch.long, device=dev)
    active = torch.arange(B, device=dev)
    anchor = s
    k = torch.zeros(B, 1, 1, dtype=dt, device=dev)
    r0 = torch.full((B,), math.inf, dtype=dt, device=dev)
    r_prev = r0.clone()
    since = torch.zeros(B, dtype=dt, device=dev)
    eta_a = eta.to(dt)

    it = 0
    while active.numel() > 0 and it < max_iter:
        it += 1
        u = prob.regularised_multipliers(s, shrink)
        r = torch.add(s, u, alpha=-2.0)
        x, a = prob.project(r)
        s_next = torch.lerp(anchor, torch.lerp(r, x, 2.0), (k + 1.0) / (k + 2.0))
        k = k + 1.0
        if it % every != 0 and it != max_iter:
            s = s_next
            continue
        z = s - u
        if noisy:
            q = torch.minimum(torch.maximum(z[:, 3] / prob.beta, -eta_a[active][:, None]), eta_a[active][:, None])
            cq = c_apply(q, par)
        else:
            q, cq = None, None
        m = mu[active]
        for cand in (z[:, 0], a):
            cand = cand.clone()
            cand[:, 0] = 0.0
            orf = or_from_and(cand, t, cq, par)
            l1c = l1(cand) + l1(orf)
            phi = l1c + 0.5 * m * (cand[:, 1:].square().sum(-1) + orf[:, 1:].square().sum(-1))
            win = phi < best_phi[active]
            idx = active[win]
            best_phi[idx], best_l1[idx] = phi[win], l1c[win]
            best_a[idx], best_o[idx] = cand[win], orf[win]
            if q is not None:
                best_q[idx] = q[win]
        ra = prob.rho[:, None]
        y_e = ra * u[:, 1]
        y_p = -moebius(ra * u[:, 0])
        et = eta_a[active] if noisy else torch.zeros_like(m)
        dual = torch.stack([regularised_dual(w * y_e + (1.0 - w) * y_p, t, et, par, m) for w in _BLENDS]).amax(0)
        best_dual[active] = torch.maximum(best_dual[active], dual)
        dist = torch.sqrt(2.0 * torch.clamp(best_phi[active] - best_dual[active], min=0.0) / m)
        scale = torch.maximum(best_a[active].abs().amax(-1), best_o[active].abs().amax(-1))
        tiny = best_phi[active] <= o.abs_tol
        tie_ok = (dist <= o.tie_tol * scale) | tiny
        l1_ok = (best_l1[active] <= (1.0 + o.tol) * lb[active]) | tiny
        its[active] = it
        done = tie_ok & l1_ok
        ok[active[done]] = True
        # x_mu certified but further than tol from the L1 optimum: a smaller mu (same state)
        refit = tie_ok & ~l1_ok
        give_up = refit & (shrinks[active] >= MAX_SHRINKS)
        refit = refit & ~give_up
        if bool(refit.any()):
            idx = active[refit]
            mu[idx] = mu[idx] / MU_SHRINK
            shrinks[idx] += 1
            best_phi[idx], best_dual[idx] = math.inf, -math.inf
            shrink = shrink_of(mu)[active]
        done = done | give_up
        res = 2.0 * (x - z).square().sum((1, 2)).sqrt()
        anchor, k, r0, r_prev, since = restart_anchors(res, it, every, s_next, anchor, k, r0, r_prev, since, force=refit)
        if bool(done.any()):
            keep = ~done
            s_next, anchor, k, r0, r_prev, since = s_next[keep], anchor[keep], k[keep], r0[keep], r_prev[keep], since[keep]
            prob.keep(keep)
            t = prob.t
            active = active[keep]
            shrink = shrink[keep]
        s = s_next

    part.and_effects = best_a.to(part.and_effects.dtype)
    part.or_effects = best_o.to(part.or_effects.dtype)
    if noisy:
        part.noise = best_q.to(part.noise.dtype)
    found = torch.isfinite(best_l1)
    part.objective = torch.where(found, best_l1, part.objective.to(dt)).to(part.objective.dtype)
    part.gap = relative_gap(part.objective, part.lower_bound, o.abs_tol)
    part.iterations = part.iterations + its
    part.converged = part.converged & ok
    part.metadata["tie_rule"] = tie_rule(o.tiebreak, o.tie_tol)
    part.metadata["tie_mu"] = sorted({float(x) for x in mu.tolist()})
