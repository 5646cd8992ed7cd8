"""Loss without non-generalizable interactions (Eq. 12, 13; the paper's Fig. 5).

Per sample, with ``v = v(x)`` the model's output on the full input (``values[..., -1]`` of its
interactions; by default the log-odds of the ground-truth class):

    v_tilde = v - sum_{salient T, AND and OR} I[T] * (1 - G_hat[T])        (Eq. 12)
    p = sigmoid(v),  p_tilde = sigmoid(v_tilde)                              (Eq. 13)
    loss = -log p,   loss_removed = -log p_tilde

``G_hat`` generalizes to any of the K baselines (Eq. 10) unless ``k`` is given. Since ``v`` is the
log-odds of the true class, ``-log sigmoid(v)`` is exactly the cross-entropy of the model on that
sample; it is computed stably as ``log(1 + exp(-v))`` (``np.logaddexp``), never from rounded
probabilities. ``v`` is the network output itself, not the surrogate ``h(x_N) = v + q[N]``; the
two differ by the solver's bounded noise ``q[N]`` only. Singletons are merged into AND by default
(see :mod:`genphase.analysis.salience`); this does not change ``v_tilde`` unless it changes which
singletons are salient or generalizable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import frame_context, per_sample_split
from ._stats import split_groups
from .generalization import GeneralizationPower, generalization_power
from .tables import long_form

__all__ = ["RemovalResult", "removal_loss", "neg_log_sigmoid", "cross_entropy"]


def neg_log_sigmoid(x: Any) -> np.ndarray:
    """``-log sigmoid(x) = log(1 + exp(-x))``, stable for any finite ``x`` (same shape).

    >>> neg_log_sigmoid([0.0, 1000.0, -1000.0]).round(6).tolist()  # log 2, then no overflow either way
    [0.693147, 0.0, 1000.0]
    """
    return np.logaddexp(0.0, -np.asarray(x, dtype=np.float64))


def cross_entropy(v: Any) -> float:
    """Mean cross-entropy ``mean(-log sigmoid(v))`` of log-odds ``v`` of the true class.

    >>> round(cross_entropy([0.0, 0.0]), 6)  # log-odds 0: p = 1/2
    0.693147
    """
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise InputError("cross_entropy got no samples")
    if not np.all(np.isfinite(arr)):
        raise InputError("cross_entropy got NaN or inf log-odds; check the model's outputs")
    return float(neg_log_sigmoid(arr).mean())


@dataclass(frozen=True, eq=False)
class RemovalResult:
    """Per-sample outputs with and without the salient non-generalizable interactions, all ``[*B]``.

    - ``v``: ``v(x)`` on the full input; ``v_tilde``: Eq. 12; ``removed = v - v_tilde`` (the summed
      effect of the salient non-generalizable interactions); ``k``: baselines used in ``G_hat``.

    >>> r = RemovalResult(v=np.array([2.0]), v_tilde=np.array([0.0]), removed=np.array([2.0]), k=1)
    >>> r.loss.round(4).tolist(), r.loss_removed.round(4).tolist()  # -log sigmoid(2), -log sigmoid(0)
    ([0.1269], [0.6931])
    """

    v: np.ndarray
    v_tilde: np.ndarray
    removed: np.ndarray
    k: int

    @classmethod
    def from_power(cls, power: GeneralizationPower, k: int | None = None) -> "RemovalResult":
        """Eq. 12-13: remove the salient non-generalizable interactions (``G_hat(k) = 0``) from ``v(x)``.

        >>> import numpy as np, genphase as gp
        >>> m = gp.AndOrInteractions.from_effects(np.array([0, 0, 0, 1.0]), np.zeros(4), 0.0)
        >>> float(RemovalResult.from_power(generalization_power(m, [m])).removed)
        0.0
        """
        salient, gen = power.salient_effects(k)
        removed = (salient - gen).sum(axis=(-2, -1))
        return cls(v=power.values_full.copy(), v_tilde=power.values_full - removed, removed=removed,
                   k=power._check_k(k))

    @property
    def p(self) -> np.ndarray:
        """``sigmoid(v)``: probability of the true class."""
        return expit(self.v)

    @property
    def p_tilde(self) -> np.ndarray:
        """``sigmoid(v_tilde)`` (Eq. 13)."""
        return expit(self.v_tilde)

    @property
    def loss(self) -> np.ndarray:
        """``-log sigmoid(v)`` per sample."""
        return neg_log_sigmoid(self.v)

    @property
    def loss_removed(self) -> np.ndarray:
        """``-log sigmoid(v_tilde)`` per sample."""
        return neg_log_sigmoid(self.v_tilde)

    def summary(self, split: Any = None) -> pd.DataFrame:
        """Mean loss with and without removal per group: ``split, n, loss, loss_removed, change``.

        With a split holding "train" and "test", two extra rows ``split="gap"`` give
        ``test - train`` for both losses (the train-test gap with and without removal).
        """
        loss = self.loss.reshape(-1)
        lr = self.loss_removed.reshape(-1)
        groups = split_groups(split, loss.size)
        rows = [{"split": g, "n": int(sel.sum()), "loss": float(loss[sel].mean()), "loss_removed": float(lr[sel].mean())}
                for g, sel in groups]
        by = {r["split"]: r for r in rows}
        if "train" in by and "test" in by:
            rows.append({"split": "gap", "n": by["train"]["n"] + by["test"]["n"],
                         "loss": by["test"]["loss"] - by["train"]["loss"],
                         "loss_removed": by["test"]["loss_removed"] - by["train"]["loss_removed"]})
        fr = pd.DataFrame(rows, columns=["split", "n", "loss", "loss_removed"])
        fr["change"] = fr["loss_removed"] - fr["loss"]
        return fr

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model", split: Any = None) -> pd.DataFrame:
        """Long form: ``[checkpoint,] sample, [split,] model, metric, value`` with metrics
        v, v_tilde, p, p_tilde, loss, loss_removed."""
        names = ["v", "v_tilde", "p", "p_tilde", "loss", "loss_removed"]
        arr = np.stack([getattr(self, m).reshape(-1) for m in names], axis=-1)
        const = frame_context(checkpoint, model)
        per = per_sample_split(split)
        return long_form(arr, [("sample", np.arange(arr.shape[0])), ("metric", names)], constants=const, per_axis=per)


def removal_loss(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    k: int | None = None,
) -> RemovalResult:
    """Eq. 12-13 for every sample of ``model`` (batch shape ``B``), with ``G_hat(k)`` (default K).

    ``model.values[..., -1]`` must be the log-odds of the true class for ``loss`` to be the
    cross-entropy. Raises :class:`~genphase.errors.InputError` on NaN outputs or mismatched baselines.

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0], bias=0.5)
    >>> base = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> r = removal_loss(m, [base])  # the OR (effect 1) does not generalize and is removed
    >>> float(r.v), float(r.v_tilde), float(r.removed)
    (3.5, 2.5, 1.0)
    """
    gp = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    if not np.all(np.isfinite(gp.values_full)):
        bad = np.nonzero(~np.isfinite(gp.values_full.reshape(-1)))[0][:5].tolist()
        raise InputError(f"model.values[..., -1] (v on the full input) is NaN or inf for samples {bad}; "
                         "the removal loss needs finite log-odds")
    return RemovalResult.from_power(gp, k)
