"""Phase detection from a checkpoint series and the early-stopping recommendation.

Rules (parameters exposed as keywords):

* Smoothing: centred moving median over ``window`` checkpoints of the mean H-bar (over samples,
  both splits) and of the test loss.
* Three phases (the paper): phase 1 ends at the checkpoint of the peak of smoothed H-bar; phase 3
  starts at the first checkpoint after the peak from which the smoothed test loss never again
  improves by more than ``loss_tol`` (relative) on its running minimum; phase 2 lies between.
  The structure is *clear* only when H-bar rises by at least ``min_rise`` from the start to the
  peak and falls by at least ``min_fall`` from the peak to the end; otherwise no boundaries are
  reported and ``clear`` is False with the reason.
* Two phases (predecessor): the turning point is the checkpoint where the train-test loss gap
  (smoothed) starts widening: the last checkpoint with gap <= ``gap_tol`` * final gap.
* Early stopping: the checkpoint with the lowest smoothed test loss, and, when phases are
  clear, the end of phase 1 as the point after which non-generalizable interactions grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["PhaseReport", "detect_phases", "smooth"]


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median (edges use the available neighbours); NaNs ignored."""
    x = np.asarray(x, dtype=float)
    if window <= 1 or x.size < 3:
        return x.copy()
    h = window // 2
    idx = np.arange(x.size)
    lo = np.clip(idx - h, 0, x.size)
    hi = np.clip(idx + h + 1, 0, x.size)
    return np.array([np.nanmedian(x[a:b]) if np.any(np.isfinite(x[a:b])) else np.nan for a, b in zip(lo, hi)])


@dataclass
class PhaseReport:
    """Detected phases with the evidence used; ``to_frame`` matches metrics/phases.parquet."""

    epochs: list[int]
    clear: bool
    reason: str
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)
    early_stopping: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)

    def to_frame(self):
        import pandas as pd

        rows = [{"phase": k, "start_epoch": int(a), "end_epoch": int(b)} for k, (a, b) in self.phases.items()]
        return pd.DataFrame(rows, columns=["phase", "start_epoch", "end_epoch"]).astype(
            {"start_epoch": "int64", "end_epoch": "int64"}
        )

    def to_dict(self) -> dict[str, Any]:
        b = {k: [int(a), int(c)] for k, (a, c) in self.phases.items()}
        return {
            "clear": bool(self.clear),
            "reason": self.reason,
            "boundaries": b,
            "early_stopping": self.early_stopping,
            "recommendation": self.early_stopping,
            "rules": self.rules,
            "evidence": self.evidence,
        }


def detect_phases(
    training,
    h_bar,
    order_strengths=None,
    *,
    window: int = 3,
    min_rise: float = 0.05,
    min_fall: float = 0.05,
    loss_tol: float = 0.01,
    gap_tol: float = 0.1,
) -> PhaseReport:
    """Detect the three phases (and the two-phase turning point) from tidy tables.

    ``training``: columns ``epoch, split, loss`` (model rows); ``h_bar``: ``checkpoint, sample,
    split, h_bar``. ``order_strengths`` is accepted for future rules and recorded as evidence.
    """
    import pandas as pd

    if training is None or len(training) == 0 or h_bar is None or len(h_bar) == 0:
        raise InputError("phase detection needs a non-empty training log and H-bar series")
    hb = h_bar.groupby("checkpoint")["h_bar"].mean().sort_index()
    epochs = [int(e) for e in hb.index]
    rules = {"window": window, "min_rise": min_rise, "min_fall": min_fall, "loss_tol": loss_tol, "gap_tol": gap_tol,
             "phase1_end": "peak of smoothed mean H-bar",
             "phase3_start": "first checkpoint after the peak from which the smoothed test loss stops improving",
             "two_phase_turn": "last checkpoint whose smoothed train-test loss gap is <= gap_tol x the final gap",
             "early_stopping": "checkpoint of the lowest smoothed test loss"}
    tr = training.pivot_table(index="epoch", columns="split", values="loss").sort_index()
    tr = tr.reindex(epochs).interpolate(limit_direction="both")
    test = smooth(tr["test"].to_numpy(), window)
    train = smooth(tr["train"].to_numpy(), window) if "train" in tr else np.full(len(epochs), np.nan)
    h = smooth(hb.to_numpy(), window)
    ev: dict[str, Any] = {"epochs": epochs, "h_bar_smoothed": [None if not np.isfinite(x) else float(x) for x in h],
                          "test_loss_smoothed": [float(x) for x in test]}
    best = int(np.nanargmin(test))
    early = {"epoch": epochs[best], "reason": f"lowest smoothed test loss ({test[best]:.4f}) over the checkpoints"}
    phases: dict[str, tuple[int, int]] = {}
    # two-phase turning point
    gap = test - train
    if np.all(np.isfinite(gap)) and gap[-1] > 0:
        ok = np.nonzero(gap <= gap_tol * gap[-1])[0]
        if ok.size and ok[-1] < len(epochs) - 1:
            turn = int(ok[-1])
            phases["two_phase_1"] = (epochs[0], epochs[turn])
            phases["two_phase_2"] = (epochs[turn], epochs[-1])
            ev["loss_gap_smoothed"] = [float(x) for x in gap]
    if len(epochs) < 3 or not np.any(np.isfinite(h)):
        return PhaseReport(epochs, False, "too few checkpoints or no finite H-bar to detect phases", phases, early, ev, rules)
    peak = int(np.nanargmax(h))
    rise = h[peak] - h[0] if np.isfinite(h[0]) else np.nan
    fall = h[peak] - h[-1]
    ev.update({"peak_epoch": epochs[peak], "rise": float(rise) if np.isfinite(rise) else None, "fall": float(fall)})
    if not (np.isfinite(rise) and rise >= min_rise and fall >= min_fall and 0 < peak < len(epochs) - 1):
        reason = (f"no clear three-phase shape: H-bar rises by {rise:.3f} to its peak at epoch {epochs[peak]} and falls "
                  f"by {fall:.3f} after it (rules need >= {min_rise} and >= {min_fall})")
        return PhaseReport(epochs, False, reason, phases, early, ev, rules)
    # phase 3: after the peak, the test loss stops improving on its running minimum
    start3 = len(epochs) - 1
    for j in range(peak + 1, len(epochs)):
        future_best = np.nanmin(test[j:])
        if future_best >= test[j] * (1 - loss_tol) or future_best >= np.nanmin(test[: j + 1]) * (1 - loss_tol):
            start3 = j
            break
    phases["phase1"] = (epochs[0], epochs[peak])
    phases["phase2"] = (epochs[peak], epochs[start3])
    phases["phase3"] = (epochs[start3], epochs[-1])
    early = {"epoch": epochs[best], "reason": early["reason"] + f"; H-bar peaks at epoch {epochs[peak]}, after which "
             "the model learns mostly non-generalizable interactions", "h_bar_peak_epoch": epochs[peak]}
    return PhaseReport(epochs, True, "H-bar rises, peaks and falls by more than the thresholds", phases, early, ev, rules)
