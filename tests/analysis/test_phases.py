"""Phase detection on synthetic series with known boundaries, noisy ones and ones without phases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import PhaseReport, detect_phases, noise_level, smooth
from genphase.errors import InputError

from .helpers import planted_strengths, series


def _names(report: PhaseReport) -> list[str]:
    return report.to_frame()["phase"].tolist()


def test_clean_three_phases_found_with_evidence():
    training, h_bar = series()
    r = detect_phases(training, h_bar, planted_strengths(p3=60))
    assert r.clear
    assert _names(r) == ["phase1", "phase2", "phase3"]
    p1, p3 = r.boundaries["phase1_end"], r.boundaries["phase3_start"]
    # H = 0.2 + 0.5 e / 20 up to 20, then 0.7 - 0.3 (e - 20) / 80: H(19..22) = 0.675, 0.7, 0.69625, 0.6925.
    # Centred means of 3: Hs(20) = 2.07125 / 3 = 0.69042, Hs(21) = 2.08875 / 3 = 0.69625, Hs(22) = 0.6925,
    # so the smoothed peak (end of phase 1) is epoch 21, not the raw peak 20.
    assert p1 == 21
    # Phase 3 (default rule, from the interactions): planted_strengths(p3=60) learns 0.02 generalizable + 0.01
    # non-generalizable strength per epoch before 60 (share 1/3 < nongen_share 0.5) and 0.002 + 0.01 after (share
    # 5/6); the order-2 noise only falls (removed, not learned). The centred mean of 3 is exact on linear pieces, so
    # the first step after which every counted step is >= 1/2 non-generalizable starts at 60.
    assert p3 == 60
    fr = r.to_frame()
    assert list(fr.columns) == ["phase", "start_epoch", "end_epoch"]
    assert fr["start_epoch"].dtype == np.int64
    rows = fr.set_index("phase")
    assert rows.loc["phase1", "start_epoch"] == 0 and rows.loc["phase1", "end_epoch"] == p1
    assert rows.loc["phase2", "start_epoch"] == p1 + 1 and rows.loc["phase2", "end_epoch"] == p3 - 1
    assert rows.loc["phase3", "end_epoch"] == 100
    d = r.to_dict()
    json.dumps(d)  # JSON-serialisable
    assert d["clear"] is True and d["early_stopping"]["epoch"] == p3
    assert "phase 3" in d["early_stopping"]["reason"]
    assert d["rules"]["parameters"]["smooth_window"] == 3
    assert d["evidence"]["h_bar"]["peak_epoch"] == p1
    assert d["evidence"]["phase3"]["min_share_after_start"] >= 0.5
    assert set(r.series["quantity"]) >= {"h_bar", "test_loss", "train_loss", "gap"}


@pytest.mark.parametrize("seed", range(6))
def test_noisy_three_phases(seed):
    training, h_bar = series(noise_h=0.03, noise_l=0.02, seed=seed)
    r = detect_phases(training, h_bar, planted_strengths(p3=60), smooth_window=5)
    assert r.clear, r.message
    assert 14 <= r.boundaries["phase1_end"] <= 30
    assert 45 <= r.boundaries["phase3_start"] <= 66


@pytest.mark.parametrize("seed", range(6))
def test_flat_noisy_h_bar_has_no_phases(seed):
    training, h_bar = series(h_shape="flat", noise_h=0.03, noise_l=0.02, seed=seed)
    r = detect_phases(training, h_bar, smooth_window=3)
    assert not r.clear
    assert r.boundaries["phase1_end"] is None and r.boundaries["phase3_start"] is None
    assert _names(r) == []
    assert "no clear phase structure" in r.message
    assert "fallback" in r.early_stopping["reason"]
    assert r.to_dict()["clear"] is False


def test_pure_noise_h_bar_without_smoothing_has_no_phases():
    for seed in range(5):
        training, h_bar = series(h_shape="flat", noise_h=0.1, seed=seed)
        assert not detect_phases(training, h_bar, smooth_window=1).clear


def test_rising_h_bar_is_not_invented_into_phases():
    training, h_bar = series(h_shape="rising")
    r = detect_phases(training, h_bar)
    assert not r.clear and _names(r) == []
    assert "has not ended" in r.message


def test_still_generalizable_learning_means_no_phase3():
    training, h_bar = series()
    r = detect_phases(training, h_bar, planted_strengths(p3=None))
    assert r.clear
    assert _names(r) == ["phase1", "phase2"]
    assert r.boundaries["phase3_start"] is None
    assert "phase 3 not reached" in r.message
    assert r.early_stopping["epoch"] == 100


def test_early_stopping_rules_and_snapping():
    training, h_bar = series()
    coarse = h_bar[h_bar["checkpoint"] % 10 == 0]  # H-bar only every 10 epochs
    r = detect_phases(training, coarse, planted_strengths(p3=57))
    # the strengths are planted with their knee at 57 (every epoch), so the rule gives 57; the nearest
    # checkpoint of 0, 10, ..., 100 is 60 (3 epochs away, 50 is 7)
    assert r.early_stopping["rule_epoch"] == 57
    assert r.early_stopping["epoch"] == 60
    assert "moved from epoch 57 to the nearest analysed checkpoint 60" in r.early_stopping["reason"]
    r2 = detect_phases(training, coarse, planted_strengths(p3=57), snap_to_checkpoints=False)
    assert r2.early_stopping["epoch"] == r2.early_stopping["rule_epoch"]
    m = detect_phases(training, h_bar, early_stopping="min_test_loss")
    # smoothed test loss around the kink: Ls(60) = (0.805 + 0.8 + 0.801) / 3 = 0.802, Ls(61) =
    # (0.8 + 0.801 + 0.802) / 3 = 0.801, Ls(62) = 0.802: the minimum of the smoothed series is at 61
    assert m.early_stopping["epoch"] == m.early_stopping["rule_epoch"] == 61
    p = detect_phases(training, h_bar, early_stopping="h_bar_peak")
    assert p.early_stopping["epoch"] == p.boundaries["phase1_end"]


def _two_phase_table(turn: int = 30, shape: str = "dip") -> pd.DataFrame:
    e = np.arange(0, 101, 2)
    rows = []
    for c in e:
        low = 0.2 + 0.8 * min(c / 40, 1.0)
        if shape == "dip":
            high = 1.0 - 0.9 * c / turn if c <= turn else 0.1 + 0.7 * (c - turn) / (100 - turn)
        else:
            high = 1.0 - 0.9 * c / 100
        for m in range(1, 7):
            s = low if m <= 2 else (0.5 * low if m == 3 else high)
            for sign, val in (("+", 0.6 * s), ("-", -0.4 * s)):
                rows.append({"checkpoint": c, "sample": 0, "split": "train", "type": "all", "order": m, "sign": sign,
                             "total": val, "generalizable": 0.0})
                rows.append({"checkpoint": c, "sample": 0, "split": "train", "type": "and", "order": m, "sign": sign,
                             "total": 99.0, "generalizable": 0.0})
    return pd.DataFrame(rows)


def _distribution(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["sample", "generalizable"]).rename(columns={"total": "strength"})


def test_two_phase_turning_point():
    training, h_bar = series()
    r = detect_phases(training, h_bar, order_distribution=_distribution(_two_phase_table(30)))
    assert r.two_phase_clear, r.two_phase_message
    # n = 6, so high orders are m >= 3; per checkpoint S(1) = S(2) = low, S(3) = low / 2, S(4..6) = high, and
    # the share is X = (low / 2 + 3 high) / (5 low / 2 + 3 high). Near the dip (even epochs):
    # X(28) = 0.86 / 2.38 = 0.3613, X(30) = 0.7 / 2.3 = 0.3043, X(32) = 0.78 / 2.46 = 0.3171,
    # X(34) = 0.86 / 2.62 = 0.3282, X(36) = 0.94 / 2.78 = 0.3381. Centred means of 3: Xs(30) = 0.3276,
    # Xs(32) = 0.3165, Xs(34) = 0.3278, so the smoothed minimum -- the turn -- is at 32, not the raw 30.
    assert r.boundaries["two_phase_turn"] == 32
    fr = r.to_frame().set_index("phase")
    assert fr.loc["two_phase_1", "end_epoch"] == r.boundaries["two_phase_turn"]
    assert fr.loc["two_phase_2", "end_epoch"] == 100
    ev = r.to_dict()["evidence"]["two_phase"]
    assert ev["high_order_min"] == 3 and "gap_onset_epoch" in ev
    for stat in ("high_order_strength", "mean_order"):
        assert detect_phases(training, h_bar, order_distribution=_distribution(_two_phase_table(30)),
                             two_phase_statistic=stat).two_phase_clear


def test_two_phase_from_order_distribution_table():
    tab = _two_phase_table(30).drop(columns=["sample", "generalizable"]).rename(columns={"total": "strength"})
    training, h_bar = series()
    r = detect_phases(training, h_bar, tab)
    assert r.two_phase_clear and r.boundaries["two_phase_turn"] == 32  # as derived in test_two_phase_turning_point


def test_no_two_phase_turn_when_high_orders_only_fall():
    training, h_bar = series()
    r = detect_phases(training, h_bar, order_distribution=_distribution(_two_phase_table(shape="falling")))
    assert not r.two_phase_clear
    assert "no clear two-phase turn" in r.two_phase_message
    assert "two_phase_1" not in _names(r)
    assert detect_phases(training, h_bar).two_phase_message.startswith("two-phase rule skipped")


def test_other_models_and_nan_samples_are_ignored():
    training, h_bar = series()
    other = training.assign(model="baseline_0", loss=5.0)
    h = h_bar.copy()
    h.loc[h["sample"] == 1, "h_bar"] = np.nan  # a sample without salient interactions
    h.loc[h["checkpoint"] == 50, "h_bar"] = np.nan  # a checkpoint where no sample has any
    r = detect_phases(pd.concat([training, other]), h)
    assert r.clear and r.boundaries["phase1_end"] == 21  # as in the clean series: dropping epoch 50 is far from the peak
    assert r.evidence["h_bar"]["dropped_checkpoints"] == [50]


def test_too_few_checkpoints_is_not_clear():
    training, h_bar = series(epochs=np.array([0, 10]))
    r = detect_phases(training, h_bar)
    assert not r.clear and "only 2 checkpoint" in r.message


def test_bad_input():
    training, h_bar = series()
    with pytest.raises(InputError, match="empty"):
        detect_phases(training.iloc[:0], h_bar)
    with pytest.raises(InputError, match="empty"):
        detect_phases(training, h_bar.iloc[:0])
    bad = training.copy()
    bad.loc[3, "loss"] = np.nan
    with pytest.raises(InputError, match="NaN"):
        detect_phases(bad, h_bar)
    with pytest.raises(InputError, match="lacks the columns"):
        detect_phases(training.drop(columns=["loss"]), h_bar)
    with pytest.raises(InputError, match="unknown phase-rule"):
        detect_phases(training, h_bar, window=3)
    with pytest.raises(InputError, match="odd"):
        detect_phases(training, h_bar, smooth_window=4)
    with pytest.raises(InputError, match="'test'"):
        detect_phases(training[training["split"] == "train"], h_bar, early_stopping="min_test_loss")
    with pytest.raises(InputError, match="NaN"):
        detect_phases(training, h_bar.assign(h_bar=np.nan))
    with pytest.raises(InputError, match="split"):
        detect_phases(training, h_bar, h_bar_split="test")
    with pytest.raises(InputError, match="model == 'model'"):
        detect_phases(training.assign(model="baseline_0"), h_bar)


def test_smooth_and_noise_helpers():
    np.testing.assert_allclose(smooth([1.0, 2.0, 6.0], 3), [1.5, 3.0, 4.0])
    np.testing.assert_allclose(smooth([1.0, 2.0], 1), [1.0, 2.0])
    assert noise_level(np.linspace(0, 5, 50)) == pytest.approx(0.0, abs=1e-12)  # a trend is not noise
    x = np.random.default_rng(0).normal(0, 0.1, 4000)
    assert noise_level(x) == pytest.approx(0.1, rel=0.1)
    with pytest.raises(InputError, match="smooth got NaN or inf values; drop or fill them first"):
        smooth([1.0, np.nan], 1)
