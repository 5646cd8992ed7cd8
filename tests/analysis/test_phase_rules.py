"""The phase rules one by one, on planted series whose answers are derived by hand, and the invariance of the
default boundaries and stop to every non-training loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import (
    PhaseRules,
    detect_phases,
    new_strength,
    phase1_end_rule,
    phase3_start_rule,
    stop_rule,
    two_phase_rule,
)
from genphase.errors import InputError

from .helpers import planted_strengths, series


def _planted(knee: int = 60, C: int = 101) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One order of generalizable strength (0.02 per epoch up to ``knee``, 0.002 after) and one of
    non-generalizable strength (0.01 per epoch throughout): ``[C, 1]`` each."""
    e = np.arange(C, dtype=float)
    g = 0.02 * np.minimum(e, knee) + 0.002 * np.maximum(e - knee, 0)
    return np.arange(C), g[:, None], 0.01 * e[:, None]


def test_phase3_planted_knee_by_hand():
    epochs, g, ng = _planted(60)
    # Step j runs from epoch j-1 to j. New strength: generalizable 0.02 (j <= 60) or 0.002 (j > 60), non-generalizable
    # 0.01. Smoothing each strength over 3 checkpoints and then differencing averages the increments of steps j-1, j and
    # j+1 (away from the ends): at j = 60 generalizable (0.02 + 0.02 + 0.002) / 3 = 0.014, share
    # 0.01 / 0.024 = 0.417 < 0.5; at j = 61 (0.02 + 0.002 + 0.002) / 3 = 0.008, share 0.01 / 0.018 = 0.556; all later
    # steps 0.01 / 0.012 = 0.833. The first checkpoint after which every step is >= 0.5 is therefore epoch 60.
    ev = phase3_start_rule(epochs, g, ng)
    assert bool(ev.found) and int(ev.epoch) == 60
    assert ev.share[59] == pytest.approx(0.01 / 0.024) and ev.share[60] == pytest.approx(0.01 / 0.018)
    assert float(ev.min_share_after) == pytest.approx(0.01 / 0.018)
    # Without smoothing the step into epoch 61 is the first with share 0.01 / 0.012; the start is epoch 60 again.
    assert int(phase3_start_rule(epochs, g, ng, PhaseRules(smooth_window=1)).epoch) == 60
    # A stricter share 0.7 (> 0.556) skips the step into 61: the start moves to epoch 61.
    assert int(phase3_start_rule(epochs, g, ng, PhaseRules(nongen_share=0.7)).epoch) == 61
    # Only checkpoints later than after_epoch qualify.
    assert int(phase3_start_rule(epochs, g, ng, after_epoch=80).epoch) == 81


def test_phase3_compares_orders_separately():
    # Generalizable strength grows by 0.004 per epoch; at order 3 non-generalizable strength grows by 0.01 per epoch,
    # while order-2 noise falls by 0.05 per epoch until epoch 20. Order by order, every step learns 0.01 of
    # non-generalizable and 0.004 of generalizable strength (share 0.71): from the first checkpoint on the new strength
    # is mostly non-generalizable, so the start is epoch 0. Summing the orders first would hide the order-3 learning
    # behind the order-2 removal until epoch 20.
    e = np.arange(41, dtype=float)
    g = np.stack([0.004 * e, np.zeros_like(e)], axis=1)
    ng = np.stack([np.clip(1.0 - 0.05 * e, 0, None), 0.01 * e], axis=1)
    assert new_strength(ng)[:20] == pytest.approx(np.full(20, 0.01))
    ev = phase3_start_rule(np.arange(41), g, ng)
    assert int(ev.epoch) == 0
    summed = phase3_start_rule(np.arange(41), g.sum(1, keepdims=True), ng.sum(1, keepdims=True))
    assert int(summed.epoch) >= 20


def test_phase3_not_reached_and_quiet_steps():
    epochs, g, ng = _planted(knee=1000)  # generalizable 0.02 vs 0.01 per epoch: share 1/3 throughout
    ev = phase3_start_rule(epochs, g, ng)
    assert not ev.found and int(ev.epoch) == -1 and bool(ev.learned_anything)
    # After epoch 50 nothing more is learned: those steps are not counted, and phase 3 cannot start after 50.
    g2, ng2 = g.copy(), ng.copy()
    g2[51:], ng2[51:] = g2[50], ng2[50]
    ev2 = phase3_start_rule(epochs, g2, ng2, after_epoch=55)
    assert not ev2.found and not bool(ev2.learned_anything)
    assert not ev2.counted[60:].any()
    with pytest.raises(InputError, match="C=101"):
        phase3_start_rule(epochs, g[:50], ng[:50])


