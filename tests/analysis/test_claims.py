"""The papers' claims against their placebos (issue 27) on planted games whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

import genphase as gp
from genphase.analysis.claims import CLAIM_COLUMNS, CLAIMS, claim_parts, claims_table
from genphase.transforms import subset_orders

N = 4
B = 16  # per split
ORDERS = subset_orders(N)
PAIRS = np.flatnonzero(ORDERS == 2)  # the 6 subsets of order 2


def _game(memorised: bool, with_placebo_pool: bool, sign: float = 1.0):
    """One sample: order-2 terms. ``memorised``: a +3 AND term the baselines do not have (non-generalizable).
    ``with_placebo_pool``: 10 generalizable order-2 terms of +-0.5 (summing to 0) beside it, so that a random
    order-2 removal rarely takes the +3; without it, the +3 is the only salient order-2 term."""
    a, o = np.zeros(2 ** N), np.zeros(2 ** N)
    shared_a, shared_o = np.zeros(2 ** N), np.zeros(2 ** N)
    a[PAIRS[0]] = 3.0 if memorised else 0.0
    if with_placebo_pool:
        vals = sign * np.array([0.5, -0.5, 0.5, -0.5, 0.5])
        a[PAIRS[1:]] = vals
        o[PAIRS[:5]] = -vals
        shared_a[PAIRS[1:]] = vals
        shared_o[PAIRS[:5]] = -vals
    a[0b0001] = 1.0  # a salient singleton both share (keeps every sample with a generalizable term)
    shared_a[0b0001] = 1.0
    return (a, o), (shared_a, shared_o)


def _series(with_placebo_pool: bool):
    models, bases = [], []
    for i in range(2 * B):
        train = i < B
        (ma, mo), (ba, bo) = _game(memorised=train, with_placebo_pool=with_placebo_pool, sign=1 if i % 2 else -1)
        models.append((ma, mo))
        bases.append((ba, bo))
    model = gp.AndOrInteractions.from_effects(np.stack([m[0] for m in models]), np.stack([m[1] for m in models]),
                                              np.full(2 * B, -1.0))
    base = gp.AndOrInteractions.from_effects(np.stack([b[0] for b in bases]), np.stack([b[1] for b in bases]))
    split = np.repeat(["train", "test"], B)
    return model, [base, base], split


def _table(model, bases, split, n_resamples=400):
    parts = {0: claim_parts(model, bases, tau=0.05, draws=20, seed=0)}
    hb = pd.DataFrame({"checkpoint": 0, "sample": np.arange(split.size), "split": split, "h_bar": 0.5})
    return claims_table(parts, split=split, phases={"boundaries": {}}, h_bar=hb, n_resamples=n_resamples, seed=0)


def _neg_log_sigmoid(x):
    return float(np.log1p(np.exp(-x)))


def test_removal_real_and_placebo_recomputed_by_hand_when_the_answer_is_known():
    """Train samples memorise a +3 term; a random order-2 removal takes it with chance 1/11 and otherwise a
    +-0.5 term: the real removal raises the training loss by a known amount and closes the gap beyond the placebo."""
    model, bases, split = _series(with_placebo_pool=True)
    t = _table(model, bases, split)
    assert list(t.columns) == list(CLAIM_COLUMNS) and set(t["claim"]) == set(CLAIMS)
    row = t[t["claim"] == "removal_closes_gap"].iloc[0]
    v = np.asarray(model.values).reshape(2 * B, -1)[:, -1]
    # closed form: the gap is test minus train; only the training samples lose their +3 term
    want = float(np.mean([_neg_log_sigmoid(x - 3.0) - _neg_log_sigmoid(x) for x in v[:B]]))
    assert abs(row["value"] - want) < 1e-9
    # the placebo: per draw, each training sample loses the +3 term (prob 1/11) or one +-0.5 term; its expectation
    lo_each = [_neg_log_sigmoid(x - 3.0) - _neg_log_sigmoid(x) for x in v[:B]]
    small = [np.mean([_neg_log_sigmoid(x - s) - _neg_log_sigmoid(x) for s in (0.5, -0.5)]) for x in v]
    expect = np.mean([(lo + 10 * sm) / 11 for lo, sm in zip(lo_each, small[:B])]) - np.mean(small[B:])
    assert abs(row["placebo"] - expect) < 0.6 * want  # 20 draws: near its expectation, far below the real removal
    assert row["placebo"] < 0.5 * row["value"]
    assert row["ci_low"] > row["placebo_ci_high"] and bool(row["supported"]) is True
    assert "training loss by +" in row["note"]


def test_a_removal_no_better_than_its_placebo_is_not_supported():
    """Without other order-2 terms, a random removal of one salient order-2 term is the +3 term itself: removal and
    placebo close the gap equally, and the claim must come out unsupported."""
    model, bases, split = _series(with_placebo_pool=False)
    row = _table(model, bases, split).query("claim == 'removal_closes_gap'").iloc[0]
    assert row["value"] > 0.1
    assert abs(row["value"] - row["placebo"]) < 1e-12
    assert bool(row["supported"]) is False


def test_claims_that_cannot_be_computed_say_why_and_never_raise():
    model, bases, split = _series(with_placebo_pool=True)
    t = _table(model, [bases[0]], split)  # K = 1
    k = t[t["claim"] == "h_bar_grows_with_k"].iloc[0]
    assert pd.isna(k["supported"]) and "K >= 2" in k["note"]
    for claim, words in (("fall_on_clean_samples", "flips no labels"), ("phase1_low_phase3_high", "phase3_start=None"),
                         ("two_phase_turn_aligns_with_gap", "no two-phase turn")):
        row = t[t["claim"] == claim].iloc[0]
        assert pd.isna(row["supported"]) and words in row["note"], (claim, row["note"])


def test_h_bar_grows_with_k_averages_every_single_baseline():
    """Two baselines that each hold half of the model's terms: with one baseline H-bar is about 1/2, with both 1."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2 * B, 2 ** N)) * 3
    a[:, 0] = 0
    half = np.arange(2 ** N) % 2 == 0
    b1 = np.where(half, a, 0.0)
    b2 = np.where(~half, a, 0.0)
    z = np.zeros_like(a)
    model = gp.AndOrInteractions.from_effects(a, z)
    bases = [gp.AndOrInteractions.from_effects(b1, z), gp.AndOrInteractions.from_effects(b2, z)]
    parts = claim_parts(model, bases, tau=0.0, draws=4)
    hand = [gp.analysis.generalization_power(model, [b], tau=0.0).h_bar() for b in bases]
    np.testing.assert_allclose(parts.h_single, np.stack(hand), atol=1e-12)
    np.testing.assert_allclose(parts.h_all, 1.0, atol=1e-12)


