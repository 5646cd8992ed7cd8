"""Salience, generalization power (Eq. 7, 10), order-wise strengths (Eq. 8, 9), H-bar (Eq. 11)
and the loss without non-generalizable interactions (Eq. 12, 13).

Conventions (SCIENCE.md sections 3-6):

* Arrays of effects are ``[*B, 2, 2**n]``: axis -2 is the type (0 = AND, 1 = OR).
* One-variable terms: an AND {i} and an OR {i} trigger on the same masks and only their sum is
  identified, so by default (``merge_singletons=True``) every model's effects are taken in the
  merged view (singleton sum reported as AND, OR singleton 0) before salience and G.
* Salience: ``|I[T]| > tau * max_T |I[T]|`` over that model's own AND and OR effects of that
  sample (relative, default), or ``> absolute``.
* ``G[T] = 1`` when a baseline's same-type effect on ``T`` is salient for the baseline and has
  the same sign (Eq. 7); with K baselines, when this holds for any of the first k (Eq. 10).
* A sample with no salient interaction has H-bar NaN.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from ..interactions import AndOrInteractions

__all__ = [
    "effects",
    "salient",
    "generalization_power",
    "order_strengths",
    "h_bar",
    "h_bar_ablation",
    "removal",
    "check_compatible",
]


def check_compatible(model: AndOrInteractions, baselines: Sequence[AndOrInteractions]) -> None:
    """Raise InputError unless every baseline explains the same samples with the same variables."""
    if not isinstance(model, AndOrInteractions):
        raise InputError(f"model must be an AndOrInteractions, got {type(model).__name__}")
    if len(baselines) == 0:
        raise InputError("baselines is empty: pass the interactions of K >= 1 baseline models trained on the test split")
    for k, b in enumerate(baselines):
        if not isinstance(b, AndOrInteractions):
            raise InputError(f"baselines[{k}] must be an AndOrInteractions, got {type(b).__name__}")
        if b.n != model.n:
            raise InputError(f"baselines[{k}] has n={b.n} variables, the model has n={model.n}; extract both with the same masker")
        if model.variables is not None and b.variables is not None and tuple(b.variables) != tuple(model.variables):
            raise InputError(
                f"baselines[{k}] uses variables {list(b.variables)}, the model {list(model.variables)}; "
                "extract both on the same samples with the same masker"
            )
        if b.batch_shape != model.batch_shape:
            raise InputError(f"baselines[{k}] has batch shape {b.batch_shape}, the model {model.batch_shape}; use the same samples")
    for name, r in [("model", model)] + [(f"baselines[{k}]", b) for k, b in enumerate(baselines)]:
        if not (np.all(np.isfinite(r.and_effects)) and np.all(np.isfinite(r.or_effects))):
            raise InputError(f"{name} has NaN or inf effects; re-extract it from finite values")


def effects(res: AndOrInteractions, merge_singletons: bool = True) -> np.ndarray:
    """``[*B, 2, 2**n]`` effects (AND, OR), singletons merged into AND by default."""
    return (res.merged() if merge_singletons else res).effects()


def salient(eff: np.ndarray, tau: float = 0.05, absolute: float | None = None) -> np.ndarray:
    """Boolean ``[*B, 2, 2**n]``: ``|I| > threshold`` (entry 0 never salient)."""
    if absolute is not None:
        if not absolute >= 0:
            raise InputError(f"absolute threshold must be >= 0, got {absolute}")
        thr = np.full(eff.shape[:-2], float(absolute))
    else:
        if not 0 <= tau <= 1:
            raise InputError(f"relative tau must be in [0, 1] (fraction of max |I|), got {tau}")
        thr = tau * np.abs(eff).max(axis=(-2, -1))
    out = np.abs(eff) > thr[..., None, None]
    out[..., 0] = False
    return out


def generalization_power(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions],
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> np.ndarray:
    """``G_hat(k)`` for k = 1..K: bool ``[K, *B, 2, 2**n]``; entry ``k-1`` says whether the
    interaction generalizes to any of the first k baselines (Eq. 10; Eq. 7 for k = 1).
    Only meaningful on the model's salient interactions (mask with :func:`salient`)."""
    check_compatible(model, baselines)
    eff = effects(model, merge_singletons)
    per = []
    for b in baselines:
        be = effects(b, merge_singletons)
        per.append(salient(be, tau, absolute) & (eff * be > 0))
    return np.logical_or.accumulate(np.stack(per), axis=0)


def order_strengths(eff: np.ndarray, sal: np.ndarray, gen: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Eq. 8-9 over salient interactions: arrays ``[*B, 2, n+1]`` (index m = order; type axis 2).

    Keys ``total_pos``, ``total_neg``, ``gen_pos``, ``gen_neg`` (negative ones hold values <= 0).
    """
    from ..transforms import subset_orders

    orders = subset_orders(n)
    onehot = (orders[:, None] == np.arange(n + 1)[None, :]).astype(float)  # [2**n, n+1]
    i = np.where(sal, eff, 0.0)
    g = np.where(sal & gen, eff, 0.0)
    return {
        "total_pos": np.maximum(i, 0) @ onehot,
        "total_neg": np.minimum(i, 0) @ onehot,
        "gen_pos": np.maximum(g, 0) @ onehot,
        "gen_neg": np.minimum(g, 0) @ onehot,
    }


def _h_from(eff: np.ndarray, sal: np.ndarray, gen: np.ndarray) -> np.ndarray:
    tot = np.where(sal, np.abs(eff), 0.0).sum(axis=(-2, -1))
    g = np.where(sal & gen, np.abs(eff), 0.0).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), np.nan)


def h_bar(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions],
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> np.ndarray:
    """Per-sample H-bar (Eq. 11) against all K baselines (Eq. 10), shape = ``model.batch_shape``.

    ``sum_m |gen+(m)| + |gen-(m)|`` over ``sum_m |total+(m)| + |total-(m)|``, AND and OR
    together; NaN for a sample without salient interactions. ``tau`` is relative to each model's
    own per-sample max |I|; ``absolute`` replaces it by a fixed threshold for all models.
    """
    G = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    eff = effects(model, merge_singletons)
    return _h_from(eff, salient(eff, tau, absolute), G[-1])


def h_bar_ablation(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions],
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> np.ndarray:
    """H-bar with the first k baselines, k = 1..K (the paper's Fig. 3): ``[K, *B]``."""
    G = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    eff = effects(model, merge_singletons)
    sal = salient(eff, tau, absolute)
    return np.stack([_h_from(eff, sal, G[k]) for k in range(G.shape[0])])


def _neg_log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``-log sigmoid(x)`` computed stably."""
    return np.logaddexp(0.0, -x)


def removal(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions],
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> dict[str, np.ndarray]:
    """Eq. 12-13 per sample: ``v`` (= v(x) on the full input), ``v_tilde`` (salient non-generalizable
    interactions removed), ``loss = -log sigmoid(v)``, ``loss_removed = -log sigmoid(v_tilde)``.

    ``v`` must be the log-odds of the ground-truth class (the default value function), so
    ``sigmoid(v)`` is the probability of that class.
    """
    G = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    eff = effects(model, merge_singletons)
    sal = salient(eff, tau, absolute)
    v = model.values[..., -1]
    drop = np.where(sal & ~G[-1], eff, 0.0).sum(axis=(-2, -1))
    vt = v - drop
    return {"v": v, "v_tilde": vt, "loss": _neg_log_sigmoid(v), "loss_removed": _neg_log_sigmoid(vt)}
