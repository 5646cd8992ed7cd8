"""G (Eq. 7), any-of-k (Eq. 10), the k-ablation and the pinned genphase.h_bar on hand-built sets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genphase as gp
from genphase.analysis import baseline_ablation, generalization_power, generalizes
from genphase.errors import InputError

from .helpers import make, random_set, stack

# n = 3: masks 3={0,1}, 5={0,2}, 6={1,2} (order 2), 7={0,1,2} (order 3)
MODEL = make({3: 1.0, 5: 2.0}, {6: 3.0, 7: 4.0})  # four salient terms, sum |I| = 10


def test_pinned_entry_point_is_exported():
    from genphase.analysis import h_bar

    assert gp.h_bar is h_bar


def test_half_of_equal_terms_shared_gives_one_half():
    model = make({3: 1.0, 5: -1.0}, {6: 1.0, 7: -1.0})
    base = make({3: 0.7, 5: 0.0}, {6: 0.0, 7: -0.2})  # shares AND{0,1} and OR{0,1,2}, same signs
    assert gp.h_bar(model, [base]) == pytest.approx(0.5)


def test_shared_subset_weighted_by_strength():
    base = make({3: 0.5}, {7: 2.0})  # shares 1.0 and 4.0 of 10
    assert gp.h_bar(MODEL, [base]) == pytest.approx(0.5)
    g = generalizes(MODEL, base)
    assert g.shape == (2, 8)
    assert np.argwhere(g).tolist() == [[0, 3], [1, 7]]


def test_sign_flips_do_not_generalize():
    flipped = make({3: -1.0, 5: -2.0}, {6: -3.0, 7: -4.0})
    assert gp.h_bar(MODEL, [flipped]) == 0.0
    assert not generalizes(MODEL, flipped).any()


def test_type_must_match():
    swapped = make({6: 3.0, 7: 4.0}, {3: 1.0, 5: 2.0})  # same subsets and signs, other type
    assert gp.h_bar(MODEL, [swapped]) == 0.0


def test_below_tau_baseline_does_not_generalize():
    # baseline max is 10, so its 0.4 on AND{0,1} is below 0.05 * 10 = 0.5
    base = make({3: 0.4, 7: 10.0})
    assert gp.h_bar(MODEL, [base]) == 0.0
    # with an absolute threshold of 0.1 the same 0.4 is salient: 1.0 of 10 generalizes
    assert gp.h_bar(MODEL, [base], absolute=0.1) == pytest.approx(0.1)


def test_baseline_threshold_is_its_own():
    # tau relative to the baseline's own max: 0.6 on AND{0,1} is salient for a baseline whose max is 1
    base = make({3: 0.6, 5: 1.0})
    assert gp.h_bar(MODEL, [base]) == pytest.approx(0.3)
    # model max 1 -> threshold 0.65; baseline max 10 -> its own threshold 6.5 leaves its 6.0 non-salient
    # (with the model's threshold applied to the baseline, both terms would generalize and H would be 1)
    model = make({3: 1.0, 5: 1.0})
    assert gp.h_bar(model, [make({3: 6.0, 5: 10.0})], tau=0.65) == pytest.approx(0.5)


def test_any_of_k_and_ablation():
    b1 = make({3: 1.0})  # shares 1
    b2 = make(None, {6: 1.0})  # shares 3
    assert gp.h_bar(MODEL, [b1, b2]) == pytest.approx(0.4)
    assert gp.h_bar(MODEL, [b1, b2], k=1) == pytest.approx(0.1)
    ab = baseline_ablation(MODEL, [b1, b2])
    np.testing.assert_allclose(ab.h_bar, [0.1, 0.4])
    # generalizable strengths per order for k = 2: order 2 holds 1 (AND{0,1}) + 3 (OR{1,2})
    np.testing.assert_allclose(ab.generalizable[1, 2, 1], [4.0, 0.0])
    np.testing.assert_allclose(ab.non_generalizable[1, 2, :, 0], [0.0, 2.0, 4.0])
    summ = ab.summary()
    assert summ["mean"].tolist() == pytest.approx([0.1, 0.4]) and summ["n_nan"].tolist() == [0, 0]
    fr = ab.to_frame(checkpoint=3)
    assert {"checkpoint", "k", "sample", "model", "type", "order", "sign", "metric", "value"} <= set(fr.columns)
    assert fr.query("metric == 'h_bar' and type == 'all'")["value"].tolist() == pytest.approx([0.1, 0.4])


def test_single_interaction_set_counts_as_one_baseline():
    base = make({3: 0.5}, {7: 2.0})
    assert gp.h_bar(MODEL, base) == pytest.approx(gp.h_bar(MODEL, [base]))


def test_h_bar_by_type_and_per_type_nan():
    base = make({3: 0.5}, {7: 2.0})
    gpow = generalization_power(MODEL, [base])
    assert gpow.h_bar(type="and") == pytest.approx(1.0 / 3.0)
    assert gpow.h_bar(type="or") == pytest.approx(4.0 / 7.0)
    only_and = make({3: 1.0})
    assert np.isnan(generalization_power(only_and, [base]).h_bar(type="or"))


def test_no_salient_interaction_gives_nan():
    empty = make()
    h = gp.h_bar(empty, [MODEL])
    assert np.isnan(h)
    batch = stack(MODEL, empty)
    hb = gp.h_bar(batch, [stack(MODEL, MODEL)])
    assert hb[0] == 1.0 and np.isnan(hb[1])


def test_singletons_merged_before_matching():
    # the model's singleton {0} came out as AND, the baseline's as OR (the solver's split is arbitrary)
    model = make({1: 2.0, 6: 2.0})
    base = make({6: 0.0}, {1: 2.0})
    assert gp.h_bar(model, [base]) == pytest.approx(0.5)
    assert gp.h_bar(model, [base], merge_singletons=False) == 0.0


def test_to_frame_lists_salient_terms_with_g():
    base = make({3: 0.5}, {7: 2.0})
    fr = generalization_power(MODEL, [base, base]).to_frame(checkpoint=2)
    assert len(fr) == 8  # 4 salient terms x K = 2
    assert fr.loc[fr["k"] == 1].set_index("mask")["value"].to_dict() == {3: 1, 5: 0, 6: 0, 7: 1}
    assert list(fr.columns[:3]) == ["checkpoint", "k", "sample"]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), tau=st.floats(0.0, 0.9), n=st.integers(1, 5), batch=st.integers(1, 4))
def test_properties_on_random_sets(seed, tau, n, batch):
    rng = np.random.default_rng(seed)
    model = random_set(rng, batch=(batch,), n=n)
    bases = [random_set(rng, batch=(batch,), n=n) for _ in range(3)]
    h = gp.h_bar(model, bases, tau=tau)
    assert h.shape == (batch,)
    ok = np.isfinite(h)
    assert np.all((h[ok] >= 0) & (h[ok] <= 1))
    # a model generalizes fully to itself and not at all to its negation
    np.testing.assert_allclose(gp.h_bar(model, [model], tau=tau)[ok], 1.0)
    neg = gp.AndOrInteractions.from_effects(-model.and_effects, -model.or_effects)
    np.testing.assert_allclose(gp.h_bar(model, [neg], tau=tau)[ok], 0.0)
    # the ablation is non-decreasing in k and ends at H-bar with all K
    ab = baseline_ablation(model, bases, tau=tau).h_bar
    assert np.all(np.diff(np.nan_to_num(ab), axis=0) >= -1e-12)
    np.testing.assert_allclose(ab[-1], h, equal_nan=True)
    # relative tau is scale-free: scaling a baseline by a positive constant changes nothing
    scaled = [gp.AndOrInteractions.from_effects(3.7 * b.and_effects, 3.7 * b.or_effects) for b in bases]
    np.testing.assert_allclose(gp.h_bar(model, scaled, tau=tau), h, equal_nan=True)


def test_mismatched_n():
    with pytest.raises(InputError, match="n=4"):
        gp.h_bar(MODEL, [make({3: 1.0}, n=4)])


def test_mismatched_variables():
    model = make({3: 1.0}, variables=["a", "b", "c"])
    base = make({3: 1.0}, variables=["a", "b", "d"])
    with pytest.raises(InputError, match="variables"):
        gp.h_bar(model, [base])
    # unnamed variables on one side: only n is compared
    assert gp.h_bar(model, [make({3: 1.0})]) == 1.0


def test_mismatched_batch_and_empty_and_nan():
    with pytest.raises(InputError, match="batch shape"):
        gp.h_bar(stack(MODEL, MODEL), [MODEL])
    with pytest.raises(InputError, match="empty"):
        gp.h_bar(MODEL, [])
    bad = gp.AndOrInteractions.from_effects(np.full(8, np.nan), np.zeros(8))
    with pytest.raises(InputError, match="baselines\\[0\\]"):
        gp.h_bar(MODEL, [bad])
    with pytest.raises(InputError, match="k must be"):
        gp.h_bar(MODEL, [MODEL], k=2)
    with pytest.raises(InputError, match="type"):
        gp.h_bar(MODEL, [MODEL], type="xor")
