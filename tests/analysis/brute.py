"""Plain-loop recomputations (no numpy vectorisation) for the issue-18 analysis tests."""

from __future__ import annotations

import genphase as gp


def salient_terms(res: gp.AndOrInteractions, i: int, tau: float = 0.05) -> dict[tuple[str, int], float]:
    """``{(type, mask): effect}`` of the salient terms of flat sample ``i``: singletons merged into AND,
    threshold ``tau`` times that sample's max |I| (merged view), the empty set never salient."""
    size = 1 << res.n
    a = res.and_effects.reshape(-1, size)[i]
    o = res.or_effects.reshape(-1, size)[i]
    eff: dict[tuple[str, int], float] = {}
    for T in range(1, size):
        av, ov = float(a[T]), float(o[T])
        if bin(T).count("1") == 1:
            av, ov = av + ov, 0.0
        eff[("and", T)] = av
        eff[("or", T)] = ov
    thr = tau * max(abs(v) for v in eff.values())
    return {key: v for key, v in eff.items() if abs(v) > thr}


def shared(terms: dict, other: dict, key) -> bool:
    """Eq. 7: ``key`` is salient in ``other`` with the same sign as in ``terms``."""
    return key in other and terms[key] * other[key] > 0


def order(key) -> int:
    return bin(key[1]).count("1")
