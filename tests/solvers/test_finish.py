"""The exact finish on the identified support (noise-bounded problems, issue 29): its answers are
certified like the iteration's (a feasible point, a weak-duality bound never above the LP
optimum of scipy's HiGHS, an independent solver), it reaches that optimum on near-sparse games,
and it changes nothing where it does not fire (noise-free problems, samples the movement
correction did not take)."""

from __future__ import annotations

import numpy as np
import torch
from games import planted_game, random_planted
from test_near_sparse import _normalised, near_sparse

import genphase.solvers.halpern as halpern
from genphase.solvers.admm import ADMMOptions, solve_admm
from genphase.solvers.certificate import best_primal, dual_lower_bound
from genphase.solvers.finish import support_finish
from genphase.solvers.lp import solve_lp_highs
from genphase.solvers.operators import c_apply, l1, parity, t_vector


def _check_against_highs(vb, eta, res, opt):
    obj, lb, gap = res.objective.numpy(), res.lower_bound.numpy(), res.gap.numpy()
    assert np.all(lb <= opt * (1 + 1e-8) + 1e-10), (lb, opt)  # never above the optimum
    assert np.all(obj >= opt * (1 - 1e-8) - 1e-10), (obj, opt)  # a feasible point
    assert np.all(obj <= opt * (1 + gap) + 1e-10)
    assert np.all(np.abs(res.noise.numpy()) <= eta.numpy()[:, None] + 1e-12)  # the noise in its box
    # the effects rebuild the noisy game v + q (the value of {} is free)
    n = vb.shape[-1].bit_length() - 1
    S = np.arange(1 << n)
    meets = ((S[:, None] & S[None, :]) != 0).astype(float)
    from genphase.transforms import zeta

    a, o, q = res.and_effects.numpy(), res.or_effects.numpy(), res.noise.numpy()
    noisy = vb.numpy() + q
    np.testing.assert_allclose(zeta(a) + o @ meets.T, noisy - noisy[:, :1], atol=1e-9)  # up to the free {} entry


def test_finish_reaches_the_lp_optimum_on_noise_bounded_near_sparse_games(rng, monkeypatch):
    # every open sample gets the finish at iteration 200 (not only those the movement correction
    # took): the finish alone certifies them, long before the iteration would
    monkeypatch.setattr(halpern, "_FINISH_ALL", 1)
    vb = _normalised(np.concatenate([near_sparse(rng, 9, 2, 1e-4), near_sparse(rng, 9, 1, 1e-3)]))
    eta = 0.02 * (vb[:, -1] - vb[:, 0]).abs()
    res = solve_admm(vb, eta, ADMMOptions(finish_at=200))
    _, _, _, opt = solve_lp_highs(vb.numpy(), eta.numpy())
    assert res.converged.all()
    at = res.iterations.numpy() == 200  # finished there: the exact optimum, up to HiGHS's tolerances
    assert at.sum() >= 2 and np.all(res.gap.numpy()[at] <= 1e-6), (res.iterations, res.gap)
    _check_against_highs(vb, eta, res, opt)


def test_a_poor_support_gives_a_valid_but_weaker_certificate(rng):
    # the singletons only, one round: the answer is not optimal, and its certificate says so
    n = 8
    vb = _normalised(near_sparse(rng, n, 1, 1e-3))
    eta = 0.02 * (vb[:, -1] - vb[:, 0]).abs()
    _, _, _, opt = solve_lp_highs(vb.numpy(), eta.numpy())
    par = parity(n, vb)
    t = t_vector(vb)
    singletons = 1 << np.arange(n)  # columns and rows: the singletons (a feasible restriction)
    a, q, y = support_finish(vb[0].numpy(), float(eta[0]), par.numpy(), singletons, np.array([], int), singletons,
                             max_rounds=1)[-1]
    q_t = torch.as_tensor(q)[None]
    p, orf = best_primal((torch.as_tensor(a)[None],), t, c_apply(q_t, par), par, vb.dtype)
    obj = float(l1(p) + l1(orf))
    lb = float(dual_lower_bound(torch.as_tensor(y)[None], t, eta, par)[0])
    assert np.all(np.abs(q) <= float(eta[0]))
    assert lb <= opt[0] * (1 + 1e-8) <= obj * (1 + 1e-8) and obj > opt[0] * 1.01, (lb, opt, obj)


def test_finish_changes_nothing_where_it_does_not_fire(rng):
    # noise-free games: no finish at all; noise-bounded planted games the movement correction does
    # not take: no finish before iteration 16 x finish_at (here 200). Same iterations and effects.
    n = 8
    planted = _normalised(np.stack([planted_game(n, *random_planted(rng, n, 6, 6)) for _ in range(3)])
                          + 0.02 * rng.normal(size=(3, 1 << n)))
    ns = _normalised(near_sparse(rng, n, 2, 1e-4))
    for vb, r in ((ns, 0.0), (planted, 0.0), (planted, 0.02)):
        eta = r * (vb[:, -1] - vb[:, 0]).abs()
        on, off = solve_admm(vb, eta, ADMMOptions(finish_at=200)), solve_admm(vb, eta, ADMMOptions(finish_at=0))
        assert torch.equal(on.iterations, off.iterations) and torch.equal(on.and_effects, off.and_effects)


def test_finish_at_the_iteration_cap(rng):
    # a sample still open at the cap gets the finish (whatever the movement correction did)
    vb = _normalised(near_sparse(rng, 9, 1, 1e-4))
    eta = 0.02 * (vb[:, -1] - vb[:, 0]).abs()
    res = solve_admm(vb, eta, ADMMOptions(max_iter=300, finish_at=100000))
    _, _, _, opt = solve_lp_highs(vb.numpy(), eta.numpy())
    assert res.converged.all() and int(res.iterations[0]) == 300
    _check_against_highs(vb, eta, res, opt)
