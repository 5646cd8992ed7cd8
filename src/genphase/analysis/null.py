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
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ..transforms import subset_orders
from ._common import check_compatible
from ._stats import bootstrap_weights, nan_mean, percentile_interval, safe_div
from .generalization import _h_bar, check_eligible
from .salience import salience

__all__ = ["order_permutations", "permute_effects", "order_permutation_null", "salient_signs", "ORDER_NULL_DRAWS", "NULLS",
           "NULL_COLUMNS", "NULL_SAMPLE_COLUMNS", "null_summary", "above_null"]

#: Default number of permutation draws of the order-permutation null (at least 20).
ORDER_NULL_DRAWS = 20
#: The chance levels of H-bar: ``order_permutation`` (the real baselines, effects moved within order and type) and
#: ``permuted_labels`` (K null baselines trained on the reference data with its labels permuted).
NULLS: tuple[str, str] = ("order_permutation", "permuted_labels")
#: Columns of ``metrics/h_bar_null.parquet``.
NULL_COLUMNS: tuple[str, ...] = ("checkpoint", "split", "null", "mean", "ci_low", "ci_high")
#: Columns of the per-sample null frame that :func:`null_summary` and :func:`above_null` read (``draw`` 0 only
#: for ``permuted_labels``).
NULL_SAMPLE_COLUMNS: tuple[str, ...] = ("checkpoint", "sample", "split", "null", "draw", "h_bar")


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


