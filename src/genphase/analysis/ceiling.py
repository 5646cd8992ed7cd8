"""A ceiling for H-bar: how much the baselines themselves generalize to each other.

The K baselines are the best evidence available of what a generalizing network encodes. For each
baseline j and explained sample i, ``H_j(i)`` is baseline j's H-bar (Eq. 11) on sample i against the
other K - 1 baselines: its salient interactions count as generalizable when any other baseline has the
same interaction (same type) salient with the same sign (Eq. 7, 10 with j as the model). Salience,
thresholds and the merged singletons are exactly those of :func:`~genphase.analysis.generalization_power`.

The ceiling of a split is ``mean_j mean_i H_j(i)``: each baseline's mean over the split's samples
with a finite H-bar, then the mean over baselines (a baseline with no finite value in a split is left
out there). Its interval is a paired percentile bootstrap over samples: the samples are resampled with
replacement within each split (the protocol of :func:`~genphase.analysis.bootstrap_h_bar`: one
``numpy.random.default_rng(seed)``, splits in order of first appearance, samples in batch order), the
same multiset for every baseline, and the statistic is recomputed per resample.

With cross-fitting (``eligible``), ``H_j(i)`` is counted only where baseline j never trained on sample
i, and then against the other baselines that never did (at least one; the mask must already give
every sample two eligible baselines).

Reading it: the model's H-bar is any-of-K, the ceiling any-of-(K - 1) (one baseline fewer to agree
with), so ``normalized = mean / ceiling`` slightly favours the model; the ablation table's k = K - 1
row gives the like-for-like model value.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import as_baselines, check_compatible, check_threshold_args, flat_batch
from ._stats import bootstrap_weights, nan_mean, percentile_interval, safe_div, split_groups
from .bootstrap import check_bootstrap_samples
from .generalization import _h_bar, check_eligible
from .salience import salience

__all__ = ["H_BAR_CEILING_COLUMNS", "baseline_h_bar", "h_bar_ceiling", "normalize_by_ceiling"]

#: Columns of the ``h_bar_ceiling`` table (``metrics/h_bar_ceiling.parquet``).
H_BAR_CEILING_COLUMNS: tuple[str, ...] = ("split", "mean", "ci_low", "ci_high")


def _bases(baselines: Any) -> list[AndOrInteractions]:
    bases = as_baselines(baselines)
    if len(bases) < 2:
        raise InputError(f"the H-bar ceiling needs K >= 2 baselines (each is compared with the other K - 1), got "
                         f"K = {len(bases)}; train more baselines (baselines.k >= 2)")
    check_compatible(bases[0], bases[1:])
    return bases


def baseline_h_bar(
    baselines: Sequence[AndOrInteractions],
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    eligible: Any = None,
) -> np.ndarray:
    """``[K, *B]``: each baseline's per-sample H-bar against the other K - 1 baselines (NaN where it has no
    salient interaction, or, with ``eligible``, where it trained on the sample).

    >>> import numpy as np, genphase as gp
    >>> a = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 1.0, 0]), np.zeros(4), 0.0)
    >>> b = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 0, 0]), np.zeros(4), 0.0)
    >>> baseline_h_bar([a, b]).tolist()  # a shares one of its two interactions with b; b shares its one
    [0.5, 1.0]
    """
    bases = _bases(baselines)
    check_threshold_args(tau, absolute)
    K = len(bases)
    shape = bases[0].batch_shape
    elig = None if eligible is None else check_eligible(eligible, shape, K)
    sal = [salience(b, tau, absolute=absolute, merge_singletons=merge_singletons) for b in bases]
    out = np.empty((K, *shape))
    for j in range(K):  # over the K baselines (a handful), each batched over samples and subsets
        sj = sal[j]
        gen = np.zeros(sj.mask.shape, dtype=bool)
        for l in range(K):
            if l == j:
                continue
            agree = sj.mask & sal[l].mask & (sj.effects * sal[l].effects > 0)
            if elig is not None:
                agree &= elig[..., l, None, None]
            gen |= agree
        h = _h_bar(sj.effects, sj.mask, gen)[..., 2]
        out[j] = h if elig is None else np.where(elig[..., j], h, np.nan)
    return out


def h_bar_ceiling(
    baselines: Sequence[AndOrInteractions],
    *,
    split: Any = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    eligible: Any = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """The ``h_bar_ceiling`` table: ``split, mean, ci_low, ci_high`` (see the module docstring).

    ``baselines``: the K >= 2 baselines' interactions on the explained samples (batch ``B``, the
    same samples and variables as the model's); ``split``: per-sample split labels (None: one group
    "all"). Needs at least 2 samples per split for the bootstrap; ``n_resamples=0`` skips it (NaN
    intervals; then one sample per split is enough).

    >>> import numpy as np, genphase as gp
    >>> a = gp.AndOrInteractions.from_effects(np.array([[0, 1.0, 1.0, 0]] * 3), np.zeros((3, 4)), 0.0)
    >>> b = gp.AndOrInteractions.from_effects(np.array([[0, 1.0, 0, 0]] * 3), np.zeros((3, 4)), 0.0)
    >>> h_bar_ceiling([a, b], split=["train"] * 3, n_resamples=50)[["split", "mean", "ci_low"]].values.tolist()
    [['train', 0.75, 0.75]]
    >>> h_bar_ceiling([a[:1], b[:1]], split=["train"], n_resamples=0)[["mean", "ci_low"]].values.tolist()  # no bootstrap
    [[0.75, nan]]
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise InputError(f"n_resamples must be an int >= 0 (0 skips the intervals), got {n_resamples!r}")
    if not 0 < float(level) < 1:
        raise InputError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    hb = baseline_h_bar(baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons, eligible=eligible)
    K = hb.shape[0]
    nb = flat_batch(as_baselines(baselines)[0])
    X = hb.reshape(K, nb).T  # [N, K]
    groups = split_groups(split, nb)
    if n_resamples:
        check_bootstrap_samples({name: int(sel.sum()) for name, sel in groups})
        labels = np.empty(nb, dtype=object)
        for name, sel in groups:
            labels[sel] = name
        W = bootstrap_weights(labels, n_resamples, seed).astype(np.float64)  # [R, N], stratified by split
    ok = np.isfinite(X)
    Xz = np.where(ok, X, 0.0)
    okf = ok.astype(np.float64)
    rows = []
    for name, sel in groups:
        point = nan_mean(nan_mean(X[sel], axis=0), axis=0)
        lo = hi = float("nan")
        if n_resamples:
            per = safe_div(W[:, sel] @ Xz[sel], W[:, sel] @ okf[sel])  # [R, K]: each baseline's resampled mean
            lo, hi = percentile_interval(nan_mean(per, axis=1), level)
        rows.append({"split": name, "mean": float(point), "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(rows, columns=list(H_BAR_CEILING_COLUMNS))


def normalize_by_ceiling(summary: pd.DataFrame, ceiling: pd.DataFrame) -> pd.DataFrame:
    """``summary`` (an ``h_bar_summary`` frame: at least ``split`` and ``mean``) with ``normalized``:
    ``mean`` divided by that split's ceiling ``mean`` (NaN where the ceiling is NaN or 0).

    A split of ``summary`` without a ceiling row raises :class:`~genphase.errors.InputError`.

    >>> s = pd.DataFrame({"checkpoint": [0, 1], "split": "train", "mean": [0.3, 0.6]})
    >>> c = pd.DataFrame({"split": ["train"], "mean": [0.8], "ci_low": [0.7], "ci_high": [0.9]})
    >>> normalize_by_ceiling(s, c)["normalized"].round(3).tolist()
    [0.375, 0.75]
    """
    for name, fr, cols in (("summary", summary, {"split", "mean"}), ("ceiling", ceiling, {"split", "mean"})):
        if not isinstance(fr, pd.DataFrame):
            raise InputError(f"{name} must be a DataFrame, got {type(fr).__name__}")
        missing = sorted(cols - set(fr.columns))
        if missing:
            raise InputError(f"{name} lacks the columns {missing} (has {sorted(map(str, fr.columns))})")
    ceil = ceiling.assign(split=ceiling["split"].astype(str))
    if ceil["split"].duplicated().any():
        raise InputError(f"ceiling has more than one row for splits {sorted(ceil['split'][ceil['split'].duplicated()].unique())}")
    by = dict(zip(ceil["split"], pd.to_numeric(ceil["mean"], errors="coerce").astype(float)))
    sp = summary["split"].astype(str)
    lacking = sorted(set(sp) - set(by))
    if lacking:
        raise InputError(f"the ceiling has no row for splits {lacking} (it has {sorted(by)}); compute it on the same "
                         "explained samples and splits as the summary")
    out = summary.copy()
    den = sp.map(by).to_numpy(dtype=float)
    num = pd.to_numeric(summary["mean"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out["normalized"] = safe_div(num, den)
    return out
