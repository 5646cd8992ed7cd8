"""Order distribution of interactions (the two-phase view) and the weighted Jaccard similarity.

Strength per order m and sign, over ALL interactions (salient or not), AND and OR apart or
together; normalisations (SCIENCE.md section 7): raw sums, division by the mean
``|v[N] - v[{}]|``, and sum-to-one over orders and signs.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..interactions import AndOrInteractions
from ..transforms import subset_orders

__all__ = ["order_distribution", "weighted_jaccard", "order_jaccard"]


def order_distribution(res: AndOrInteractions, merge_singletons: bool = True) -> dict[str, np.ndarray]:
    """Per-sample signed strength per order: ``pos`` and ``neg`` arrays ``[*B, 2, n+1]`` (types AND, OR).

    ``pos[..., t, m] = sum_{|T| = m} max(I_t[T], 0)``, ``neg`` likewise with ``min`` (<= 0).
    """
    eff = (res.merged() if merge_singletons else res).effects()
    orders = subset_orders(res.n)
    onehot = (orders[:, None] == np.arange(res.n + 1)[None, :]).astype(float)
    return {"pos": np.maximum(eff, 0) @ onehot, "neg": np.minimum(eff, 0) @ onehot}


def weighted_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Weighted Jaccard similarity of aligned signed vectors along the last axis.

    ``J = sum[min(a+, b+) + min(a-, b-)] / sum[max(a+, b+) + max(a-, b-)]`` with ``x+ = max(x, 0)``
    and ``x- = max(-x, 0)``; 1 for two all-zero vectors.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"weighted_jaccard needs aligned vectors, got shapes {a.shape} and {b.shape}")
    ap, an, bp, bn = np.maximum(a, 0), np.maximum(-a, 0), np.maximum(b, 0), np.maximum(-b, 0)
    num = (np.minimum(ap, bp) + np.minimum(an, bn)).sum(-1)
    den = (np.maximum(ap, bp) + np.maximum(an, bn)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def order_jaccard(train: AndOrInteractions, test: AndOrInteractions, merge_singletons: bool = True) -> np.ndarray:
    """Similarity of the order-m interaction distributions of training vs testing samples.

    For each type (AND, OR) and order m, the vector of order-m effects summed over samples
    (aligned by subset ``T``) of the training samples is compared with that of the testing
    samples by :func:`weighted_jaccard`. Returns ``[2, n+1]`` (order 0 is 1 by convention).
    """
    if train.n != test.n:
        raise InputError(f"train and test interactions must have the same n, got {train.n} and {test.n}")
    n = train.n
    a = (train.merged() if merge_singletons else train).effects().reshape(-1, 2, 1 << n).mean(0)
    b = (test.merged() if merge_singletons else test).effects().reshape(-1, 2, 1 << n).mean(0)
    orders = subset_orders(n)
    out = np.ones((2, n + 1))
    for m in range(1, n + 1):
        sel = orders == m
        out[:, m] = weighted_jaccard(a[:, sel], b[:, sel])
    return out