def test_rules_are_batched_over_resamples():
    rng = np.random.default_rng(0)
    epochs, g, ng = _planted(60)
    G = g[None] * rng.uniform(0.5, 1.5, size=(5, 1, 1)) + rng.normal(0, 0.01, size=(5, 101, 1))
    N = ng[None] * rng.uniform(0.5, 1.5, size=(5, 1, 1)) + rng.normal(0, 0.01, size=(5, 101, 1))
    batch = phase3_start_rule(epochs, G, N)
    for i in range(5):
        one = phase3_start_rule(epochs, G[i], N[i])
        assert int(one.epoch) == batch.epoch[i] and bool(one.found) == batch.found[i]
    H = np.concatenate([np.linspace(0.2, 0.7, 21), np.linspace(0.7, 0.4, 81)[1:]])
    Hb = H[None] + rng.normal(0, 0.02, size=(4, 101))
    b1 = phase1_end_rule(np.arange(101), Hb)
    for i in range(4):
        one = phase1_end_rule(np.arange(101), Hb[i])
        assert int(one.epoch) == b1.epoch[i] and float(one.rise) == pytest.approx(b1.rise[i])


def test_phase1_planted_peak_by_hand():
    # a triangle peaking at epoch 20 with slopes 0.025 up and 0.005 down; smoothed over 3 the peak value becomes
    # (0.675 + 0.7 + 0.695) / 3 = 0.69 at epoch 20, still the maximum (epoch 21: (0.7 + 0.695 + 0.69) / 3 = 0.695 is
    # higher!), so the peak of the smoothed curve is epoch 21, the flatter side.
    e = np.arange(101.0)
    H = np.where(e <= 20, 0.2 + 0.025 * e, 0.7 - 0.005 * (e - 20))
    ev = phase1_end_rule(np.arange(101), H)
    assert bool(ev.found) and int(ev.epoch) == 21
    assert float(ev.peak) == pytest.approx(0.695)
    assert int(phase1_end_rule(np.arange(101), H, PhaseRules(smooth_window=1)).epoch) == 20
    flat = phase1_end_rule(np.arange(101), np.full(101, 0.5))
    assert not bool(flat.found)


