"""Graded evidence (strength by n_agree): its sums against the order_strengths table, and plain loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import (
    EVIDENCE_COLUMNS,
    analyze_checkpoint,
    evidence_series,
    generalization_power,
    graded_evidence,
)
from genphase.errors import InputError

from .brute import order, salient_terms, shared
from .helpers import make, random_set, stack


def _sets(seed, K=3, B=8, n=4):
    rng = np.random.default_rng(seed)
    model = random_set(rng, batch=(B,), n=n)
    # baselines that partly copy the model (so every n_agree occurs), partly random
    bases = []
    for _ in range(K):
        b = random_set(rng, batch=(B,), n=n)
        keep = rng.random(b.and_effects.shape) < 0.5
        a = np.where(keep, model.and_effects * rng.uniform(0.5, 1.5, keep.shape), b.and_effects)
        o = np.where(keep, model.or_effects * rng.uniform(0.5, 1.5, keep.shape), b.or_effects)
        bases.append(type(model).from_effects(a, o, 0.0))
    return model, bases


@pytest.mark.parametrize("seed", range(3))
def test_sum_over_agreeing_equals_the_absolute_generalizable_strength_of_order_strengths(seed):
    model, bases = _sets(seed)
    split = np.array(["train"] * 5 + ["test"] * 3)
    ev = graded_evidence(model, bases, split=split, checkpoint=4)
    assert tuple(ev.columns) == EVIDENCE_COLUMNS
    os_ = analyze_checkpoint(model, bases, split=split)["order_strengths"]
    os_ = os_.assign(gen_abs=os_["generalizable"].abs(), tot_abs=os_["total"].abs())
    ref = os_.groupby(["sample", "split", "type", "order"], as_index=False)[["gen_abs", "tot_abs"]].sum() \
        .groupby(["split", "type", "order"])[["gen_abs", "tot_abs"]].mean()  # both signs, mean over samples
    agree = ev[ev["n_agree"] >= 1].groupby(["split", "type", "order"])["strength"].sum()
    total = ev.groupby(["split", "type", "order"])["strength"].sum()
    np.testing.assert_allclose(agree.loc[ref.index].to_numpy(), ref["gen_abs"].to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(total.loc[ref.index].to_numpy(), ref["tot_abs"].to_numpy(), rtol=1e-12, atol=1e-12)
    assert (ev["checkpoint"] == 4).all()
    assert sorted(ev["n_agree"].unique().tolist()) == [0, 1, 2, 3]
    # every n_agree class occurs in these planted sets (the test is not vacuous)
    assert (ev[ev["type"] == "all"].groupby("n_agree")["strength"].sum() > 0).all()


@pytest.mark.parametrize("seed", range(3))
def test_equals_a_brute_force_loop(seed):
    model, bases = _sets(seed, K=4, B=5, n=3)
    ev = graded_evidence(model, bases)
    want = {}
    for i in range(5):
        terms = salient_terms(model, i)
        others = [salient_terms(b, i) for b in bases]
        for key, v in terms.items():
            a = sum(shared(terms, o, key) for o in others)
            for t in (key[0], "all"):
                want[(t, order(key), a)] = want.get((t, order(key), a), 0.0) + abs(v) / 5
    for row in ev.itertuples():
        assert row.split == "all"
        assert row.strength == pytest.approx(want.get((row.type, row.order, row.n_agree), 0.0), abs=1e-12)


def test_planted_counts_by_hand():
    # the model's AND{0,1}=1 is shared by 2 baselines, OR{0,1,2}=-2 by 1, AND{1,2}=4 by none
    model = make({3: 1.0, 6: 4.0}, {7: -2.0})
    bases = [make({3: 1.0}, {7: -1.0}), make({3: 2.0}), make({6: -4.0}, {7: 1.0})]
    ev = graded_evidence(model, bases)
    got = ev[(ev["type"] == "all") & (ev["strength"] > 0)][["order", "n_agree", "strength"]].values.tolist()
    assert got == [[2, 0, 4.0], [2, 2, 1.0], [3, 1, 2.0]]


def test_with_eligibility_only_eligible_baselines_agree():
    model = stack(make({3: 1.0}), make({3: 1.0}))
    bases = [stack(make({3: 1.0}), make({3: 1.0}))] * 3
    elig = np.array([[1, 1, 1], [1, 1, 0]], dtype=bool)
    ev = graded_evidence(model, bases, eligible=elig)
    row = ev[(ev["type"] == "and") & (ev["order"] == 2)].set_index("n_agree")["strength"]
    assert row.to_dict() == {0: 0.0, 1: 0.0, 2: 0.5, 3: 0.5}  # sample 1 can only be shared by 2


def test_series_and_power_input():
    model, bases = _sets(1, K=2, B=3, n=3)
    s = evidence_series([(10, model), (0, model)], bases)
    assert s["checkpoint"].unique().tolist() == [0, 10]
    power = generalization_power(model, bases)
    pd.testing.assert_frame_equal(graded_evidence(power), graded_evidence(model, bases))


def test_k_one_is_refused_with_the_reason():
    m = make({3: 1.0})
    with pytest.raises(InputError, match="K >= 2.*G itself"):
        graded_evidence(m, [m])
    with pytest.raises(InputError, match="K >= 2"):
        generalization_power(m, [m]).n_agree()
