"""Ground-truth games built from known AND and OR terms (test helpers)."""

from __future__ import annotations

import numpy as np


def planted_game(n: int, and_terms: dict[int, float], or_terms: dict[int, float], bias: float = 0.0) -> np.ndarray:
    """v[S] = bias + sum_{T subset S} and[T] + sum_{T meets S} or[T], by brute force over masks."""
    S = np.arange(1 << n)
    v = np.full(1 << n, float(bias))
    for T, w in and_terms.items():
        v += w * ((S & T) == T)
    for T, w in or_terms.items():
        v += w * ((S & T) != 0)
    return v


def random_planted(rng: np.random.Generator, n: int, k_and: int = 3, k_or: int = 3, min_order: int = 2):
    """A random sparse AND-OR game with distinct supports of order >= min_order."""
    size = 1 << n
    orders = np.array([bin(s).count("1") for s in range(size)])
    cand = np.nonzero(orders >= min_order)[0]
    picks = rng.choice(cand, k_and + k_or, replace=False)
    signs = rng.choice([-1.0, 1.0], k_and + k_or)
    mags = rng.uniform(0.5, 2.0, k_and + k_or)
    and_terms = {int(t): float(s * m) for t, s, m in zip(picks[:k_and], signs[:k_and], mags[:k_and])}
    or_terms = {int(t): float(s * m) for t, s, m in zip(picks[k_and:], signs[k_and:], mags[k_and:])}
    return and_terms, or_terms
