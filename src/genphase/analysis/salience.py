"""Salient interactions of one model (docs/science.md, section 3.4).

An interaction ``T`` (type AND or OR, ``T != {}``) of a sample is salient when
``|I[T]| > threshold``, where the threshold is, per sample,

* relative (default): ``tau * max_T |I[T]|`` over the AND and OR effects of that sample of that
  same model (``tau = 0.05``), or
* absolute: the number given as ``absolute`` (the same for every sample).

One-variable terms: a one-variable AND and a one-variable OR trigger on exactly the same masks and
the solver splits such an effect evenly between them, so only their sum is identified. By default
(``merge_singletons=True``) the analysis works on the merged view
(:meth:`AndOrInteractions.merged`: singleton effects summed into AND, OR singletons 0): the max
``|I|`` of the relative threshold, salience, G and H-bar all use it, and an OR singleton is never
salient. Pass ``merge_singletons=False`` to use the effects as the solver returned them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..interactions import AndOrInteractions
from ._common import check_model, check_threshold_args, effects_view, order_onehot, thresholds
from .tables import long_form

__all__ = ["Salience", "salience", "salience_threshold"]


@dataclass(frozen=True, eq=False)
class Salience:
    """Salient interactions of one model for a batch of samples (batch shape ``B``).

    Fields:

    - ``effects``: ``[*B, 2, 2**n]`` effects the salience was judged on (axis -2: 0 = AND, 1 = OR;
      the merged view unless ``merge_singletons`` is False).
    - ``mask``: ``[*B, 2, 2**n]`` bool, ``|effects| > threshold`` (the empty set never salient).
    - ``threshold``: ``[*B]`` the per-sample threshold.
    - ``tau``, ``absolute``, ``merge_singletons``: the arguments used.

    >>> res = AndOrInteractions.from_effects([0.0, 0.01, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> s = salience(res)  # threshold 0.05 * max|I| = 0.1: the 0.01 singleton is not salient
    >>> s.count().tolist(), s.and_mask.tolist(), s.or_mask.tolist()
    (2, [False, False, False, True], [False, False, False, True])
    >>> s.to_frame()[["type", "mask", "order", "sign", "value"]].values.tolist()
    [['and', 3, 2, '+', 2.0], ['or', 3, 2, '+', 1.0]]
    """

    effects: np.ndarray
    mask: np.ndarray
    threshold: np.ndarray
    tau: float
    absolute: float | None
    merge_singletons: bool

    @property
    def n(self) -> int:
        """Number of input variables."""
        return int(self.effects.shape[-1]).bit_length() - 1

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape ``B``."""
        return tuple(self.effects.shape[:-2])

    @property
    def and_mask(self) -> np.ndarray:
        """``[*B, 2**n]`` salient AND interactions."""
        return self.mask[..., 0, :]

    @property
    def or_mask(self) -> np.ndarray:
        """``[*B, 2**n]`` salient OR interactions."""
        return self.mask[..., 1, :]

    def count(self) -> np.ndarray:
        """Number of salient interactions per sample (AND and OR together), ``[*B]`` int."""
        return self.mask.sum(axis=(-2, -1))

    def count_by_order(self) -> np.ndarray:
        """Salient interactions per type and order: ``[*B, 3, n]`` (types and, or, all; orders 1..n)."""
        c = self.mask.astype(np.float64) @ order_onehot(self.n)  # [*B, 2, n]
        return np.concatenate([c, c.sum(axis=-2, keepdims=True)], axis=-2).astype(np.int64)

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model") -> pd.DataFrame:
        """Long form, salient interactions only: ``[checkpoint,] sample, model, type, mask, order, sign, value``.

        ``sample`` is the flat index over the batch shape; ``value`` the effect; ``sign`` "+"/"-".
        """
        size = self.effects.shape[-1]
        eff = self.effects.reshape(-1, 2, size)
        keep = self.mask.reshape(-1, 2, size)
        fr = long_form(eff, [("sample", np.arange(eff.shape[0])), ("type", ["and", "or"]), ("mask", np.arange(size))],
                       constants={"model": model} if checkpoint is None else {"checkpoint": checkpoint, "model": model})
        fr = fr[keep.reshape(-1)].reset_index(drop=True)
        from ..transforms import subset_orders

        fr.insert(fr.columns.get_loc("mask") + 1, "order", subset_orders(self.n)[fr["mask"].to_numpy()])
        fr.insert(fr.columns.get_loc("order") + 1, "sign", np.where(fr["value"].to_numpy() > 0, "+", "-"))
        return fr


def salience_threshold(
    res: AndOrInteractions, tau: float = 0.05, *, absolute: float | None = None, merge_singletons: bool = True
) -> np.ndarray:
    """Per-sample salience threshold ``[*B]``: ``tau * max|I|`` (merged view by default) or ``absolute``.

    >>> res = AndOrInteractions.from_effects([[0.0, 0.0, 0.0, 2.0], [0.0, 4.0, 0.0, 0.0]], [[0.0] * 4] * 2)
    >>> salience_threshold(res, 0.1).tolist(), salience_threshold(res, absolute=0.5).tolist()
    ([0.2, 0.4], [0.5, 0.5])
    """
    check_model(res, "res")
    check_threshold_args(tau, absolute)
    return thresholds(effects_view(res, merge_singletons), tau, absolute)


def salience(
    res: AndOrInteractions, tau: float = 0.05, *, absolute: float | None = None, merge_singletons: bool = True
) -> Salience:
    """Salient interactions of one model: ``|I[T]| > threshold`` per sample (see the module docstring).

    ``res``: interactions of one model, batch shape ``B``. ``tau``: relative threshold in [0, 1]
    (fraction of the sample's max |I| over AND and OR); ``absolute``: a fixed threshold instead.

    >>> res = AndOrInteractions.from_effects([0.0, 0.5, 0.0, -2.0], [0.0, 0.0, 0.0, 0.05])
    >>> salience(res, tau=0.1).mask.tolist()  # [type (and, or), subset]; |I| > 0.1 * 2
    [[False, True, False, True], [False, False, False, False]]
    """
    check_model(res, "res")
    check_threshold_args(tau, absolute)
    eff = effects_view(res, merge_singletons)
    thr = thresholds(eff, tau, absolute)
    mask = np.abs(eff) > thr[..., None, None]
    mask[..., 0] = False
    return Salience(effects=eff, mask=mask, threshold=thr, tau=float(tau),
                    absolute=None if absolute is None else float(absolute), merge_singletons=bool(merge_singletons))
