"""A run's log lines: the stages numbered from one list, and throughput rates.

>>> stage_title("extract"), STAGES.index("analysis") + 1
('stage 3/5 extract', 4)
>>> _rate(1500, 2.0, "masked inputs")
'750 masked inputs/s'
"""

from __future__ import annotations

__all__ = ["STAGES", "stage_title"]

#: The stages of ``genphase run``, in order: the model's training, the K baselines', the interactions of every
#: checkpoint and baseline (with the explained samples), the analysis engine's tables, the report. Log lines
#: and docstrings number them from this list.
STAGES: tuple[str, ...] = ("train", "baselines", "extract", "analysis", "report")


def stage_title(name: str) -> str:
    """``"stage i/N name"``, the head of a stage's first log line.

    >>> stage_title("train")
    'stage 1/5 train'
    """
    return f"stage {STAGES.index(name) + 1}/{len(STAGES)} {name}"


def _rate(count: float, seconds: float, unit: str) -> str:
    r = count / max(seconds, 1e-9)
    if r >= 1e6:
        return f"{r / 1e6:.2f}M {unit}/s"
    if r >= 1e3:
        return f"{r / 1e3:.1f}k {unit}/s"
    return f"{r:.0f} {unit}/s" if r >= 100 else f"{r:.3g} {unit}/s"
