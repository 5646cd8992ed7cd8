"""Phase detection from a checkpoint series, its bootstrap uncertainty, and an early-stopping recommendation.

Inputs are the tidy tables of docs/run-directory.md: the training log (``epoch, split, loss``;
rows of ``model == "model"`` when a ``model`` column is present), per-sample H-bar
(``checkpoint, sample, split, h_bar``), the per-sample order-wise strengths of salient interactions
(``order_strengths``: ``total`` and ``generalizable``) and, for the two-phase view, the
all-interactions ``order_distribution`` table. The rules themselves are in
:mod:`genphase.analysis.phase_rules`; docs/analysis.md states each with the paper's words next to it.

The default boundaries and stop use the model's interactions only: no test, evaluation or
validation loss enters them (``early_stopping="min_test_loss"`` is the loss-based alternative).

Uncertainty: the explained samples of ``h_bar_split`` are resampled with replacement
(``n_resamples`` times, seeded by ``seed``; the same resampled set of sample ids at every
checkpoint and in both tables), the rules are re-run on every resample (vectorised), and
percentile intervals at ``ci_level`` are reported for each boundary and the stop epoch, with the
share of resamples in which the three-phase structure is found (``three_phase_support``). The
two-phase turn is resampled too when ``order_distribution`` is the per-sample table
(``order_distribution_samples``, with a ``sample`` column).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._stats import bootstrap_weights, nan_mean, percentile_interval, safe_div
from .bootstrap import check_bootstrap_samples
from .phase_rules import (
    PhaseRules,
    gap_onset_rule,
    new_strength,
    noise_level,
    phase1_end_rule,
    phase3_start_rule,
    smooth,
    stop_rule,
    two_phase_rule,
    two_phase_turns,
)

__all__ = ["Phase", "PhaseReport", "detect_phases", "PhaseRules", "smooth", "noise_level"]


@dataclass(frozen=True)
class Phase:
    """One detected phase: ``name`` ("phase1".."phase3", "two_phase_1", "two_phase_2") and inclusive epochs.

    >>> Phase("phase1", 0, 12)
    Phase(name='phase1', start_epoch=0, end_epoch=12)
    """

    name: str
    start_epoch: int
    end_epoch: int


def _count(k: int, what: str) -> str:
    return f"{k} {what}" + ("" if k == 1 else "s")


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
    """Detected phases, the rules and evidence behind them, their uncertainty and the stop.

    - ``phases``: detected phases (only those whose boundaries were found).
    - ``clear`` / ``message``: whether the phase structure (a significant H-bar peak) was found, and why (not).
    - ``two_phase_clear`` / ``two_phase_message``: the same for the two-phase turning point.
    - ``boundaries``: ``phase1_end``, ``phase3_start``, ``two_phase_turn`` (epochs or None).
    - ``boundaries_ci``: the same names -> ``[low, high]`` percentile interval over bootstrap
      resamples (None when no resample found it or it is not resampled).
    - ``early_stopping``: ``{"epoch", "rule_epoch", "rule", "reason", "ci"}``.
    - ``three_phase_support``: share of resamples in which all three phases are found, phase 2 resolved (None
      without bootstrap).
    - ``checkpoints``: the extracted checkpoints (epochs of the H-bar table); ``to_dict`` lists those inside
      each phase under its ``checkpoints``.
    - ``three_phases``: the verdict "three phases": phases 1 and 3 found **and** at least
      ``min_phase2_checkpoints`` extracted checkpoints strictly inside phase 2 (``phase2`` says how many and
      whether that holds); with fewer, ``message`` says which phases are seen and why phase 2 is unresolved.
    - ``rules``: the rule texts and every parameter; ``evidence``: the numbers the rules used.
    - ``series``: long frame ``epoch, quantity, raw, smoothed`` of every series used.

    >>> tr = pd.DataFrame({"epoch": [0, 1, 2, 3, 4], "split": "train", "loss": [5.0, 4, 3, 2, 1]})
    >>> hb = pd.DataFrame({"checkpoint": [0, 1, 2, 3, 4] * 2, "sample": [0] * 5 + [1] * 5, "split": "train",
    ...                    "h_bar": [0.1, 0.5, 0.9, 0.5, 0.1] * 2})
    >>> rep = detect_phases(tr, hb, smooth_window=1, n_resamples=0)
    >>> rep.clear, rep.boundaries["phase1_end"], [p.name for p in rep.phases]
    (True, 2, ['phase1', 'phase2'])
    >>> rep.to_frame()
        phase  start_epoch  end_epoch
    0  phase1            0          2
    1  phase2            3          4
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
    boundaries_ci: dict[str, list[int] | None] | None = None
    three_phase_support: float | None = None
    checkpoints: tuple[int, ...] = ()
    three_phases: bool = False
    phase2: dict[str, Any] = field(default_factory=dict)

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
            "phases": [{**asdict(p), "checkpoints": [c for c in self.checkpoints if p.start_epoch <= c <= p.end_epoch]}
                       for p in self.phases],
            "three_phases": self.three_phases,
            "phase2": self.phase2,
            "boundaries": self.boundaries,
            "boundaries_ci": self.boundaries_ci or {k: None for k in self.boundaries},
            "three_phase_support": self.three_phase_support,
            "two_phase": {"clear": self.two_phase_clear, "message": self.two_phase_message,
                          "turn_epoch": self.boundaries.get("two_phase_turn")},
            "early_stopping": self.early_stopping,
            "rules": self.rules,
            "evidence": self.evidence,
        })


