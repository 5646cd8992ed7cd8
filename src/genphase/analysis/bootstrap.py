"""Bootstrap confidence intervals of mean H-bar per checkpoint and split (the ``h_bar_summary`` table).

The explained samples are resampled with replacement, within each split (each split keeps its
size), ``n_resamples`` times from a seeded generator. A resample is a multiset of sample ids,
and the same multiset is used at every checkpoint (paired resampling: the curves of a resample are
the curves of one alternative draw of explained samples). For each resample, checkpoint and split
the mean H-bar over the drawn samples with a finite H-bar is taken; the interval is the percentile
interval of those means: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (linear
interpolation). The resampling protocol, for reproducibility: one ``numpy.random.default_rng(seed)``;
for each split in order of first appearance in the table, an ``[n_resamples, n_split]`` array of
``integers(0, n_split)`` picks positions among that split's samples sorted by id. Samples without salient interactions (H-bar NaN) are left out of every mean; a
resample drawing only such samples at a checkpoint is left out there.

The boundaries and the stop epoch are bootstrapped the same way inside
:func:`~genphase.analysis.detect_phases` (``n_resamples``, ``ci_level``, ``seed`` of :class:`PhaseRules`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ._stats import bootstrap_weights, nan_mean, percentile_interval, safe_div

__all__ = ["H_BAR_SUMMARY_COLUMNS", "bootstrap_h_bar", "check_bootstrap_samples"]

#: Columns of the ``h_bar_summary`` table (``metrics/h_bar_summary.parquet``).
H_BAR_SUMMARY_COLUMNS: tuple[str, ...] = ("checkpoint", "split", "mean", "ci_low", "ci_high", "n_samples")


def check_bootstrap_samples(counts: dict[str, int], minimum: int = 2) -> None:
    """Raise :class:`~genphase.errors.InputError` naming ``explain.samples`` when a split has too few samples.

    >>> check_bootstrap_samples({"train": 3, "test": 3})
    """
    low = {k: v for k, v in counts.items() if v < minimum}
    if low:
        raise InputError(f"the bootstrap needs at least {minimum} explained samples per split, got {low}; "
                         "raise explain.samples (explained samples per split) in the config, or pass n_resamples=0 to skip the intervals")


def bootstrap_h_bar(
    h_bar: pd.DataFrame,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean H-bar per checkpoint and split with its bootstrap percentile interval.

    ``h_bar``: the per-sample ``h_bar`` table (``checkpoint, sample, split, h_bar``). Returns the
    ``h_bar_summary`` table: ``checkpoint, split, mean, ci_low, ci_high, n_samples`` with
    ``n_samples`` the samples with a finite H-bar at that checkpoint (those the mean is over); NaN
    mean and interval where there are none. Needs at least 2 samples per split.

    >>> tab = pd.DataFrame({"checkpoint": [0, 0, 0, 1, 1, 1], "sample": [0, 1, 2] * 2, "split": "train",
    ...                     "h_bar": [0.1, 0.2, 0.3, 0.5, 0.5, 0.5]})
    >>> out = bootstrap_h_bar(tab, n_resamples=200)
    >>> out["mean"].round(3).tolist(), out["n_samples"].tolist()
    ([0.2, 0.5], [3, 3])
    """
    if not isinstance(h_bar, pd.DataFrame):
        raise InputError(f"h_bar must be the per-sample h_bar table (a DataFrame), got {type(h_bar).__name__}")
    missing = sorted({"checkpoint", "sample", "split", "h_bar"} - set(h_bar.columns))
    if missing:
        raise InputError(f"h_bar lacks the columns {missing} (has {sorted(map(str, h_bar.columns))})")
    if len(h_bar) == 0:
        raise InputError("h_bar is empty: pass the per-sample h_bar table of at least one checkpoint")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise InputError(f"n_resamples must be an int >= 1, got {n_resamples!r}")
    if not 0 < float(level) < 1:
        raise InputError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    vals = pd.to_numeric(h_bar["h_bar"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(vals)):
        raise InputError("h_bar holds inf values; H-bar lies in [0, 1] (NaN only for samples without salient interactions)")
    tab = pd.DataFrame({"c": h_bar["checkpoint"].to_numpy(), "sp": h_bar["split"].astype(str).to_numpy(),
                        "s": h_bar["sample"].to_numpy(), "h": vals})
    wide = tab.groupby(["sp", "s", "c"])["h"].mean().unstack("c").sort_index(axis=1)  # [(split, sample), C]
    splits = list(dict.fromkeys(tab["sp"].tolist()))
    rank = {sp: i for i, sp in enumerate(splits)}  # splits in order of first appearance, samples by id
    wide = wide.iloc[np.lexsort((wide.index.get_level_values(1).to_numpy(),
                                 np.array([rank[x] for x in wide.index.get_level_values(0)])))]
    counts = {sp: int((wide.index.get_level_values(0) == sp).sum()) for sp in splits}
    check_bootstrap_samples(counts)
    checkpoints = wide.columns.to_numpy()
    X = wide.to_numpy(dtype=float)  # [N, C]
    labels = wide.index.get_level_values(0).to_numpy()
    W = bootstrap_weights(labels, n_resamples, seed).astype(np.float64)  # [R, N], stratified by split
    ok = np.isfinite(X)
    frames = []
    for sp in splits:
        sel = labels == sp
        Ws, Xs, oks = W[:, sel], X[sel], ok[sel]
        means = safe_div(Ws @ np.where(oks, Xs, 0.0), Ws @ oks.astype(np.float64))  # [R, C]
        lo, hi = percentile_interval(means, level, axis=0)
        frames.append(pd.DataFrame({"checkpoint": checkpoints, "split": sp, "mean": nan_mean(Xs, axis=0),
                                    "ci_low": lo, "ci_high": hi, "n_samples": oks.sum(0).astype(np.int64)}))
    out = pd.concat(frames, ignore_index=True).sort_values(["checkpoint", "split"], kind="stable")
    return out.reset_index(drop=True)[list(H_BAR_SUMMARY_COLUMNS)]
