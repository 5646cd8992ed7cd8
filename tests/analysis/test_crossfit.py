"""Cross-fitting: the design's guarantee (no explained training sample is compared with a baseline that
trained on it) and G / H-bar restricted to the eligible baselines, against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genphase as gp
from genphase.analysis import CrossfitDesign, crossfit_design, generalization_power
from genphase.errors import InputError

from .brute import salient_terms, shared
from .helpers import random_set


@settings(max_examples=60, deadline=None)
@given(K=st.integers(3, 8), extra=st.integers(0, 40), seed=st.integers(0, 10_000), data=st.data())
def test_no_explained_training_sample_meets_a_baseline_that_trained_on_it(K, extra, seed, data):
    n = K + extra
    m = data.draw(st.integers(2, K - 1))
    d = crossfit_design(n, K, leave_out=m, seed=seed)
    explained = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=12)))
    elig = d.eligible(explained)
    trained = [set(d.train_indices(k).tolist()) for k in range(K)]
    for row, i in enumerate(explained.tolist()):
        for k in range(K):
            assert elig[row, k] == (i not in trained[k])  # eligible exactly when baseline k never saw it
        assert elig[row].sum() == m  # left out of exactly m baselines, so compared with m >= 2
    # every training index is trained on by exactly K - m baselines; the folds are balanced
    counts = np.zeros(n, dtype=int)
    for k in range(K):
        counts[list(trained[k])] += 1
    assert set(counts.tolist()) == {K - m}
    sizes = np.bincount(d.folds, minlength=K)
    assert sizes.max() - sizes.min() <= 1


def test_default_leave_out_is_half_as_far_as_k_allows():
    assert crossfit_design(30, 3).leave_out == 2  # thirds: the only way to leave out two of three
    assert crossfit_design(30, 4).leave_out == 2  # halves
    assert crossfit_design(30, 5).leave_out == 2
    assert crossfit_design(30, 6).leave_out == 3  # halves
    d = crossfit_design(40, 4, seed=3)
    assert d.train_mask.sum(1).tolist() == [20, 20, 20, 20]


def test_design_is_seeded_and_samples_of_other_splits_meet_every_baseline():
    a, b = crossfit_design(50, 4, seed=7), crossfit_design(50, 4, seed=7)
    np.testing.assert_array_equal(a.folds, b.folds)
    assert not np.array_equal(a.folds, crossfit_design(50, 4, seed=8).folds)
    assert a.eligible([-1, -5]).all()


def test_labels_stratify_and_every_baseline_sees_every_class():
    labels = np.repeat(np.arange(5), 12)
    d = crossfit_design(labels.size, 4, labels=labels, seed=0)
    for k in range(4):
        seen = labels[d.train_indices(k)]
        assert set(seen.tolist()) == set(range(5))
        assert np.bincount(seen).tolist() == [6] * 5  # half of each class


@pytest.mark.parametrize("K", [0, 1, 2])
def test_fewer_than_three_baselines_is_refused(K):
    with pytest.raises(InputError, match="K >= 3"):
        crossfit_design(100, K)


def test_a_training_split_too_small_is_refused():
    with pytest.raises(InputError, match="too small.*at least K = 4"):
        crossfit_design(3, 4)
    labels = np.array([0] * 20 + [1] * 2)  # class 1 has 2 samples: with m = 2 some baseline never sees it
    with pytest.raises(InputError, match="class 1 has 2 samples"):
        crossfit_design(labels.size, 4, labels=labels, seed=0)
    with pytest.raises(InputError, match="leave_out"):
        crossfit_design(20, 4, leave_out=4)
    with pytest.raises(InputError, match="leave_out"):
        crossfit_design(20, 4, leave_out=1)


def test_eligible_rejects_bad_indices():
    d = crossfit_design(10, 3)
    with pytest.raises(InputError, match="out of range"):
        d.eligible([10])
    with pytest.raises(InputError, match="integer"):
        d.eligible([0.5])
    with pytest.raises(InputError, match="baseline index"):
        d.train_indices(3)


def _brute_h_bar(model, bases, elig, tau=0.05):
    out = []
    for i in range(int(np.prod(model.batch_shape))):
        terms = salient_terms(model, i, tau)
        others = [salient_terms(b, i, tau) for k, b in enumerate(bases) if elig[i][k]]
        tot = sum(abs(v) for v in terms.values())
        gen = sum(abs(v) for key, v in terms.items() if any(shared(terms, o, key) for o in others))
        out.append(gen / tot if tot > 0 else float("nan"))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_h_bar_with_eligibility_equals_plain_loops(seed):
    rng = np.random.default_rng(seed)
    model = random_set(rng, batch=(6,), n=4)
    bases = [random_set(rng, batch=(6,), n=4) for _ in range(4)]
    elig = np.zeros((6, 4), dtype=bool)
    for i in range(6):  # two or more random eligible baselines per sample
        elig[i, rng.choice(4, size=rng.integers(2, 5), replace=False)] = True
    power = generalization_power(model, bases, eligible=elig)
    np.testing.assert_allclose(power.h_bar(), _brute_h_bar(model, bases, elig), rtol=1e-12)
    # an ineligible baseline never counts, however much it shares
    assert not power.per_baseline[~elig.T].any()
    np.testing.assert_array_equal(power.n_eligible, elig.sum(1))


def test_g_of_k_uses_each_samples_first_k_eligible_baselines():
    rng = np.random.default_rng(11)
    model = random_set(rng, batch=(5,), n=3)
    bases = [random_set(rng, batch=(5,), n=3) for _ in range(4)]
    elig = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]], dtype=bool)
    power = generalization_power(model, bases, eligible=elig)
    full = generalization_power(model, bases)  # no mask: every baseline, per baseline
    for i in range(5):
        ids = np.nonzero(elig[i])[0]
        for k in range(1, 5):
            want = full.per_baseline[ids[:k], i].any(0)
            np.testing.assert_array_equal(power.g(k)[i], want)
            np.testing.assert_array_equal(power.cumulative()[k - 1, i], want)


def test_without_a_mask_nothing_changes_and_an_all_true_mask_is_the_same():
    rng = np.random.default_rng(2)
    model = random_set(rng, batch=(3,), n=3)
    bases = [random_set(rng, batch=(3,), n=3) for _ in range(3)]
    a = generalization_power(model, bases)
    b = generalization_power(model, bases, eligible=np.ones((3, 3), dtype=bool))
    np.testing.assert_array_equal(a.per_baseline, b.per_baseline)
    np.testing.assert_array_equal(a.ablation().h_bar, b.ablation().h_bar)
    assert a.eligible is None


def test_a_sample_with_fewer_than_two_eligible_baselines_is_refused():
    rng = np.random.default_rng(0)
    model = random_set(rng, batch=(3,), n=3)
    bases = [random_set(rng, batch=(3,), n=3) for _ in range(3)]
    elig = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=bool)
    with pytest.raises(InputError, match=r"at least 2 baselines.*samples \[1\]"):
        generalization_power(model, bases, eligible=elig)
    with pytest.raises(InputError, match="shape"):
        generalization_power(model, bases, eligible=np.ones((3, 2), dtype=bool))
    with pytest.raises(InputError, match="boolean"):
        generalization_power(model, bases, eligible=np.full((3, 3), 0.5))


def test_design_and_power_together_never_compare_a_sample_with_its_own_baselines():
    """End to end: explained training samples x crossfit design -> G never uses a baseline that saw the sample."""
    rng = np.random.default_rng(5)
    d = crossfit_design(40, 4, seed=1)
    explained = np.array([0, 3, 17, 39, -1, -1])  # four training samples, two of another split
    model = random_set(rng, batch=(6,), n=3)
    bases = [random_set(rng, batch=(6,), n=3) for _ in range(4)]
    power = generalization_power(model, bases, eligible=d.eligible(explained))
    for row, i in enumerate(explained.tolist()):
        for k in range(4):
            if i >= 0 and i in set(d.train_indices(k).tolist()):
                assert not power.per_baseline[k, row].any()
    assert isinstance(d, CrossfitDesign) and gp.analysis.crossfit_design is crossfit_design
