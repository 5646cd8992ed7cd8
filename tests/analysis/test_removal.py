"""Loss without non-generalizable interactions (Eq. 12, 13) in closed form."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.special import expit

from genphase.analysis import cross_entropy, neg_log_sigmoid, removal_loss
from genphase.errors import InputError

from .helpers import make, random_set, stack

MODEL = make({3: 1.0, 5: -2.0, 7: 3.0}, {6: 4.0, 7: -0.5}, bias=0.5)  # v(x) = 0.5 + 5.5 = 6
BASE = make({3: 1.0, 7: 1.0}, {6: -4.0})  # non-generalizable: AND{0,2} -2, OR{1,2} 4, OR{0,1,2} -0.5


def test_v_tilde_closed_form():
    r = removal_loss(MODEL, [BASE])
    assert r.v == pytest.approx(6.0)
    assert r.removed == pytest.approx(1.5)
    assert r.v_tilde == pytest.approx(4.5)
    assert r.loss == pytest.approx(np.log1p(np.exp(-6.0)))
    assert r.loss_removed == pytest.approx(np.log1p(np.exp(-4.5)))
    assert r.p_tilde == pytest.approx(expit(4.5))


def test_non_salient_terms_are_kept():
    noisy = make({3: 1.0, 5: -2.0, 7: 3.0, 1: 0.1}, {6: 4.0, 7: -0.5, 2: 0.15}, bias=0.5)
    r = removal_loss(noisy, [BASE])
    assert r.v == pytest.approx(6.25)
    assert r.v_tilde == pytest.approx(6.25 - 1.5)


def test_self_baseline_removes_nothing(rng):
    model = random_set(rng, batch=(6,), bias=0.3)
    r = removal_loss(model, [model])
    np.testing.assert_allclose(r.v_tilde, r.v)
    np.testing.assert_allclose(r.v, model.values[..., -1])


def test_v_is_the_network_output_not_the_surrogate():
    # the solver's bounded noise q moves the surrogate h(N) = v(N) + q(N); v stays the network's output
    shifted = replace(MODEL, values=MODEL.values - 0.2)
    assert removal_loss(shifted, [BASE]).v == pytest.approx(5.8)
    assert removal_loss(shifted, [BASE]).v_tilde == pytest.approx(4.3)


def test_loss_is_stable_for_large_logits():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    out = neg_log_sigmoid(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [1000.0, 30.0 + np.log1p(np.exp(-30.0)), np.log(2.0), np.log1p(np.exp(-30.0)), 0.0],
                               rtol=1e-12, atol=1e-300)
    assert cross_entropy([0.0, 0.0]) == pytest.approx(np.log(2.0))


def test_summary_gap_rows():
    train = MODEL
    test = make({3: 1.0}, bias=0.0)  # all generalizable to itself: no change
    batch = stack(train, test)
    r = removal_loss(batch, [stack(BASE, test)])
    s = r.summary(np.array(["train", "test"])).set_index("split")
    assert s.loc["train", "loss"] == pytest.approx(np.log1p(np.exp(-6.0)))
    assert s.loc["train", "loss_removed"] == pytest.approx(np.log1p(np.exp(-4.5)))
    assert s.loc["test", "change"] == pytest.approx(0.0)
    assert s.loc["gap", "loss"] == pytest.approx(np.log1p(np.exp(-1.0)) - np.log1p(np.exp(-6.0)))
    fr = r.to_frame(checkpoint=1, split=np.array(["train", "test"]))
    assert list(fr.columns) == ["checkpoint", "sample", "split", "model", "metric", "value"]
    assert fr.query("sample == 0 and metric == 'v_tilde'")["value"].item() == pytest.approx(4.5)


def test_k_uses_first_baselines():
    b_empty = make()
    assert removal_loss(MODEL, [b_empty, MODEL], k=1).v_tilde == pytest.approx(0.5)  # all salient removed
    assert removal_loss(MODEL, [b_empty, MODEL]).v_tilde == pytest.approx(6.0)


def test_nan_output_rejected():
    bad = replace(MODEL, values=np.full(8, np.nan))
    with pytest.raises(InputError, match="NaN"):
        removal_loss(bad, [BASE])
    with pytest.raises(InputError, match="cross_entropy got NaN or inf log-odds; check the model's outputs"):
        cross_entropy([np.nan])
