"""Bootstrap intervals of mean H-bar and of the phase boundaries, against enumerations and plain loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import bootstrap_h_bar, detect_phases
from genphase.analysis._stats import bootstrap_weights, percentile_interval
from genphase.errors import InputError

from .helpers import planted_strengths, series


def _table(values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per-sample H-bar table from ``{split: [samples, checkpoints]}`` (sample ids run over both splits)."""
    rows, sid = [], 0
    for sp, arr in values.items():
        for row in np.asarray(arr, dtype=float):
            rows += [{"checkpoint": 10 * c, "sample": sid, "split": sp, "h_bar": h} for c, h in enumerate(row)]
            sid += 1
    return pd.DataFrame(rows)


def test_columns_and_exact_two_sample_interval():
    # Two samples a < b: a resample's mean is a (prob 1/4), (a+b)/2 (1/2) or b (1/4). The 2.5% and 97.5%
    # quantiles of that distribution are a and b; the 30% and 70% quantiles are both (a+b)/2.
    tab = _table({"train": [[0.2, 0.4], [0.6, 0.4]]})
    out = bootstrap_h_bar(tab, n_resamples=2000, seed=1)
    assert list(out.columns) == ["checkpoint", "split", "mean", "ci_low", "ci_high", "n_samples"]
    first = out.iloc[0]
    assert first["mean"] == pytest.approx(0.4) and first["n_samples"] == 2
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((0.2, 0.6))
    # both samples equal at checkpoint 10: every resample gives 0.4
    assert tuple(out.iloc[1][["ci_low", "ci_high"]]) == pytest.approx((0.4, 0.4))
    mid = bootstrap_h_bar(tab, n_resamples=2000, seed=1, level=0.4).iloc[0]
    assert (mid["ci_low"], mid["ci_high"]) == pytest.approx((0.4, 0.4))


def test_matches_a_plain_loop_over_resamples():
    rng = np.random.default_rng(3)
    tr, te = rng.uniform(size=(5, 4)), rng.uniform(size=(3, 4))
    tr[1, 2] = np.nan  # a sample without salient interactions at one checkpoint
    tab = _table({"train": tr, "test": te})
    out = bootstrap_h_bar(tab, n_resamples=300, level=0.9, seed=7).set_index(["split", "checkpoint"])
    # the documented protocol: one generator seeded with `seed`; per split, in order of appearance, an [R, n_split]
    # draw of positions within the split; a resample keeps the same ids at every checkpoint
    gen = np.random.default_rng(7)
    for sp, arr in (("train", tr), ("test", te)):
        idx = gen.integers(0, arr.shape[0], size=(300, arr.shape[0]))
        means = np.array([[np.nanmean(arr[i, c]) for c in range(4)] for i in idx])  # plain loop
        lo, hi = np.quantile(means, [0.05, 0.95], axis=0)
        for c in range(4):
            row = out.loc[(sp, 10 * c)]
            assert row["mean"] == pytest.approx(np.nanmean(arr[:, c]))
            assert row["ci_low"] == pytest.approx(lo[c]) and row["ci_high"] == pytest.approx(hi[c])
            assert row["n_samples"] == np.isfinite(arr[:, c]).sum()


