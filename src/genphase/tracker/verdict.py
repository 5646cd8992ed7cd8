"""The verdict of a Tracker: the phase the last checkpoint is in and whether to stop, read off the engine's phase report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis import PhaseReport

__all__ = ["Verdict", "PhaseRule", "verdict_of", "default_phase_rule"]


@dataclass(frozen=True)
class Verdict:
    """What a phase rule concludes from the series measured so far.

    - ``phase``: 0 (not determined yet), 1, 2 or 3: the phase the last checkpoint is in.
    - ``stop``: the advice to stop training (phase 3 has begun).
    - ``stop_epoch``: the checkpoint to keep (``None`` while ``stop`` is False).
    - ``message``: one sentence saying why.
    - ``report``: JSON-serialisable details, written to ``metrics/phases.json``.
    - ``phases``: ``phase, start_epoch, end_epoch`` frame for ``metrics/phases.parquet``.

    >>> v = Verdict(phase=3, stop=True, stop_epoch=12, message="phase 3 from epoch 12")
    >>> v.stop, v.stop_epoch, v.report
    (True, 12, {})
    """

    phase: int
    stop: bool
    stop_epoch: int | None
    message: str
    report: dict[str, Any] = field(default_factory=dict)
    phases: pd.DataFrame | None = None


#: A phase rule: ``(training, h_bar, order_strengths) -> Verdict`` on the tidy tables of
#: docs/run-directory.md (``training`` holds only ``model == "model"`` rows).
PhaseRule = Callable[[pd.DataFrame, pd.DataFrame, "pd.DataFrame | None"], Verdict]


def verdict_of(report: "PhaseReport") -> Verdict:
    """The verdict a :class:`~genphase.analysis.PhaseReport` gives on the series so far.

    Phase 3 (and the stop advice) once the report has ``phase3_start``; phase 2 once it has the end of
    phase 1 (the H-bar peak followed by a significant fall); phase 1 while H-bar has risen significantly
    but not yet fallen; 0 otherwise. ``stop_epoch`` is the report's early-stopping checkpoint. The report
    needs ``min_tail`` checkpoints after the start of phase 3 before it can report it, so the advice comes
    that many measurements late.

    >>> import pandas as pd
    >>> from genphase.analysis import detect_phases
    >>> tr = pd.DataFrame({"epoch": [0, 1, 2, 3, 4], "split": "test", "loss": [5.0, 4, 3, 2, 1]})
    >>> hb = pd.DataFrame({"checkpoint": [0, 1, 2, 3, 4] * 2, "sample": [0] * 5 + [1] * 5, "split": "train",
    ...                    "h_bar": [0.1, 0.5, 0.9, 0.5, 0.1] * 2})
    >>> v = verdict_of(detect_phases(tr, hb))  # H-bar peaks at epoch 2, then falls: phase 2
    >>> v.phase, v.stop, v.stop_epoch
    (2, False, None)
    """
    b = report.boundaries
    hev = report.evidence.get("h_bar", {})
    if b.get("phase3_start") is not None:
        phase = 3
    elif b.get("phase1_end") is not None:
        phase = 2
    elif "rise" in hev and hev["rise"] >= hev["rise_threshold"]:
        phase = 1
    else:
        phase = 0
    stop = phase == 3
    return Verdict(phase=phase, stop=stop, stop_epoch=int(report.early_stopping["epoch"]) if stop else None,
                   message=report.message, report=report.to_dict(), phases=report.to_frame())


def default_phase_rule(training: pd.DataFrame, h_bar: pd.DataFrame, order_strengths: pd.DataFrame | None) -> Verdict:
    """:func:`verdict_of` :func:`genphase.analysis.detect_phases` with its default rules, on the tidy tables.

    (A tracker with no ``phase_rule`` takes the engine's verdict instead, which also reads the order
    distribution and the run's ``analysis`` settings, as ``genphase run`` does.)

    >>> import pandas as pd
    >>> tr = pd.DataFrame({"epoch": [0, 1, 2, 3, 4], "split": "test", "loss": [5.0, 4, 3, 2, 1]})
    >>> hb = pd.DataFrame({"checkpoint": [0, 1, 2, 3, 4] * 2, "sample": [0] * 5 + [1] * 5, "split": "train",
    ...                    "h_bar": [0.1, 0.5, 0.9, 0.5, 0.1] * 2})
    >>> v = default_phase_rule(tr, hb, None)  # H-bar peaks at epoch 2, then falls: phase 2
    >>> v.phase, v.stop, v.stop_epoch
    (2, False, None)
    """
    from ..analysis import detect_phases

    return verdict_of(detect_phases(training, h_bar, order_strengths))