def _with_other_losses(training: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The training log with an evaluation split added and every non-training loss replaced by random numbers."""
    ev = training[training["split"] == "test"].assign(split="eval")
    va = training[training["split"] == "test"].assign(split="validation")
    out = pd.concat([training, ev, va], ignore_index=True)
    other = out["split"] != "train"
    out.loc[other, "loss"] = rng.uniform(0.0, 5.0, size=int(other.sum()))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_default_boundaries_and_stop_ignore_every_non_training_loss(seed):
    rng = np.random.default_rng(seed)
    training, h_bar = series(noise_h=0.02, seed=seed, samples=3)
    strengths = planted_strengths(p3=60, samples=3, scale=[1.0, 1.4, 0.6])
    dist = strengths.drop(columns=["generalizable"]).groupby(
        ["checkpoint", "split", "type", "order", "sign"], as_index=False)["total"].mean().rename(columns={"total": "strength"})
    base = detect_phases(training, h_bar, strengths, order_distribution=dist, n_resamples=50)
    for _ in range(3):
        noisy = detect_phases(_with_other_losses(training, rng), h_bar, strengths, order_distribution=dist,
                              n_resamples=50)
        assert noisy.boundaries == base.boundaries
        assert noisy.early_stopping["epoch"] == base.early_stopping["epoch"]
        assert noisy.boundaries_ci == base.boundaries_ci and noisy.early_stopping["ci"] == base.early_stopping["ci"]
        assert noisy.three_phase_support == base.three_phase_support
    assert base.boundaries["phase3_start"] == 60
    # the loss-based alternative does move with the test loss
    a = detect_phases(training, h_bar, strengths, early_stopping="min_test_loss", n_resamples=0)
    assert 59 <= a.early_stopping["epoch"] <= 62
    assert a.rules["uses_test_loss"] and not base.rules["uses_test_loss"]


def test_default_needs_no_test_loss_at_all():
    training, h_bar = series()
    only_train = training[training["split"] == "train"]
    r = detect_phases(only_train, h_bar, planted_strengths(p3=60), n_resamples=0)
    assert r.boundaries["phase3_start"] == 60 and r.early_stopping["epoch"] == 60


def test_stop_reasons_never_claim_an_improvement_that_did_not_happen():
    training, h_bar = series()
    rising = training.copy()
    te = rising["split"] == "test"
    rising.loc[te, "loss"] = 1.0 + 0.01 * rising.loc[te, "epoch"]  # the test loss only gets worse
    r = detect_phases(rising, h_bar, early_stopping="min_test_loss", n_resamples=0)
    assert r.early_stopping["epoch"] == 0 and "never improved" in r.early_stopping["reason"]
    for strengths in (None, planted_strengths(p3=None), planted_strengths(p3=60)):
        for tr in (training, rising):
            d = detect_phases(tr, h_bar, strengths, n_resamples=0)
            assert "still improving" not in d.early_stopping["reason"] and "still improving" not in d.message
    nophase3 = detect_phases(training, h_bar, planted_strengths(p3=None), n_resamples=0)
    assert nophase3.early_stopping["epoch"] == 100 and "not reached" in nophase3.early_stopping["reason"]


def test_stop_rule_cases():
    H = np.array([0.1, 0.5, 0.9, 0.5, 0.1])
    r1 = PhaseRules(smooth_window=1)
    p1 = phase1_end_rule(np.arange(5), H, r1)
    assert int(stop_rule("phase3_start", 4, p1, None).epoch) == 4  # no order strengths: last checkpoint
    assert int(stop_rule("min_test_loss", 4, p1, None, test_loss_epoch=3).epoch) == 3
    assert int(stop_rule("h_bar_peak", 4, p1, None, snap_to=np.array([0, 3])).epoch) == 3  # 2 -> nearer 3
    assert int(stop_rule("h_bar_peak", 4, p1, None, snap_to=np.array([1, 3])).epoch) == 1  # tie: the earlier
    with pytest.raises(InputError, match="test loss"):
        stop_rule("min_test_loss", 4, p1, None)


def test_two_phase_reports_strength_next_to_share():
    # High-order strength (orders 2-3) stays at 1.0 while low-order strength grows then shrinks: the share dips
    # only because the low orders grow, which the evidence shows (high-order strength flat).
    low = np.concatenate([np.linspace(1, 4, 11), np.linspace(4, 1, 11)[1:]])
    S = np.stack([low, 0.5 * np.ones(21), 0.5 * np.ones(21)], axis=1)
    ev = two_phase_rule(np.arange(21), S, PhaseRules(smooth_window=1))
    assert ev.found and ev.epoch == 10
    assert ev.high_order_strength == pytest.approx(np.ones(21))
    training, h_bar = series(epochs=np.arange(21), p1=8, p3=15)
    rows = [{"checkpoint": c, "split": "train", "type": "all", "order": m + 1, "sign": "+", "strength": S[c, m]}
            for c in range(21) for m in range(3)]
    r = detect_phases(training, h_bar, order_distribution=pd.DataFrame(rows), smooth_window=1, n_resamples=0)
    tev = r.evidence["two_phase"]
    assert tev["high_order_strength"]["start"] == pytest.approx(tev["high_order_strength"]["at_min"]) == pytest.approx(1.0)
    assert tev["high_order_share"]["at_min"] == pytest.approx(1 / 5)
    assert "high-order strength" in r.two_phase_message
    # the salient-only order_strengths table is not used for the two-phase view
    assert detect_phases(training, h_bar, planted_strengths(np.arange(21)),
                         n_resamples=0).two_phase_message.startswith("two-phase rule skipped")


def test_rules_object_and_overrides():
    training, h_bar = series(noise_h=0.02, seed=1)
    st = planted_strengths(p3=60)
    a = detect_phases(training, h_bar, st, rules=PhaseRules(smooth_window=5, n_resamples=20))
    b = detect_phases(training, h_bar, st, smooth_window=5, n_resamples=20)
    assert a.boundaries == b.boundaries and a.boundaries_ci == b.boundaries_ci
    c = detect_phases(training, h_bar, st, rules=PhaseRules(smooth_window=5), smooth_window=3, n_resamples=0)
    assert c.rules["parameters"]["smooth_window"] == 3
    with pytest.raises(InputError, match="PhaseRules"):
        detect_phases(training, h_bar, rules={"smooth_window": 3})
    with pytest.raises(InputError, match="ci_level"):
        PhaseRules(ci_level=1.5)
    with pytest.raises(InputError, match="nongen_share"):
        PhaseRules(nongen_share=2.0)
