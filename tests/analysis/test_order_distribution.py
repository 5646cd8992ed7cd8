"""Order distribution (all interactions, three normalisations) and the weighted Jaccard similarity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genphase.analysis import (
    order_distribution,
    order_distribution_series,
    order_jaccard,
    order_strength,
    output_range,
    weighted_jaccard,
)
from genphase.errors import InputError

from .helpers import make, random_set, stack

A = make({1: 0.5, 3: 1.0, 5: -2.0, 7: 3.0}, {6: 4.0, 7: -0.5}, bias=1.0)  # v[N] - v[{}] = 6
B = make({3: 2.0}, {7: -1.0}, bias=-1.0)  # v[N] - v[{}] = 1


def test_order_strength_counts_every_interaction():
    s = order_strength(A)
    np.testing.assert_allclose(s[2], [[0.5, 0.0], [5.0, -2.0], [3.0, -0.5]])  # no salience filter: 0.5 kept
    np.testing.assert_allclose(output_range(A), 6.0)


def test_group_means_and_normalisations():
    od = order_distribution(stack(A, B, A), split=np.array(["train", "test", "train"]))
    assert od.groups == ("train", "test")
    np.testing.assert_allclose(od.count, [2, 1])
    np.testing.assert_allclose(od.mean_range, [6.0, 1.0])
    np.testing.assert_allclose(od.strength[1, 2], [[0, 0], [2.0, 0], [0, -1.0]])
    np.testing.assert_allclose(od.strength_rel[0], od.strength[0] / 6.0)
    share = od.strength_share
    np.testing.assert_allclose(np.nansum(share, axis=(-2, -1)), 1.0)
    np.testing.assert_allclose(share[1, 2], [[0, 0], [2 / 3, 0], [0, 1 / 3]])
    np.testing.assert_allclose(od.normalized("relative"), od.strength_rel)
    assert od.mean_order()[1] == pytest.approx((2 * 2 + 3 * 1) / 3)
    with pytest.raises(InputError, match=r"normalization must be one of \['raw', 'relative', 'share'\], got 'zscore'"):
        od.normalized("zscore")
    tab = od.to_table()
    assert list(tab.columns) == ["split", "type", "order", "sign", "strength", "strength_rel", "strength_share"]
    assert len(tab) == 2 * 3 * 3 * 2


def test_zero_range_gives_nan_relative():
    zero = make({3: 1.0, 5: -1.0})  # v[N] - v[{}] = 0
    od = order_distribution(zero)
    assert np.all(np.isnan(od.strength_rel))


def test_series_over_checkpoints(rng):
    series = {5: random_set(rng, batch=(3,)), 0: random_set(rng, batch=(3,))}
    fr = order_distribution_series(series, split=np.array(["train", "test", "test"]))
    assert fr["checkpoint"].tolist()[0] == 0 and sorted(fr["checkpoint"].unique()) == [0, 5]
    assert list(fr.columns)[0] == "checkpoint"
    with pytest.raises(InputError, match="empty"):
        order_distribution_series({})
    with pytest.raises(InputError, match="n=3"):
        order_distribution_series([(0, random_set(rng, n=4)), (1, random_set(rng, n=3))])
    with pytest.raises(InputError, match="duplicate"):
        order_distribution_series([(0, A), (0, A)])


def test_weighted_jaccard_closed_form():
    assert weighted_jaccard([1.0, -2.0, 0.0], [2.0, -1.0, 1.0]) == pytest.approx(2.0 / 5.0)
    assert weighted_jaccard([1.0, -2.0], [1.0, -2.0]) == 1.0
    assert weighted_jaccard([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert weighted_jaccard([1.0], [-1.0]) == 0.0  # opposite signs never overlap
    assert np.isnan(weighted_jaccard([0.0, 0.0], [0.0, 0.0]))
    assert weighted_jaccard([1.0, 3.0], [2.0, 1.0], signed=False) == pytest.approx(2.0 / 5.0)
    np.testing.assert_allclose(weighted_jaccard(np.ones((2, 3)), np.ones((2, 3))), [1.0, 1.0])
    with pytest.raises(InputError, match="shape"):
        weighted_jaccard([1.0], [1.0, 2.0])
    with pytest.raises(InputError, match="non-negative"):
        weighted_jaccard([-1.0], [1.0], signed=False)
    with pytest.raises(InputError, match="NaN"):
        weighted_jaccard([np.nan], [1.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=8), st.lists(st.floats(-5, 5), min_size=1, max_size=8))
def test_weighted_jaccard_bounds_and_symmetry(a, b):
    m = min(len(a), len(b))
    a, b = np.array(a[:m]), np.array(b[:m])
    j = weighted_jaccard(a, b)
    if np.isfinite(j):
        assert 0.0 <= j <= 1.0
        assert weighted_jaccard(b, a) == pytest.approx(j)
    if np.any(a != 0):
        assert weighted_jaccard(a, a) == pytest.approx(1.0)


def test_order_jaccard_closed_form():
    train = make({3: 2.0}, {7: -1.0})
    test = make({3: 1.0, 5: 1.0}, {7: -1.0})
    j = order_jaccard(train, test)
    assert j.shape == (3, 3)
    assert j[0, 1] == pytest.approx(1.0 / 3.0)  # AND order 2: min 1 / max (2 + 1)
    assert np.isnan(j[1, 1]) and np.isnan(j[0, 2])  # nothing of that type and order
    assert j[1, 2] == 1.0
    assert j[2, 1] == pytest.approx(1.0 / 3.0) and j[2, 2] == 1.0
    assert np.isnan(j[2, 0])


def test_order_jaccard_splits_signs_per_sample():
    # the training samples carry +1 and -1 on the same subset; averaging before splitting would cancel them
    train = stack(make({3: 1.0}), make({3: -1.0}))
    test = stack(make({3: -1.0}), make({3: 1.0}))
    assert order_jaccard(train, test)[0, 1] == 1.0
    assert order_jaccard(train, stack(make({3: 1.0}), make({3: 1.0})))[0, 1] == pytest.approx(0.5 / 1.5)


def test_order_jaccard_needs_same_variables():
    with pytest.raises(InputError, match=r"test uses variables \['a', 'b', 'x'\] but train uses \['a', 'b', 'c'\]"):
        order_jaccard(make({3: 1.0}, variables=["a", "b", "c"]), make({3: 1.0}, variables=["a", "b", "x"]))