# ---------------------------------------------------------------------------------------- tables
def _need(df: Any, cols: set[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise InputError(f"{what} is empty: the checkpoint series needs at least one row")
    missing = sorted(cols - set(df.columns))
    if missing:
        raise InputError(f"{what} lacks the columns {missing} (has {sorted(map(str, df.columns))})")
    return df


def _loss_table(training: pd.DataFrame) -> pd.DataFrame:
    """``[epoch x split]`` mean loss of the model under study (the only use of the training table)."""
    df = _need(training, {"epoch", "split", "loss"}, "training")
    if "model" in df.columns:
        models = sorted(map(str, df["model"].unique()))
        if models != ["model"]:
            if "model" not in models:
                raise InputError(f"training has no rows with model == 'model' (models: {models}); "
                                 "pass the training log of the model under study")
            df = df[df["model"] == "model"]
    loss = pd.to_numeric(df["loss"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(loss)):
        bad = sorted(set(df.loc[~np.isfinite(loss), "epoch"].tolist()))[:5]
        raise InputError(f"training.loss has NaN or inf values (epochs {bad}); a diverged run cannot be phased")
    df = df.assign(loss=loss)
    return df.groupby(["epoch", "split"])["loss"].mean().unstack("split").sort_index()


def _sample_ids(df: pd.DataFrame) -> np.ndarray:
    if "sample" in df.columns:
        return df["sample"].to_numpy()
    return df.groupby("checkpoint").cumcount().to_numpy()  # rows of a checkpoint in order


def _h_bar_matrix(h_bar: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sample ids [N], checkpoints [C], H [N, C])`` of the ``split`` samples; NaN where missing/NaN."""
    df = _need(h_bar, {"checkpoint", "h_bar"}, "h_bar")
    if "split" in df.columns and split != "all":
        avail = sorted(map(str, df["split"].unique()))
        if split not in avail:
            raise InputError(f"h_bar has no rows with split == {split!r} (splits: {avail}); set h_bar_split")
        df = df[df["split"] == split]
    vals = pd.to_numeric(df["h_bar"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(vals)):
        raise InputError("h_bar holds inf values; H-bar lies in [0, 1] (NaN only for samples without salient interactions)")
    tab = pd.DataFrame({"s": _sample_ids(df), "c": df["checkpoint"].to_numpy(), "h": vals})
    wide = tab.groupby(["s", "c"])["h"].mean().unstack("c").sort_index().sort_index(axis=1)
    return wide.index.to_numpy(), wide.columns.to_numpy().astype(np.int64), wide.to_numpy(dtype=float)


def _strength_arrays(frame: pd.DataFrame, split: str, what: str, need_generalizable: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """``(sample ids [N], checkpoints [C], total [N, C, n], generalizable [N, C, n] or None)``: strengths
    ``|+| + |-|`` of type "all" per sample (one pseudo-sample when the table holds split means)."""
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise InputError(f"{what} is empty; pass None to skip the rules that need it")
    ck = "checkpoint" if "checkpoint" in frame.columns else "epoch"
    val = "total" if "total" in frame.columns else ("strength" if "strength" in frame.columns else None)
    if ck not in frame.columns or "order" not in frame.columns or val is None:
        raise InputError(f"{what} must be the order_strengths table (checkpoint, order, total, generalizable, ...) or "
                         f"the order_distribution table (checkpoint, order, strength, ...); got columns {sorted(frame.columns)}")
    df = frame
    if "type" in df.columns:
        df = df[df["type"] == "all"]
        if df.empty:
            raise InputError(f"{what} has no rows with type == 'all'")
    if "split" in df.columns and split != "all":
        avail = sorted(map(str, frame["split"].unique()))
        df = df[df["split"] == split]
        if df.empty:
            raise InputError(f"{what} has no rows with split == {split!r} (splits: {avail}); set h_bar_split / strength_split")
    cols = [val] + (["generalizable"] if need_generalizable and "generalizable" in df.columns else [])
    data = {}
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if not np.all(np.isfinite(v)):
            raise InputError(f"{what}.{c} has NaN or inf values")
        data[c] = np.abs(v)
    d = pd.DataFrame({"s": df["sample"].to_numpy() if "sample" in df.columns else 0, "c": df[ck].to_numpy(),
                      "m": df["order"].to_numpy().astype(np.int64), **data})
    g = d.groupby(["s", "c", "m"])[cols].sum()
    ids = np.sort(d["s"].unique())
    cks = np.sort(d["c"].unique()).astype(np.int64)
    n = int(d["m"].max())
    full = pd.MultiIndex.from_product([ids, cks, np.arange(1, n + 1)], names=["s", "c", "m"])
    g = g.reindex(full)
    have = g[cols[0]].notna().to_numpy().reshape(len(ids), len(cks), n).any(-1)  # sample present at checkpoint
    arrs = [g[c].to_numpy(dtype=float).reshape(len(ids), len(cks), n) for c in cols]
    arrs = [np.where(have[..., None], np.nan_to_num(a), np.nan) for a in arrs]
    return ids, cks, arrs[0], (arrs[1] if len(arrs) > 1 else None)


def _resampled_means(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """NaN-aware means over samples per resample: ``W [R, N]``, ``X [N, ...]`` -> ``[R, ...]``."""
    flat = X.reshape(X.shape[0], -1)
    ok = np.isfinite(flat)
    num = W @ np.where(ok, flat, 0.0)
    den = W @ ok.astype(np.float64)
    return safe_div(num, den).reshape(W.shape[0], *X.shape[1:])


def _fill_rows(x: np.ndarray) -> np.ndarray:
    """Interpolate NaN entries of each row of ``[R, C]`` from its finite neighbours (rare resamples)."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    out = x.copy()
    idx = np.arange(x.shape[1])
    for i in np.nonzero(bad.any(1))[0]:
        ok = ~bad[i]
        out[i] = np.interp(idx, idx[ok], x[i, ok]) if ok.any() else np.nan
    return out


def _ci(values: np.ndarray, found: np.ndarray, level: float) -> list[int] | None:
    if not found.any():
        return None
    lo, hi = percentile_interval(values[found].astype(float), level, discrete=True)
    return [int(lo), int(hi)]


def _why_no_phase3(ev: Any, epochs: np.ndarray | None, r: PhaseRules, after: int | None) -> str:
    """Why :func:`phase3_start_rule` found no start (for the point estimate, row 0)."""
    if ev is None or epochs is None:
        return "phase 3 needs the order_strengths table (generalizable and total strength per order)"
    later = epochs[epochs > after] if after is not None else epochs
    if later.size <= r.min_tail:
        return (f"too few checkpoints: {later.size} after epoch {after}, and a start needs {r.min_tail} checkpoint(s) "
                "after it (min_tail)" if after is not None else
                f"too few checkpoints ({epochs.size}) for a start with min_tail={r.min_tail} checkpoints after it")
    if not ev.learned_anything[0]:
        return "no salient strength worth counting (learn_tol) is learned" + (f" after epoch {after}" if after is not None else "")
    return (f"up to the last checkpoints some step still learns mostly generalizable strength (non-generalizable share "
            f"< {r.nongen_share:g})")


def _two_phase_bootstrap(ids_o: np.ndarray, E_o: np.ndarray, T_o: np.ndarray, ids: np.ndarray, W: np.ndarray,
                         valid: np.ndarray, r: PhaseRules) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The two-phase rule on every bootstrap resample of a per-sample all-interactions table.

    ``T_o``: ``[N_o, C, n]`` per-sample strengths (``ids_o`` their sample ids). When those samples are
    the phase rules' samples (``ids``), the same resampled multisets ``W [1 + R, N]`` are used (paired
    with H-bar and the order strengths); otherwise they are resampled on their own (seed ``r.seed + 1``).
    Returns ``(found [R], epoch [R], usable [R], how)``.
    """
    R = W.shape[0] - 1
    if np.all(np.isin(ids_o, ids)):
        X = np.full((ids.size, *T_o.shape[1:]), np.nan)
        X[np.searchsorted(ids, ids_o)] = T_o
        Wt, use, how = W[1:], valid[1:].copy(), "paired with the H-bar resamples (same sample ids)"
    else:
        X = T_o
        Wt = bootstrap_weights(np.zeros(ids_o.size), R, r.seed + 1).astype(np.float64)
        use, how = np.ones(R, dtype=bool), f"its own resamples of its {ids_o.size} samples (seed {r.seed + 1})"
    Sm = _resampled_means(Wt, X)  # [R, C, n]
    point = nan_mean(T_o, axis=0)
    keep = np.isfinite(point).all(-1) & (np.abs(point).sum(-1) > 0)  # checkpoints with strength (as the point rule)
    Sm = Sm[:, keep]
    use &= np.isfinite(Sm).all((-1, -2)) & (np.abs(Sm).sum(-1) > 0).all(-1)
    Sm = np.where(use[:, None, None], Sm, np.broadcast_to(point[keep], Sm.shape))
    found, epoch = two_phase_turns(E_o[keep], Sm, r)
    return found, epoch, use, how


# ---------------------------------------------------------------------------------------- main
_STOP_TEXT = {
    "phase3_start": "start of phase 3 (from the interactions); the last checkpoint if phase 3 is not reached; without "
                    "clear phases the phase-3 rule from the first checkpoint on",
    "min_test_loss": "lowest smoothed test loss (loss-based alternative; uses the test split)",
    "h_bar_peak": "end of phase 1 (peak of smoothed H-bar; the highest peak when it is not significant)",
}


def detect_phases(
    training: pd.DataFrame,
    h_bar: pd.DataFrame,
    order_strengths: pd.DataFrame | None = None,
    *,
    order_distribution: pd.DataFrame | None = None,
    rules: PhaseRules | None = None,
    **params: Any,
) -> PhaseReport:
    """Detect the three phases, the two-phase turning point and the checkpoint to keep, with bootstrap intervals.

    ``training``: the training log (``epoch, split, loss``; rows with ``model == "model"`` are used
    when a ``model`` column is present); only the test loss (for ``early_stopping="min_test_loss"``
    and the gap evidence) and the train loss (evidence) are read from it. ``h_bar``: per-sample
    H-bar (``checkpoint, sample, split, h_bar``; NaN samples are left out of the mean).
    ``order_strengths``: the per-sample ``order_strengths`` table (``total``, ``generalizable``),
    needed for phase 3; None skips it (an ``order_distribution`` table given here instead is used for
    the two-phase turn, as before). ``order_distribution``: the all-interactions table for the
    two-phase turn, per split (``order_distribution``) or per sample (``order_distribution_samples``:
    then the turn gets a bootstrap interval too); None, and no such table as third argument: the
    two-phase rule is skipped. ``rules``: a :class:`PhaseRules`; ``params`` override its
    fields (e.g. ``smooth_window=5``, ``n_resamples=0`` to skip the bootstrap).

    >>> import pandas as pd
    >>> tr = pd.DataFrame({"epoch": [0, 1, 2, 3, 4], "split": "train", "loss": [5.0, 4, 3, 2, 1]})
    >>> hb = pd.DataFrame({"checkpoint": [0, 1, 2, 3, 4] * 2, "sample": [0] * 5 + [1] * 5, "split": "train",
    ...                    "h_bar": [0.1, 0.5, 0.9, 0.5, 0.1] * 2})
    >>> detect_phases(tr, hb, smooth_window=1, n_resamples=10).boundaries["phase1_end"]
    2
    """
    valid = {f.name for f in fields(PhaseRules)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise InputError(f"unknown phase-rule parameters {unknown}; valid ones: {sorted(valid)}")
    if rules is not None and not isinstance(rules, PhaseRules):
        raise InputError(f"rules must be a PhaseRules, got {type(rules).__name__}")
    r = PhaseRules(**{**(asdict(rules) if rules is not None else {}), **params})
    w = r.smooth_window

    # ---------------------------------------------------------------- inputs
    losses = _loss_table(training)
    notes: list[str] = []
    ids_h, E_h_all, Hmat = _h_bar_matrix(h_bar, r.h_bar_split)
    strengths = None
    if order_strengths is not None:
        ids_s, E_s, T_s, G_s = _strength_arrays(order_strengths, r.h_bar_split, "order_strengths", True)
        if G_s is None:
            notes.append("order_strengths has no 'generalizable' column (an order_distribution table?): phase 3 "
                         "needs the order_strengths table")
        else:
            strengths = (ids_s, E_s, G_s, T_s - G_s)

    ids = np.union1d(ids_h, strengths[0]) if strengths is not None else ids_h
    N = ids.size
    Hx = np.full((N, E_h_all.size), np.nan)
    Hx[np.searchsorted(ids, ids_h)] = Hmat
    R = r.n_resamples
    if R > 0:
        check_bootstrap_samples({r.h_bar_split: N})
    W = np.ones((1, N))
    if R > 0:
        W = np.vstack([W, bootstrap_weights(np.zeros(N), R, r.seed).astype(np.float64)])

    Hm = _resampled_means(W, Hx)  # [1 + R, C]
    keep = np.isfinite(Hm[0])
    dropped = [int(e) for e in E_h_all[~keep]]
    E_h = E_h_all[keep]
    if E_h.size == 0:
        raise InputError("every H-bar value is NaN (no sample has a salient interaction at any checkpoint); "
                         "lower tau or check the extracted interactions")
    Hm = Hm[:, keep]
    valid = np.isfinite(Hm).any(1)  # a resample drawing only samples without salient interactions is void
    Hm = np.where(valid[:, None], _fill_rows(Hm), Hm[0])
    H = Hm[0]
    h_info = {"split": r.h_bar_split, "dropped_checkpoints": dropped, "samples": int(ids_h.size),
              "nan_samples_total": int((~np.isfinite(Hmat)).sum())}

    test = losses["test"].dropna() if "test" in losses.columns else None
    train = losses["train"].dropna() if "train" in losses.columns else None
    series = [pd.DataFrame({"epoch": E_h, "quantity": "h_bar", "raw": H, "smoothed": smooth(H, w)})]
    for name, s in (("test_loss", test), ("train_loss", train)):
        if s is not None and len(s):
            series.append(pd.DataFrame({"epoch": s.index.to_numpy().astype(np.int64), "quantity": name,
                                        "raw": s.to_numpy(float), "smoothed": smooth(s.to_numpy(float), w)}))
    all_epochs = set(E_h.tolist()) | set(losses.index.astype(np.int64).tolist())
    if strengths is not None:
        all_epochs |= set(strengths[1].tolist())
    U = np.array(sorted(all_epochs), dtype=np.int64)

    def next_after(e: int) -> int | None:
        later = U[U > e]
        return int(later[0]) if later.size else None

    def prev_before(e: int) -> int | None:
        earlier = U[U < e]
        return int(earlier[-1]) if earlier.size else None

    # ---------------------------------------------------------------- phase 1 (all resamples at once)
    p1 = phase1_end_rule(E_h, Hm, r)
    clear = bool(p1.found[0])
    hev: dict[str, Any] = {**h_info, "n_checkpoints": int(E_h.size), "noise_sd": float(p1.noise_sd[0]),
                           "rise_threshold": float(p1.rise_threshold[0]), "fall_threshold": float(p1.fall_threshold[0])}
    if E_h.size >= 1:
        hev.update({"start": float(p1.start[0]), "peak": float(p1.peak[0]), "peak_epoch": int(p1.epoch[0]),
                    "end": float(p1.end[0]), "rise": float(p1.rise[0]), "fall": float(p1.fall[0])})
    boundaries: dict[str, int | None] = {"phase1_end": None, "phase3_start": None, "two_phase_turn": None}
    phases: list[Phase] = []
    phase2: dict[str, Any] = {}
    pk, rise, fall = int(p1.epoch[0]), float(p1.rise[0]), float(p1.fall[0])
    if E_h.size < 3:
        message = (f"no clear phase structure: only {E_h.size} checkpoint(s) with a finite mean H-bar "
                   "(at least 3 are needed to see a rise and a fall)")
    elif p1.index[0] == 0 or rise < p1.rise_threshold[0]:
        message = (f"no clear phase structure: H-bar does not rise significantly to its peak at epoch {pk} "
                   f"(rise {rise:.3f} < {float(p1.rise_threshold[0]):.3f}; fall after it {fall:.3f}); no phase-1 rise, "
                   "so no boundary is reported")
    elif not clear:
        message = (f"no clear phase structure: H-bar rises by {rise:.3f} but does not fall significantly after its "
                   f"peak at epoch {pk} (fall {fall:.3f} < {float(p1.fall_threshold[0]):.3f}); phase 1 has not ended "
                   "by the last checkpoint, so no boundary is reported")
    else:
        message = ""

    # ---------------------------------------------------------------- phase 3 (all resamples at once)
    p3 = p3s = None
    p3ev: dict[str, Any] = {}
    if strengths is not None:
        ids_s, E_s, G_s, N_s = strengths
        pos = np.searchsorted(ids, ids_s)
        Gx = np.full((N, *G_s.shape[1:]), np.nan)
        Nx = np.full((N, *N_s.shape[1:]), np.nan)
        Gx[pos], Nx[pos] = G_s, N_s
        Gm = _fill_rows(_resampled_means(W, Gx).reshape(W.shape[0], -1)).reshape(W.shape[0], *G_s.shape[1:])
        Nm = _fill_rows(_resampled_means(W, Nx).reshape(W.shape[0], -1)).reshape(W.shape[0], *N_s.shape[1:])
        after = np.where(p1.found, p1.epoch, -np.inf)
        p3 = phase3_start_rule(E_s, Gm, Nm, r, after_epoch=after)
        p3s = phase3_start_rule(E_s, Gm, Nm, r)
        steps = E_s[1:]
        series += [pd.DataFrame({"epoch": steps, "quantity": q, "raw": raw, "smoothed": sm}) for q, raw, sm in (
            ("new_generalizable", new_strength(Gm[0]), p3.new_generalizable[0]),
            ("new_non_generalizable", new_strength(Nm[0]), p3.new_non_generalizable[0]),
            ("new_non_generalizable_share", safe_div(new_strength(Nm[0]), new_strength(Nm[0]) + new_strength(Gm[0])),
             p3.share[0]))]
        used = p3 if clear else p3s
        p3ev = {"n_checkpoints": int(E_s.size), "nongen_share": r.nongen_share, "learn_tol": r.learn_tol,
                "share_by_step": {int(e): float(v) for e, v in zip(steps, used.share[0])},
                "start_epoch": int(used.epoch[0]) if used.found[0] else None,
                "min_share_after_start": float(used.min_share_after[0]),
                "learned_after": bool(used.learned_anything[0])}
    if clear:
        p1_end = pk
        boundaries["phase1_end"] = p1_end
        phases.append(Phase("phase1", int(U[0]), p1_end))
        end_epoch = int(U[-1])
        head = (f"H-bar rises by {rise:.3f} to its peak {float(p1.peak[0]):.3f} at epoch {p1_end} (end of phase 1) "
                f"and falls by {fall:.3f} after it")
        if p3 is not None and p3.found[0]:
            p3e = int(p3.epoch[0])
            boundaries["phase3_start"] = p3e
            s2, e2 = next_after(p1_end), prev_before(p3e)
            if s2 is not None and e2 is not None and s2 <= e2:
                phases.append(Phase("phase2", s2, e2))
            phases.append(Phase("phase3", p3e, end_epoch))
            inside = [int(c) for c in E_h if p1_end < c < p3e]
            three = len(inside) >= r.min_phase2_checkpoints
            phase2 = {"checkpoints_inside": inside, "needed": r.min_phase2_checkpoints, "resolved": three}
            tail = (f"from epoch {p3e} on (start of phase 3) the newly learned salient strength is mostly "
                    f"non-generalizable (non-generalizable share >= {r.nongen_share:g} at every step after it, lowest "
                    f"{float(p3.min_share_after[0]):.2f})")
            if three:
                message = f"three phases: {head}; {tail}"
            else:
                message = (f"phases 1 and 3 seen, phase 2 unresolved: {head}; {tail}; but "
                           f"{_count(len(inside), 'extracted checkpoint')} strictly between the end of phase 1 "
                           f"(epoch {p1_end}) and the start of phase 3 (epoch {p3e})"
                           + (f" ({', '.join(map(str, inside))})" if inside else "")
                           + f", and phase 2 needs at least {r.min_phase2_checkpoints} to be observed: extract more "
                           "checkpoints between them (checkpoints.refine, or a denser checkpoints.schedule)")
        else:
            s2 = next_after(p1_end)
            if s2 is not None:
                phases.append(Phase("phase2", s2, end_epoch))
            why = _why_no_phase3(p3, strengths[1] if strengths is not None else None, r, after=p1_end)
            message = f"phases 1-2: {head}; phase 3 not reached ({why})"
    evidence: dict[str, Any] = {"notes": notes, "h_bar": hev, "phase3": p3ev}

    # ---------------------------------------------------------------- gap (evidence only)
    gev: dict[str, Any] = {}
    if test is not None and train is not None:
        both = test.index.intersection(train.index)
        if len(both) >= 1:
            E_g = both.to_numpy().astype(np.int64)
            gap = test.reindex(both).to_numpy(float) - train.reindex(both).to_numpy(float)
            g = gap_onset_rule(E_g, gap, r)
            series.append(pd.DataFrame({"epoch": E_g, "quantity": "gap", "raw": gap, "smoothed": g.smoothed}))
            gev = {"start": g.start, "min": g.min, "max": g.max, "end": g.end, "widening": g.widening,
                   "onset_epoch": g.onset_epoch}
            if boundaries["phase3_start"] is not None:
                sel = E_g >= boundaries["phase3_start"]
                if sel.any():
                    gev["at_phase3_start"] = float(g.smoothed[np.argmax(sel)])
    evidence["gap"] = gev

    # ---------------------------------------------------------------- two phases
    two_clear = False
    tp_boot: tuple[np.ndarray, np.ndarray, np.ndarray, str] | None = None
    src_frame = order_distribution
    if src_frame is None and order_strengths is not None and "generalizable" not in order_strengths.columns:
        src_frame = order_strengths  # an order_distribution table passed as the third argument
    if src_frame is None:
        two_msg = ("two-phase rule skipped: it needs the all-interactions order_distribution table "
                   "(pass order_distribution=...)")
    else:
        ids_o, E_o, T_o, _ = _strength_arrays(src_frame, r.strength_split, "order_distribution", False)
        S = nan_mean(T_o, axis=0)  # mean over samples (one pseudo-sample for split-mean tables)
        tp = two_phase_rule(E_o, np.nan_to_num(S), r)
        if R > 0 and "sample" in src_frame.columns and ids_o.size >= 2:
            tp_boot = _two_phase_bootstrap(ids_o, E_o, T_o, ids, W, valid, r)
        E_x = tp.epochs
        tev: dict[str, Any] = {"statistic": r.two_phase_statistic, "high_order_min": tp.high_order_min,
                               "n": int(S.shape[1]), "n_checkpoints": int(tp.values.size),
                               "source": "order_distribution (all interactions)"}
        if tp.values.size >= 3:
            series.append(pd.DataFrame({"epoch": E_x, "quantity": r.two_phase_statistic, "raw": tp.values,
                                        "smoothed": tp.smoothed}))
            for q, v in (("high_order_share", tp.high_order_share), ("high_order_strength", tp.high_order_strength)):
                if q != r.two_phase_statistic:
                    series.append(pd.DataFrame({"epoch": E_x, "quantity": q, "raw": v, "smoothed": smooth(v, w)}))
            q = tp.min_index
            tev.update({"start": float(tp.smoothed[0]), "min": float(tp.smoothed[q]), "min_epoch": int(E_x[q]),
                        "end": float(tp.smoothed[-1]), "drop": tp.drop, "rise": tp.rise, "noise_sd": tp.noise_sd,
                        "threshold": tp.threshold,
                        "high_order_share": {"start": float(tp.high_order_share[0]), "at_min": float(tp.high_order_share[q]),
                                             "end": float(tp.high_order_share[-1])},
                        "high_order_strength": {"start": float(tp.high_order_strength[0]),
                                                "at_min": float(tp.high_order_strength[q]),
                                                "end": float(tp.high_order_strength[-1])}})
        if tp.found:
            two_clear = True
            turn = int(tp.epoch)
            boundaries["two_phase_turn"] = turn
            phases.append(Phase("two_phase_1", int(U[0]), turn))
            s2 = next_after(turn)
            if s2 is not None:
                phases.append(Phase("two_phase_2", s2, int(U[-1])))
            hs = tev["high_order_strength"]
            two_msg = (f"two phases: the {r.two_phase_statistic} (orders >= {tp.high_order_min}) drops by {tp.drop:.3f} "
                       f"to its minimum at epoch {turn} and rises by {tp.rise:.3f} after it (high-order strength "
                       f"{hs['start']:.3g} -> {hs['at_min']:.3g} -> {hs['end']:.3g})")
            onset = gev.get("onset_epoch")
            if onset is not None:
                tev["gap_onset_epoch"] = onset
                tev["turn_minus_gap_onset"] = turn - onset
                two_msg += f"; the train-test loss gap starts widening at epoch {onset} ({turn - onset:+d} epochs)"
        else:
            two_msg = "no clear two-phase turn: " + "; ".join(tp.why)
        evidence["two_phase"] = tev

    # ---------------------------------------------------------------- early stopping
    tl_epoch = None
    if r.early_stopping == "min_test_loss":
        if test is None or not len(test):
            split_names = sorted(map(str, losses.columns))
            raise InputError(f"training has no 'test' split rows (splits: {split_names}); "
                             "early_stopping='min_test_loss' needs the test loss")
        ls = smooth(test.to_numpy(float), w)
        tl_epoch = int(test.index[int(np.argmin(ls))])
        evidence["test_loss"] = {"min": float(ls.min()), "min_epoch": tl_epoch, "start": float(ls[0]),
                                 "end": float(ls[-1]), "improves": bool(ls.min() < ls[0])}
    stop = stop_rule(r.early_stopping, int(U[-1]), p1, p3, p3s, test_loss_epoch=tl_epoch,
                     snap_to=E_h if r.snap_to_checkpoints else None)
    case = int(stop.case[0])
    rule_epoch, epoch = int(stop.rule_epoch[0]), int(stop.epoch[0])
    if case == 0:
        reason = (f"start of phase 3: after epoch {rule_epoch} the newly learned salient strength is mostly "
                  f"non-generalizable (share >= {r.nongen_share:g}) while H-bar has fallen from its peak "
                  f"{float(p1.peak[0]):.3f}; later training mainly adds non-generalizable interactions")
        if "at_phase3_start" in gev:
            reason += f" (train-test gap {gev['at_phase3_start']:.4f} here, {gev['end']:.4f} at the end)"
    elif case == 1:
        reason = (f"phase 3 not reached ({_why_no_phase3(p3, strengths[1], r, after=pk)}); "
                  "keep the last checkpoint")
    elif case == 2:
        reason = (f"no clear phase structure; fallback: the first checkpoint after which the newly learned salient "
                  f"strength is mostly non-generalizable (phase-3 rule from the first checkpoint): epoch {rule_epoch}")
    elif case == 3:
        reason = (f"no clear phase structure, and no start of phase 3 from the first checkpoint on "
                  f"({_why_no_phase3(p3s, strengths[1], r, after=None)}); fallback: keep the last checkpoint")
    elif case == 4:
        tev_l = evidence["test_loss"]
        reason = f"lowest smoothed test loss ({tev_l['min']:.4f} at epoch {tl_epoch})"
        if not tev_l["improves"]:
            reason += "; the test loss never improved on its first value"
    elif case == 5:
        reason = (f"end of phase 1: H-bar peaks ({float(p1.peak[0]):.3f}); later checkpoints learn less generalizable "
                  "interactions")
    elif case == 6:
        reason = (f"no clear phases; fallback: the highest smoothed H-bar ({float(p1.peak[0]):.3f} at epoch "
                  f"{rule_epoch}), although its peak is not significant")
    else:
        reason = ("phase 3 cannot be determined without the order_strengths table; fallback: keep the last checkpoint")
    if epoch != rule_epoch:
        reason += f"; moved from epoch {rule_epoch} to the nearest analysed checkpoint {epoch}"

    # ---------------------------------------------------------------- bootstrap summaries
    lvl = r.ci_level
    b_ci: dict[str, list[int] | None] = {"phase1_end": None, "phase3_start": None, "two_phase_turn": None}
    support = None
    stop_ci = None
    if R > 0:
        v = valid[1:]
        nv = int(v.sum())
        f1 = p1.found[1:] & v
        b_ci["phase1_end"] = _ci(p1.epoch[1:], f1, lvl)
        f3 = f1 & p3.found[1:] if p3 is not None else np.zeros(R, dtype=bool)
        if p3 is not None:
            b_ci["phase3_start"] = _ci(p3.epoch[1:], f3, lvl)
            # three phases in a resample: phases 1 and 3 found, with enough extracted checkpoints between them
            n_inside = (np.searchsorted(E_h, p3.epoch[1:], side="left")
                        - np.searchsorted(E_h, p1.epoch[1:], side="right"))
            support = float((f3 & (n_inside >= r.min_phase2_checkpoints)).sum() / max(nv, 1))
        stop_ci = _ci(stop.epoch[1:], v, lvl)
        two_share = None
        if tp_boot is not None:
            t_found, t_epoch, t_valid, t_how = tp_boot
            ft = t_found & t_valid
            b_ci["two_phase_turn"] = _ci(t_epoch, ft, lvl)
            two_share = float(ft.sum() / max(int(t_valid.sum()), 1))
        evidence["bootstrap"] = {
            "n_resamples": R, "seed": r.seed, "level": lvl, "interval": "percentile (ends on observed epochs)",
            "resampled": f"the {N} explained samples of split {r.h_bar_split!r}, with replacement, the same ids at "
                         "every checkpoint (H-bar and order strengths)",
            "void_resamples": R - nv, "phase1_found_share": float(f1.sum() / max(nv, 1)), "three_phase_share": support,
            "stop_epoch_counts": {int(k): int(c) for k, c in zip(*np.unique(stop.epoch[1:][v], return_counts=True))},
            "two_phase_found_share": two_share,
            "two_phase_resampled": (tp_boot[3] if tp_boot is not None else None),
            "not_resampled": ((["two_phase_turn (no per-sample order_distribution table: pass the "
                                "order_distribution_samples table as order_distribution=)"] if tp_boot is None else [])
                              + ["training losses (one curve per run)"]),
        }
    early = {"epoch": epoch, "rule_epoch": rule_epoch, "rule": r.early_stopping, "reason": reason, "ci": stop_ci}

    rules_text: dict[str, Any] = {
        "parameters": asdict(r),
        "smoothing": f"centred moving mean over {w} checkpoints (shrinking at the ends)",
        "noise": "sigma = 1.4826 * median|second difference| / sqrt(6) of the raw series; a rise/fall is real if it "
                 "exceeds noise_factor * sigma / sqrt(smooth_window) * sqrt(2 ln C)",
        "phase1_end": "peak of the smoothed mean H-bar; clear if it rises to the peak by >= max(min_rise, noise "
                      "threshold), falls after it by >= max(min_fall, noise threshold), peak interior",
        "phase3_start": "first checkpoint after the H-bar peak (with >= min_tail checkpoints after it) after which every "
                        "counted step between consecutive checkpoints learns mostly non-generalizable salient strength "
                        "(sum over orders of the growth of non-generalizable strength >= nongen_share of the growth "
                        "of all salient strength, smoothed over smooth_window steps; steps learning < learn_tol of the "
                        "largest step are not counted)",
        "two_phase_turn": f"minimum of the smoothed {r.two_phase_statistic} of the all-interactions order strengths (type "
                          "all); clear if it drops to and rises from it by >= max(min_rel_change*max|statistic|, noise "
                          "threshold)",
        "gap_onset": "first epoch after the smoothed train-test gap's minimum where it exceeds the minimum by "
                     "gap_frac of its later rise (evidence only)",
        "early_stopping": _STOP_TEXT[r.early_stopping],
        "uses_test_loss": r.early_stopping == "min_test_loss",
        "bootstrap": f"{R} resamples of the explained samples (seed {r.seed}), percentile intervals at level {lvl}",
    }
    order = {"phase1": 0, "phase2": 1, "phase3": 2, "two_phase_1": 3, "two_phase_2": 4}
    phases.sort(key=lambda ph: order[ph.name])
    return PhaseReport(
        phases=tuple(phases), clear=clear, message=message, two_phase_clear=two_clear, two_phase_message=two_msg,
        boundaries=boundaries, early_stopping=early, rules=rules_text, evidence=evidence,
        series=pd.concat(series, ignore_index=True), boundaries_ci=b_ci, three_phase_support=support,
        checkpoints=tuple(int(c) for c in E_h_all), three_phases=bool(phase2.get("resolved", False)), phase2=phase2,
    )