def test_paired_resampling_and_seed():
    # identical columns per sample: a paired bootstrap gives identical intervals at both checkpoints
    vals = np.random.default_rng(0).uniform(size=(6, 1))
    out = bootstrap_h_bar(_table({"train": np.hstack([vals, vals])}), n_resamples=200)
    np.testing.assert_allclose(out.loc[0, ["ci_low", "ci_high"]].to_numpy(float),
                               out.loc[1, ["ci_low", "ci_high"]].to_numpy(float))
    tab = _table({"train": np.random.default_rng(1).uniform(size=(6, 3))})
    a, b = bootstrap_h_bar(tab, seed=4), bootstrap_h_bar(tab, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not bootstrap_h_bar(tab, seed=5).equals(a)


def test_bootstrap_weights_are_stratified_counts():
    g = np.array(["a", "b", "a", "a", "b"])
    w = bootstrap_weights(g, 50, 0)
    assert w.shape == (50, 5) and (w >= 0).all()
    assert (w[:, g == "a"].sum(1) == 3).all() and (w[:, g == "b"].sum(1) == 2).all()
    lo, hi = percentile_interval(np.array([3.0, 1.0, 2.0, np.nan]), 0.5, discrete=True)
    assert (float(lo), float(hi)) == (1.0, 3.0)  # discrete ends are observed values


def test_too_few_samples_names_the_setting():
    one = _table({"train": [[0.5, 0.6]], "test": [[0.1, 0.2], [0.3, 0.4]]})
    with pytest.raises(InputError, match="explain.samples"):
        bootstrap_h_bar(one)
    training, h_bar = series(samples=1)
    with pytest.raises(InputError, match="explain.samples"):
        detect_phases(training, h_bar)
    assert detect_phases(training, h_bar, n_resamples=0).boundaries_ci["phase1_end"] is None
    with pytest.raises(InputError, match="n_resamples"):
        bootstrap_h_bar(one, n_resamples=0)
    with pytest.raises(InputError, match="lacks the columns"):
        bootstrap_h_bar(one.drop(columns=["sample"]))


def test_identical_samples_give_point_intervals_and_full_support():
    # every sample is a scaled copy of one planted series: every resample has the same H-bar curve and the same
    # non-generalizable share of new strength, so each interval is the point estimate and the support is 1
    training, h_bar = series(samples=4)
    strengths = planted_strengths(p3=60, samples=4, scale=[1.0, 2.0, 0.5, 3.0])
    r = detect_phases(training, h_bar, strengths, n_resamples=200)
    b = r.boundaries
    assert r.boundaries_ci["phase1_end"] == [b["phase1_end"]] * 2
    assert r.boundaries_ci["phase3_start"] == [60, 60]
    assert r.early_stopping["ci"] == [60, 60] and r.three_phase_support == 1.0
    d = r.to_dict()
    assert d["boundaries_ci"]["phase3_start"] == [60, 60] and d["early_stopping"]["ci"] == [60, 60]
    assert d["three_phase_support"] == 1.0 and d["boundaries_ci"]["two_phase_turn"] is None


def _resampled(h_bar: pd.DataFrame, strengths: pd.DataFrame, ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Physically resampled tables: draw k of the resample becomes sample k."""
    hs, ss = [], []
    for k, s in enumerate(ids):
        hs.append(h_bar[h_bar["sample"] == s].assign(sample=k))
        ss.append(strengths[strengths["sample"] == s].assign(sample=k))
    return pd.concat(hs, ignore_index=True), pd.concat(ss, ignore_index=True)


def test_batched_bootstrap_equals_the_rules_run_on_each_resampled_table():
    # two kinds of sample: phase 3 at 40 in one, at 75 in the other, so the resamples disagree
    training, h_bar = series(samples=6)
    # (unequal scales keep the mixtures off exact ties such as a share of exactly 0.5, where float rounding decides)
    a = planted_strengths(p3=40, samples=3, scale=[1.1, 0.8, 1.27])
    b = planted_strengths(p3=75, samples=3, scale=[1.0, 1.33, 0.71]).assign(sample=lambda d: d["sample"] + 3)
    strengths = pd.concat([a, b], ignore_index=True)
    R = 24
    r = detect_phases(training, h_bar, strengths, n_resamples=R, seed=11)
    # the documented protocol for detect_phases: the h_bar_split samples, sorted by id, one group, seeded generator
    w = bootstrap_weights(np.zeros(6), R, 11)
    stops, p3s = [], []
    for row in w:
        ids = np.repeat(np.arange(6), row)
        hb, st = _resampled(h_bar, strengths, ids)
        one = detect_phases(training, hb, st, n_resamples=0)
        stops.append(one.early_stopping["epoch"])
        if one.clear and one.boundaries["phase3_start"] is not None:
            p3s.append(one.boundaries["phase3_start"])
    counts = {int(k): int(v) for k, v in zip(*np.unique(stops, return_counts=True))}
    assert r.evidence["bootstrap"]["stop_epoch_counts"] == counts
    assert len(counts) > 1  # the resamples really disagree
    assert r.three_phase_support == pytest.approx(len(p3s) / R)
    lo, hi = np.quantile(p3s, [0.025, 0.975], method="lower")[0], np.quantile(p3s, 0.975, method="higher")
    assert r.boundaries_ci["phase3_start"] == [int(lo), int(hi)]
    assert 40 <= r.boundaries_ci["phase3_start"][0] <= r.boundaries["phase3_start"] <= r.boundaries_ci["phase3_start"][1] <= 75
