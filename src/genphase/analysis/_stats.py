"""Shared statistics of the analysis layer (private): grouping by split, NaN-aware summaries, the
one implementation of H-bar (Eq. 11), and the bootstrap primitives.

This module imports none of its siblings (only numpy and :mod:`genphase.errors`), so every other
module of :mod:`genphase.analysis` may use it without creating an import cycle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "TYPES",
    "type_index",
    "split_groups",
    "safe_div",
    "nan_stats",
    "nan_mean",
    "h_bar_ratio",
    "h_bar_from_order_sums",
    "bootstrap_weights",
    "percentile_interval",
]

#: Type axis of order-wise arrays: AND, OR and both together.
TYPES: tuple[str, str, str] = ("and", "or", "all")


def type_index(type: str) -> int:
    """Index of ``type`` in :data:`TYPES` ("and", "or", "all"); InputError otherwise."""
    if type not in TYPES:
        raise InputError(f"type must be one of {list(TYPES)}, got {type!r}")
    return TYPES.index(type)


def split_groups(split: Any, nb: int) -> list[tuple[str, np.ndarray]]:
    """``[(name, boolean mask [nb])]`` per distinct label of ``split`` in order of appearance.

    ``split``: per-sample labels of any shape with ``nb`` entries, or None for one group "all".
    """
    if split is None:
        return [("all", np.ones(nb, dtype=bool))]
    s = np.asarray(split)
    if s.size != nb:
        raise InputError(f"split must have one entry per sample ({nb}), got {s.size} (shape {s.shape})")
    s = s.astype(str).reshape(-1)
    return [(g, s == g) for g in dict.fromkeys(s.tolist())]


def safe_div(a: Any, b: Any) -> np.ndarray:
    """``a / b`` where ``b > 0``, NaN elsewhere (no warnings)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def nan_mean(x: Any, axis: int | tuple[int, ...] = 0) -> np.ndarray:
    """Mean of the finite entries along ``axis`` (NaN where there are none), without warnings."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    return safe_div(np.where(ok, x, 0.0).sum(axis), ok.sum(axis))


def nan_stats(x: Any, axis: int = 0) -> dict[str, np.ndarray]:
    """Mean, std (population), median, quartiles, count and NaN count along ``axis`` without warnings."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    cnt = ok.sum(axis)
    mean = nan_mean(x, axis)
    dev = np.where(ok, x - np.expand_dims(mean, axis), 0.0)
    std = np.sqrt(safe_div((dev ** 2).sum(axis), cnt))
    xs = np.where(ok, x, np.nan)
    q = np.full((3, *mean.shape), np.nan)
    good = cnt > 0
    if np.all(good):
        q = np.nanquantile(xs, [0.25, 0.5, 0.75], axis=axis)
    elif np.any(good):
        moved = np.moveaxis(xs, axis, 0)[:, good]
        q[:, good] = np.nanquantile(moved, [0.25, 0.5, 0.75], axis=0)
    return {"mean": mean, "std": std, "q25": q[0], "median": q[1], "q75": q[2], "n": cnt, "n_nan": (~ok).sum(axis)}


def h_bar_ratio(generalizable_abs: Any, total_abs: Any) -> np.ndarray:
    """Eq. 11 from its two sums: ``sum |generalizable| / sum |total|`` (NaN where the total is 0).

    The single place where H-bar is formed; every H-bar of the package calls it (through
    :func:`h_bar_from_order_sums`).
    """
    return safe_div(generalizable_abs, total_abs)


def h_bar_from_order_sums(total: Any, generalizable: Any) -> np.ndarray:
    """H-bar (Eq. 11) from order-wise signed sums ``[..., n, 2]`` (orders, signs +/-) -> ``[...]``.

    ``H = sum_m (|gen+(m)| + |gen-(m)|) / sum_m (|total+(m)| + |total-(m)|)``, NaN where the sample
    has no salient interaction.

    >>> import numpy as np
    >>> float(h_bar_from_order_sums(np.array([[2.0, -1.0]]), np.array([[1.0, 0.0]])))
    0.3333333333333333
    """
    t = np.abs(np.asarray(total, dtype=np.float64)).sum(axis=(-2, -1))
    g = np.abs(np.asarray(generalizable, dtype=np.float64)).sum(axis=(-2, -1))
    return h_bar_ratio(g, t)


def bootstrap_weights(groups: Any, n_resamples: int, seed: int | np.random.Generator | None) -> np.ndarray:
    """Resampling counts ``[R, N]``: resample ``N`` samples with replacement within each group.

    ``groups``: ``[N]`` group label per sample (e.g. the split); each group keeps its size in every
    resample (a stratified bootstrap). Row ``r`` counts how often each sample is drawn in resample
    ``r``; the same row is applied at every checkpoint (paired resampling of sample ids). Means of
    per-sample quantities over a resample are then ``W @ X / W.sum(1)``, one matrix product.

    >>> w = bootstrap_weights(np.array(["a", "a", "b"]), 4, 0)
    >>> w.shape, w[:, :2].sum(1).tolist(), w[:, 2].tolist()
    ((4, 3), [2, 2, 2, 2], [1, 1, 1, 1])
    """
    g = np.asarray(groups).reshape(-1)
    N = g.size
    R = int(n_resamples)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    w = np.zeros((R, N), dtype=np.int64)
    rows = np.arange(R)[:, None]
    for label in dict.fromkeys(g.tolist()):
        members = np.nonzero(g == label)[0]
        draws = members[rng.integers(0, members.size, size=(R, members.size))]  # [R, n_g] sample ids
        flat = (draws + rows * N).reshape(-1)
        w += np.bincount(flat, minlength=R * N).reshape(R, N)
    return w


def percentile_interval(x: Any, level: float, axis: int = 0, *, discrete: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the finite values along ``axis``: the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles (NaN where no value is finite).

    ``discrete=True`` (e.g. epochs): the lower end rounds down and the upper end up to values that
    occur (``method="lower"`` / ``"higher"``), so the interval is made of observed values.

    >>> lo, hi = percentile_interval(np.arange(101.0), 0.9)
    >>> round(float(lo), 6), round(float(hi), 6)
    (5.0, 95.0)
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    a = (1.0 - float(level)) / 2.0
    ok = np.isfinite(x)
    shape = x.shape[1:]
    lo = np.full(shape, np.nan)
    hi = np.full(shape, np.nan)
    good = ok.any(0)
    if np.any(good):
        xs = np.where(ok, x, np.nan)[:, good]
        lo[good] = np.nanquantile(xs, a, axis=0, method="lower" if discrete else "linear")
        hi[good] = np.nanquantile(xs, 1.0 - a, axis=0, method="higher" if discrete else "linear")
    return lo, hi
