"""Order-wise strengths (Eq. 8, 9), H-bar (Eq. 11) and their summaries, in closed form."""

from __future__ import annotations

import numpy as np
import pytest

import genphase as gp
from genphase.analysis import h_bar_by_type, h_bar_summary, order_strengths
from genphase.errors import InputError

from .helpers import make, random_set, stack

# all five terms salient (threshold 0.05 * 4 = 0.2)
MODEL = make({3: 1.0, 5: -2.0, 7: 3.0}, {6: 4.0, 7: -0.5})
# generalizes: AND{0,1} (same sign), AND{0,1,2}; not: AND{0,2} (baseline 0), OR{1,2} (sign flip), OR{0,1,2} (0)
BASE = make({3: 1.0, 7: 1.0}, {6: -4.0})


def test_order_sums_match_hand_computation():
    s = order_strengths(MODEL, [BASE])
    assert s.total.shape == (3, 3, 2)  # types, orders 1..3, signs
    # type "all": order 1 empty; order 2: + 1 + 4, - (-2); order 3: + 3, - (-0.5)
    np.testing.assert_allclose(s.total[2], [[0, 0], [5.0, -2.0], [3.0, -0.5]])
    np.testing.assert_allclose(s.generalizable[2], [[0, 0], [1.0, 0.0], [3.0, 0.0]])
    np.testing.assert_allclose(s.total[0], [[0, 0], [1.0, -2.0], [3.0, 0.0]])  # AND
    np.testing.assert_allclose(s.total[1], [[0, 0], [4.0, 0.0], [0.0, -0.5]])  # OR
    np.testing.assert_allclose(s.non_generalizable[2], [[0, 0], [4.0, -2.0], [0.0, -0.5]])
    assert np.all(s.total[..., 1] <= 0) and np.all(s.total[..., 0] >= 0)


def test_h_bar_closed_form_and_by_type():
    assert gp.h_bar(MODEL, [BASE]) == pytest.approx(4.0 / 10.5)
    s = order_strengths(MODEL, [BASE])
    assert s.h_bar() == pytest.approx(4.0 / 10.5)
    np.testing.assert_allclose(h_bar_by_type(MODEL, [BASE]), [4.0 / 6.0, 0.0, 4.0 / 10.5])


def test_only_salient_terms_count():
    # the 0.1 terms are below 0.05 * 4 = 0.2 and change nothing
    noisy = make({3: 1.0, 5: -2.0, 7: 3.0, 1: 0.1}, {6: 4.0, 7: -0.5, 4: -0.1})
    s = order_strengths(noisy, [BASE])
    np.testing.assert_allclose(s.total, order_strengths(MODEL, [BASE]).total)


def test_summary_nan_aware_with_counts():
    batch = stack(MODEL, make(), MODEL)
    bases = [stack(BASE, BASE, MODEL)]
    h = gp.h_bar(batch, bases)
    assert np.isnan(h[1]) and h[2] == 1.0
    summ = h_bar_summary(h, np.array(["train", "train", "test"])).set_index("split")
    assert summ.loc["train", "mean"] == pytest.approx(4.0 / 10.5)
    assert summ.loc["train", "n"] == 1 and summ.loc["train", "n_nan"] == 1
    assert summ.loc["test", "mean"] == 1.0
    all_nan = h_bar_summary([np.nan, np.nan])
    assert np.isnan(all_nan.loc[0, "mean"]) and all_nan.loc[0, "n_nan"] == 2
    s = order_strengths(batch, bases).summary(np.array(["train", "train", "test"]))
    row = s.query("split == 'train' and type == 'all' and order == 2 and sign == '+' and metric == 'total'")
    assert row["mean"].item() == pytest.approx(2.5) and row["std"].item() == pytest.approx(2.5)


def test_frame_is_long_form():
    fr = order_strengths(MODEL, [BASE]).to_frame(checkpoint=7, model="m")
    assert list(fr.columns) == ["checkpoint", "sample", "model", "type", "order", "sign", "metric", "value"]
    assert len(fr) == 3 * 3 * 2 * 2
    v = fr.query("type == 'all' and order == 2 and sign == '+' and metric == 'generalizable'")["value"].item()
    assert v == 1.0


def test_k_selects_baselines(rng):
    model = random_set(rng, batch=(5,))
    bases = [random_set(rng, batch=(5,)) for _ in range(3)]
    s1 = order_strengths(model, bases, k=1)
    s3 = order_strengths(model, bases)
    assert s3.k == 3 and s1.k == 1
    assert np.all(np.abs(s3.generalizable) >= np.abs(s1.generalizable) - 1e-12)
    np.testing.assert_allclose(s1.total, s3.total)


def test_summary_rejects_wrong_split_length():
    with pytest.raises(InputError, match=r"split must have one entry per sample \(2\), got 1"):
        h_bar_summary([0.1, 0.2], ["train"])
    with pytest.raises(InputError, match="h_bar_summary got no samples"):
        h_bar_summary([])
