"""G, H-bar, removal loss, Jaccard and phases on hand-built interaction sets with closed-form answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genphase as gp
from genphase.analysis import analyze_checkpoint, detect_phases, h_bar_ablation, removal, weighted_jaccard
from genphase.errors import InputError

N = 3  # masks 0..7; orders: 3,5,6 -> 2 ; 7 -> 3


def make(a, o, bias=0.0, variables=None):
    return gp.AndOrInteractions.from_effects(np.array(a, float), np.array(o, float), bias, variables=variables)


MODEL = make([0, 0, 0, 1.0, 0, 2.0, 0, 0], [0, 0, 0, 0, 0, 0, 3.0, 4.0])  # four salient terms, total 10


def test_half_shared_gives_hand_computed_h_bar():
    # baseline shares AND{0,1} (1.0) and OR{0,1,2} (4.0) with the same sign: H = 5/10
    base = make([0, 0, 0, 0.5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 2.0])
    assert gp.h_bar(MODEL, [base]) == pytest.approx(0.5)


def test_sign_flip_and_type_mismatch_do_not_generalize():
    flipped = make([0, 0, 0, -1.0, 0, -2.0, 0, 0], [0, 0, 0, 0, 0, 0, -3.0, -4.0])
    assert gp.h_bar(MODEL, [flipped]) == 0.0
    swapped = make([0, 0, 0, 0, 0, 0, 3.0, 4.0], [0, 0, 0, 1.0, 0, 2.0, 0, 0])  # same sets, other type
    assert gp.h_bar(MODEL, [swapped]) == 0.0


def test_below_tau_baseline_does_not_generalize():
    # baseline's max is 10; its 0.4 on AND{0,1} is below 0.05*10 = 0.5 -> G = 0
    base = make([0, 0, 0, 0.4, 0, 0, 0, 10.0], [0] * 8)
    assert gp.h_bar(MODEL, [base]) == 0.0
    assert gp.h_bar(MODEL, [base], absolute=0.1) == pytest.approx(1.0 / 10)


def test_any_of_k_baselines_and_ablation():
    b1 = make([0, 0, 0, 1, 0, 0, 0, 0], [0] * 8)  # shares 1
    b2 = make([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0])  # shares 3
    assert gp.h_bar(MODEL, [b1, b2]) == pytest.approx(0.4)
    np.testing.assert_allclose(h_bar_ablation(MODEL, [b1, b2]), [0.1, 0.4])


def test_singletons_merged_before_matching():
    m = make([0, 1.0, 0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0, 0, 0])  # one-variable effect 2, split
    b = make([0, 0, 0, 0, 0, 0, 0, 0], [0, 3.0, 0, 0, 0, 0, 0, 0])  # all as OR in the baseline
    assert gp.h_bar(m, [b]) == 1.0
    assert gp.h_bar(m, [b], merge_singletons=False) == 0.5  # only the OR half matches


def test_no_salient_interaction_is_nan_and_batch_shape_kept():
    zero = make(np.zeros((2, 8)), np.zeros((2, 8)))
    out = gp.h_bar(zero, [zero])
    assert out.shape == (2,) and np.all(np.isnan(out))


def test_removal_loss_closed_form():
    base = make([0, 0, 0, 1, 0, 0, 0, 0], [0] * 8)  # only AND{0,1} generalizes
    r = removal(MODEL, [base])
    v = MODEL.values[-1]  # 1 + 2 + 3 + 4 = 10
    assert v == pytest.approx(10.0)
    assert r["v_tilde"] == pytest.approx(10.0 - 9.0)
    assert r["loss"] == pytest.approx(np.log1p(np.exp(-10.0)))
    assert r["loss_removed"] == pytest.approx(np.log1p(np.exp(-1.0)))


def test_weighted_jaccard_closed_form():
    assert weighted_jaccard([1, -2, 0], [1, -2, 0]) == 1.0
    assert weighted_jaccard([1, 0], [0, 1]) == 0.0
    assert weighted_jaccard([2, -1], [1, -3]) == pytest.approx((1 + 1) / (2 + 3))
    assert weighted_jaccard([1], [-1]) == 0.0


def test_analyze_checkpoint_tables_follow_the_contract():
    a = np.zeros((4, 8)); o = np.zeros((4, 8))
    a[:, 3] = [1, 2, 3, 4]; o[:, 7] = [1, -1, 1, -1]
    m = gp.AndOrInteractions.from_effects(a, o)
    tables = analyze_checkpoint(m, [m], split=np.array(["train", "train", "test", "test"]), labels=np.arange(4))
    assert list(tables["h_bar"].columns) == ["sample", "split", "h_bar"]
    np.testing.assert_allclose(tables["h_bar"]["h_bar"], 1.0)
    os_ = tables["order_strengths"]
    assert list(os_.columns) == ["sample", "split", "type", "order", "sign", "total", "generalizable"]
    row = os_[(os_["sample"] == 1) & (os_["type"] == "or") & (os_["order"] == 3) & (os_["sign"] == "-")]
    assert float(row["total"].iloc[0]) == -1.0
    assert set(tables) == {"h_bar", "order_strengths", "baseline_ablation", "removal_loss", "order_distribution", "jaccard"}
    assert list(tables["jaccard"].columns) == ["type", "order", "jaccard"]


def test_mismatched_inputs_are_explained():
    other = gp.AndOrInteractions.from_effects(np.zeros(16), np.zeros(16))
    with pytest.raises(InputError, match="n=4"):
        gp.h_bar(MODEL, [other])
    with pytest.raises(InputError, match="empty"):
        gp.h_bar(MODEL, [])
    named = make([0] * 8, [0] * 8, variables=["a", "b", "c"])
    named2 = make([0] * 8, [0] * 8, variables=["a", "b", "d"])
    with pytest.raises(InputError, match="variables"):
        gp.h_bar(named, [named2])


def _series(h, test_loss, train_loss=None):
    e = np.arange(len(h))
    train_loss = np.linspace(2, 0.01, len(h)) if train_loss is None else train_loss
    training = pd.DataFrame({"epoch": np.repeat(e, 2), "split": ["train", "test"] * len(e),
                             "loss": np.ravel(np.column_stack([train_loss, test_loss]))})
    hb = pd.DataFrame({"checkpoint": e, "sample": 0, "split": "test", "h_bar": h})
    return training, hb


def test_phases_on_synthetic_three_phase_series():
    h = np.concatenate([np.linspace(0.2, 0.8, 6), np.linspace(0.75, 0.3, 8), np.full(6, 0.3)])
    test = np.concatenate([np.linspace(2, 0.8, 6), np.linspace(0.78, 0.6, 8), np.linspace(0.62, 0.9, 6)])
    rng = np.random.default_rng(0)
    rep = detect_phases(*_series(h + rng.normal(0, 0.01, h.size), test + rng.normal(0, 0.005, h.size)))
    assert rep.clear
    assert abs(rep.phases["phase1"][1] - 5) <= 1
    assert abs(rep.phases["phase3"][0] - 13) <= 2
    assert rep.early_stopping["epoch"] in range(11, 16)


def test_no_clear_phase_is_said_not_invented():
    h = np.full(15, 0.5) + np.random.default_rng(1).normal(0, 0.005, 15)
    rep = detect_phases(*_series(h, np.linspace(2, 1, 15)))
    assert not rep.clear and "no clear" in rep.reason
    assert "phase1" not in rep.phases
    with pytest.raises(InputError):
        detect_phases(pd.DataFrame(), pd.DataFrame())
