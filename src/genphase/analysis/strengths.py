"""Order-wise strengths (Eq. 8, 9) and H-bar (Eq. 11), per sample, with mean and spread over samples.

For order ``m`` and a sample, over the model's SALIENT interactions of order ``m``
(signs as in docs/science.md, section 8.1; the paper's Eq. 8/9 swap the + and - labels):

    total+(m) = sum max(I, 0)        total-(m) = sum min(I, 0)            (Eq. 8)
    gen+(m)   = sum max(I * G, 0)    gen-(m)   = sum min(I * G, 0)        (Eq. 9)
    H-bar     = sum_m (|gen+(m)| + |gen-(m)|) / sum_m (|total+(m)| + |total-(m)|)   (Eq. 11)

``G`` is ``G_hat(K)`` (generalizes to any of the K baselines, Eq. 10) unless ``k`` is given.
The sums run over AND and OR together (type "all", the paper's definition) and are also given for
AND and OR separately. H-bar is NaN for a sample with no salient interaction (of the type asked
for); aggregates use nan-aware means and report how many samples were NaN.
Singletons are merged into AND by default (see :mod:`genphase.analysis.salience`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import SIGNS, TYPES, frame_context, per_sample_split, signed_order_sums
from ._stats import h_bar_from_order_sums, nan_stats, split_groups, type_index
from .generalization import GeneralizationPower, generalization_power
from .tables import long_form

__all__ = ["OrderStrengths", "order_strengths", "h_bar", "h_bar_by_type", "h_bar_summary"]


@dataclass(frozen=True, eq=False)
class OrderStrengths:
    """Order-wise strengths of salient interactions per sample.

    - ``total``: ``[*B, 3, n, 2]`` (Eq. 8): types ("and", "or", "all"), orders 1..n (index m-1),
      signs ("+", "-"); "-" entries are <= 0.
    - ``generalizable``: same shape (Eq. 9) with ``G_hat(k)``.
    - ``k``: the number of baselines used in ``G_hat``.

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> base = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> s = order_strengths(m, [base])  # the AND generalizes to the baseline, the OR does not
    >>> s.total[2].tolist(), s.generalizable[2].tolist()  # type "all": orders 1, 2 x signs +, -
    ([[0.0, 0.0], [3.0, 0.0]], [[0.0, 0.0], [2.0, 0.0]])
    """

    total: np.ndarray
    generalizable: np.ndarray
    k: int

    @classmethod
    def from_power(cls, power: GeneralizationPower, k: int | None = None) -> "OrderStrengths":
        """Eq. 8-9 of the salient interactions of ``power.model`` with ``G_hat(k)`` (default: all K).

        >>> import numpy as np, genphase as gp
        >>> m = gp.AndOrInteractions.from_effects(np.array([0, 0, 0, 1.0]), np.zeros(4), 0.0)
        >>> OrderStrengths.from_power(generalization_power(m, [m])).generalizable[2].tolist()
        [[0.0, 0.0], [1.0, 0.0]]
        """
        salient, gen = power.salient_effects(k)
        return cls(total=signed_order_sums(salient, power.n), generalizable=signed_order_sums(gen, power.n),
                   k=power._check_k(k))

    @property
    def n(self) -> int:
        """Number of input variables (= highest order)."""
        return int(self.total.shape[-2])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape ``B``."""
        return tuple(self.total.shape[:-3])

    @property
    def non_generalizable(self) -> np.ndarray:
        """``[*B, 3, n, 2]``: ``total - generalizable``."""
        return self.total - self.generalizable

    def h_bar(self, *, type: str = "all") -> np.ndarray:
        """Per-sample H-bar (Eq. 11) ``[*B]``; NaN where the sample has no salient interaction of that type."""
        t = type_index(type)
        return h_bar_from_order_sums(self.total[..., t, :, :], self.generalizable[..., t, :, :])

    def summary(self, split: Any = None) -> pd.DataFrame:
        """Mean and spread over samples: ``split, type, order, sign, metric, mean, std, q25, median, q75, n``.

        ``metric`` is "total", "generalizable" or "non_generalizable"; ``split`` (per sample, or None
        for one group "all") groups the samples.
        """
        nb = int(np.prod(self.batch_shape)) if self.batch_shape else 1
        arr = np.stack([self.total, self.generalizable, self.non_generalizable], axis=-1).reshape(nb, 3, self.n, 2, 3)
        frames = []
        for name, sel in split_groups(split, nb):
            st = nan_stats(arr[sel], axis=0)
            axes = [("type", TYPES), ("order", np.arange(1, self.n + 1)), ("sign", SIGNS),
                    ("metric", ["total", "generalizable", "non_generalizable"])]
            fr = long_form(st["mean"], axes, value_name="mean", constants={"split": name})
            for key in ("std", "q25", "median", "q75", "n"):
                fr[key] = st[key].reshape(-1)
            frames.append(fr)
        return pd.concat(frames, ignore_index=True)

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model", split: Any = None) -> pd.DataFrame:
        """Long form: ``[checkpoint,] sample, [split,] model, type, order, sign, metric, value``.

        ``metric`` is "total" or "generalizable"; ``sample`` is the flat batch index.
        """
        nb = int(np.prod(self.batch_shape)) if self.batch_shape else 1
        arr = np.stack([self.total, self.generalizable], axis=-1).reshape(nb, 3, self.n, 2, 2)
        const = frame_context(checkpoint, model)
        per = per_sample_split(split)
        return long_form(arr, [("sample", np.arange(nb)), ("type", TYPES), ("order", np.arange(1, self.n + 1)),
                               ("sign", SIGNS), ("metric", ["total", "generalizable"])], constants=const, per_axis=per)


