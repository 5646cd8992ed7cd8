"""Phase detection from a checkpoint series, and an early-stopping recommendation.

Inputs are the tidy tables of docs/run-directory.md: the training log (``epoch, split, loss``;
rows of ``model == "model"`` when a ``model`` column is present), per-sample H-bar
(``checkpoint, sample, split, h_bar``) and optionally the order-wise strengths
(``order_strengths`` table, or the ``order_distribution`` table).

Every rule below is applied to series smoothed by a centred moving mean over
``smooth_window`` checkpoints (the window shrinks at the ends). The noise level ``sigma`` of a
raw series is estimated robustly from second differences
(``1.4826 * median|x[i-1] - 2 x[i] + x[i+1]| / sqrt(6)``, insensitive to linear trends). A rise or
fall of a smoothed series over ``C`` checkpoints counts as real only when it exceeds both its own
minimum (``min_rise``, ...) and ``noise_factor * sigma / sqrt(smooth_window) * sqrt(2 ln C)``
(``noise_factor`` times the typical extreme excursion of the smoothed noise), so that pure noise
is not read as a phase.

Three phases (the paper, SCIENCE.md section 5), on the mean H-bar over samples of ``h_bar_split``
(default "train": the samples whose non-generalizable interactions make the overfitting) and the
test loss:

1. **Phase 1 ends at the peak of smoothed H-bar.** The structure is *clear* only when H-bar rises
   to the peak (from its lowest value before the peak) and falls after it (to its lowest value
   after the peak) by more than the thresholds above (``min_rise``, ``min_fall``, noise), and the
   peak is neither the first nor the last checkpoint. Otherwise no boundary is reported, ``clear`` is
   False and ``message`` says which condition failed.
2. **Phase 3 starts where the smoothed test loss stops improving:** the first loss epoch after
   the H-bar peak, followed by at least ``min_tail`` epochs, from which (a) the remaining
   improvement ``L[i] - min_{j >= i} L[j]`` is at most ``max(plateau_tol * D, noise_factor *
   sigma / sqrt(smooth_window))``, with ``D = L[0] - min L`` the total improvement, and (b) the
   mean improvement rate over the rest of training is at most ``slope_ratio`` times the mean rate
   up to ``i`` (so a loss still falling steadily is not called a plateau). When no epoch
   qualifies, phase 3 has not begun ("not reached").
3. **Phase 2** lies between the two boundaries (it may be empty).

Two-phase turning point (the predecessor paper) from the order-wise strengths: with ``S(m)`` the
mean over samples of ``|+| + |-|`` strength of order ``m`` (type "all"), the statistic
``two_phase_statistic`` is the share of orders ``>= high_order_min`` (default
``max(2, ceil(n/2))``) in the total ("high_order_share", default), their summed strength
("high_order_strength") or the strength-weighted mean order ("mean_order"). The turning point is
the minimum of the smoothed statistic; it is *clear* when the statistic drops to it and rises after
it by at least ``min_rel_change * max|statistic|`` and the noise threshold each, the minimum
being interior. Evidence: the onset of the widening of the smoothed train-test loss gap (first
epoch after the gap's minimum where it exceeds that minimum by ``gap_frac`` of its later rise), and
the distance in epochs between the two.

Early stopping (``early_stopping``):

* ``"phase3_start"`` (default): keep the checkpoint where phase 3 starts -- the test loss has
  reached (within tolerance) its best level and further training mainly adds non-generalizable
  interactions. If the phases are clear but phase 3 is not reached: the last checkpoint (the test
  loss is still improving). Without clear phases: the same plateau rule on the test loss alone,
  else the lowest smoothed test loss; the reason says which fallback was used.
* ``"min_test_loss"``: the lowest smoothed test loss.
* ``"h_bar_peak"``: the end of phase 1 (highest generalization power), falling back to the lowest
  smoothed test loss when the phases are not clear.

With ``snap_to_checkpoints`` (default) the epoch is moved to the nearest H-bar checkpoint (those
whose weights and interactions exist), ties to the earlier one; ``rule_epoch`` keeps the unsnapped value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["PhaseRules", "Phase", "PhaseReport", "detect_phases", "smooth", "noise_level"]

_STATISTICS = ("high_order_share", "high_order_strength", "mean_order")
_STOP_RULES = ("phase3_start", "min_test_loss", "h_bar_peak")


@dataclass(frozen=True)
class PhaseRules:
    """Parameters of the phase rules (see the module docstring for how each is used)."""

    smooth_window: int = 3
    h_bar_split: str = "train"
    min_rise: float = 0.05
    min_fall: float = 0.05
    noise_factor: float = 2.5
    plateau_tol: float = 0.02
    slope_ratio: float = 0.2
    min_tail: int = 2
    high_order_min: int | None = None
    two_phase_statistic: str = "high_order_share"
    strength_split: str = "train"
    min_rel_change: float = 0.1
    gap_frac: float = 0.1
    early_stopping: str = "phase3_start"
    snap_to_checkpoints: bool = True

    def __post_init__(self) -> None:
        w = self.smooth_window
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 or w % 2 == 0:
            raise InputError(f"smooth_window must be an odd int >= 1 (centred window), got {w!r}")
        for name in ("min_rise", "min_fall", "noise_factor", "slope_ratio", "min_rel_change"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v >= 0):
                raise InputError(f"{name} must be a finite number >= 0, got {v!r}")
        for name in ("plateau_tol", "gap_frac"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and 0 <= v <= 1):
                raise InputError(f"{name} must be in [0, 1], got {v!r}")
        if isinstance(self.min_tail, bool) or not isinstance(self.min_tail, (int, np.integer)) or self.min_tail < 1:
            raise InputError(f"min_tail must be an int >= 1, got {self.min_tail!r}")
        if self.high_order_min is not None and (not isinstance(self.high_order_min, (int, np.integer))
                                                or self.high_order_min < 1):
            raise InputError(f"high_order_min must be None or an int >= 1, got {self.high_order_min!r}")
        if self.two_phase_statistic not in _STATISTICS:
            raise InputError(f"two_phase_statistic must be one of {list(_STATISTICS)}, got {self.two_phase_statistic!r}")
        if self.early_stopping not in _STOP_RULES:
            raise InputError(f"early_stopping must be one of {list(_STOP_RULES)}, got {self.early_stopping!r}")


@dataclass(frozen=True)
class Phase:
    """One detected phase: ``name`` ("phase1".."phase3", "two_phase_1", "two_phase_2") and inclusive epochs."""

    name: str
    start_epoch: int
    end_epoch: int


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    return x


@dataclass(frozen=True, eq=False)
class PhaseReport:
    """Detected phases, the rules and evidence behind them, and the early-stopping recommendation.

    - ``phases``: detected phases (only those whose boundaries were found).
    - ``clear`` / ``message``: whether the three-phase structure was found, and why (not).
    - ``two_phase_clear`` / ``two_phase_message``: the same for the two-phase turning point.
    - ``boundaries``: ``phase1_end``, ``phase3_start``, ``two_phase_turn`` (epochs or None).
    - ``early_stopping``: ``{"epoch", "rule_epoch", "rule", "reason"}``.
    - ``rules``: the rule texts and every parameter; ``evidence``: the numbers the rules used.
    - ``series``: long frame ``epoch, quantity, raw, smoothed`` of every series used.
    """

    phases: tuple[Phase, ...]
    clear: bool
    message: str
    two_phase_clear: bool
    two_phase_message: str
    boundaries: dict[str, int | None]
    early_stopping: dict[str, Any]
    rules: dict[str, Any]
    evidence: dict[str, Any]
    series: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """``phase, start_epoch, end_epoch`` (metrics/phases.parquet); empty when nothing was detected."""
        return pd.DataFrame({
            "phase": pd.Series([p.name for p in self.phases], dtype=object),
            "start_epoch": pd.Series([p.start_epoch for p in self.phases], dtype=np.int64),
            "end_epoch": pd.Series([p.end_epoch for p in self.phases], dtype=np.int64),
        })

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (metrics/phases.json); NaN becomes null."""
        return _jsonable({
            "clear": self.clear,
            "reason": self.message,
            "message": self.message,
            "phases": [asdict(p) for p in self.phases],
            "boundaries": self.boundaries,
            "two_phase": {"clear": self.two_phase_clear, "message": self.two_phase_message,
                          "turn_epoch": self.boundaries.get("two_phase_turn")},
            "early_stopping": self.early_stopping,
            "rules": self.rules,
            "evidence": self.evidence,
        })


