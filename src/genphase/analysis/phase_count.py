"""How many phases the data support: piecewise-linear fits of mean H-bar, chosen by BIC, per bootstrap resample.

The curve: mean H-bar over the explained samples of one split (``split="train"`` by default) at each
of C checkpoints, against ``x = log(1 + epoch)``.

The fits (:func:`segment_fits`): continuous piecewise-linear curves with ``s = 1, 2, 3`` segments
(hinge regressions ``y = a + b x + sum_j c_j (x - t_j)_+`` with knots ``t_1 < t_2``), least squares.
The knots are searched exhaustively over a grid: ``grid`` equally spaced positions (in ``x``) per
checkpoint interval, the first on the checkpoint itself (default ``grid = ceil(64 / (C - 1))``, about
64 candidates), strictly inside the checkpoint range, and every segment must span at least
``min_points = 3`` checkpoints (two points always lie on a line, so a shorter "phase" would be fitted
through noise). Hence 2 segments need C >= 5 and 3 segments C >= 7; a count without any admissible
layout gets BIC ``inf`` and is never chosen.

The criterion: BIC with the knots counted as parameters,

    BIC(s) = C * ln(RSS(s) / C) + p(s) * ln(C),    p(s) = (s + 1) + (s - 1) + 1 = 2 s + 1

(``s + 1`` hinge coefficients, ``s - 1`` knots, one noise variance). The smallest BIC wins; on a tie
the fewer segments. ``RSS`` is floored at ``1e-12`` times the total sum of squares around the curve's
mean (a fit that explains all but 1e-12 of the variance counts as exact, so exact fits tie and the
simpler one wins; a flat curve has 1 segment).

The support: the explained samples are resampled with replacement ``n_resamples`` times (one
``numpy.random.default_rng(seed)``; :func:`~genphase.analysis._stats.bootstrap_weights`, the same
multiset at every checkpoint), the mean curve of each resample is fitted, and
``phase_count_support[s]`` is the share of resamples in which ``s`` segments win (resamples with a
NaN mean at some checkpoint -- they drew only samples without salient interactions there -- are left
out and counted). ``phase_count`` is the most supported ``s`` (ties: fewer). With fewer than
``min_checkpoints = 5`` checkpoints with a finite mean H-bar nothing is computed and ``reason`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._stats import bootstrap_weights, safe_div

__all__ = ["PhaseCount", "SegmentFits", "segment_fits", "regimes", "count_phases", "MIN_CHANGE"]

#: The smallest change of mean H-bar over a segment that makes it a rise or a fall (the phase rules' ``min_rise``).
MIN_CHANGE = 0.05

#: The criterion, as stated in docs/analysis.md.
CRITERION = ("segments: BIC = C ln(RSS/C) + (2s+1) ln C over x = log(1 + epoch); continuous hinge fits, knots counted "
             "as parameters, searched on a grid inside the checkpoint range, >= min_points checkpoints per segment; "
             "phases: runs of segments of one kind (rise, fall, flat: change over the segment beyond +-delta, "
             "delta = max(0.05, 2 sqrt(2) x the median standard error of the mean H-bar at a checkpoint))")


@dataclass(frozen=True, eq=False)
class SegmentFits:
    """Best continuous piecewise-linear fits with ``s = 1..S`` segments, batched over curves ``[...]``.

    - ``rss``: ``[..., S]`` residual sum of squares (floored, see the module docstring).
    - ``bic``: ``[..., S]``.
    - ``knots``: ``[..., S, S - 1]`` the best fit's breakpoints in ``x`` (row ``s - 1`` uses its first
      ``s - 1`` entries; NaN elsewhere and where ``s`` segments could not be fitted).
    - ``best``: ``[...]`` int, the number of segments with the smallest BIC.
    - ``fitted``: ``[..., S, C]`` each count's best fit at the checkpoints (NaN where it could not be fitted).

    >>> x = np.log1p(np.array([0, 1, 2, 4, 8, 16, 32, 64]))
    >>> f = segment_fits(x, np.minimum(x, x[3]))  # a rise, then flat
    >>> f.rss.shape, f.knots.shape, int(f.best)  # fits with 1, 2, 3 segments; the BIC picks 2
    ((3,), (3, 2), 2)
    """

    rss: np.ndarray
    bic: np.ndarray
    knots: np.ndarray
    best: np.ndarray
    fitted: np.ndarray | None = None


def _knot_grid(C: int, grid: int | None) -> int:
    """Knot positions per checkpoint interval: ``grid``, or about 64 candidates in all (``ceil(64 / (C - 1))``)."""
    if grid is None:
        return max(1, math.ceil(64 / max(C - 1, 1)))
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 1:
        raise InputError(f"grid must be an int >= 1 (knot positions per checkpoint interval), got {grid!r}")
    return int(grid)


@lru_cache(maxsize=64)
def _layouts(C: int, s: int, grid: int, min_points: int) -> np.ndarray:
    """Admissible knot layouts ``[D, s - 1]`` as integer positions ``U`` (knot at checkpoint index ``U / grid``):
    strictly inside the checkpoint range, increasing, every segment's closed span holding ``min_points``
    checkpoints or more."""
    cands = range(1, (C - 1) * grid)
    rows = []
    for ks in combinations(cands, s - 1):  # once per (C, s, grid, min_points): cached
        bounds = (0, *ks, (C - 1) * grid)
        if all(b // grid - (-(-a // grid)) + 1 >= min_points for a, b in zip(bounds[:-1], bounds[1:])):
            rows.append(ks)
    out = np.array(rows, dtype=np.int64).reshape(len(rows), s - 1)
    out.setflags(write=False)
    return out


def _designs(x: np.ndarray, layouts: np.ndarray, grid: int) -> np.ndarray:
    """Orthonormal bases ``[D, C, s + 1]`` of the hinge designs ``1, x, (x - knot_j)_+``."""
    D, s1 = layouts.shape
    i, f = layouts // grid, (layouts % grid) / grid
    knots = x[i] + f * (x[np.minimum(i + 1, x.size - 1)] - x[i])  # [D, s - 1], linear within an interval
    X = np.empty((D, x.size, s1 + 2))
    X[:, :, 0] = 1.0
    X[:, :, 1] = x
    X[:, :, 2:] = np.maximum(x[None, :, None] - knots[:, None, :], 0.0)
    return np.linalg.qr(X)[0]


def segment_fits(x: Any, y: Any, *, max_segments: int = 3, min_points: int = 3, grid: int | None = None) -> SegmentFits:
    """Fit 1..``max_segments`` continuous linear segments to each curve ``y[..., C]`` over sorted ``x[C]``.

    Knots lie on ``grid`` equally spaced positions per checkpoint interval (in ``x``; the first of
    them on the checkpoint; default ``ceil(64 / (C - 1))``, about 64 candidates), strictly inside the
    range, and every segment spans at least ``min_points`` checkpoints (its closed span); the search
    is exhaustive over those layouts and vectorised over the leading axes of ``y`` (e.g. bootstrap
    resamples). A segment count with no admissible layout gets RSS and BIC ``inf``.

    >>> x = np.log1p(np.array([0, 1, 2, 4, 8, 16, 32, 64]))
    >>> y = np.minimum(x, x[3])  # a rise, then flat from the fourth checkpoint
    >>> f = segment_fits(x, y)
    >>> int(f.best), round(float(np.expm1(f.knots[1, 0])), 6)  # 2 segments, the knot at epoch 4
    (2, 4.0)
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64)
    if isinstance(max_segments, bool) or not isinstance(max_segments, (int, np.integer)) or not 1 <= max_segments <= 3:
        raise InputError(f"max_segments must be 1, 2 or 3, got {max_segments!r}")
    if isinstance(min_points, bool) or not isinstance(min_points, (int, np.integer)) or min_points < 2:
        raise InputError(f"min_points must be an int >= 2 (checkpoints per segment), got {min_points!r}")
    C = x.size
    if y.shape[-1:] != (C,):
        raise InputError(f"y must end with one value per checkpoint ({C}), got shape {y.shape}")
    if C < 2:
        raise InputError(f"a fit needs at least 2 checkpoints, got {C}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("segment_fits got NaN or inf values; drop those checkpoints or curves first")
    if np.any(np.diff(x) <= 0):
        raise InputError("x must be strictly increasing (one value per checkpoint, sorted)")
    g = _knot_grid(C, grid)
    lead = y.shape[:-1]
    Y = y.reshape(-1, C)
    Yc = Y - Y.mean(-1, keepdims=True)
    tss = (Yc ** 2).sum(-1)  # [N]
    floor = np.maximum(1e-12 * tss, np.finfo(np.float64).tiny)
    S = int(max_segments)
    rss = np.full((Y.shape[0], S), np.inf)
    knots = np.full((Y.shape[0], S, max(S - 1, 1)), np.nan)
    fitted = np.full((Y.shape[0], S, C), np.nan)
    for s in range(1, S + 1):  # over the (three) segment counts
        lay = _layouts(C, s, g, int(min_points)) if s > 1 else np.zeros((1, 0), dtype=np.int64)
        if lay.shape[0] == 0:
            continue
        q = _designs(x, lay, g)  # [D, C, p]
        D, p = q.shape[0], q.shape[2]
        step = max(1, int(4_000_000 // max(1, D * p)))
        best_d = np.empty(Y.shape[0], dtype=np.int64)
        for lo in range(0, Y.shape[0], step):  # chunks of curves, to bound memory
            proj = np.einsum("nc,dcp->ndp", Yc[lo:lo + step], q, optimize=True)
            r = tss[lo:lo + step, None] - (proj ** 2).sum(-1)  # [n, D]
            best_d[lo:lo + step] = np.argmin(r, axis=1)
            rows = np.arange(r.shape[0])
            rss[lo:lo + step, s - 1] = r[rows, best_d[lo:lo + step]]
            fitted[lo:lo + step, s - 1] = Y[lo:lo + step].mean(-1, keepdims=True) + np.einsum(
                "ncp,np->nc", q[best_d[lo:lo + step]], proj[rows, best_d[lo:lo + step]])
        rss[:, s - 1] = np.maximum(rss[:, s - 1], floor)
        if s > 1:
            u = lay[best_d]  # [N, s - 1]
            i, f = u // g, (u % g) / g
            knots[:, s - 1, : s - 1] = x[i] + f * (x[np.minimum(i + 1, C - 1)] - x[i])
    k = 2 * np.arange(1, S + 1) + 1
    with np.errstate(invalid="ignore"):
        bic = np.where(np.isfinite(rss), C * np.log(rss / C) + k * math.log(C), np.inf)
    best = np.argmin(bic, axis=-1) + 1
    return SegmentFits(rss=rss.reshape(*lead, S), bic=bic.reshape(*lead, S),
                       knots=knots.reshape(*lead, S, knots.shape[-1]), best=best.reshape(lead),
                       fitted=fitted.reshape(*lead, S, C))


def regimes(x: Any, fits: SegmentFits, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Monotone regimes of each curve's BIC-chosen fit: ``(count [...], shape [..., 3])``.

    Each segment of the chosen fit is a *rise* (+1), a *fall* (-1) or *flat* (0): its change over its span
    (slope times span in ``x``) is at least ``delta`` up, at least ``delta`` down, or neither. Adjacent segments
    of the same kind are one regime, so ``count`` is the number of runs of equal kinds: a straight line is 1,
    a rise that slows down is 1 or 2 (rise, then flat), a rise, a fall and a plateau is 3. ``shape`` holds the
    kinds of the segments (0 beyond the chosen count).

    >>> x = np.log1p(np.array([0, 1, 2, 4, 8, 16, 32, 64]))
    >>> up_down_flat = np.interp(x, [x[0], x[2], x[5], x[-1]], [0.2, 0.8, 0.3, 0.3])
    >>> count, shape = regimes(x, segment_fits(x, up_down_flat), delta=0.05)
    >>> int(count), shape.tolist()
    (3, [1, -1, 0])
    >>> count, _ = regimes(x, segment_fits(x, 1 - np.exp(-3 * x)), delta=0.05)  # a smooth rise that levels off
    >>> int(count) <= 2
    True
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    C = x.size
    best = np.asarray(fits.best)
    lead = best.shape
    b = best.reshape(-1)
    N = b.size
    S = fits.rss.shape[-1]
    f = np.asarray(fits.fitted).reshape(N, S, C)[np.arange(N), b - 1]  # [N, C] the chosen fit
    kn = np.asarray(fits.knots).reshape(N, S, -1)[np.arange(N), b - 1]  # [N, S - 1] (NaN beyond b - 1)
    kn = np.where(np.isfinite(kn), kn, np.inf)
    seg = (x[None, :, None] > kn[:, None, :]).sum(-1)  # [N, C] segment of each checkpoint (one on a knot: the earlier)
    starts = np.concatenate([np.full((N, 1), x[0]), kn], axis=1)
    ends = np.concatenate([kn, np.full((N, 1), x[-1])], axis=1)
    idx = np.arange(C)[None, :]
    shape = np.zeros((N, S), dtype=np.int64)
    for j in range(S):  # over the (at most three) segments, batched over curves
        mine = seg == j
        has = mine.sum(1) >= 2
        first = np.where(mine, idx, C).min(1).clip(max=C - 1)
        last = np.where(mine, idx, -1).max(1).clip(min=0)
        dx = np.where(has, x[last] - x[first], 1.0)
        slope = np.where(has, (f[np.arange(N), last] - f[np.arange(N), first]) / dx, 0.0)
        span = np.where(j < b, np.minimum(ends[:, j], x[-1]) - np.minimum(starts[:, j], x[-1]), 0.0)
        change = slope * span
        kind = np.where(change >= delta, 1, np.where(change <= -delta, -1, 0))
        shape[:, j] = np.where(has & (j < b), kind, 0)
    changes = (shape[:, 1:] != shape[:, :-1]) & (np.arange(1, S)[None, :] < b[:, None])
    count = 1 + changes.sum(1)
    return count.reshape(lead), shape.reshape(*lead, S)


@dataclass(frozen=True)
class PhaseCount:
    """How many phases (linear segments of mean H-bar over log(1 + epoch)) the data support.

    ``phase_count`` and ``support`` are None when not computed (``reason`` says why). ``observed``,
    ``bic`` (None where a count has no admissible layout) and ``breakpoints`` (epochs, from the
    knots) describe the fits of the full-sample mean curve; ``feasible`` lists the segment counts
    that could be fitted; ``n_resamples`` is the number of resamples used, ``n_left_out`` those left out.

    >>> e = np.array([0, 1, 2, 4, 8, 16, 32, 64])
    >>> h = np.minimum(np.log1p(e), np.log1p(4.0))  # H-bar rises until epoch 4, then stays: two phases
    >>> tab = pd.DataFrame({"checkpoint": np.repeat(e, 2), "sample": np.tile([0, 1], 8), "split": "train",
    ...                     "h_bar": np.repeat(h, 2) + np.tile([-0.01, 0.01], 8)})
    >>> pc = count_phases(tab, n_resamples=20)
    >>> pc.phase_count, pc.observed, pc.feasible
    (2, 2, (1, 2, 3))
    """

    phase_count: int | None
    support: dict[str, float] | None
    observed: int | None = None
    segments: int | None = None
    shape: tuple[str, ...] = ()
    delta: float | None = None
    bic: dict[str, float | None] = field(default_factory=dict)
    breakpoints: dict[str, list[float]] = field(default_factory=dict)
    feasible: tuple[int, ...] = ()
    checkpoints: tuple[int, ...] = ()
    n_resamples: int = 0
    n_left_out: int = 0
    split: str = "train"
    min_points: int = 3
    grid: int | None = None
    criterion: str = CRITERION
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"phase_count", "phase_count_support", "phase_count_evidence"}`` for ``metrics/phases.json``.

        >>> PhaseCount(None, None, reason="too few").to_dict()["phase_count_evidence"]["reason"]
        'too few'
        """
        return {
            "phase_count": self.phase_count,
            "phase_count_support": None if self.support is None else dict(self.support),
            "phase_count_evidence": {
                "criterion": self.criterion, "split": self.split, "observed": self.observed,
                "segments": self.segments, "shape": list(self.shape), "delta": self.delta, "bic": dict(self.bic),
                "breakpoints": {k: list(v) for k, v in self.breakpoints.items()}, "feasible": list(self.feasible),
                "checkpoints": list(self.checkpoints), "min_points": self.min_points, "grid": self.grid,
                "n_resamples": self.n_resamples, "n_left_out": self.n_left_out, "reason": self.reason,
            },
        }


def count_phases(
    h_bar: pd.DataFrame,
    *,
    split: str | None = "train",
    n_resamples: int = 1000,
    seed: int = 0,
    max_segments: int = 3,
    min_checkpoints: int = 5,
    min_points: int = 3,
    grid: int | None = None,
) -> PhaseCount:
    """Number of linear phases of mean H-bar over ``log(1 + epoch)``, chosen by BIC in each bootstrap resample.

    ``h_bar``: the per-sample ``h_bar`` table (``checkpoint, sample, split, h_bar``); ``split``: whose
    samples (None: all rows). ``n_resamples=0``: the support is that of the full-sample curve alone
    (1 for its choice). Fewer than ``min_checkpoints`` checkpoints with a finite mean: not computed,
    with the reason. ``min_points`` and ``grid``: see :func:`segment_fits` and the module docstring.

    >>> e = np.array([0, 1, 2, 4, 8, 16, 32, 64])
    >>> tab = pd.DataFrame({"checkpoint": np.repeat(e, 2), "sample": np.tile([0, 1], 8), "split": "train",
    ...                     "h_bar": np.repeat(np.log1p(e) / 5, 2) + np.tile([-0.01, 0.01], 8)})
    >>> pc = count_phases(tab, n_resamples=100)
    >>> pc.phase_count, pc.support["1"]
    (1, 1.0)
    """
    if not isinstance(h_bar, pd.DataFrame):
        raise InputError(f"h_bar must be the per-sample h_bar table (a DataFrame), got {type(h_bar).__name__}")
    need = {"checkpoint", "sample", "h_bar"} | ({"split"} if split is not None else set())
    missing = sorted(need - set(h_bar.columns))
    if missing:
        raise InputError(f"h_bar lacks the columns {missing} (has {sorted(map(str, h_bar.columns))})")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise InputError(f"n_resamples must be an int >= 0, got {n_resamples!r}")
    if isinstance(min_checkpoints, bool) or not isinstance(min_checkpoints, (int, np.integer)) or min_checkpoints < 2:
        raise InputError(f"min_checkpoints must be an int >= 2, got {min_checkpoints!r}")
    tab = h_bar if split is None else h_bar[h_bar["split"].astype(str) == split]
    label = "all" if split is None else split
    if tab.empty:
        splits = sorted(map(str, h_bar["split"].unique())) if "split" in h_bar.columns else []
        raise InputError(f"h_bar has no rows of split {split!r} (splits: {splits}); pass split=... or None for all rows")
    vals = pd.to_numeric(tab["h_bar"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(vals)):
        raise InputError("h_bar holds inf values; H-bar lies in [0, 1] (NaN only for samples without salient interactions)")
    epochs_all = pd.to_numeric(tab["checkpoint"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(epochs_all)) or np.any(epochs_all < 0):
        raise InputError("h_bar.checkpoint must hold epochs >= 0 (x = log(1 + epoch))")
    wide = pd.DataFrame({"c": epochs_all.astype(np.int64), "s": tab["sample"].to_numpy(), "h": vals}) \
        .groupby(["s", "c"])["h"].mean().unstack("c").sort_index(axis=1)
    X = wide.to_numpy(dtype=float)  # [N, C]
    epochs = wide.columns.to_numpy(dtype=np.int64)
    ok = np.isfinite(X)
    mean = safe_div(np.where(ok, X, 0.0).sum(0), ok.sum(0))
    keep = np.isfinite(mean)
    X, ok, mean, epochs = X[:, keep], ok[:, keep], mean[keep], epochs[keep]
    C = int(epochs.size)
    base = dict(split=label, checkpoints=tuple(int(e) for e in epochs), min_points=int(min_points))
    if C < min_checkpoints:
        dropped = int((~keep).sum())
        extra = f" ({dropped} more had no sample with a finite H-bar)" if dropped else ""
        return PhaseCount(None, None, reason=f"not computed: {C} checkpoints with a mean H-bar{extra}, fewer than "
                                             f"{min_checkpoints}; save more checkpoints (checkpoints.count)", **base)
    x = np.log1p(epochs.astype(np.float64))
    obs = segment_fits(x, mean, max_segments=max_segments, min_points=min_points, grid=grid)
    dev = np.where(ok, X - mean, 0.0)
    n_c = ok.sum(0)
    se = np.sqrt(safe_div((dev ** 2).sum(0), n_c * np.maximum(n_c - 1, 1)))
    delta = float(max(MIN_CHANGE, 2 * math.sqrt(2) * float(np.nanmedian(se)) if np.isfinite(se).any() else 0.0))
    obs_count, obs_shape = regimes(x, obs, delta)
    base["grid"] = _knot_grid(C, grid)
    S = int(max_segments)
    names = [str(s) for s in range(1, S + 1)]
    feasible = tuple(s + 1 for s in range(S) if np.isfinite(obs.bic[s]))
    bic = {names[s]: (float(obs.bic[s]) if np.isfinite(obs.bic[s]) else None) for s in range(S)}
    bps = {names[s]: [round(float(np.expm1(t)), 3) for t in obs.knots[s, :s]] for s in range(1, S) if s + 1 in feasible}
    observed = int(obs_count)
    kinds = {1: "rise", -1: "fall", 0: "flat"}
    fitted = dict(observed=observed, bic=bic, breakpoints=bps, feasible=feasible, segments=int(obs.best),
                  shape=tuple(kinds[int(v)] for v in obs_shape[: int(obs.best)]), delta=round(delta, 6))
    if n_resamples == 0:
        counts = np.zeros(S)
        counts[observed - 1] = 1
        used, left_out = 0, 0
    else:
        W = bootstrap_weights(np.zeros(X.shape[0]), int(n_resamples), seed).astype(np.float64)  # [R, N]
        means = safe_div(W @ np.where(ok, X, 0.0), W @ ok.astype(np.float64))  # [R, C]
        good = np.all(np.isfinite(means), axis=1)
        used, left_out = int(good.sum()), int((~good).sum())
        if used == 0:
            return PhaseCount(None, None, n_left_out=left_out, **fitted, **base,
                              reason="not computed: every resample drew only samples without a finite H-bar at some "
                                     "checkpoint; explain more samples (explain.samples)")
        fits = segment_fits(x, means[good], max_segments=max_segments, min_points=min_points, grid=grid)
        counts = np.bincount(regimes(x, fits, delta)[0] - 1, minlength=S).astype(np.float64)
    share = counts / counts.sum()
    support = {names[s]: float(share[s]) for s in range(S)}
    return PhaseCount(int(np.argmax(share)) + 1, support, n_resamples=used, n_left_out=left_out, **fitted, **base)
