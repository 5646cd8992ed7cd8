"""Chance level of H-bar, without training: the ``order_permutation`` null.

How much of a model's H-bar would any set of baselines with the same order profile give? Low-order effects are
salient, and mostly of one sign, in most trained networks, so a model whose strength sits in low orders agrees
with any baseline more than one whose strength sits in high orders, whatever the interactions are.

The null moves every baseline effect, per sample, to a random other subset **of the same order and type**:
one permutation per sample, order and type, **shared by all K baselines**. So each baseline keeps its order
profile, its signs and its salient set's size per order, and the baselines keep their agreement with each
other (the any-of-K union is not inflated), while their match with the model's subsets is destroyed. The
model's H-bar against the permuted baselines, averaged over ``draws`` permutations, is the null. The
baselines are taken in the merged view (one-variable OR summed into AND), as every H-bar of genphase is.

>>> import genphase as gp
>>> rng = np.random.default_rng(0)
>>> base = gp.extract_and_or(rng.normal(size=(4, 16)))       # 4 samples, n = 4
>>> null = order_permutation_null(base, [base], draws=8, seed=0)
>>> null.shape, bool(np.all(null <= 1.0))                     # [draws, samples]; H-bar of a model equal to its baseline is 1
((8, 4), True)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..interactions import AndOrInteractions
from ..transforms import subset_orders
from .generalization import generalization_power

__all__ = ["order_permutations", "permute_effects", "order_permutation_null", "ORDER_NULL_DRAWS"]

#: Default number of permutation draws of the order-permutation null (at least 20).
ORDER_NULL_DRAWS = 20


def order_permutations(n: int, batch: int, rng: np.random.Generator) -> np.ndarray:
    """``[batch, 2, 2**n]`` int: per sample and type (AND, OR), a permutation of the ``2**n`` subsets that maps
    every subset to one of the same order (the empty set to itself).

    >>> p = order_permutations(3, 2, np.random.default_rng(0))
    >>> orders = subset_orders(3)
    >>> p.shape, bool(np.all(orders[p] == orders))  # orders are kept
    ((2, 2, 8), True)
    """
    if batch < 0 or n < 1:
        raise InputError(f"order_permutations needs n >= 1 and batch >= 0, got n={n}, batch={batch}")
    orders = subset_orders(n)
    out = np.broadcast_to(np.arange(2 ** n), (batch, 2, 2 ** n)).copy()
    for k in range(1, n + 1):  # over the n orders (not subsets): each order's subsets shuffled in one call
        idx = np.flatnonzero(orders == k)
        out[..., idx] = rng.permuted(np.broadcast_to(idx, (batch, 2, idx.size)), axis=-1)
    return out


def permute_effects(res: AndOrInteractions, perm: np.ndarray) -> AndOrInteractions:
    """``res`` in the merged view with its AND and OR effects moved by ``perm`` (``[B, 2, 2**n]``, from
    :func:`order_permutations`): the effect of subset ``S`` goes to ``perm[b, t, S]``.

    >>> import genphase as gp
    >>> r = gp.AndOrInteractions.from_effects(np.array([[0, 1.0, 2.0, 3.0]]), np.zeros((1, 4)))  # n = 2
    >>> permute_effects(r, np.array([[[0, 2, 1, 3], [0, 1, 2, 3]]])).and_effects.tolist()  # the singletons swap
    [[0.0, 2.0, 1.0, 3.0]]
    """
    merged = res.merged()
    a = np.asarray(merged.and_effects, dtype=np.float64).reshape(-1, 2 ** res.n)
    o = np.asarray(merged.or_effects, dtype=np.float64).reshape(-1, 2 ** res.n)
    if perm.shape != (a.shape[0], 2, a.shape[1]):
        raise InputError(f"perm must have shape {(a.shape[0], 2, a.shape[1])} ([samples, 2 types, 2**n]), got {perm.shape}")
    rows = np.arange(a.shape[0])[:, None]
    pa, po = np.zeros_like(a), np.zeros_like(o)
    pa[rows, perm[:, 0]] = a
    po[rows, perm[:, 1]] = o
    return AndOrInteractions.from_effects(pa, po, np.asarray(res.bias).reshape(-1), variables=res.variables)


def order_permutation_null(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    draws: int = ORDER_NULL_DRAWS,
    seed: int = 0,
    eligible: Any = None,
) -> np.ndarray:
    """``[draws, B]``: per draw and explained sample, the model's H-bar against the K baselines with their effects
    permuted within order and type (one permutation per sample, order and type, shared by the K baselines; see
    the module docstring). NaN where the model has no salient interaction. Seeded: draw ``d`` uses
    ``numpy.random.default_rng([seed, d])``.
    """
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be an int >= 1 (permutations of the null; 20 or more for an interval), got {draws!r}")
    bases = [baselines] if isinstance(baselines, AndOrInteractions) else list(baselines)
    if not bases:
        raise InputError("the order-permutation null needs at least one baseline")
    nb = int(np.prod(model.batch_shape)) if model.batch_shape else 1
    flat = [_flat(b) for b in bases]
    out = np.empty((int(draws), nb))
    for d in range(int(draws)):  # over the draws (a handful): each one is batched over samples and subsets
        perm = order_permutations(model.n, nb, np.random.default_rng([int(seed), d]))
        permuted = [permute_effects(b, perm) for b in flat]
        out[d] = generalization_power(_flat(model), permuted, tau=tau, eligible=eligible).h_bar().reshape(-1)
    return out


def _flat(res: AndOrInteractions) -> AndOrInteractions:
    from .checkpoint import _flatten

    return _flatten(res)
