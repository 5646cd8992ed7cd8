"""The phase rules, one small function each, batched over leading dimensions, with their parameters.

Each rule takes sorted checkpoint epochs ``[C]`` and series ``[..., C]`` (one row per bootstrap
resample, or none) and returns a frozen dataclass of its evidence; :func:`~genphase.analysis.detect_phases`
reads the tables, runs the rules on the point estimate and on every resample at once, and writes
the report. docs/analysis.md states each rule with the paper's words next to it.

* :func:`phase1_end_rule` -- the peak of smoothed mean H-bar, if it is a significant interior peak;
* :func:`phase3_start_rule` -- the first checkpoint after which the newly learned salient strength
  is mostly non-generalizable (consecutive checkpoints compared order by order, :func:`new_strength`);
* :func:`two_phase_rule` -- the two-phase turning point of the high-order strength share
  (:func:`two_phase_turns`: the same decision, batched over bootstrap resamples);
* :func:`gap_onset_rule` -- when the train-test loss gap starts to widen (evidence only);
* :func:`stop_rule` -- the checkpoint to keep.

Smoothing is a centred moving mean over ``smooth_window`` checkpoints (shrinking at the ends). The
noise level ``sigma`` of a raw series is ``1.4826 * median|x[i-1] - 2 x[i] + x[i+1]| / sqrt(6)``
(insensitive to linear trends); a rise or fall of a smoothed series over ``C`` checkpoints is real
only when it exceeds its minimum (``min_rise``...) and ``noise_factor * sigma / sqrt(smooth_window)
* sqrt(2 ln C)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._vocabulary import STOP_RULES  # one list: the settings layer reads it too
from ..errors import InputError
from ._stats import safe_div

__all__ = [
    "PhaseRules",
    "Phase1Evidence",
    "Phase3Evidence",
    "TwoPhaseEvidence",
    "GapEvidence",
    "StopEvidence",
    "phase1_end_rule",
    "phase3_start_rule",
    "two_phase_rule",
    "two_phase_turns",
    "gap_onset_rule",
    "stop_rule",
    "new_strength",
    "smooth",
    "noise_level",
    "STOP_RULES",
]

_STATISTICS = ("high_order_share", "high_order_strength", "mean_order")


@dataclass(frozen=True)
class PhaseRules:
    """Parameters of the phase rules and of their bootstrap (see the module docstring and docs/analysis.md).

    >>> PhaseRules(nongen_share=0.6).early_stopping
    'phase3_start'
    """

    smooth_window: int = 3
    h_bar_split: str = "train"
    min_rise: float = 0.05
    min_fall: float = 0.05
    noise_factor: float = 2.5
    nongen_share: float = 0.5
    learn_tol: float = 0.05
    min_tail: int = 2
    min_phase2_checkpoints: int = 2
    high_order_min: int | None = None
    two_phase_statistic: str = "high_order_share"
    strength_split: str = "train"
    min_rel_change: float = 0.1
    gap_frac: float = 0.1
    early_stopping: str = "phase3_start"
    snap_to_checkpoints: bool = True
    n_resamples: int = 1000
    ci_level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        w = self.smooth_window
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 or w % 2 == 0:
            raise InputError(f"smooth_window must be an odd int >= 1 (centred window), got {w!r}")
        for name in ("min_rise", "min_fall", "noise_factor", "min_rel_change"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("gap_frac", "learn_tol", "nongen_share"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and 0 <= v <= 1):
                raise InputError(f"{name} must be in [0, 1], got {v!r}")
        if not (isinstance(self.ci_level, (int, float, np.floating)) and 0 < self.ci_level < 1):
            raise InputError(f"ci_level must be in (0, 1), e.g. 0.95, got {self.ci_level!r}")
        for name, low in (("min_tail", 1), ("min_phase2_checkpoints", 0), ("n_resamples", 0), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise InputError(f"{name} must be an int >= {low}, got {v!r}")
        if self.high_order_min is not None and (not isinstance(self.high_order_min, (int, np.integer))
                                                or self.high_order_min < 1):
            raise InputError(f"high_order_min must be None or an int >= 1, got {self.high_order_min!r}")
        if self.two_phase_statistic not in _STATISTICS:
            raise InputError(f"two_phase_statistic must be one of {list(_STATISTICS)}, got {self.two_phase_statistic!r}")
        if self.early_stopping not in STOP_RULES:
            raise InputError(f"early_stopping must be one of {list(STOP_RULES)}, got {self.early_stopping!r}")


# ---------------------------------------------------------------------------------------- helpers
def _check_window(window: Any) -> None:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InputError(f"window must be an odd int >= 1, got {window!r}")


def smooth(x: Any, window: int) -> np.ndarray:
    """Centred moving mean over ``window`` (odd) points along the last axis; the window shrinks at both ends.

    ``x``: ``[..., C]`` (batched over leading dims).

    >>> smooth([1.0, 2.0, 6.0], 3).tolist()
    [1.5, 3.0, 4.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise InputError("smooth expects a series (at least 1-D), got a scalar")
    _check_window(window)
    if not np.all(np.isfinite(x)):
        raise InputError("smooth got NaN or inf values; drop or fill them first")
    C = x.shape[-1]
    h = window // 2
    c = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
    idx = np.arange(C)
    lo = np.clip(idx - h, 0, C)
    hi = np.clip(idx + h + 1, 0, C)
    return (c[..., hi] - c[..., lo]) / (hi - lo)


def _noise(x: np.ndarray) -> np.ndarray:
    """Batched robust noise sd along the last axis (0 for < 3 points)."""
    if x.shape[-1] < 3:
        return np.zeros(x.shape[:-1])
    d2 = x[..., :-2] - 2 * x[..., 1:-1] + x[..., 2:]
    return 1.4826 * np.median(np.abs(d2), axis=-1) / math.sqrt(6.0)


def noise_level(x: Any) -> float:
    """Robust noise standard deviation of a 1-D series from second differences (0 for < 3 points).

    >>> noise_level([0.0, 1.0, 2.0, 3.0])
    0.0
    """
    return float(_noise(np.asarray(x, dtype=np.float64).reshape(-1)))


def _extreme(sd: Any, window: int, count: int) -> np.ndarray:
    """Typical extreme excursion of smoothed noise: ``sd / sqrt(window) * sqrt(2 ln count)``."""
    return np.asarray(sd) / math.sqrt(window) * math.sqrt(2.0 * math.log(max(count, 2)))


def _take(x: np.ndarray, i: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, i[..., None], axis=-1)[..., 0]


def _first_true(mask: np.ndarray) -> np.ndarray:
    """Index of the first True along the last axis, -1 where none."""
    return np.where(mask.any(-1), np.argmax(mask, axis=-1), -1)


# ---------------------------------------------------------------------------------------- rules
@dataclass(frozen=True, eq=False)
class Phase1Evidence:
    """Evidence of :func:`phase1_end_rule`, every field shaped like the batch (``[]`` for one series).

    ``found``: a significant interior peak; ``index`` / ``epoch``: the peak (also when not found);
    ``rise`` / ``fall``: of the smoothed H-bar to and after the peak; ``rise_threshold`` /
    ``fall_threshold`` and ``noise_sd``: what they were compared with; ``smoothed``: ``[..., C]``.

    >>> ev = phase1_end_rule([0, 1, 2, 3, 4], [0.1, 0.5, 0.9, 0.5, 0.1], PhaseRules(smooth_window=1))
    >>> bool(ev.found), int(ev.epoch), round(float(ev.rise), 6), round(float(ev.fall), 6)  # rise, fall
    (True, 2, 0.8, 0.8)
    """

    found: np.ndarray
    index: np.ndarray
    epoch: np.ndarray
    start: np.ndarray
    peak: np.ndarray
    end: np.ndarray
    rise: np.ndarray
    fall: np.ndarray
    noise_sd: np.ndarray
    rise_threshold: np.ndarray
    fall_threshold: np.ndarray
    smoothed: np.ndarray


def phase1_end_rule(epochs: Any, h_bar: Any, rules: PhaseRules | None = None) -> Phase1Evidence:
    """End of phase 1: the peak of the smoothed mean H-bar, when it is interior and significant.

    ``epochs``: ``[C]`` sorted checkpoints; ``h_bar``: ``[..., C]`` mean H-bar per checkpoint (finite).
    Found iff ``C >= 3``, the peak is neither the first nor the last checkpoint, and the smoothed
    H-bar rises to it (from its lowest value before) by ``>= max(min_rise, noise threshold)`` and
    falls after it (to its lowest value after) by ``>= max(min_fall, noise threshold)``.

    >>> ev = phase1_end_rule([0, 1, 2, 3, 4], [0.1, 0.5, 0.9, 0.5, 0.1], PhaseRules(smooth_window=1))
    >>> bool(ev.found), int(ev.epoch)
    (True, 2)
    """
    r = rules or PhaseRules()
    e = np.asarray(epochs, dtype=np.int64)
    H = np.asarray(h_bar, dtype=np.float64)
    C = H.shape[-1]
    Hs = smooth(H, r.smooth_window)
    p = np.argmax(Hs, axis=-1)
    rise = _take(Hs, p) - _take(np.minimum.accumulate(Hs, axis=-1), p)
    fall = _take(Hs, p) - _take(np.minimum.accumulate(Hs[..., ::-1], axis=-1)[..., ::-1], p)
    sd = _noise(H)
    ext = r.noise_factor * _extreme(sd, r.smooth_window, C)
    rise_thr = np.maximum(r.min_rise, ext)
    fall_thr = np.maximum(r.min_fall, ext)
    found = (C >= 3) & (p > 0) & (p < C - 1) & (rise >= rise_thr) & (fall >= fall_thr)
    return Phase1Evidence(found=found, index=p, epoch=e[p], start=Hs[..., 0], peak=_take(Hs, p), end=Hs[..., -1],
                          rise=rise, fall=fall, noise_sd=sd, rise_threshold=rise_thr, fall_threshold=fall_thr,
                          smoothed=Hs)


def new_strength(strength: Any) -> np.ndarray:
    """Strength newly learned between consecutive checkpoints, order by order: ``[..., C, n] -> [..., C-1]``.

    ``sum_m max(S[c, m] - S[c-1, m], 0)``: only the orders whose strength grew count (a fall at one
    order, e.g. removed noise, does not cancel what another order learned).

    >>> new_strength([[1.0, 2.0], [2.0, 1.0], [2.5, 1.5]]).tolist()
    [1.0, 1.0]
    """
    S = np.asarray(strength, dtype=np.float64)
    return np.maximum(np.diff(S, axis=-2), 0.0).sum(-1)


@dataclass(frozen=True, eq=False)
class Phase3Evidence:
    """Evidence of :func:`phase3_start_rule` (fields shaped like the batch; per-step fields ``[..., C-1]``).

    - ``found``, ``index``, ``epoch``: the start of phase 3 (``index`` -1 / ``epoch`` -1 when not found).
    - ``new_generalizable`` / ``new_non_generalizable``: strength newly learned at each step (of the smoothed strengths)
      (step ``j`` goes from checkpoint ``j`` to ``j + 1``); ``share``: the non-generalizable share of it
      (NaN where nothing was learned); ``counted``: steps that learned at least ``learn_tol`` of the
      largest step.
    - ``min_share_after``: the smallest share over the counted steps after the start (NaN if none).
    - ``learned_anything``: some step after ``after_epoch`` learned a counted amount.

    >>> g = np.array([[0.0], [1.0], [2.0], [2.1], [2.2], [2.3]])  # generalizable strength, one order
    >>> ng = np.array([[0.0], [0.2], [0.4], [1.4], [2.4], [3.4]])  # non-generalizable strength
    >>> ev = phase3_start_rule(np.arange(6), g, ng, PhaseRules(smooth_window=1, min_tail=1))
    >>> bool(ev.found), int(ev.epoch), ev.share.round(3).tolist()  # after epoch 2: mostly non-generalizable
    (True, 2, [0.167, 0.167, 0.909, 0.909, 0.909])
    """

    found: np.ndarray
    index: np.ndarray
    epoch: np.ndarray
    new_generalizable: np.ndarray
    new_non_generalizable: np.ndarray
    share: np.ndarray
    counted: np.ndarray
    min_share_after: np.ndarray
    learned_anything: np.ndarray


def phase3_start_rule(epochs: Any, generalizable: Any, non_generalizable: Any, rules: PhaseRules | None = None, *,
                      after_epoch: Any = None) -> Phase3Evidence:
    """Start of phase 3 from the interactions: the first checkpoint after which the newly learned
    salient strength is mostly non-generalizable.

    ``epochs``: ``[C]`` sorted checkpoints; ``generalizable`` / ``non_generalizable``: ``[..., C, n]``
    mean strength (``|+| + |-|``) per checkpoint and order of the salient interactions that do / do
    not generalize. Each order's strength is smoothed over ``smooth_window`` checkpoints; at each step
    between consecutive checkpoints the newly learned strength of each kind is then
    :func:`new_strength` of the smoothed strengths (order by order, positive changes only). Phase 3
    starts at the first checkpoint ``c`` (later than ``after_epoch``, with at least ``min_tail``
    checkpoints after it) such that every counted step after ``c`` has a non-generalizable share
    ``>= nongen_share``, and at least one step after ``c`` is counted. Steps learning less than
    ``learn_tol`` times the largest step are not counted (they neither confirm nor contradict).

    >>> g = np.array([[0.0], [1.0], [2.0], [2.1], [2.2], [2.3]])
    >>> ng = np.array([[0.0], [0.2], [0.4], [1.4], [2.4], [3.4]])
    >>> ev = phase3_start_rule(np.arange(6), g, ng, PhaseRules(smooth_window=1, min_tail=1))
    >>> int(ev.epoch)
    2
    """
    r = rules or PhaseRules()
    e = np.asarray(epochs, dtype=np.int64)
    G = np.asarray(generalizable, dtype=np.float64)
    N = np.asarray(non_generalizable, dtype=np.float64)
    if G.shape != N.shape or G.ndim < 2 or G.shape[-2] != e.size:
        raise InputError(f"generalizable and non_generalizable must both be [..., C={e.size}, n], got {G.shape} and {N.shape}")
    C = e.size
    batch = G.shape[:-2]
    if C < 2:
        nan = np.full((*batch, 0), np.nan)
        z = np.zeros(batch, dtype=bool)
        return Phase3Evidence(found=z, index=np.full(batch, -1), epoch=np.full(batch, -1), new_generalizable=nan,
                              new_non_generalizable=nan, share=nan, counted=np.zeros((*batch, 0), dtype=bool),
                              min_share_after=np.full(batch, np.nan), learned_anything=z)
    # smooth each order's strength over checkpoints first, then take the positive part of its change: averaging
    # before the positive part keeps checkpoint-to-checkpoint noise from being counted as learning
    dg = new_strength(np.swapaxes(smooth(np.swapaxes(G, -1, -2), r.smooth_window), -1, -2))
    dn = new_strength(np.swapaxes(smooth(np.swapaxes(N, -1, -2), r.smooth_window), -1, -2))
    tot = dg + dn
    share = safe_div(dn, tot)
    counted = tot > r.learn_tol * tot.max(-1, keepdims=True)
    counted &= tot > 0
    bad = counted & ~(share >= r.nongen_share)
    # suffix over steps s >= c (the steps after checkpoint c)
    any_bad = np.logical_or.accumulate(bad[..., ::-1], axis=-1)[..., ::-1]
    any_cnt = np.logical_or.accumulate(counted[..., ::-1], axis=-1)[..., ::-1]
    cidx = np.arange(C - 1)
    after = np.full(batch, -np.inf) if after_epoch is None else np.broadcast_to(np.asarray(after_epoch, float), batch)
    ok = ~any_bad & any_cnt & (cidx <= C - 1 - r.min_tail) & (e[:-1] > after[..., None])
    idx = _first_true(ok)
    found = idx >= 0
    masked = np.where(counted & (cidx >= np.where(found, idx, C)[..., None]), share, np.inf)
    min_after = np.where(found, masked.min(-1), np.nan)
    learned = (counted & (e[1:] > after[..., None])).any(-1)
    return Phase3Evidence(found=found, index=idx, epoch=np.where(found, e[np.maximum(idx, 0)], -1),
                          new_generalizable=dg, new_non_generalizable=dn, share=share, counted=counted,
                          min_share_after=min_after, learned_anything=learned)


@dataclass(frozen=True)
class TwoPhaseEvidence:
    """Evidence of :func:`two_phase_rule`: the statistic's smoothed series and the turn (if clear).

    >>> s = np.array([[1, 1], [1, 0.5], [1, 0.1], [1, 0.5], [1, 1.0]])  # [C, n]: high-order strength dips, then grows
    >>> ev = two_phase_rule(np.arange(5), s, PhaseRules(smooth_window=1))
    >>> ev.found, ev.epoch, ev.statistic
    (True, 2, 'high_order_share')
    """

    found: bool
    epoch: int | None
    statistic: str
    high_order_min: int
    epochs: np.ndarray
    values: np.ndarray
    smoothed: np.ndarray
    high_order_share: np.ndarray
    high_order_strength: np.ndarray
    drop: float
    rise: float
    threshold: float
    noise_sd: float
    min_index: int
    why: tuple[str, ...]


def _two_phase_statistic(S: np.ndarray, r: PhaseRules) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(statistic, high_order_share, high_order_strength [..., C], high_order_min)`` of strengths ``[..., C, n]``."""
    n = S.shape[-1]
    m0 = r.high_order_min if r.high_order_min is not None else max(2, math.ceil(n / 2))
    if m0 > n:
        raise InputError(f"high_order_min={m0} exceeds the highest order n={n} of the order strengths")
    tot = S.sum(-1)
    high = S[..., m0 - 1:].sum(-1)
    share = safe_div(high, tot)
    X = {"high_order_share": share, "high_order_strength": high,
         "mean_order": safe_div((S * np.arange(1, n + 1)).sum(-1), tot)}[r.two_phase_statistic]
    return X, share, high, int(m0)


def two_phase_rule(epochs: Any, strength: Any, rules: PhaseRules | None = None) -> TwoPhaseEvidence:
    """Two-phase turning point: the interior minimum of the smoothed statistic of the order strengths.

    ``strength``: ``[C, n]`` mean strength ``|+| + |-|`` per checkpoint and order (all
    interactions: the ``order_distribution`` table). Statistics: the share of orders ``>=
    high_order_min`` in the total (default), their summed strength, or the mean order. Clear when it
    drops to its minimum and rises after it by ``>= max(min_rel_change * max|statistic|, noise
    threshold)`` each. ``high_order_share`` and ``high_order_strength`` are both reported: a share
    can fall only because low-order strength grows.

    >>> s = np.array([[1, 1], [1, 0.5], [1, 0.1], [1, 0.5], [1, 1.0]])
    >>> two_phase_rule(np.arange(5), s, PhaseRules(smooth_window=1)).epoch
    2
    """
    r = rules or PhaseRules()
    e = np.asarray(epochs, dtype=np.int64)
    S = np.asarray(strength, dtype=np.float64)
    X, share, high, m0 = _two_phase_statistic(S, r)
    ok = np.isfinite(X)
    e, X, share, high = e[ok], X[ok], share[ok], high[ok]
    if len(X) < 3:
        return TwoPhaseEvidence(False, None, r.two_phase_statistic, int(m0), e, X, X, share, high, math.nan, math.nan,
                                math.nan, math.nan, -1, (f"only {len(X)} checkpoint(s) with non-zero order strengths",))
    Xs = smooth(X, r.smooth_window)
    q = int(np.argmin(Xs))
    drop = float(Xs[: q + 1].max() - Xs[q])
    rise = float(Xs[q:].max() - Xs[q])
    sd = float(_noise(X))
    thr = max(r.min_rel_change * float(np.abs(Xs).max()), float(r.noise_factor * _extreme(sd, r.smooth_window, len(X))))
    why = []
    if q == 0:
        why.append("the statistic is lowest at the first checkpoint (no phase-1 drop)")
    elif q == len(Xs) - 1:
        why.append("the statistic is still falling at the last checkpoint (no phase-2 rise)")
    if drop < thr:
        why.append(f"drop {drop:.3f} < {thr:.3f}")
    if rise < thr:
        why.append(f"rise {rise:.3f} < {thr:.3f}")
    found = not why
    return TwoPhaseEvidence(found, int(e[q]) if found else None, r.two_phase_statistic, int(m0), e, X, Xs, share, high,
                            drop, rise, thr, sd, q, tuple(why))


def two_phase_turns(epochs: Any, strength: Any, rules: PhaseRules | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`two_phase_rule`'s decision batched over leading dimensions: ``(found [...], epoch [...])``.

    ``strength``: ``[..., C, n]`` (e.g. one row per bootstrap resample); every row must be finite
    at every checkpoint (drop the checkpoints without strength first). ``epoch`` is -1 where no clear
    turn is found. Row by row the same as ``two_phase_rule(epochs, strength[i]).found / .epoch``.

    >>> s = np.array([[[1, 1], [1, 0.5], [1, 0.1], [1, 0.5], [1, 1.0]], [[1, 1], [1, 1], [1, 1], [1, 0.5], [1, 0.1]]])
    >>> found, epoch = two_phase_turns(np.arange(5), s, PhaseRules(smooth_window=1))
    >>> found.tolist(), epoch.tolist()
    ([True, False], [2, -1])
    """
    r = rules or PhaseRules()
    e = np.asarray(epochs, dtype=np.int64)
    S = np.asarray(strength, dtype=np.float64)
    if S.ndim < 2 or S.shape[-2] != e.size:
        raise InputError(f"strength must be [..., C={e.size}, n], got {S.shape}")
    X, _, _, _ = _two_phase_statistic(S, r)
    if not np.all(np.isfinite(X)):
        raise InputError("two_phase_turns needs a finite statistic at every checkpoint (a checkpoint with zero total "
                         "strength has none); drop those checkpoints first")
    C = e.size
    batch = X.shape[:-1]
    if C < 3:
        return np.zeros(batch, dtype=bool), np.full(batch, -1, dtype=np.int64)
    Xs = smooth(X, r.smooth_window)
    q = np.argmin(Xs, axis=-1)
    idx = np.arange(C)
    before = idx <= q[..., None]
    drop = np.where(before, Xs, -np.inf).max(-1) - _take(Xs, q)
    rise = np.where(~before | (idx == q[..., None]), Xs, -np.inf).max(-1) - _take(Xs, q)
    thr = np.maximum(r.min_rel_change * np.abs(Xs).max(-1), r.noise_factor * _extreme(_noise(X), r.smooth_window, C))
    found = (q > 0) & (q < C - 1) & (drop >= thr) & (rise >= thr)
    return found, np.where(found, e[q], -1).astype(np.int64)


@dataclass(frozen=True)
class GapEvidence:
    """Evidence of :func:`gap_onset_rule`: the smoothed train-test gap and when it starts widening.

    >>> ev = gap_onset_rule([0, 1, 2, 3, 4], [0.0, 0.0, 0.0, 1.0, 2.0], PhaseRules(smooth_window=1))
    >>> ev.onset_epoch, ev.start, ev.end, ev.widening
    (3, 0.0, 2.0, 2.0)
    """

    onset_epoch: int | None
    start: float
    min: float
    max: float
    end: float
    widening: float
    smoothed: np.ndarray


def gap_onset_rule(epochs: Any, gap: Any, rules: PhaseRules | None = None) -> GapEvidence:
    """Onset of the widening of the smoothed train-test loss gap (evidence only, never a boundary).

    The first epoch after the gap's minimum (before its maximum) where it exceeds that minimum by
    ``gap_frac`` of its later rise, when the rise beats the noise threshold; else None.

    >>> gap_onset_rule([0, 1, 2, 3, 4], [0.0, 0.0, 0.0, 1.0, 2.0], PhaseRules(smooth_window=1)).onset_epoch
    3
    """
    r = rules or PhaseRules()
    e = np.asarray(epochs, dtype=np.int64)
    g = np.asarray(gap, dtype=np.float64)
    gs = smooth(g, r.smooth_window)
    j = int(np.argmax(gs))
    i0 = int(np.argmin(gs[: j + 1]))
    widen = float(gs[j] - gs[i0])
    thr = float(r.noise_factor * _extreme(_noise(g), r.smooth_window, len(gs)))
    onset = None
    if len(gs) >= 2 and widen > 0 and widen > thr:
        k = i0 + int(np.argmax(gs[i0:] >= gs[i0] + r.gap_frac * widen))
        onset = int(e[k])
    return GapEvidence(onset, float(gs[0]), float(gs[i0]), float(gs[j]), float(gs[-1]), widen, gs)


@dataclass(frozen=True, eq=False)
class StopEvidence:
    """Result of :func:`stop_rule` (fields shaped like the batch): the epoch to keep and which case applied.

    ``case``: 0 phase 3 start (clear phases), 1 phase 3 not reached (last checkpoint), 2 no clear
    phases but the phase-3 rule found a start from the first checkpoint on, 3 no clear phases and no
    such start (last checkpoint), 4 lowest smoothed test loss, 5 H-bar peak (clear), 6 H-bar peak
    (not significant), 7 phase 3 undetermined without order strengths (last checkpoint).

    >>> ev = phase1_end_rule([0, 1, 2, 3, 4], [0.1, 0.5, 0.9, 0.5, 0.1], PhaseRules(smooth_window=1))
    >>> stop = stop_rule("h_bar_peak", 4, ev, None)
    >>> int(stop.epoch), int(stop.case)  # case 5: the H-bar peak, significant
    (2, 5)
    """

    epoch: np.ndarray
    rule_epoch: np.ndarray
    case: np.ndarray


def stop_rule(rule: str, last_epoch: int, phase1: Phase1Evidence, phase3: Phase3Evidence | None,
              phase3_from_start: Phase3Evidence | None = None, *, test_loss_epoch: int | None = None,
              snap_to: Any = None) -> StopEvidence:
    """The checkpoint to keep under ``rule`` ("phase3_start", "min_test_loss" or "h_bar_peak").

    ``phase3`` is :func:`phase3_start_rule` run after the phase-1 end, ``phase3_from_start`` the same
    from the first checkpoint (used when the phases are not clear); None when no order strengths
    were given. ``test_loss_epoch``: the epoch of the lowest smoothed test loss (only for
    "min_test_loss"). ``snap_to``: sorted epochs to move the result to (nearest, earlier on ties).

    >>> ev = phase1_end_rule([0, 1, 2, 3, 4], [0.1, 0.5, 0.9, 0.5, 0.1], PhaseRules(smooth_window=1))
    >>> int(stop_rule("h_bar_peak", 4, ev, None).epoch)
    2
    """
    clear = np.asarray(phase1.found)
    shape = clear.shape
    if rule == "min_test_loss":
        if test_loss_epoch is None:
            raise InputError("early_stopping='min_test_loss' needs the test loss in the training table")
        rule_epoch = np.full(shape, int(test_loss_epoch))
        case = np.full(shape, 4)
    elif rule == "h_bar_peak":
        rule_epoch = np.asarray(phase1.epoch)
        case = np.where(clear, 5, 6)
    elif rule == "phase3_start":
        if phase3 is None:
            rule_epoch = np.full(shape, int(last_epoch))
            case = np.full(shape, 7)
        else:
            p3s = phase3_from_start if phase3_from_start is not None else phase3
            rule_epoch = np.where(clear, np.where(phase3.found, phase3.epoch, last_epoch),
                                  np.where(p3s.found, p3s.epoch, last_epoch))
            case = np.where(clear, np.where(phase3.found, 0, 1), np.where(p3s.found, 2, 3))
    else:
        raise InputError(f"early_stopping must be one of {list(STOP_RULES)}, got {rule!r}")
    rule_epoch = np.asarray(rule_epoch, dtype=np.int64)
    epoch = rule_epoch
    if snap_to is not None:
        ch = np.asarray(snap_to, dtype=np.int64)
        j = np.clip(np.searchsorted(ch, rule_epoch), 1, max(len(ch) - 1, 1)) if len(ch) > 1 else np.zeros(shape, int)
        if len(ch) > 1:
            left, right = ch[j - 1], ch[j]
            epoch = np.where(rule_epoch - left <= right - rule_epoch, left, right)
        else:
            epoch = np.full(shape, ch[0])
    return StopEvidence(epoch=np.asarray(epoch, dtype=np.int64), rule_epoch=rule_epoch, case=np.asarray(case))
