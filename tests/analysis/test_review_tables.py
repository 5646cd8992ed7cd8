"""The tables added after the review against the papers: Jaccard per class, removal at k = 1 and K, the order-wise
k-ablation, and the h_bar_summary of a series -- each against a hand computation or a brute-force definition."""

from __future__ import annotations

import numpy as np
import pytest

from genphase.analysis import (
    H_BAR_SUMMARY_COLUMNS,
    JACCARD_NOT_SHARED,
    analyze_checkpoint,
    analyze_series,
    order_jaccard,
    order_jaccard_by_class,
    weighted_jaccard,
)
from genphase.errors import InputError

from .helpers import make, random_set, stack


def test_jaccard_per_class_then_averaged():
    # class 0: train AND{0,1} = 1, test AND{0,1} = 1 -> J(2) = 1; class 1: train AND{0,1} = 2, test OR{1,2} = 3 -> the
    # order-2 vectors share nothing -> J(2) = 0. Mean over the two classes: 0.5. Pooled over classes the training mean
    # is (1.5 on AND{0,1}) and the test mean (0.5 on AND{0,1}, 1.5 on OR{1,2}): J = 0.5 / 3.0, a different number.
    tr = stack(make({3: 1.0}), make({3: 2.0}))
    te = stack(make({3: 1.0}), make(or_terms={6: 3.0}))
    j, k, note = order_jaccard_by_class(tr, te, [0, 1], [0, 1])
    assert k == 2 and note == ""
    assert j[2, 1] == pytest.approx(0.5)
    assert order_jaccard(tr, te)[2, 1] == pytest.approx(0.5 / 3.0)
    # brute force for class 1 alone, on the aligned AND and OR order-2 vectors
    a = np.array([2.0, 0, 0, 0, 0, 0])  # AND{0,1}, AND{0,2}, AND{1,2}, OR{0,1}, OR{0,2}, OR{1,2}
    b = np.array([0, 0, 0, 0, 0, 3.0])
    assert weighted_jaccard(a, b) == 0.0
    # a class seen only in one split is left out
    j2, k2, _ = order_jaccard_by_class(tr, te, [0, 5], [0, 1])
    assert k2 == 1 and j2[2, 1] == pytest.approx(1.0)
    none, k0, why = order_jaccard_by_class(tr, te, [7, 7], [0, 1])
    assert k0 == 0 and np.isnan(none).all() and "no class" in why
    with pytest.raises(InputError, match="labels"):
        order_jaccard_by_class(tr, te, [0], [0, 1])


def test_jaccard_not_applicable_when_variables_differ_per_sample(rng):
    model = random_set(rng, batch=(4,), n=3)
    bases = [random_set(rng, batch=(4,), n=3)]
    split = ["train", "train", "test", "test"]
    out = analyze_checkpoint(model, bases, split=split, labels=[0, 1, 0, 1], variables_shared=False)["jaccard"]
    assert out["jaccard"].isna().all() and (out["note"] == JACCARD_NOT_SHARED).all() and (out["n_classes"] == 0).all()
    pooled = analyze_checkpoint(model, bases, split=split)["jaccard"]
    assert pooled["note"].str.contains("pooled").all() and (pooled["n_classes"] == 1).all()
    per = analyze_checkpoint(model, bases, split=split, labels=[0, 1, 0, 1])["jaccard"]
    j, k, _ = order_jaccard_by_class(model[:2], model[2:], [0, 1], [0, 1])
    np.testing.assert_allclose(per["jaccard"], j.reshape(-1), equal_nan=True)
    assert (per["n_classes"] == 2).all()


def test_removal_summary_for_k1_and_K():
    # AND{0,1} = 1 generalizes to baseline 1 only; AND{0,2} = 2 to baseline 2 only. v = 3 (bias 0).
    # k = 1: AND{0,2} is removed: v_tilde = 1; k = K = 2: nothing is removed: v_tilde = 3.
    model = make({3: 1.0, 5: 2.0})
    b1, b2 = make({3: 1.0}), make({5: 2.0})
    out = analyze_checkpoint(model, [b1, b2], split=["train"])["removal_summary"].set_index(["k", "split"])
    assert out.loc[(1, "train"), "loss_removed"] == pytest.approx(np.logaddexp(0, -1.0))
    assert out.loc[(2, "train"), "loss_removed"] == pytest.approx(np.logaddexp(0, -3.0))
    assert out.loc[(1, "train"), "loss"] == pytest.approx(np.logaddexp(0, -3.0))
    assert out.loc[(1, "train"), "change"] == pytest.approx(np.logaddexp(0, -1.0) - np.logaddexp(0, -3.0))
    one = analyze_checkpoint(model, [b1], split=["train"])["removal_summary"]
    assert one["k"].tolist() == [1]  # K = 1: one row per split


def test_removal_summary_gap_rows():
    model = stack(make({3: 1.0, 5: 2.0}), make({3: 1.0}))
    out = analyze_checkpoint(model, [stack(make({3: 1.0}), make({3: 1.0}))], split=["train", "test"])
    rs = out["removal_summary"].set_index("split")
    assert rs.loc["gap", "loss"] == pytest.approx(rs.loc["test", "loss"] - rs.loc["train", "loss"])


def test_ablation_strengths_over_k():
    model = stack(make({3: 1.0, 5: -2.0}), make({3: 3.0}))
    b1 = stack(make({3: 1.0}), make())
    b2 = stack(make({5: -1.0}), make({3: 1.0}))
    out = analyze_checkpoint(model, [b1, b2], split=["train", "train"])["ablation_strengths"]
    q = out.query("type == 'all' and order == 2 and split == 'train'").set_index(["k", "sign"])
    # k = 1: sample 0 keeps AND{0,1} = 1 (+), sample 1 nothing -> mean + 0.5; non-generalizable: -2 (s0) and 3 (s1)
    assert q.loc[(1, "+"), "generalizable"] == pytest.approx(0.5)
    assert q.loc[(1, "+"), "non_generalizable"] == pytest.approx(1.5)
    assert q.loc[(1, "-"), "non_generalizable"] == pytest.approx(-1.0)
    # k = 2: AND{0,2} = -2 now generalizes (to baseline 2), and so does sample 1's AND{0,1}
    assert q.loc[(2, "+"), "generalizable"] == pytest.approx(2.0)
    assert q.loc[(2, "-"), "generalizable"] == pytest.approx(-1.0)
    assert q.loc[(2, "-"), "non_generalizable"] == pytest.approx(0.0)
    assert (out["n_samples"] == 2).all()


def test_series_adds_h_bar_summary(rng):
    model = random_set(rng, batch=(4,), n=3)
    bases = [random_set(rng, batch=(4,), n=3)]
    split = ["train", "train", "test", "test"]
    out = analyze_series({0: model, 5: model}, bases, split=split, n_resamples=100)
    hs = out["h_bar_summary"]
    assert tuple(hs.columns) == H_BAR_SUMMARY_COLUMNS and len(hs) == 4
    means = out["h_bar"].groupby(["checkpoint", "split"])["h_bar"].mean()
    np.testing.assert_allclose(hs.set_index(["checkpoint", "split"])["mean"], means.reindex(
        hs.set_index(["checkpoint", "split"]).index))
    assert (hs["ci_low"] <= hs["mean"] + 1e-12).all() and (hs["mean"] <= hs["ci_high"] + 1e-12).all()
    assert "h_bar_summary" not in analyze_series({0: model}, bases, split=split, n_resamples=0)
