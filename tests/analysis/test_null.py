"""The order-permutation null (issue 26, first step): each baseline keeps its order profile and signs, the
baselines keep their agreement with each other, only their match with the model's subsets is destroyed."""

from __future__ import annotations

import numpy as np

import genphase as gp
from genphase.analysis import generalization_power
from genphase.analysis.null import order_permutation_null, order_permutations, permute_effects
from genphase.transforms import subset_orders

N, B = 6, 5


def _planted(rng, scale=1.0):
    """Sparse planted effects: a few salient AND/OR terms per sample plus a small dense tail."""
    a = rng.normal(scale=0.01, size=(B, 2 ** N))
    o = rng.normal(scale=0.01, size=(B, 2 ** N))
    for arr in (a, o):
        idx = rng.choice(np.arange(1, 2 ** N), size=(B, 6))
        np.put_along_axis(arr, idx, scale * rng.choice([-1.0, 1.0], size=(B, 6)) * rng.uniform(1, 3, size=(B, 6)), -1)
    return gp.AndOrInteractions.from_effects(a, o)


def test_permutations_keep_orders_and_move_the_empty_set_nowhere():
    p = order_permutations(N, B, np.random.default_rng(1))
    orders = subset_orders(N)
    assert np.all(orders[p] == orders) and np.all(p[..., 0] == 0)
    assert np.all(np.sort(p, axis=-1) == np.arange(2 ** N))  # each is a permutation
    assert not np.all(p == np.arange(2 ** N))  # and not the identity


def test_permuted_effects_against_a_loop():
    rng = np.random.default_rng(2)
    res = _planted(rng)
    p = order_permutations(N, B, rng)
    got = permute_effects(res, p)
    m = res.merged()
    for b in range(B):  # brute force, one subset at a time
        for s in range(2 ** N):
            assert got.and_effects[b, p[b, 0, s]] == m.and_effects[b, s]
            assert got.or_effects[b, p[b, 1, s]] == m.or_effects[b, s]


def test_each_baseline_keeps_its_order_profile_and_sign_counts():
    rng = np.random.default_rng(3)
    res = _planted(rng)
    got = permute_effects(res, order_permutations(N, B, rng))
    m, orders = res.merged(), subset_orders(N)
    for k in range(N + 1):
        sel = orders == k
        for eff, new in ((m.and_effects, got.and_effects), (m.or_effects, got.or_effects)):
            np.testing.assert_allclose(np.abs(new[:, sel]).sum(-1), np.abs(eff[:, sel]).sum(-1))
            assert np.array_equal((new[:, sel] > 0).sum(-1), (eff[:, sel] > 0).sum(-1))
            assert np.array_equal((new[:, sel] < 0).sum(-1), (eff[:, sel] < 0).sum(-1))


def test_the_baselines_keep_their_agreement_with_each_other():
    """One permutation shared by the K baselines: baseline 0 against baseline 1 is unchanged."""
    rng = np.random.default_rng(4)
    b0 = _planted(rng)
    b1 = gp.AndOrInteractions.from_effects(b0.and_effects + rng.normal(scale=0.3, size=(B, 2 ** N)),
                                           b0.or_effects + rng.normal(scale=0.3, size=(B, 2 ** N)))
    p = order_permutations(N, B, rng)
    before = generalization_power(b0, [b1]).h_bar()
    after = generalization_power(permute_effects(b0, p), [permute_effects(b1, p)]).h_bar()
    np.testing.assert_allclose(after, before)


def test_a_model_equal_to_its_baseline_is_far_above_the_null():
    rng = np.random.default_rng(5)
    base = _planted(rng)
    null = order_permutation_null(base, [base], draws=20, seed=0)
    assert null.shape == (20, B)
    assert np.all((null >= 0) & (null <= 1))
    raw = generalization_power(base, [base]).h_bar()
    np.testing.assert_allclose(raw, 1.0)
    assert float(np.nanmean(null)) < 0.9  # the match of subsets is what made it 1
    again = order_permutation_null(base, [base], draws=20, seed=0)
    np.testing.assert_array_equal(null, again)  # seeded


def test_the_null_equals_h_bar_against_the_permuted_baselines():
    """The fast path (salient signs moved once per draw) against the definition: generalization_power of the model
    against permute_effects of each baseline, with the same permutation, eligibility included."""
    rng = np.random.default_rng(5)
    model, *bases = (_planted(rng) for _ in range(4))
    elig = np.array([[True, True, False], [True, False, True], [False, True, True], [True, True, True], [True, True, False]])
    got = order_permutation_null(model, bases, tau=0.1, draws=4, seed=3, eligible=elig)
    for d in range(4):
        perm = order_permutations(N, B, np.random.default_rng([3, d]))
        want = generalization_power(model, [permute_effects(b, perm) for b in bases], tau=0.1, eligible=elig).h_bar()
        np.testing.assert_allclose(got[d], want, rtol=0, atol=1e-12, equal_nan=True)
