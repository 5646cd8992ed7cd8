"""Near-sparse games (issue 29): a few dozen AND and OR terms up to order 8 plus a dense perturbation
of 1e-3 or 1e-4 of the scale, where the size rule of the per-sample rho chose a penalty 8-25x too
small. The default solver must reach the exact LP optimum (scipy HiGHS, an independent solver)
within its certified gap, with a lower bound that never exceeds that optimum; the median correction
of the rho rule must act on these games and leave the other families' paths untouched; with a noise
bound (where the movement correction may act) the certificate must stay valid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from games import planted_game, random_planted

import genphase as gp
import genphase.solvers.halpern as halpern
from genphase.solvers.admm import ADMMOptions, solve_admm
from genphase.solvers.halpern import median_effect
from genphase.solvers.lp import solve_lp_highs


def near_sparse(rng: np.random.Generator, n: int, b: int, eps: float, k_and: int = 14, k_or: int = 8) -> np.ndarray:
    """``k_and`` AND and ``k_or`` OR terms on distinct subsets of order 1-8 (weights N(0, 2^2)) plus
    Gaussian noise of ``eps * max|v|`` (the family of benchmarks/bench_solver.py)."""
    size = 1 << n
    S = np.arange(size)
    orders = np.array([bin(s).count("1") for s in range(size)])
    cand = np.nonzero((orders >= 1) & (orders <= 8))[0]
    out = []
    for _ in range(b):
        picks = rng.choice(cand, k_and + k_or, replace=False)
        w = rng.normal(size=k_and + k_or) * 2
        v = np.zeros(size)
        for T, wt in zip(picks[:k_and], w[:k_and]):
            v += wt * ((S & T) == T)
        for T, wt in zip(picks[k_and:], w[k_and:]):
            v += wt * ((S & T) != 0)
        out.append(v + eps * np.abs(v).max() * rng.normal(size=size))
    return np.stack(out)


def _normalised(v: np.ndarray) -> torch.Tensor:
    v = v - v[:, :1]
    return torch.as_tensor(v / np.abs(v).max(-1, keepdims=True))


@pytest.mark.parametrize("n, eps", [(8, 1e-3), (8, 1e-4), (9, 1e-3), (10, 1e-4)])
def test_near_sparse_games_reach_the_lp_optimum_within_the_certified_gap(n, eps, rng):
    vb = _normalised(near_sparse(rng, n, 2 if n < 10 else 1, eps))
    zero = torch.zeros(len(vb), dtype=vb.dtype)
    res = solve_admm(vb, zero, ADMMOptions(max_iter=20000))  # no HiGHS fallback: the iteration alone
    _, _, _, opt = solve_lp_highs(vb.numpy())
    obj, lb, gap = res.objective.numpy(), res.lower_bound.numpy(), res.gap.numpy()
    assert res.converged.all(), gap
    assert np.all(lb <= opt * (1 + 1e-8) + 1e-10), (lb, opt)  # the certificate never exceeds the optimum
    assert np.all(obj >= opt * (1 - 1e-8) - 1e-10), (obj, opt)  # a feasible point
    assert np.all(obj <= opt * (1 + gap) + 1e-10) and np.all(gap <= 1e-3)  # the optimum within the certified gap
    # the returned effects rebuild the game exactly: sum of ANDs over subsets, ORs over meeting sets
    a, o = res.and_effects.numpy(), res.or_effects.numpy()
    S = np.arange(1 << n)
    meets = ((S[:, None] & S[None, :]) != 0).astype(float)
    from genphase.transforms import zeta

    np.testing.assert_allclose(zeta(a) + o @ meets.T, vb.numpy(), atol=1e-10)


@pytest.mark.parametrize("n, eps", [(8, 1e-3), (9, 1e-4)])
def test_noise_bounded_near_sparse_games_reach_the_lp_optimum(n, eps, rng):
    # with a noise bound the movement correction of the rho rule may take over; the certificate
    # must stay a valid bound and the point feasible, with the box on the noise respected
    vb = _normalised(near_sparse(rng, n, 2, eps))
    eta = 0.02 * (vb[:, -1] - vb[:, 0]).abs()
    res = solve_admm(vb, eta, ADMMOptions(max_iter=50000))
    _, _, _, opt = solve_lp_highs(vb.numpy(), eta.numpy())
    obj, lb, gap = res.objective.numpy(), res.lower_bound.numpy(), res.gap.numpy()
    assert res.converged.all(), gap
    assert np.all(lb <= opt * (1 + 1e-8) + 1e-10), (lb, opt)
    assert np.all(obj >= opt * (1 - 1e-8) - 1e-10) and np.all(obj <= opt * (1 + gap) + 1e-10)
    assert np.all(np.abs(res.noise.numpy()) <= eta.numpy()[:, None] + 1e-12)


def test_extract_and_or_on_near_sparse_games_matches_highs(rng):
    # the public entry point, in the caller's units, without the exact fallback
    v = 3.0 * near_sparse(rng, 9, 2, 1e-4) + 1.5
    res = gp.extract_and_or(v, fallback_max_n=0)
    _, _, _, opt = solve_lp_highs(v - v[:, :1])
    assert res.converged.all()
    assert np.all(res.lower_bound <= opt * (1 + 1e-8)) and np.all(res.objective <= opt * (1 + 1e-3))


def _rho_after(vb: torch.Tensor, it: int) -> np.ndarray:
    trace: list = []
    solve_admm(vb, torch.zeros(len(vb), dtype=vb.dtype), ADMMOptions(max_iter=it), trace=trace)
    return trace[-1][3].numpy()


def test_median_correction_raises_rho_on_near_sparse_games_only(rng, monkeypatch):
    n = 10
    ns = _normalised(near_sparse(rng, n, 2, 1e-4))
    planted = _normalised(np.stack([planted_game(n, *random_planted(rng, n, 6, 6)) for _ in range(2)])
                          + 0.02 * rng.normal(size=(2, 1 << n)))
    kappa, with_median = halpern._MEDIAN_KAPPA, _rho_after(ns, 125)
    monkeypatch.setattr(halpern, "_MEDIAN_KAPPA", float("inf"))
    size_rule = _rho_after(ns, 125)
    assert np.all(with_median > kappa * size_rule), (with_median, size_rule)
    monkeypatch.undo()
    # planted games: the two rules agree within 4x, so the path (iterations, effects) is unchanged
    zero = torch.zeros(2, dtype=planted.dtype)
    r1 = solve_admm(planted, zero)
    monkeypatch.setattr(halpern, "_MEDIAN_KAPPA", float("inf"))
    r0 = solve_admm(planted, zero)
    assert torch.equal(r1.iterations, r0.iterations) and torch.equal(r1.and_effects, r0.and_effects)


def test_near_sparse_sample_alone_or_in_a_batch_takes_the_same_path(rng):
    # the median correction is decided per sample: the batch does not change a sample's iterations
    vb = _normalised(np.concatenate([near_sparse(rng, 9, 2, 1e-4), rng.normal(size=(2, 1 << 9))]))
    zero = torch.zeros(len(vb), dtype=vb.dtype)
    batch = solve_admm(vb, zero)
    for i in range(len(vb)):
        alone = solve_admm(vb[i:i + 1], zero[:1])
        assert int(alone.iterations[0]) == int(batch.iterations[i])


def test_median_effect_matches_numpy(rng):
    eff = torch.as_tensor(rng.normal(size=(5, 2, 64)) * (rng.random(size=(5, 2, 64)) < 0.3))
    eff[4] = 0.0  # no nonzero effect: nan
    eff[3, :, 1:] = 0.0
    eff[3, 0, 0] = 7.0  # only the {} entry, which is left out: nan
    got = median_effect(eff.clone()).numpy()
    for i in range(3):
        a = np.abs(eff[i].numpy().copy())
        a[:, 0] = 0.0
        nz = np.sort(a[a > 0])
        assert got[i] == nz[(len(nz) - 1) // 2]
    assert np.isnan(got[3]) and np.isnan(got[4])
