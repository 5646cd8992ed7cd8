"""The tie rule (ties="least-norm"): one answer per game, whatever the warm start, batch or dtype,
equal to an independent least-norm truth (HiGHS LP + a QP on the optimal face)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from games import planted_game
from scipy import optimize

import genphase as gp
from genphase.errors import InputError
from genphase.solvers.lp import solve_lp_highs

TIES = {"ties": "least-norm"}


def least_norm_truth(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-L2-norm L1 optimum of Eq. 6 (noise-free), by brute force over masks.

    x = (AND, OR) over nonempty T must rebuild v - v[{}] on every mask. HiGHS gives the
    optimum and a dual y; the optimal face is {x : M x = w, x_i = 0 where |M^T y|_i < 1,
    sign(x_i) = sign((M^T y)_i)}, and its least-norm point is a non-negative least-norm
    solution (NNLS on the Tikhonov-regularised system, exact to about eps^2)."""
    n = v.shape[-1].bit_length() - 1
    S = np.arange(1 << n)[1:, None]
    T = np.arange(1 << n)[None, 1:]
    M = np.hstack([((S & T) == T), ((S & T) != 0)]).astype(float)
    w = v[1:] - v[0]
    N = M.shape[1]
    lp = optimize.linprog(np.ones(2 * N), A_eq=np.hstack([M, -M]), b_eq=w, bounds=[(0, None)] * (2 * N), method="highs")
    s = M.T @ lp.eqlin.marginals
    face = np.nonzero(np.abs(np.abs(s) - 1) <= 1e-7)[0]
    sig = np.sign(s[face])
    B = M[:, face] * sig
    # least-norm z >= 0 with B z = w: the Tikhonov limit, by Lawson-Hanson NNLS on [B; eps I]
    eps = 1e-6
    z, resid = optimize.nnls(np.vstack([B, eps * np.eye(B.shape[1])]), np.concatenate([w, np.zeros(B.shape[1])]), maxiter=50 * B.shape[1])
    assert np.abs(B @ z - w).max() <= 1e-8
    x = np.zeros(N)
    x[face] = sig * z
    assert abs(np.abs(x).sum() - lp.fun) <= 1e-7 * max(1.0, lp.fun)  # still an L1 optimum
    zero = np.zeros(1)
    return np.concatenate([zero, x[: N // 2]]), np.concatenate([zero, x[N // 2:]])


def _x(res: gp.AndOrInteractions) -> np.ndarray:
    return res.effects().reshape(*res.batch_shape, -1)


def _assert_same(a, b, frac=0.01):
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    scale = np.abs(a).max(-1, keepdims=True)
    assert np.all(np.abs(a - b) <= frac * scale), np.abs(a - b).max(-1) / scale[:, 0]


def example_game() -> np.ndarray:
    """The issue's game v(S) = x0 + x1 + 0.3 x2 x3 on 5 variables."""
    return planted_game(5, {0b1: 1.0, 0b10: 1.0, 0b1100: 0.3}, {})


def test_issue_example_by_hand():
    # Two L1 optima of cost 2.3: singletons {0}, {1} (each split AND/OR) or AND{0,1} + OR{0,1}.
    # Least norm over the segment between them: singleton pairs and the {0,1} pair all 1/3
    # (minimise 4a^2 + 2b^2 subject to 2a + b = 1), AND{2,3} = 0.3.
    res = gp.extract_and_or(example_game(), **TIES)
    a, o = np.zeros(32), np.zeros(32)
    a[[0b1, 0b10, 0b11]] = 1 / 3
    o[[0b1, 0b10, 0b11]] = 1 / 3
    a[0b1100] = 0.3
    np.testing.assert_allclose(res.and_effects, a, atol=0.01)
    np.testing.assert_allclose(res.or_effects, o, atol=0.01)
    assert res.converged and res.gap <= 1e-3
    assert "tie_rule" in res.metadata and "mu" in res.metadata["tie_rule"]
    truth_a, truth_o = least_norm_truth(example_game())
    np.testing.assert_allclose(truth_a, a, atol=1e-5)
    np.testing.assert_allclose(truth_o, o, atol=1e-5)


def test_issue_example_warm_started_from_either_optimum():
    v = example_game()
    single = gp.AndOrInteractions.from_effects(np.eye(32)[0b1] + np.eye(32)[0b10] + 0.3 * np.eye(32)[0b1100], np.zeros(32))
    pair = gp.AndOrInteractions.from_effects(np.eye(32)[0b11] + 0.3 * np.eye(32)[0b1100], np.eye(32)[0b11])
    cold = gp.extract_and_or(v, **TIES)
    for start in (single, pair):
        warm = gp.extract_and_or(v, warm_start=start, **TIES)
        _assert_same(_x(cold), _x(warm))
    # the L1 iteration itself, started at either optimum, stays there (the issue's bug, and why
    # the default rule never starts anywhere but at its cold start)
    from genphase.solvers.admm import ADMMOptions, solve_admm

    vb = torch.as_tensor(v - v[0])[None]
    ends = [solve_admm(vb, torch.zeros(1, dtype=vb.dtype), ADMMOptions(), init=torch.as_tensor(s.and_effects)[None]) for s in (single, pair)]
    assert (ends[0].and_effects - ends[1].and_effects).abs().max() > 0.1


def planted_tie_games(rng, n: int, count: int) -> np.ndarray:
    """AND{a,b} + OR{a,b} next to the singletons a, b (equal L1), other terms on the remaining
    variables, and a small noise-free perturbation (one more small AND term)."""
    games = []
    for _ in range(count):
        a, b, *rest = rng.permutation(n)
        w = rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0])
        others = {int((1 << rest[0]) | (1 << rest[1])): float(rng.normal()), int(1 << rest[2]): float(rng.normal())}
        v = w * planted_game(n, {1 << a: 1.0, 1 << b: 1.0}, {}) + planted_game(n, others, {int((1 << rest[1]) | (1 << rest[2])): float(rng.normal())})
        games.append(v + planted_game(n, {int((1 << a) | (1 << rest[0])): 0.02 * float(rng.normal())}, {}))
    return np.stack(games)


def test_planted_ties_cold_warm_batch_and_dtype_agree_with_the_truth(rng):
    n = 5
    games = planted_tie_games(rng, n, 3)
    truth = np.stack([np.concatenate(least_norm_truth(g)) for g in games])
    cold = gp.extract_and_or(games, **TIES)
    assert np.all(cold.converged) and np.all(cold.gap <= 1e-3)
    _assert_same(_x(cold), truth)
    # warm-started from another optimum: the pair representation swapped for the singletons' L1 solution
    other = gp.extract_and_or(games)  # the L1 stage alone: some optimum
    shuffled = gp.AndOrInteractions.from_effects(other.or_effects, other.and_effects)  # AND <-> OR: a far start
    warm = gp.extract_and_or(games, warm_start=shuffled, **TIES)
    _assert_same(_x(cold), _x(warm))
    # inside a mixed batch, alone, and with float64 iterates
    mixed = np.concatenate([rng.normal(size=(2, 1 << n)), games, example_game()[None]])
    in_batch = gp.extract_and_or(mixed, **TIES)
    _assert_same(_x(cold), _x(in_batch)[2:5])
    alone = gp.extract_and_or(games, batch_size=1, **TIES)
    _assert_same(_x(cold), _x(alone))
    f64 = gp.extract_and_or(games, iterate_dtype="float64", **TIES)
    _assert_same(_x(cold), _x(f64))


def test_random_games_certificate_is_sound(rng):
    # the tie stage must keep the L1 certificate honest: lower bound <= optimum <= objective
    n = 6
    v = np.concatenate([rng.normal(size=(2, 1 << n)), planted_tie_games(rng, n, 2)])
    res = gp.extract_and_or(v, fallback_max_n=0, **TIES)
    _, _, _, opt = solve_lp_highs(v)
    assert np.all(res.lower_bound <= opt * (1 + 1e-8) + 1e-10)
    assert np.all(res.objective >= opt * (1 - 1e-8) - 1e-10)
    assert np.all(res.gap[res.converged] <= 1e-3)
    np.testing.assert_allclose(res.reconstruct(), v, atol=1e-8)


def test_noise_bounded_answer_does_not_depend_on_the_start(rng):
    n = 5
    v = planted_tie_games(rng, n, 2)
    cold = gp.extract_and_or(v, noise_bound=0.02, **TIES)
    start = gp.extract_and_or(v + 0.2 * rng.normal(size=v.shape), noise_bound=0.02)
    warm = gp.extract_and_or(v, noise_bound=0.02, warm_start=start, **TIES)
    assert np.all(cold.converged) and np.all(warm.converged)
    _assert_same(_x(cold), _x(warm))
    eta = 0.02 * np.abs(v[:, -1] - v[:, 0])
    assert np.all(np.abs(cold.noise) <= eta[:, None] + 1e-12)
    np.testing.assert_allclose(cold.reconstruct(), v + cold.noise, atol=1e-8)


@pytest.mark.parametrize(
    "option, match",
    [
        ({"tiebreak": 0.0}, r"tiebreak .* must lie in \[0.0001, 10\], got 0.0"),
        ({"tiebreak": 50}, r"tiebreak .* must lie in \[0.0001, 10\], got 50"),
        ({"tie_tol": 0.5}, r"tie_tol .* must lie in \[1e-08, 0.05\], got 0.5"),
        ({"ties": "smallest"}, r"ties must be one of \('cold-start', 'least-norm'\)"),
    ],
)
def test_tie_options_outside_their_range_are_refused(option, match):
    with pytest.raises(InputError, match=match):
        gp.extract_and_or(np.zeros(8), **option)
