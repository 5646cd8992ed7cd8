"""extract_and_or against independent truths: brute-force surrogate, planted games, HiGHS LP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from games import planted_game, random_planted
from hypothesis import given, settings
from hypothesis import strategies as st

import genphase as gp
from genphase.errors import ConvergenceWarning, InputError, MemoryEstimateError
from genphase.solvers.lp import solve_lp_highs
from genphase.transforms import moebius, or_transform, subset_orders


def brute_surrogate(bias, and_eff, or_eff, n):
    """h(x_S) by the definition, looping over masks (test only)."""
    size = 1 << n
    h = np.full(size, float(bias))
    for S in range(size):
        for T in range(1, size):
            if T & S == T:
                h[S] += and_eff[T]
            if T & S:
                h[S] += or_eff[T]
    return h


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_universal_matching_any_gamma(n, seed):
    # Theorem 1: for ANY split gamma, AND + OR effects reproduce v on all masks.
    rng = np.random.default_rng(seed)
    v = rng.normal(size=1 << n) * 3
    gamma = rng.normal(size=1 << n)
    a = moebius(v / 2 + gamma)
    o = or_transform(v / 2 - gamma)
    h = brute_surrogate(v[0], a, o, n)
    np.testing.assert_allclose(h, v, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1), st.sampled_from([0.0, 0.03]))
def test_extract_universal_matching_and_noise_bound(n, seed, r):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(2, 1 << n)) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = gp.extract_and_or(v, noise_bound=r)
    assert res.and_effects.shape == v.shape and res.or_effects.shape == v.shape
    assert np.all(res.and_effects[:, 0] == 0) and np.all(res.or_effects[:, 0] == 0)
    for b in range(2):
        h = brute_surrogate(res.bias[b], res.and_effects[b], res.or_effects[b], n)
        np.testing.assert_allclose(h, v[b] + res.noise[b], atol=1e-9)
    np.testing.assert_allclose(res.reconstruct(), v + res.noise, atol=1e-9)
    eta = r * np.abs(v[:, -1] - v[:, 0])
    assert np.all(np.abs(res.noise) <= eta[:, None] + 1e-12)
    np.testing.assert_allclose(res.bias, v[:, 0] + res.noise[:, 0])
    # Eq. 6 as written: singletons counted separately
    obj = np.abs(res.and_effects[:, 1:]).sum(-1) + np.abs(res.or_effects[:, 1:]).sum(-1)
    np.testing.assert_allclose(res.objective, obj, rtol=1e-12)


@pytest.mark.parametrize("n", [4, 6, 8])
@pytest.mark.parametrize("noise_bound", [0.0, 0.02])
def test_objective_matches_highs_and_gap_is_certified(n, noise_bound, rng):
    v = rng.normal(size=(3, 1 << n))
    v[1] = planted_game(n, *random_planted(rng, n), bias=0.5) + 0.05 * rng.normal(size=1 << n)
    res = gp.extract_and_or(v, noise_bound=noise_bound)
    eta = noise_bound * np.abs(v[:, -1] - v[:, 0])
    _, _, _, opt = solve_lp_highs(v, eta)
    assert np.all(res.converged)
    assert np.all(res.gap <= 1e-3)
    # feasible point: never below the optimum; within the certified gap above it
    assert np.all(res.objective >= opt * (1 - 1e-7) - 1e-9)
    true_gap = (res.objective - opt) / opt
    assert np.all(res.gap >= true_gap - 1e-9), (res.gap, true_gap)
    assert np.all(res.lower_bound <= opt * (1 + 1e-7) + 1e-9)


@pytest.mark.parametrize("n", [6, 8, 10])
def test_planted_sparse_games_recovered_exactly(n, rng):
    for _ in range(3):
        and_terms, or_terms = random_planted(rng, n, k_and=3, k_or=3)
        v = planted_game(n, and_terms, or_terms, bias=rng.normal())
        planted_l1 = sum(abs(w) for w in and_terms.values()) + sum(abs(w) for w in or_terms.values())
        res = gp.extract_and_or(v, tol=1e-5)
        np.testing.assert_allclose(res.objective, planted_l1, rtol=2e-5)
        a = np.zeros(1 << n)
        o = np.zeros(1 << n)
        for t, w in and_terms.items():
            a[t] = w
        for t, w in or_terms.items():
            o[t] = w
        np.testing.assert_allclose(res.and_effects, a, atol=1e-3 * planted_l1)
        np.testing.assert_allclose(res.or_effects, o, atol=1e-3 * planted_l1)


def test_singleton_ties_split_evenly_and_merge():
    # v[S] = 2 * [0 in S] + 1.5 * [1 in S]: the optimum 3.5 is reached by many decompositions
    # (singletons as AND or OR; also AND{0,1} + OR{0,1} = [0 in S] + [1 in S]). The documented
    # rule: each one-variable pair is reported split evenly between AND and OR.
    v = planted_game(3, {1: 2.0, 2: 1.5}, {})
    res = gp.extract_and_or(v, tol=1e-8)
    np.testing.assert_allclose(res.objective, 3.5, rtol=1e-7)
    singles = subset_orders(3) == 1
    np.testing.assert_allclose(res.and_effects[singles], res.or_effects[singles], atol=1e-12)
    merged = res.merged()
    assert np.all(merged.or_effects[singles] == 0)
    np.testing.assert_allclose(merged.reconstruct(), v, atol=1e-9)
    # deterministic: same input, same output
    again = gp.extract_and_or(v, tol=1e-8)
    np.testing.assert_array_equal(again.and_effects, res.and_effects)


def test_constant_and_one_variable_games():
    res = gp.extract_and_or(np.full((2, 8), 3.0))
    assert np.all(res.objective == 0) and np.all(res.gap == 0) and np.all(res.converged)
    np.testing.assert_allclose(res.bias, 3.0)
    res1 = gp.extract_and_or(np.array([0.0, 2.0]))
    assert res1.batch_shape == ()
    np.testing.assert_allclose(res1.and_effects[1] + res1.or_effects[1], 2.0)
    np.testing.assert_allclose(res1.predict(np.array([0, 1])), [0.0, 2.0])


def test_batch_shapes_torch_input_and_predict(rng):
    v = torch.as_tensor(rng.normal(size=(2, 3, 16)))
    res = gp.extract_and_or(v)
    assert res.batch_shape == (2, 3)
    assert isinstance(res.and_effects, np.ndarray)
    sub = res[1, 2]
    assert sub.batch_shape == ()
    masks = np.array([0, 3, 15])
    np.testing.assert_allclose(sub.predict(masks), v[1, 2].numpy()[masks], atol=1e-9)
    boolmasks = np.array([[False] * 4, [True, True, False, False]])
    np.testing.assert_allclose(sub.predict(boolmasks), v[1, 2].numpy()[[0, 3]], atol=1e-9)
    top = sub.top_k(3)
    assert list(top.columns) == ["type", "mask", "order", "variables", "effect"]
    assert np.all(np.diff(np.abs(top["effect"].to_numpy())) <= 1e-12)
    frame = res.to_frame()
    assert len(frame) == 6 * 2 * 15


def test_salient_masks_relative_and_absolute():
    res = gp.AndOrInteractions.from_effects(
        np.array([0, 1.0, 0.04, 0, 0, 0, 0, -0.5]), np.array([0, 0, 0, 0.2, 0, 0, 0, 0.06])
    )
    a, o = res.salient(0.05)
    assert np.nonzero(a)[0].tolist() == [1, 7] and np.nonzero(o)[0].tolist() == [3, 7]
    a, o = res.salient(absolute=0.3)
    assert np.nonzero(a)[0].tolist() == [1, 7] and not o.any()


def test_harsanyi_dividends_matches_shapiq(rng):
    shapiq = pytest.importorskip("shapiq")
    from genphase.transforms import masks_to_bitmasks

    n = 5
    v = rng.normal(size=1 << n)
    ec = shapiq.ExactComputer(n_players=n, game=lambda c: v[masks_to_bitmasks(np.asarray(c))])
    mv = ec("Moebius", order=n)
    h = gp.harsanyi_dividends(v)
    for T in range(1 << n):
        assert abs(mv[tuple(i for i in range(n) if (T >> i) & 1)] - h[T]) < 1e-10
    conv = gp.extract_and_or(v).to_shapiq(kind="harsanyi")
    for T in range(1, 1 << n):
        assert abs(conv[tuple(i for i in range(n) if (T >> i) & 1)] - h[T]) < 1e-10


def test_reference_sgd_recipe_is_feasible_but_not_better_than_optimum(rng):
    n = 6
    v = rng.normal(size=(2, 1 << n))
    ref = gp.extract_and_or(v, solver="sgd-reference", steps=300, noise_bound=0.02)
    exact = gp.extract_and_or(v, noise_bound=0.02)
    np.testing.assert_allclose(ref.reconstruct(), v + ref.noise, atol=1e-9)
    assert np.all(np.abs(ref.noise) <= 0.02 * np.abs(v[:, -1] - v[:, 0])[:, None] + 1e-12)
    assert np.all(ref.objective >= exact.lower_bound - 1e-9)
    assert np.all(ref.gap >= 0)


def test_highs_solver_option(rng):
    v = rng.normal(size=(2, 16))
    a = gp.extract_and_or(v, solver="highs")
    b = gp.extract_and_or(v)
    np.testing.assert_allclose(a.reconstruct(), v, atol=1e-7)
    assert np.all(b.objective <= a.objective * (1 + 1e-3) + 1e-12)


def test_warm_start_gives_same_optimum(rng):
    v = rng.normal(size=(3, 64))
    cold = gp.extract_and_or(v)
    warm = gp.extract_and_or(v + 0.01 * rng.normal(size=v.shape), warm_start=cold)
    assert np.all(warm.converged)


@pytest.mark.parametrize(
    "values, match",
    [
        (np.zeros(6), "2\\*\\*n"),
        (np.array([0.0, np.nan]), "NaN or inf"),
        (np.array([0.0, np.inf, 1, 2]), "NaN or inf"),
        (np.zeros((0, 8)), "empty batch"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_bad_values_are_explained(values, match):
    with pytest.raises(InputError, match=match):
        gp.extract_and_or(values)


def test_bad_options_are_explained():
    v = np.zeros(4)
    with pytest.raises(InputError, match="noise_bound"):
        gp.extract_and_or(v, noise_bound=-1)
    with pytest.raises(InputError, match="unknown solver"):
        gp.extract_and_or(v, solver="magic")
    with pytest.raises(InputError, match="unknown ADMM options"):
        gp.extract_and_or(v, rhoo=2.0)


def test_memory_estimate_error(monkeypatch):
    import genphase.solvers as solvers

    monkeypatch.setattr(solvers, "available_memory", lambda device: 1024)
    with pytest.raises(MemoryEstimateError, match="GiB"):
        gp.extract_and_or(np.zeros(1 << 10))


def test_solver_options_apply_to_every_batch(rng):
    v = rng.normal(size=(4, 16))
    ref = gp.extract_and_or(v, solver="sgd-reference", batch_size=2, steps=7, certify=False)
    assert ref.iterations.tolist() == [7, 7, 7, 7]
    assert np.all(np.isnan(ref.lower_bound))
    exact = gp.extract_and_or(v, fallback_max_n=0, batch_size=2)
    assert np.all(exact.converged)
    np.testing.assert_allclose(exact.gap, (exact.objective - exact.lower_bound) / exact.lower_bound, atol=1e-12)
