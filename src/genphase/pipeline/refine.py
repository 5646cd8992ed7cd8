"""Resolved boundaries: which saved epochs to extract next so that each reported boundary's extracted neighbours
become the saved epochs right next to it (``checkpoints.refine``; docs/analysis.md, "Resolved boundaries").

Pure functions of the verdict (``phases.json``'s mapping) and the epoch lists; the driver
(:func:`genphase.pipeline.driver.run_plans`) runs the extraction and the analysis again until nothing is left.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["BOUNDARIES", "MAX_ROUNDS", "refinement", "next_epochs"]

#: The boundaries that are resolved (the raw verdict's).
BOUNDARIES: tuple[str, ...] = ("phase1_end", "phase3_start")
#: At most this many rounds of extraction after the schedule's (each adds the epochs around every unresolved boundary).
MAX_ROUNDS = 6
#: A gap with more unextracted saved epochs than this is bisected (its ends and middle), not filled.
_FILL = 4


def _between(saved: Sequence[int], lo: int | None, hi: int | None) -> list[int]:
    return [e for e in saved if (lo is None or e > lo) and (hi is None or e < hi)]


def refinement(phases: Mapping[str, Any], extracted: Sequence[int], saved: Sequence[int]) -> dict[str, Any]:
    """``phases.json`` ``refinement``: per reported boundary, its extracted neighbours (``before``, ``after``), the
    saved epochs next to it (``saved_before``, ``saved_after``) and whether they coincide (``resolved``); with
    ``resolved`` overall and the saved epochs to extract next (``next``).

    >>> info = refinement({"boundaries": {"phase1_end": 5, "phase3_start": 8}}, [0, 1, 2, 3, 5, 8, 13], range(14))
    >>> info["boundaries"]["phase1_end"], info["resolved"], info["next"]
    ({'epoch': 5, 'before': 3, 'after': 8, 'saved_before': 4, 'saved_after': 6, 'resolved': False}, False, [4, 6, 7, 9, 10, 11, 12])
    >>> refinement({"boundaries": {"phase1_end": 5}}, [4, 5, 6], range(10))["resolved"]
    True
    """
    ext = sorted({int(e) for e in extracted})
    sav = sorted({int(e) for e in saved})
    out: dict[str, Any] = {"extracted": ext, "boundaries": {}, "next": []}
    todo: set[int] = set()
    for name in BOUNDARIES:
        b = (phases.get("boundaries") or {}).get(name)
        if b is None:
            continue
        b = int(b)
        before = max((e for e in ext if e < b), default=None)
        after = min((e for e in ext if e > b), default=None)
        s_before = max((e for e in sav if e < b), default=None)
        s_after = min((e for e in sav if e > b), default=None)
        out["boundaries"][name] = {"epoch": b, "before": before, "after": after, "saved_before": s_before,
                                   "saved_after": s_after, "resolved": before == s_before and after == s_after}
        for gap in (_between(sav, before, b), _between(sav, b, after)):
            todo.update(gap if len(gap) <= _FILL else (gap[0], gap[len(gap) // 2], gap[-1]))
    out["next"] = sorted(todo - set(ext))
    out["resolved"] = all(v["resolved"] for v in out["boundaries"].values())
    return out


def next_epochs(info: Mapping[str, Any]) -> list[int]:
    """The saved epochs to extract in the next round (empty: every reported boundary is resolved).

    >>> next_epochs({"next": [4, 6]}), next_epochs({"next": []})
    ([4, 6], [])
    """
    return [int(e) for e in info.get("next", [])]
