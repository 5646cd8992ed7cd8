"""Salience: relative and absolute thresholds, the merged singleton view, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import genphase as gp
from genphase.analysis import salience, salience_threshold
from genphase.errors import InputError

from .helpers import make, random_set


def test_relative_threshold_is_fraction_of_max_over_and_and_or():
    # max |I| = 10 (an OR term) -> threshold 0.5 at tau = 0.05
    res = make({3: 0.4, 5: 0.6}, {7: -10.0})
    s = salience(res)
    assert s.threshold == pytest.approx(0.5)
    assert s.and_mask[3] == False and s.and_mask[5] == True  # noqa: E712
    assert s.or_mask[7] == True  # noqa: E712
    assert int(s.count()) == 2


def test_absolute_threshold_and_strict_inequality():
    res = make({3: 0.4, 5: 0.6}, {7: -10.0})
    s = salience(res, absolute=0.4)
    assert s.and_mask[3] == False  # |I| must exceed the threshold  # noqa: E712
    assert s.count() == 2
    assert salience(res, absolute=0.0).count() == 3
    np.testing.assert_allclose(salience_threshold(res, absolute=0.3), 0.3)


def test_singletons_merged_into_and_by_default():
    # variable 0 split evenly between AND{0} and OR{0} by a solver: merged it is one AND of 2.0
    res = make({1: 1.0, 6: 4.0}, {1: 1.0})
    s = salience(res, tau=0.3)  # threshold 0.3 * 4 = 1.2: each half (1.0) alone is not salient
    assert s.and_mask[1] and not s.or_mask[1]
    assert s.effects[0, 1] == 2.0 and s.effects[1, 1] == 0.0
    raw = salience(res, tau=0.3, merge_singletons=False)
    assert not raw.and_mask[1] and not raw.or_mask[1]


def test_count_by_order_and_frame():
    res = make({3: 1.0, 5: -2.0, 7: 3.0}, {6: 4.0})
    s = salience(res, absolute=0.5)
    np.testing.assert_array_equal(s.count_by_order(), [[0, 2, 1], [0, 1, 0], [0, 3, 1]])
    fr = s.to_frame(checkpoint=4)
    assert list(fr.columns) == ["checkpoint", "sample", "model", "type", "mask", "order", "sign", "value"]
    assert sorted(fr["value"]) == [-2.0, 1.0, 3.0, 4.0]
    assert set(fr.loc[fr["value"] < 0, "sign"]) == {"-"}


def test_batch_shapes_are_kept(rng):
    res = random_set(rng, batch=(2, 3))
    s = salience(res)
    assert s.mask.shape == (2, 3, 2, 16) and s.threshold.shape == (2, 3)
    np.testing.assert_allclose(s.threshold, 0.05 * np.abs(res.merged().effects()).max(axis=(-2, -1)))


@pytest.mark.parametrize("kw, msg", [
    ({"tau": -0.1}, r"relative tau must be in \[0, 1\] \(a fraction of the sample's max \|I\|\), got -0.1"),
    ({"tau": 1.5}, r"relative tau must be in \[0, 1\] .*got 1.5; use absolute=\.\.\. for a fixed threshold"),
    ({"absolute": -1.0}, r"absolute threshold must be a finite number >= 0, got -1.0"),
    ({"absolute": float("nan")}, r"absolute threshold must be a finite number >= 0, got nan"),
])
def test_bad_thresholds(kw, msg):
    with pytest.raises(InputError, match=msg):
        salience(make({3: 1.0}), **kw)


def test_nan_effects_rejected():
    a = np.zeros(8)
    a[3] = np.nan
    res = gp.AndOrInteractions.from_effects(a, np.zeros(8))
    with pytest.raises(InputError, match="NaN"):
        salience(res)


def test_not_an_interaction_set():
    with pytest.raises(InputError, match="AndOrInteractions"):
        salience(np.zeros(8))  # type: ignore[arg-type]
