"""The two-phase turn on a per-sample all-interactions table: its batched rule agrees with the one-series rule,
its bootstrap interval comes from resampling the samples, and the per-sample table's means are the split table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genphase as gp
from genphase.analysis import (
    PhaseRules,
    detect_phases,
    order_distribution,
    order_distribution_samples,
    two_phase_rule,
    two_phase_turns,
)
from genphase.errors import InputError

from .helpers import series


def test_batched_turns_equal_the_one_series_rule_row_by_row():
    rng = np.random.default_rng(3)
    epochs = np.array([0, 1, 2, 4, 7, 11, 16, 23])
    # dips of random depth and place, plus noise: some rows have a clear turn, some do not
    base = rng.uniform(0.5, 1.5, size=(200, 1, 4))
    dip = np.exp(-((np.arange(8)[None, :] - rng.integers(0, 8, size=(200, 1))) ** 2) / 4.0)
    S = base * (1 + 0.03 * rng.normal(size=(200, 8, 4))) ** 2
    S[..., 2:] *= (1 - rng.uniform(0, 0.9, size=(200, 1)) * dip)[..., None]
    for w in (1, 3):
        r = PhaseRules(smooth_window=w)
        found, epoch = two_phase_turns(epochs, S, r)
        want = [two_phase_rule(epochs, S[i], r) for i in range(len(S))]  # the reference, one series at a time
        assert found.tolist() == [bool(t.found) for t in want]
        assert epoch.tolist() == [t.epoch if t.found else -1 for t in want]
        assert 10 <= int(found.sum()) <= 190, int(found.sum())  # both outcomes are exercised
    with pytest.raises(InputError, match="C=8"):
        two_phase_turns(epochs, S[:, :5])
    with pytest.raises(InputError, match="finite"):
        two_phase_turns(epochs, np.zeros((2, 8, 4)))


def test_per_sample_table_averages_to_the_split_table():
    rng = np.random.default_rng(0)
    res = gp.AndOrInteractions.from_effects(rng.normal(size=(6, 16)), rng.normal(size=(6, 16)), 0.0)
    split = np.array(["train", "test"] * 3)
    per = order_distribution_samples(res, split)
    # by hand: signed sums over the subsets of each order, singletons merged into AND (so OR has no order-1 term)
    order = np.array([bin(t).count("1") for t in range(16)])
    a = res.and_effects + np.where(order == 1, res.or_effects, 0)
    o = np.where(order == 1, 0, res.or_effects)
    for s in range(6):
        for m in range(1, 5):
            sel = order == m
            for typ, eff in (("and", a[s]), ("or", o[s]), ("all", np.r_[a[s][sel], o[s][sel]])):
                x = eff[sel] if typ != "all" else eff
                got = per[(per["sample"] == s) & (per["type"] == typ) & (per["order"] == m)].set_index("sign")["strength"]
                assert got["+"] == pytest.approx(x[x > 0].sum()) and got["-"] == pytest.approx(x[x < 0].sum())
    split_means = per.groupby(["split", "type", "order", "sign"])["strength"].mean()
    table = order_distribution(res, split=split).to_table().set_index(["split", "type", "order", "sign"])["strength"]
    pd.testing.assert_series_equal(split_means.sort_index(), table.sort_index(), check_names=False)


def _dip_table(epochs: np.ndarray, turns: list[int], scale: list[float]) -> pd.DataFrame:
    """Per-sample table: sample s has a high-order share dipping to its minimum at epoch ``turns[s]``."""
    rows = []
    for s, (t, k) in enumerate(zip(turns, scale)):
        high = 0.2 + 0.8 * np.abs(epochs - t) / epochs.max()
        for c, e in enumerate(epochs):
            rows += [{"checkpoint": int(e), "sample": s, "split": "train", "type": "all", "order": 1, "sign": "+",
                      "strength": k * 1.0},
                     {"checkpoint": int(e), "sample": s, "split": "train", "type": "all", "order": 3, "sign": "-",
                      "strength": -k * high[c]}]
    return pd.DataFrame(rows)


def test_turn_interval_spans_the_samples_turns_and_is_paired():
    epochs = np.arange(0, 41, 2)
    training, h_bar = series(epochs=epochs, p1=10, p3=30, samples=8)
    # eight samples turn at epochs 14 or 24: the mean turns in between, and resamples move it between the two
    dist = _dip_table(epochs, [14] * 4 + [24] * 4, [1.0] * 8)
    r = detect_phases(training, h_bar, order_distribution=dist, n_resamples=400, smooth_window=1)
    turn = r.boundaries["two_phase_turn"]
    lo, hi = r.boundaries_ci["two_phase_turn"]
    assert 14 <= lo <= turn <= hi <= 24 and lo < hi
    boot = r.evidence["bootstrap"]
    assert boot["two_phase_resampled"].startswith("paired") and boot["two_phase_found_share"] > 0.5
    assert not any("two_phase_turn" in x for x in boot["not_resampled"])
    # every sample turning at the same epoch: the interval is that epoch
    same = detect_phases(training, h_bar, order_distribution=_dip_table(epochs, [20] * 8, [1, 2, 3, 1, 2, 3, 1, 2]),
                         n_resamples=200, smooth_window=1)
    assert same.boundaries["two_phase_turn"] == 20 and same.boundaries_ci["two_phase_turn"] == [20, 20]
    # a split-mean table (no sample column) cannot be resampled: no interval, and the evidence says why
    means = dist.groupby(["checkpoint", "split", "type", "order", "sign"], as_index=False)["strength"].mean()
    m = detect_phases(training, h_bar, order_distribution=means, n_resamples=200, smooth_window=1)
    assert m.boundaries["two_phase_turn"] == turn and m.boundaries_ci["two_phase_turn"] is None
    assert any("two_phase_turn" in x for x in m.evidence["bootstrap"]["not_resampled"])


def test_turn_interval_ignores_every_non_training_loss():
    epochs = np.arange(0, 41, 2)
    training, h_bar = series(epochs=epochs, p1=10, p3=30, samples=8)
    dist = _dip_table(epochs, [14] * 4 + [24] * 4, [1.0] * 8)
    a = detect_phases(training, h_bar, order_distribution=dist, n_resamples=200)
    noisy = training.copy()
    rng = np.random.default_rng(5)
    other = noisy["split"] != "train"
    noisy.loc[other, "loss"] = rng.uniform(0, 5, int(other.sum()))
    evals = training[training["split"] == "test"].assign(split="eval", loss=rng.uniform(0, 5, len(epochs)))
    b = detect_phases(pd.concat([noisy, evals]), h_bar, order_distribution=dist, n_resamples=200)
    assert a.boundaries == b.boundaries and a.boundaries_ci == b.boundaries_ci
    assert a.early_stopping["epoch"] == b.early_stopping["epoch"] and a.early_stopping["ci"] == b.early_stopping["ci"]