def order_strengths(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    k: int | None = None,
) -> OrderStrengths:
    """Eq. 8-9 per sample for AND, OR and both, with ``G_hat(k)`` (default: all K baselines).

    >>> m = AndOrInteractions.from_effects([0.0, 0.5, 0.0, 2.0], [0.0, 0.0, 0.0, -1.0])
    >>> s = order_strengths(m, [m])  # every salient term generalizes to itself
    >>> s.total.shape, s.total[2].tolist(), s.k  # [types, orders 1..n, signs +/-]
    ((3, 2, 2), [[0.5, 0.0], [2.0, -1.0]], 1)
    """
    gp = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    return OrderStrengths.from_power(gp, k)


def h_bar(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    k: int | None = None,
    type: str = "all",
) -> np.ndarray:
    """Per-sample H-bar (Eq. 11), shape = ``model.batch_shape``.

    ``model``: AndOrInteractions of the model under study for a batch of samples; ``baselines``:
    a sequence of K AndOrInteractions of the baseline models for the same samples and variables
    (a single AndOrInteractions counts as K = 1). An interaction generalizes when it does so to
    any of the first ``k`` baselines (default all K, Eq. 10), with the same type.

    ``tau``: relative threshold, a fraction of that sample's max |I| over the AND and OR effects of
    that same model (model and each baseline separately); ``absolute``: a fixed threshold used for
    all models instead. One-variable terms are merged into AND (``merge_singletons=True``, default)
    because the solver cannot tell a one-variable AND from a one-variable OR. ``type`` restricts to
    "and" or "or" interactions. NaN for a sample with no salient interaction.

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> base = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> round(float(h_bar(m, [base])), 4)  # generalizable strength 2 of the salient 2 + 1
    0.6667
    >>> float(h_bar(m, [base], type="or"))
    0.0
    """
    gp = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    return gp.h_bar(k, type=type)


def h_bar_by_type(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    k: int | None = None,
) -> np.ndarray:
    """H-bar for AND, OR and both: ``[*B, 3]`` (types "and", "or", "all").

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> base = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> h_bar_by_type(m, [base]).round(4).tolist()  # and, or, all
    [1.0, 0.0, 0.6667]
    """
    gp = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    return np.stack([gp.h_bar(k, type=t) for t in TYPES], axis=-1)


def h_bar_summary(values: Any, split: Any = None) -> pd.DataFrame:
    """Mean and spread of per-sample H-bar over samples (NaN samples left out and counted).

    ``values``: per-sample H-bar (any shape, flattened); ``split``: per-sample group labels or None.
    Returns ``split, mean, std, q25, median, q75, n, n_nan`` (one row per group).

    >>> tab = h_bar_summary([0.1, 0.3, float("nan"), 0.5], ["train", "train", "test", "test"])
    >>> tab[["split", "mean", "n", "n_nan"]]
       split  mean  n  n_nan
    0  train   0.2  2      0
    1   test   0.5  1      1
    """
    h = np.asarray(values, dtype=np.float64).reshape(-1)
    if h.size == 0:
        raise InputError("h_bar_summary got no samples")
    rows = []
    for name, sel in split_groups(split, h.size):
        st = nan_stats(h[sel], axis=0)
        rows.append({"split": name, **{k: (int(v) if k in ("n", "n_nan") else float(v)) for k, v in st.items()}})
    return pd.DataFrame(rows, columns=["split", "mean", "std", "q25", "median", "q75", "n", "n_nan"])