# ---------------------------------------------------------------------------------------- helpers
def smooth(x: Any, window: int) -> np.ndarray:
    """Centred moving mean over ``window`` (odd) points; the window shrinks at both ends."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"smooth expects a 1-D series, got shape {x.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InputError(f"window must be an odd int >= 1, got {window!r}")
    if not np.all(np.isfinite(x)):
        raise InputError("smooth got NaN or inf values; drop or fill them first")
    h = window // 2
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(x.size)
    lo = np.clip(idx - h, 0, x.size)
    hi = np.clip(idx + h + 1, 0, x.size)
    return (c[hi] - c[lo]) / (hi - lo)


def noise_level(x: Any) -> float:
    """Robust noise standard deviation of a series from second differences (0 for < 3 points)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 3:
        return 0.0
    d2 = x[:-2] - 2 * x[1:-1] + x[2:]
    return float(1.4826 * np.median(np.abs(d2)) / math.sqrt(6.0))


def _extreme_noise(sd: float, window: int, count: int) -> float:
    """Typical extreme excursion of smoothed noise: ``sd / sqrt(window) * sqrt(2 ln count)``."""
    return sd / math.sqrt(window) * math.sqrt(2.0 * math.log(max(count, 2)))


def _need(df: Any, cols: set[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise InputError(f"{what} is empty: the checkpoint series needs at least one row")
    missing = sorted(cols - set(df.columns))
    if missing:
        raise InputError(f"{what} lacks the columns {missing} (has {sorted(map(str, df.columns))})")
    return df


def _loss_series(training: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """Return (epochs, test_loss, train_loss or None over the same epochs, notes)."""
    df = _need(training, {"epoch", "split", "loss"}, "training")
    notes: list[str] = []
    if "model" in df.columns:
        models = sorted(map(str, df["model"].unique()))
        if models != ["model"]:
            if "model" not in models:
                raise InputError(f"training has no rows with model == 'model' (models: {models}); "
                                 "pass the training log of the model under study")
            df = df[df["model"] == "model"]
    loss = pd.to_numeric(df["loss"], errors="coerce")
    if loss.isna().any() or not np.all(np.isfinite(loss.to_numpy())):
        bad = sorted(set(df.loc[~np.isfinite(loss.to_numpy(dtype=float, na_value=np.nan)), "epoch"].tolist()))[:5]
        raise InputError(f"training.loss has NaN or inf values (epochs {bad}); a diverged run cannot be phased")
    df = df.assign(loss=loss.astype(float))
    pv = df.groupby(["epoch", "split"])["loss"].mean().unstack("split").sort_index()
    if "test" not in pv.columns:
        raise InputError(f"training has no 'test' split rows (splits: {sorted(map(str, pv.columns))}); "
                         "the test loss is needed for phase 3 and early stopping")
    test = pv["test"].dropna()
    epochs = test.index.to_numpy().astype(np.int64)
    train = None
    if "train" in pv.columns:
        tr = pv["train"].reindex(test.index)
        if tr.isna().any():
            notes.append("train loss missing at some test-loss epochs; gap evidence uses the epochs with both")
        train = tr.to_numpy(dtype=float)
    return epochs, test.to_numpy(dtype=float), train, notes


def _h_bar_series(h_bar: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    df = _need(h_bar, {"checkpoint", "h_bar"}, "h_bar")
    info: dict[str, Any] = {"split": split}
    if "split" in df.columns and split != "all":
        avail = sorted(map(str, df["split"].unique()))
        if split not in avail:
            raise InputError(f"h_bar has no rows with split == {split!r} (splits: {avail}); set h_bar_split")
        df = df[df["split"] == split]
    vals = pd.to_numeric(df["h_bar"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(vals)):
        raise InputError("h_bar holds inf values; H-bar lies in [0, 1] (NaN only for samples without salient interactions)")
    g = pd.DataFrame({"checkpoint": df["checkpoint"].to_numpy(), "h": vals}).groupby("checkpoint")["h"]
    mean = g.mean()  # pandas skips NaN
    valid = g.count()
    total = g.size()
    dropped = [int(e) for e in mean.index[mean.isna()]]
    mean = mean.dropna().sort_index()
    if mean.empty:
        raise InputError("every H-bar value is NaN (no sample has a salient interaction at any checkpoint); "
                         "lower tau or check the extracted interactions")
    info["dropped_checkpoints"] = dropped
    info["samples_per_checkpoint"] = int(total.max())
    info["nan_samples_total"] = int((total - valid).sum())
    return mean.index.to_numpy().astype(np.int64), mean.to_numpy(dtype=float), info


def _order_series(frame: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean strength per checkpoint and order ``[C, n]`` (|+| + |-|, type "all") from either table."""
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise InputError("order_strengths is empty; pass None to skip the two-phase rule")
    ck = "checkpoint" if "checkpoint" in frame.columns else "epoch"
    val = "total" if "total" in frame.columns else ("strength" if "strength" in frame.columns else None)
    if ck not in frame.columns or "order" not in frame.columns or val is None:
        raise InputError("order_strengths must be the order_strengths table (checkpoint, order, total, ...) or the "
                         f"order_distribution table (checkpoint, order, strength, ...); got columns {sorted(frame.columns)}")
    df = frame
    if "type" in df.columns:
        df = df[df["type"] == "all"]
        if df.empty:
            raise InputError("order_strengths has no rows with type == 'all'")
    if "split" in df.columns and split != "all":
        avail = sorted(map(str, frame["split"].unique()))
        df = df[df["split"] == split]
        if df.empty:
            raise InputError(f"order_strengths has no rows with split == {split!r} (splits: {avail}); set strength_split")
    v = pd.to_numeric(df[val], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(v)):
        raise InputError(f"order_strengths.{val} has NaN or inf values")
    df = pd.DataFrame({"c": df[ck].to_numpy(), "m": df["order"].to_numpy().astype(np.int64), "a": np.abs(v),
                       "s": df["sample"].to_numpy() if "sample" in df.columns else 0})
    nsamp = df.groupby("c")["s"].nunique()
    tab = df.groupby(["c", "m"])["a"].sum().unstack("m", fill_value=0.0).sort_index()
    tab = tab.div(nsamp.reindex(tab.index), axis=0)
    n = int(tab.columns.max())
    tab = tab.reindex(columns=np.arange(1, n + 1), fill_value=0.0)
    return tab.index.to_numpy().astype(np.int64), tab.to_numpy(dtype=float)


def _first_plateau(epochs: np.ndarray, ls: np.ndarray, raw: np.ndarray, r: PhaseRules, after: int | None
                   ) -> tuple[int | None, dict[str, Any]]:
    """Index of the first epoch (> ``after``) from which the smoothed loss stops improving, with evidence."""
    C = len(ls)
    D = float(ls[0] - ls.min())
    noise_s = noise_level(raw) / math.sqrt(r.smooth_window)
    tol_abs = max(r.plateau_tol * D, r.noise_factor * noise_s)
    ev: dict[str, Any] = {"start": float(ls[0]), "min": float(ls.min()), "min_epoch": int(epochs[int(np.argmin(ls))]),
                          "end": float(ls[-1]), "total_improvement": D, "noise_sd_smoothed": noise_s,
                          "plateau_threshold": tol_abs}
    if C < r.min_tail + 2 or D <= r.noise_factor * noise_s:
        ev["improves"] = bool(D > r.noise_factor * noise_s)
        return None, ev
    ev["improves"] = True
    suffix_min = np.minimum.accumulate(ls[::-1])[::-1]
    R = ls - suffix_min
    span_after = (epochs[-1] - epochs).astype(float)
    span_before = (epochs - epochs[0]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_after = np.where(span_after > 0, R / np.where(span_after > 0, span_after, 1), np.inf)
        rate_before = np.where(span_before > 0, (ls[0] - ls) / np.where(span_before > 0, span_before, 1), 0.0)
    idx = np.arange(C)
    ok = (R <= tol_abs) & ((rate_before <= 0) | (rate_after <= r.slope_ratio * rate_before))
    ok &= idx >= 1
    ok &= idx <= C - 1 - r.min_tail
    if after is not None:
        ok &= epochs > after
    hits = np.nonzero(ok)[0]
    if hits.size == 0:
        return None, ev
    i = int(hits[0])
    ev.update({"remaining_improvement": float(R[i]), "rate_before": float(rate_before[i]),
               "rate_after": float(rate_after[i]), "level": float(ls[i])})
    return i, ev


def _nearest(epoch: int, choices: np.ndarray) -> int:
    d = np.abs(choices.astype(np.int64) - int(epoch))
    return int(choices[int(np.argmin(d))])  # argmin takes the first = earlier on ties (choices sorted)


# ---------------------------------------------------------------------------------------- main
def detect_phases(
    training: pd.DataFrame,
    h_bar: pd.DataFrame,
    order_strengths: pd.DataFrame | None = None,
    **params: Any,
) -> PhaseReport:
    """Detect the three phases, the two-phase turning point and the checkpoint to keep.

    ``training``: the training log (``epoch, split, loss``; rows with ``model == "model"`` are used
    when a ``model`` column is present); ``h_bar``: per-sample H-bar (``checkpoint, [sample,] split,
    h_bar``; NaN samples are left out of the mean); ``order_strengths``: the ``order_strengths`` or
    ``order_distribution`` table, or None to skip the two-phase rule. ``params``: the fields of
    :class:`PhaseRules`. The rules are stated in the module docstring; every threshold and the
    numbers they were compared with are in the report's ``rules`` and ``evidence``.
    """
    valid = {f.name for f in fields(PhaseRules)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise InputError(f"unknown phase-rule parameters {unknown}; valid ones: {sorted(valid)}")
    r = PhaseRules(**params)
    w = r.smooth_window

    E_l, L_test, L_train, notes = _loss_series(training)
    E_h, H, h_info = _h_bar_series(h_bar, r.h_bar_split)
    Ls = smooth(L_test, w)
    Hs = smooth(H, w)
    series = [pd.DataFrame({"epoch": E_h, "quantity": "h_bar", "raw": H, "smoothed": Hs}),
              pd.DataFrame({"epoch": E_l, "quantity": "test_loss", "raw": L_test, "smoothed": Ls})]
    gap_s = None
    E_g = None
    if L_train is not None:
        both = np.isfinite(L_train)
        series.append(pd.DataFrame({"epoch": E_l[both], "quantity": "train_loss", "raw": L_train[both],
                                    "smoothed": smooth(L_train[both], w)}))
        if both.sum() >= 1:
            E_g = E_l[both]
            gap = L_test[both] - L_train[both]
            gap_s = smooth(gap, w)
            series.append(pd.DataFrame({"epoch": E_g, "quantity": "gap", "raw": gap, "smoothed": gap_s}))

    all_epochs = set(E_h.tolist()) | set(E_l.tolist())
    E_o = S = None
    if order_strengths is not None:
        E_o, S = _order_series(order_strengths, r.strength_split)
        all_epochs |= set(E_o.tolist())
    U = np.array(sorted(all_epochs), dtype=np.int64)

    def next_after(e: int) -> int | None:
        later = U[U > e]
        return int(later[0]) if later.size else None

    def prev_before(e: int) -> int | None:
        earlier = U[U < e]
        return int(earlier[-1]) if earlier.size else None

    rules: dict[str, Any] = {
        "parameters": asdict(r),
        "smoothing": f"centred moving mean over {w} checkpoints (shrinking at the ends)",
        "noise": "sigma = 1.4826 * median|second difference| / sqrt(6) of the raw series; a rise/fall is real if it "
                 "exceeds noise_factor * sigma / sqrt(smooth_window) * sqrt(2 ln C)",
        "phase1_end": "peak of the smoothed mean H-bar; clear if it rises to the peak by >= max(min_rise, noise "
                      "threshold), falls after it by >= max(min_fall, noise threshold), peak interior",
        "phase3_start": "first loss epoch after the H-bar peak (with >= min_tail epochs after it) from which the "
                        "smoothed test loss improves by <= max(plateau_tol*total improvement, "
                        "noise_factor*noise/sqrt(smooth_window)) and at <= slope_ratio times its earlier mean rate",
        "two_phase_turn": f"minimum of the smoothed {r.two_phase_statistic} of the order strengths (type all); clear if it "
                          "drops to and rises from it by >= max(min_rel_change*max|statistic|, noise threshold)",
        "gap_onset": "first epoch after the smoothed train-test gap's minimum where it exceeds the minimum by "
                     "gap_frac of its later rise",
        "early_stopping": {
            "phase3_start": "start of phase 3; last checkpoint if phase 3 is not reached; fallbacks without clear phases",
            "min_test_loss": "lowest smoothed test loss",
            "h_bar_peak": "end of phase 1 (peak H-bar)",
        }[r.early_stopping],
    }
    evidence: dict[str, Any] = {"notes": notes}
    boundaries: dict[str, int | None] = {"phase1_end": None, "phase3_start": None, "two_phase_turn": None}
    phases: list[Phase] = []

    # ---------------------------------------------------------------- three phases
    noise_h = noise_level(H)
    ext_h = _extreme_noise(noise_h, w, len(H))
    rise_thr = max(r.min_rise, r.noise_factor * ext_h)
    fall_thr = max(r.min_fall, r.noise_factor * ext_h)
    hev: dict[str, Any] = {**h_info, "n_checkpoints": int(len(E_h)), "noise_sd": noise_h,
                           "rise_threshold": rise_thr, "fall_threshold": fall_thr}
    clear = False
    if len(E_h) < 3:
        message = (f"no clear phase structure: only {len(E_h)} checkpoint(s) with a finite mean H-bar "
                   "(at least 3 are needed to see a rise and a fall)")
    else:
        p = int(np.argmax(Hs))
        rise = float(Hs[p] - Hs[: p + 1].min())
        fall = float(Hs[p] - Hs[p:].min())
        hev.update({"start": float(Hs[0]), "peak": float(Hs[p]), "peak_epoch": int(E_h[p]), "end": float(Hs[-1]),
                    "rise": rise, "fall": fall})
        if p == 0 or rise < rise_thr:
            message = (f"no clear phase structure: H-bar does not rise significantly to its peak at epoch {int(E_h[p])} "
                       f"(rise {rise:.3f} < {rise_thr:.3f}; fall after it {fall:.3f}); no phase-1 rise, so no "
                       "boundary is reported")
        elif p == len(E_h) - 1 or fall < fall_thr:
            message = (f"no clear phase structure: H-bar rises by {rise:.3f} but does not fall significantly after its "
                       f"peak at epoch {int(E_h[p])} (fall {fall:.3f} < {fall_thr:.3f}); phase 1 has not ended by the "
                       "last checkpoint, so no boundary is reported")
        else:
            clear = True
            p1_end = int(E_h[p])
            boundaries["phase1_end"] = p1_end
            i3, lev = _first_plateau(E_l, Ls, L_test, r, after=p1_end)
            evidence["test_loss"] = lev
            end_epoch = int(U[-1])
            phases.append(Phase("phase1", int(U[0]), p1_end))
            if i3 is not None:
                p3 = int(E_l[i3])
                boundaries["phase3_start"] = p3
                s2, e2 = next_after(p1_end), prev_before(p3)
                if s2 is not None and e2 is not None and s2 <= e2:
                    phases.append(Phase("phase2", s2, e2))
                phases.append(Phase("phase3", p3, end_epoch))
                message = (f"three phases: H-bar rises by {rise:.3f} to its peak {Hs[p]:.3f} at epoch {p1_end} (end of "
                           f"phase 1) and falls by {fall:.3f} after it; the test loss stops improving at epoch {p3} "
                           f"(start of phase 3; remaining improvement {lev['remaining_improvement']:.4f} <= "
                           f"{lev['plateau_threshold']:.4f})")
                if e2 is None or s2 is None or s2 > e2:
                    message += "; phase 2 is empty"
            else:
                s2 = next_after(p1_end)
                if s2 is not None:
                    phases.append(Phase("phase2", s2, end_epoch))
                why = ("the test loss never improved beyond its noise" if not lev.get("improves", True)
                       else "the test loss is still improving at the last checkpoints")
                message = (f"phases 1-2: H-bar rises by {rise:.3f} to its peak at epoch {p1_end} and falls by "
                           f"{fall:.3f} after it; phase 3 not reached ({why})")
    evidence["h_bar"] = hev

    # ---------------------------------------------------------------- gap onset (evidence)
    gev: dict[str, Any] = {}
    if gap_s is not None and len(gap_s) >= 2:
        j = int(np.argmax(gap_s))
        i0 = int(np.argmin(gap_s[: j + 1]))
        widen = float(gap_s[j] - gap_s[i0])
        gnoise = noise_level(gap) if len(gap_s) >= 3 else 0.0
        gev.update({"start": float(gap_s[0]), "min": float(gap_s[i0]), "max": float(gap_s[j]), "end": float(gap_s[-1]),
                    "widening": widen})
        if widen > r.noise_factor * _extreme_noise(gnoise, w, len(gap_s)) and widen > 0:
            thr = gap_s[i0] + r.gap_frac * widen
            k = i0 + int(np.argmax(gap_s[i0:] >= thr))
            gev["onset_epoch"] = int(E_g[k])
        else:
            gev["onset_epoch"] = None
        if boundaries["phase3_start"] is not None:
            sel = E_g >= boundaries["phase3_start"]
            if sel.any():
                gev["at_phase3_start"] = float(gap_s[np.argmax(sel)])
    evidence["gap"] = gev

    # ---------------------------------------------------------------- two phases
    two_clear = False
    if S is None:
        two_msg = "two-phase rule skipped: no order strengths given"
    else:
        n = S.shape[1]
        m0 = r.high_order_min if r.high_order_min is not None else max(2, math.ceil(n / 2))
        if m0 > n:
            raise InputError(f"high_order_min={m0} exceeds the highest order n={n} in order_strengths")
        tot = S.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            if r.two_phase_statistic == "high_order_share":
                X = np.where(tot > 0, S[:, m0 - 1:].sum(1) / np.where(tot > 0, tot, 1), np.nan)
            elif r.two_phase_statistic == "high_order_strength":
                X = S[:, m0 - 1:].sum(1)
            else:
                X = np.where(tot > 0, (S * np.arange(1, n + 1)).sum(1) / np.where(tot > 0, tot, 1), np.nan)
        ok = np.isfinite(X)
        E_x, X = E_o[ok], X[ok]
        tev: dict[str, Any] = {"statistic": r.two_phase_statistic, "high_order_min": int(m0), "n": int(n),
                               "n_checkpoints": int(len(X))}
        if len(X) < 3:
            two_msg = f"no clear two-phase turn: only {len(X)} checkpoint(s) with non-zero order strengths"
        else:
            Xs = smooth(X, w)
            series.append(pd.DataFrame({"epoch": E_x, "quantity": r.two_phase_statistic, "raw": X, "smoothed": Xs}))
            q = int(np.argmin(Xs))
            drop = float(Xs[: q + 1].max() - Xs[q])
            rise2 = float(Xs[q:].max() - Xs[q])
            nx = noise_level(X)
            thr = max(r.min_rel_change * float(np.abs(Xs).max()), r.noise_factor * _extreme_noise(nx, w, len(X)))
            tev.update({"start": float(Xs[0]), "min": float(Xs[q]), "min_epoch": int(E_x[q]), "end": float(Xs[-1]),
                        "drop": drop, "rise": rise2, "noise_sd": nx, "threshold": thr})
            if 0 < q < len(Xs) - 1 and drop >= thr and rise2 >= thr:
                two_clear = True
                turn = int(E_x[q])
                boundaries["two_phase_turn"] = turn
                phases.append(Phase("two_phase_1", int(U[0]), turn))
                s2 = next_after(turn)
                if s2 is not None:
                    phases.append(Phase("two_phase_2", s2, int(U[-1])))
                two_msg = (f"two phases: the {r.two_phase_statistic} (orders >= {m0}) drops by {drop:.3f} to its minimum "
                           f"at epoch {turn} and rises by {rise2:.3f} after it")
                onset = gev.get("onset_epoch")
                if onset is not None:
                    tev["gap_onset_epoch"] = onset
                    tev["turn_minus_gap_onset"] = turn - onset
                    two_msg += f"; the train-test loss gap starts widening at epoch {onset} ({turn - onset:+d} epochs)"
            else:
                why = []
                if q == 0:
                    why.append("the statistic is lowest at the first checkpoint (no phase-1 drop)")
                elif q == len(Xs) - 1:
                    why.append("the statistic is still falling at the last checkpoint (no phase-2 rise)")
                if drop < thr:
                    why.append(f"drop {drop:.3f} < {thr:.3f}")
                if rise2 < thr:
                    why.append(f"rise {rise2:.3f} < {thr:.3f}")
                two_msg = "no clear two-phase turn: " + "; ".join(why)
        evidence["two_phase"] = tev

    # ---------------------------------------------------------------- early stopping
    min_i = int(np.argmin(Ls))
    if r.early_stopping == "min_test_loss":
        rule_epoch, reason = int(E_l[min_i]), f"lowest smoothed test loss ({Ls[min_i]:.4f})"
    elif r.early_stopping == "h_bar_peak":
        if clear:
            rule_epoch = int(boundaries["phase1_end"])
            reason = (f"end of phase 1: H-bar peaks ({evidence['h_bar']['peak']:.3f}); later checkpoints learn "
                      "less generalizable interactions")
        else:
            rule_epoch = int(E_l[min_i])
            reason = f"no clear phases; fallback: lowest smoothed test loss ({Ls[min_i]:.4f})"
    else:
        if clear and boundaries["phase3_start"] is not None:
            rule_epoch = int(boundaries["phase3_start"])
            lev = evidence["test_loss"]
            reason = (f"start of phase 3: from here the smoothed test loss ({lev['level']:.4f}, best {lev['min']:.4f}) "
                      f"improves by at most {lev['remaining_improvement']:.4f} while H-bar has fallen from its peak "
                      f"{evidence['h_bar']['peak']:.3f}; later training mainly adds non-generalizable interactions")
            if "at_phase3_start" in gev:
                reason += f" (train-test gap {gev['at_phase3_start']:.4f} here, {gev['end']:.4f} at the end)"
        elif clear:
            rule_epoch = int(E_l[-1])
            reason = "phase 3 not reached: the test loss is still improving, keep the last checkpoint"
        else:
            i, lev = _first_plateau(E_l, Ls, L_test, r, after=None)
            evidence["test_loss"] = lev
            if i is not None:
                rule_epoch = int(E_l[i])
                reason = (f"no clear phase structure; fallback: first checkpoint after which the smoothed test loss "
                          f"stops improving (remaining improvement {lev['remaining_improvement']:.4f})")
            else:
                rule_epoch = int(E_l[min_i])
                reason = f"no clear phase structure and no test-loss plateau; fallback: lowest smoothed test loss ({Ls[min_i]:.4f})"
    epoch = _nearest(rule_epoch, E_h) if r.snap_to_checkpoints else rule_epoch
    if epoch != rule_epoch:
        reason += f"; moved from epoch {rule_epoch} to the nearest analysed checkpoint {epoch}"
    early = {"epoch": int(epoch), "rule_epoch": int(rule_epoch), "rule": r.early_stopping, "reason": reason}

    order = {"phase1": 0, "phase2": 1, "phase3": 2, "two_phase_1": 3, "two_phase_2": 4}
    phases.sort(key=lambda ph: order[ph.name])
    return PhaseReport(
        phases=tuple(phases), clear=clear, message=message, two_phase_clear=two_clear, two_phase_message=two_msg,
        boundaries=boundaries, early_stopping=early, rules=rules, evidence=evidence,
        series=pd.concat(series, ignore_index=True),
    )