def salient_signs(model: AndOrInteractions, baselines: Sequence[AndOrInteractions] | AndOrInteractions, *,
                  tau: float = 0.05, absolute: float | None = None, eligible: Any = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The model's and the baselines' salient terms in the merged view, flat over samples:
    ``(effects [B, 2, 2**n], salient [B, 2, 2**n], signs [B, 2, 2**n] int8, baseline signs [K, B, 2, 2**n] int8,
    v [B])``; a sign is 0 where the term is not salient, and a baseline's is 0 for the samples it may not be
    compared with (``eligible``). ``v``: the model's output on the full input.

    >>> import genphase as gp
    >>> m = gp.AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0]]), np.array([[0, 0, 0, -1.0]]))
    >>> eff, sal, sign, bsign, v = salient_signs(m, [m])
    >>> sign.tolist(), bsign.shape
    ([[[0, 0, 0, 1], [0, 0, 0, -1]]], (1, 1, 2, 4))
    """
    model, bases = check_compatible(_flat(model), [_flat(b) for b in
                                                   ([baselines] if isinstance(baselines, AndOrInteractions) else baselines)])
    if not bases:
        raise InputError("at least one baseline is needed")
    nb = int(np.prod(model.batch_shape)) if model.batch_shape else 1
    elig = None if eligible is None else check_eligible(eligible, model.batch_shape, len(bases)).reshape(nb, -1)
    ms = salience(model, tau, absolute=absolute)
    m_eff, m_sal = ms.effects.reshape(nb, 2, -1), ms.mask.reshape(nb, 2, -1)
    signs = np.stack([np.where(b.mask, np.sign(b.effects), 0.0).reshape(nb, 2, -1)
                      for b in (salience(b, tau, absolute=absolute) for b in bases)]).astype(np.int8)
    if elig is not None:
        signs = np.where(elig.T[:, :, None, None], signs, 0).astype(np.int8)
    m_sign = np.where(m_sal, np.sign(m_eff), 0.0).astype(np.int8)
    v = np.asarray(model.values, dtype=np.float64).reshape(nb, -1)[:, -1]
    return m_eff, m_sal, m_sign, signs, v


def _permuted_signs(signs: np.ndarray, n: int, draws: int, seed: int):
    """Per draw ``d`` (``default_rng([seed, d])``), the baselines' signs ``[K, B, 2, 2**n]`` moved by one permutation
    per sample, order and type shared by the K baselines (:func:`order_permutations`)."""
    nb = signs.shape[1]
    rows = np.arange(nb)[:, None, None]
    types = np.arange(2)[None, :, None]
    for d in range(int(draws)):  # over the draws (a handful): each one is batched over samples, types and subsets
        perm = order_permutations(n, nb, np.random.default_rng([int(seed), d]))
        moved = np.zeros_like(signs)
        moved[:, rows, types, perm] = signs  # the effect of subset S goes to perm[S], for every baseline alike
        yield moved


def order_permutation_null(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    draws: int = ORDER_NULL_DRAWS,
    seed: int = 0,
    eligible: Any = None,
    absolute: float | None = None,
) -> np.ndarray:
    """``[draws, B]``: per draw and explained sample, the model's H-bar against the K baselines with their effects
    permuted within order and type (one permutation per sample, order and type, shared by the K baselines; see
    the module docstring). NaN where the model has no salient interaction. Seeded: draw ``d`` uses
    ``numpy.random.default_rng([seed, d])``.

    Equal to :func:`~genphase.analysis.generalization_power` of the model against
    :func:`permute_effects` of each baseline (salience is a per-sample threshold, unchanged by a
    permutation), computed once per draw on the salient signs instead.
    """
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InputError(f"draws must be an int >= 1 (permutations of the null; 20 or more for an interval), got {draws!r}")
    if not isinstance(baselines, AndOrInteractions) and not list(baselines):
        raise InputError("the order-permutation null needs at least one baseline")
    m_eff, m_sal, m_sign, signs, _ = salient_signs(model, baselines, tau=tau, absolute=absolute, eligible=eligible)
    out = np.empty((int(draws), m_eff.shape[0]))
    for d, moved in enumerate(_permuted_signs(signs, model.n, int(draws), seed)):
        out[d] = _h_bar(m_eff, m_sal, m_sal & (moved == m_sign[None]).any(0))[:, 2]
    return out


def _wide(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(split labels [N], sample ids [N], checkpoints [C], X [D, N, C])`` of a per-sample frame (``checkpoint,
    sample, split, h_bar`` and optionally ``draw``); samples ordered as the bootstrap of ``h_bar_summary``
    orders them (splits in order of first appearance, then by id), NaN where missing."""
    f = frame if "draw" in frame.columns else frame.assign(draw=0)
    sp = f["split"].astype(str)
    rank = {x: i for i, x in enumerate(dict.fromkeys(sp.tolist()))}
    key = pd.DataFrame({"r": sp.map(rank).to_numpy(), "sp": sp.to_numpy(), "s": f["sample"].to_numpy(),
                        "c": f["checkpoint"].to_numpy(), "d": f["draw"].to_numpy(),
                        "h": pd.to_numeric(f["h_bar"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)})
    cube = key.groupby(["d", "r", "s", "sp", "c"])["h"].mean().unstack("c").sort_index(axis=1)
    draws = cube.index.get_level_values("d").unique()
    samples = cube.loc[draws[0]].index
    X = np.stack([cube.loc[d].reindex(samples).to_numpy(dtype=float) for d in draws])
    return (samples.get_level_values("sp").to_numpy(), samples.get_level_values("s").to_numpy(),
            cube.columns.to_numpy(), X)


def _means(X: np.ndarray, Ws: np.ndarray, Wd: np.ndarray) -> np.ndarray:
    """Resampled means ``[R, C]`` of ``X [D, N, C]`` with sample weights ``Ws [R, N]`` and draw weights ``Wd [R, D]``
    (finite entries only)."""
    ok = np.isfinite(X)
    num = np.einsum("rd,dnc,rn->rc", Wd, np.where(ok, X, 0.0), Ws, optimize=True)
    den = np.einsum("rd,dnc,rn->rc", Wd, ok.astype(np.float64), Ws, optimize=True)
    return safe_div(num, den)


def null_summary(samples: pd.DataFrame, *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """``metrics/h_bar_null.parquet`` (:data:`NULL_COLUMNS`) from the per-sample null H-bar (:data:`NULL_SAMPLE_COLUMNS`).

    ``mean``: over draws and samples with a finite H-bar. The interval: percentile interval over ``n_resamples``
    resamples that draw the explained samples with replacement within each split (the weights of the
    ``h_bar_summary`` bootstrap, same ``seed``) **and** the draws with replacement, so it holds both the sampling
    of explained samples and the Monte Carlo error of finitely many permutations (NaN with ``n_resamples=0``).

    >>> f = pd.DataFrame({"checkpoint": 0, "sample": [0, 1, 0, 1], "split": "train", "null": "order_permutation",
    ...                   "draw": [0, 0, 1, 1], "h_bar": [0.1, 0.3, 0.2, 0.2]})
    >>> null_summary(f, n_resamples=100)[["null", "mean"]].round(3).values.tolist()
    [['order_permutation', 0.2]]
    """
    rows = []
    for name in dict.fromkeys(samples["null"].astype(str).tolist()):
        labels, _, checkpoints, X = _wide(samples[samples["null"].astype(str) == name])
        rng = np.random.default_rng([int(seed), 1])
        Wd = (np.stack([np.bincount(rng.integers(0, X.shape[0], X.shape[0]), minlength=X.shape[0])
                        for _ in range(int(n_resamples))]).astype(np.float64) if n_resamples else None)
        W = bootstrap_weights(labels, int(n_resamples), seed).astype(np.float64) if n_resamples else None
        for sp in dict.fromkeys(labels.tolist()):
            sel = labels == sp
            mean = nan_mean(X[:, sel].reshape(-1, X.shape[2]), axis=0)
            lo = hi = np.full(mean.shape, np.nan)
            if n_resamples:
                lo, hi = percentile_interval(_means(X[:, sel], W[:, sel], Wd), level, axis=0)
            rows.append(pd.DataFrame({"checkpoint": checkpoints, "split": sp, "null": name, "mean": mean,
                                      "ci_low": lo, "ci_high": hi}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(NULL_COLUMNS))
    return out.sort_values(["checkpoint", "split", "null"], kind="stable").reset_index(drop=True)[list(NULL_COLUMNS)]


def above_null(h_bar: pd.DataFrame, samples: pd.DataFrame, *, n_resamples: int = 1000, level: float = 0.95,
               seed: int = 0) -> pd.DataFrame:
    """Mean H-bar above one null, per checkpoint and split: ``checkpoint, split, mean, ci_low, ci_high``.

    Per explained sample, its H-bar minus its null H-bar averaged over the draws (paired: the same sample on
    both sides; samples where either is NaN left out), averaged over samples; the interval resamples the
    samples with the weights of the ``h_bar_summary`` bootstrap (same ``seed``). ``samples``: the per-sample
    null frame of one null.

    >>> h = pd.DataFrame({"checkpoint": 0, "sample": [0, 1], "split": "train", "h_bar": [0.5, 0.7]})
    >>> f = h.assign(null="order_permutation", draw=0, h_bar=[0.1, 0.3])
    >>> above_null(h, f, n_resamples=50)["mean"].round(3).tolist()
    [0.4]
    """
    labels, ids, checkpoints, X = _wide(samples)
    hl, hids, hc, H = _wide(h_bar[["checkpoint", "sample", "split", "h_bar"]])
    H = pd.DataFrame(H[0], index=pd.MultiIndex.from_arrays([hl, hids]), columns=hc) \
        .reindex(index=pd.MultiIndex.from_arrays([labels, ids]), columns=checkpoints).to_numpy(dtype=float)
    D = H - nan_mean(X, axis=0)  # [N, C]
    W = bootstrap_weights(labels, int(n_resamples), seed).astype(np.float64) if n_resamples else None
    rows = []
    for sp in dict.fromkeys(labels.tolist()):
        sel = labels == sp
        mean = nan_mean(D[sel], axis=0)
        lo = hi = np.full(mean.shape, np.nan)
        if n_resamples:
            lo, hi = percentile_interval(_means(D[None, sel], W[:, sel], np.ones((W.shape[0], 1))), level, axis=0)
        rows.append(pd.DataFrame({"checkpoint": checkpoints, "split": sp, "mean": mean, "ci_low": lo, "ci_high": hi}))
    return pd.concat(rows, ignore_index=True).sort_values(["checkpoint", "split"], kind="stable").reset_index(drop=True)


def _flat(res: AndOrInteractions) -> AndOrInteractions:
    from .checkpoint import _flatten

    return _flatten(res)