def test_a_checkpoint_with_nothing_salient_decides_nothing_and_says_why():
    """An absolute tau above every effect of an early checkpoint (as with ``interactions.tau_mode=absolute``): there
    is nothing to remove and no H-bar, so every per-checkpoint claim is undecided (null) with the reason, no numpy
    warning escapes, and the fall on clean samples is measured from the later peak where the samples have an H-bar."""
    import warnings

    model, bases, split = _series(with_placebo_pool=True)
    tiny = gp.AndOrInteractions.from_effects(np.asarray(model.and_effects) * 1e-3, np.asarray(model.or_effects) * 1e-3,
                                             np.full(2 * B, -1.0))
    parts = {0: claim_parts(tiny, bases, absolute=0.1, draws=5), 1: claim_parts(model, bases, absolute=0.1, draws=5)}
    flipped = np.zeros(2 * B, dtype=bool)
    flipped[:4] = True
    hb = pd.DataFrame({"checkpoint": np.repeat([0, 1, 2], 2 * B), "sample": np.tile(np.arange(2 * B), 3),
                       "split": np.tile(split, 3), "h_bar": np.r_[np.full(2 * B, np.nan), np.full(2 * B, 0.9),
                                                                   np.full(2 * B, 0.4)]})
    hb.loc[0, "h_bar"] = 1.0  # one sample with an H-bar at checkpoint 0: its mean (1.0) is no peak
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = claims_table(parts, split=split, phases={"boundaries": {}}, h_bar=hb, n_resamples=50,
                         label_flipped=flipped, label_noise=True)
    early = t[t["checkpoint"] == 0].set_index("claim")
    assert pd.isna(early.loc["removal_closes_gap", "supported"])
    assert "nothing to remove" in early.loc["removal_closes_gap", "note"]
    for claim in ("higher_orders_generalize_less", "h_bar_grows_with_k"):
        assert pd.isna(early.loc[claim, "supported"]) and "no training sample has a salient" in early.loc[claim, "note"]
    later = t[t["checkpoint"] == 1].set_index("claim")
    assert "nothing to remove" not in later.loc["removal_closes_gap", "note"]
    fall = t[t["claim"] == "fall_on_clean_samples"].iloc[0]
    assert abs(fall["value"] - 0.5) < 1e-12 and "from epoch 1" in fall["note"]
    assert "at least 50% of the clean training samples" in fall["note"]


