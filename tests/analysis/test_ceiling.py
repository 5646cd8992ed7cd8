"""The H-bar ceiling (each baseline against the other K - 1) against plain loops, and ``normalized``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import H_BAR_CEILING_COLUMNS, baseline_h_bar, h_bar_ceiling, normalize_by_ceiling
from genphase.analysis._stats import bootstrap_weights
from genphase.errors import InputError

from .brute import salient_terms, shared
from .helpers import make, random_set, stack


def _brute(bases, elig=None, tau=0.05):
    """``[K][N]`` per-sample H-bar of each baseline against the others, with dict loops."""
    K = len(bases)
    N = int(np.prod(bases[0].batch_shape))
    out = [[math.nan] * N for _ in range(K)]
    for i in range(N):
        terms = [salient_terms(b, i, tau) for b in bases]
        for j in range(K):
            if elig is not None and not elig[i][j]:
                continue
            others = [terms[l] for l in range(K) if l != j and (elig is None or elig[i][l])]
            tot = sum(abs(v) for v in terms[j].values())
            gen = sum(abs(v) for key, v in terms[j].items() if any(shared(terms[j], o, key) for o in others))
            out[j][i] = gen / tot if tot > 0 else math.nan
    return out


def _ceiling_of(per, idx):
    means = []
    for row in per:
        vals = [row[i] for i in idx if not math.isnan(row[i])]
        if vals:
            means.append(sum(vals) / len(vals))
    return sum(means) / len(means) if means else math.nan


def _planted():
    """Three baselines on four samples (n = 3) with known agreements (masks 3, 5, 6, 7 of order 2-3)."""
    b0 = stack(make({3: 1.0, 5: 1.0}, {7: 2.0}), make({3: 1.0}), make({5: -1.0, 6: 1.0}), make({3: 1.0}, {6: 1.0}))
    b1 = stack(make({3: 0.5}, {7: 1.0}), make({3: -1.0}), make({5: -2.0}), make({6: 1.0}))
    b2 = stack(make({5: 1.0}), make({6: 1.0}), make({6: 3.0}), make({3: 2.0}, {6: 1.0}))
    return [b0, b1, b2]


def test_planted_values_by_hand():
    hb = baseline_h_bar(_planted())
    # sample 0: b0 shares AND{0,1} (b1) and OR{0,1,2} (b1) and AND{0,2} (b2): all 4 of 4; b1 shares both (1.5/1.5);
    # b2's AND{0,2} is shared by b0: 1.0
    np.testing.assert_allclose(hb[:, 0], [1.0, 1.0, 1.0])
    # sample 1: b0 AND{0,1}=+1, b1 AND{0,1}=-1 (sign flip), b2 AND{1,2}: nothing shared
    np.testing.assert_allclose(hb[:, 1], [0.0, 0.0, 0.0])
    # sample 2: b0 (AND{0,2}=-1 shared with b1, AND{1,2}=+1 shared with b2) -> 1; b1 -> 1; b2 -> 1
    np.testing.assert_allclose(hb[:, 2], [1.0, 1.0, 1.0])
    # sample 3: b0 AND{0,1}=1 (b2 has it, 2.0) + OR{1,2}=1 (b2 has it): 1; b1 AND{1,2} (nobody): 0;
    # b2 AND{0,1} (b0) + OR{1,2} (b0): 1
    np.testing.assert_allclose(hb[:, 3], [1.0, 0.0, 1.0])


@pytest.mark.parametrize("seed", range(3))
def test_equals_plain_loops_on_random_sets(seed):
    rng = np.random.default_rng(seed)
    bases = [random_set(rng, batch=(7,), n=4) for _ in range(4)]
    np.testing.assert_allclose(baseline_h_bar(bases), np.array(_brute(bases)), rtol=1e-12)


def test_table_mean_and_interval_equal_a_plain_recomputation():
    rng = np.random.default_rng(4)
    bases = [random_set(rng, batch=(10,), n=3) for _ in range(3)]
    split = np.array(["train"] * 6 + ["test"] * 4)
    tab = h_bar_ceiling(bases, split=split, n_resamples=300, seed=5)
    assert tuple(tab.columns) == H_BAR_CEILING_COLUMNS
    assert tab["split"].tolist() == ["train", "test"]
    per = _brute(bases)
    W = bootstrap_weights(split, 300, 5)  # the stated protocol: one generator, splits in order of appearance
    for _, row in tab.iterrows():
        idx = [i for i in range(10) if split[i] == row["split"]]
        assert row["mean"] == pytest.approx(_ceiling_of(per, idx), rel=1e-12)
        stats = []
        for r in range(300):
            draw = [i for i in idx for _ in range(int(W[r, i]))]
            stats.append(_ceiling_of(per, draw))
        lo, hi = np.quantile(stats, [0.025, 0.975])
        assert row["ci_low"] == pytest.approx(lo, rel=1e-12)
        assert row["ci_high"] == pytest.approx(hi, rel=1e-12)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]


def test_with_eligibility_a_baseline_counts_only_on_samples_it_never_saw():
    rng = np.random.default_rng(9)
    bases = [random_set(rng, batch=(6,), n=3) for _ in range(4)]
    elig = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    hb = baseline_h_bar(bases, eligible=elig)
    np.testing.assert_allclose(hb, np.array(_brute(bases, elig)), rtol=1e-12)
    assert np.isnan(hb[~elig.T]).all()
    tab = h_bar_ceiling(bases, eligible=elig, n_resamples=50)
    assert tab["mean"].iloc[0] == pytest.approx(_ceiling_of(_brute(bases, elig), range(6)))


def test_k_one_gets_a_clear_message():
    with pytest.raises(InputError, match="K >= 2"):
        h_bar_ceiling([make({3: 1.0})])
    with pytest.raises(InputError, match="K >= 2"):
        baseline_h_bar(make({3: 1.0}))


def test_too_few_samples_and_bad_arguments():
    a = make({3: 1.0})
    with pytest.raises(InputError, match="explain.samples"):
        h_bar_ceiling([a, a])  # one sample
    b = stack(a, a)
    with pytest.raises(InputError, match="n_resamples"):
        h_bar_ceiling([b, b], n_resamples=-1)
    with pytest.raises(InputError, match="batch shape"):
        h_bar_ceiling([b, a])


def test_no_resamples_gives_the_point_ceiling_of_one_sample():
    """``n_resamples=0`` (a run's ``analysis.n_resamples=0``): no bootstrap, so one sample per split is enough; the
    mean is the one the bootstrap would report, the intervals NaN."""
    a, b = make({3: 1.0}), make({3: 1.0, 1: 0.5})
    point = h_bar_ceiling([a, b], n_resamples=0)
    assert point["ci_low"].isna().all() and point["ci_high"].isna().all()
    two = h_bar_ceiling([stack(a, a), stack(b, b)], n_resamples=50)
    assert point["mean"].tolist() == two["mean"].tolist()


def test_normalized_is_mean_over_that_splits_ceiling():
    summary = pd.DataFrame({"checkpoint": [0, 0, 5, 5], "split": ["train", "test"] * 2, "mean": [0.2, 0.1, 0.6, 0.3],
                            "ci_low": 0.0, "ci_high": 1.0, "n_samples": 4})
    ceiling = pd.DataFrame({"split": ["test", "train"], "mean": [0.5, 0.8], "ci_low": [0.4, 0.7],
                            "ci_high": [0.6, 0.9]})
    out = normalize_by_ceiling(summary, ceiling)
    np.testing.assert_allclose(out["normalized"], [0.25, 0.2, 0.75, 0.6])
    assert list(out.columns) == [*summary.columns, "normalized"]
    with pytest.raises(InputError, match=r"no row for splits \['eval'\]"):
        normalize_by_ceiling(summary.assign(split="eval"), ceiling)
    with pytest.raises(InputError, match="lacks the columns"):
        normalize_by_ceiling(summary.drop(columns="mean"), ceiling)