def test_thin_checkpoints_are_named_with_the_boundary_that_lies_at_one():
    """Coverage: a checkpoint where only 2 of 8 training samples have an H-bar is listed and warned about, with the
    end of phase 1 that lies at it; a fully covered series gives no warning."""
    from genphase.analysis import coverage_warnings

    h = np.full((3, 8), 0.5)
    h[0, 2:] = np.nan  # 2 of 8 samples with a salient interaction at checkpoint 0
    h[1, 7] = np.nan   # 7 of 8: covered
    hb = pd.DataFrame({"checkpoint": np.repeat([0, 5, 9], 8), "sample": np.tile(np.arange(8), 3), "split": "train",
                       "h_bar": h.ravel()})
    test_rows = hb.assign(split="test", h_bar=np.nan)  # reference samples never count
    cov, warn = coverage_warnings(pd.concat([hb, test_rows]), {"boundaries": {"phase1_end": 0, "phase3_start": 9}})
    assert cov["of"] == 8 and cov["thin"] == [{"checkpoint": 0, "n_samples": 2}]
    assert len(warn) == 1 and "0 (2)" in warn[0] and "end of phase 1 (epoch 0)" in warn[0] and "phase 3" not in warn[0]
    assert coverage_warnings(hb[hb["checkpoint"] > 0])[1] == []
    # no boundary, but the rules' peak at the thin checkpoint (the absolute-tau case): said too
    peak = coverage_warnings(hb, {"boundaries": {}, "evidence": {"h_bar": {"peak_epoch": 0}}})[1][0]
    assert "peak of the mean H-bar (epoch 0)" in peak


def test_a_checkpoints_row_does_not_depend_on_the_other_checkpoints():
    """A refined run adds checkpoints between others: every claim row of a checkpoint, intervals included, must be
    the same with or without them (the placebo's resampling is seeded per checkpoint)."""
    model, bases, split = _series(with_placebo_pool=True)
    other, _, _ = _series(with_placebo_pool=False)
    p5 = claim_parts(model, bases, draws=20, seed=0)
    p3 = claim_parts(other, bases, draws=20, seed=0)
    hb = pd.DataFrame({"checkpoint": np.repeat([3, 5], 2 * B), "sample": np.tile(np.arange(2 * B), 2),
                       "split": np.tile(split, 2), "h_bar": 0.5})
    alone = claims_table({5: p5}, split=split, phases={"boundaries": {}}, h_bar=hb[hb["checkpoint"] == 5],
                         n_resamples=200)
    both = claims_table({3: p3, 5: p5}, split=split, phases={"boundaries": {}}, h_bar=hb, n_resamples=200)
    cols = ["claim", "value", "ci_low", "ci_high", "placebo", "placebo_ci_low", "placebo_ci_high", "supported"]
    a = alone[alone["checkpoint"] == 5][cols].reset_index(drop=True)
    b = both[both["checkpoint"] == 5][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
