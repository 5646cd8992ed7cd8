"""Generalization power of salient interactions (Eq. 7) against K baseline models (Eq. 10).

For a salient interaction ``T`` of type ``t`` (AND or OR) of the model under study on a sample,
and a baseline model's interactions on the same sample with the same variables and masks:

    G_k[t, T] = 1  iff  |I_base_k[t, T]| > tau_base_k   and   I[t, T] * I_base_k[t, T] > 0     (Eq. 7)

types are matched (AND with AND, OR with OR); ``tau_base_k`` is the baseline's own threshold
(relative: ``tau`` times that baseline's max |I| on that sample; absolute: the same number for all
models). With K baselines, ``G_hat(k) = 1`` iff ``T`` generalizes to ANY of the first k baselines
(Eq. 10); ``k = K`` is the default everywhere, and :meth:`GeneralizationPower.ablation` gives the
k = 1..K ablation of the paper's Fig. 3 as data.

Singletons: by default every model (the model and each baseline) is taken in the merged view
(one-variable AND + OR summed into AND, see :mod:`genphase.analysis.salience`), so a one-variable
term generalizes when the baseline's merged singleton on the same variable is salient with the
same sign, however either solver split it between AND and OR. ``merge_singletons=False`` compares
the raw AND and OR singletons separately.

``G`` is only defined on the model's salient interactions; the arrays hold False elsewhere.

Eligibility (cross-fitting, see :mod:`genphase.analysis.crossfit`): with an ``eligible`` mask
``[*B, K]`` (True where baseline k never trained on that explained sample), each sample is compared
only with its eligible baselines, and at least two per sample are required. Eq. 7 against an
ineligible baseline is False, ``G_hat`` is "generalizes to any of the sample's eligible baselines",
and ``G_hat(k)`` uses the sample's first k eligible baselines in baseline order (all of them when it
has fewer than k). Without a mask every baseline is eligible for every sample (today's behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import SIGNS, TYPES, check_compatible, check_threshold_args, frame_context, per_sample_split, signed_order_sums
from ._stats import h_bar_ratio, nan_stats, type_index
from .salience import Salience, salience
from .tables import long_form

__all__ = [
    "GeneralizationPower", "BaselineAblation", "generalization_power", "generalizes", "baseline_ablation", "check_eligible",
]


def _h_bar(eff: np.ndarray, sal: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """H-bar per sample and type: ``[*B, 3]`` (and, or, all); NaN where a type has no salient term.

    ``sum |gen+(m)| + |gen-(m)|`` over orders equals the sum of ``|I|`` over the generalizable
    salient terms (each term has one sign), so the order axis is summed first; the ratio itself is
    :func:`~genphase.analysis._stats.h_bar_ratio`, shared with :meth:`OrderStrengths.h_bar`.
    """
    a = np.abs(eff)
    tot = np.where(sal, a, 0.0).sum(-1)  # [*B, 2]
    g = np.where(sal & gen, a, 0.0).sum(-1)
    tot = np.concatenate([tot, tot.sum(-1, keepdims=True)], axis=-1)
    g = np.concatenate([g, g.sum(-1, keepdims=True)], axis=-1)
    return h_bar_ratio(g, tot)


@dataclass(frozen=True, eq=False)
class BaselineAblation:
    """H-bar and order-wise strengths with the first k baselines, k = 1..K (the paper's Fig. 3).

    - ``h_bar``: ``[K, *B]`` (AND and OR together; NaN for samples without salient interactions).
    - ``h_bar_by_type``: ``[K, *B, 3]`` (types and, or, all).
    - ``generalizable``: ``[K, *B, 3, n, 2]`` signed sums of the generalizable salient interactions
      per type, order and sign (Eq. 9 with ``G_hat(k)``); ``total``: ``[*B, 3, n, 2]`` (Eq. 8).

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> only_and = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> only_or = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
    >>> ab = baseline_ablation(m, [only_and, only_or])  # k = 1: the AND generalizes; k = 2: both
    >>> ab.K, ab.summary()["mean"].round(4).tolist()
    (2, [0.6667, 1.0])
    """

    h_bar: np.ndarray
    h_bar_by_type: np.ndarray
    generalizable: np.ndarray
    total: np.ndarray

    @property
    def K(self) -> int:
        """Number of baselines."""
        return int(self.h_bar.shape[0])

    @property
    def non_generalizable(self) -> np.ndarray:
        """``[K, *B, 3, n, 2]``: total minus generalizable."""
        return self.total[None] - self.generalizable

    def summary(self) -> pd.DataFrame:
        """Mean and spread of H-bar over samples for each k: ``k, mean, std, n, n_nan`` (nan-aware)."""
        st = nan_stats(self.h_bar.reshape(self.K, -1), axis=1)
        return pd.DataFrame({"k": np.arange(1, self.K + 1), "mean": st["mean"], "std": st["std"], "n": st["n"],
                             "n_nan": st["n_nan"]})

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model", split=None) -> pd.DataFrame:
        """Long form: ``[checkpoint,] k, sample, [split,] model, type, order, sign, metric, value``.

        Rows with ``metric`` "generalizable" / "non_generalizable" hold signed strengths per order;
        rows with ``metric`` "h_bar" hold H-bar (``order`` 0 and ``sign`` "" there).
        """
        K = self.K
        gen = self.generalizable.reshape(K, -1, *self.generalizable.shape[-3:])
        B = gen.shape[1]
        n = gen.shape[-2]
        both = np.stack([gen, self.non_generalizable.reshape(gen.shape)], axis=-1)  # [K, B, 3, n, 2, 2]
        const = frame_context(checkpoint, model)
        per = per_sample_split(split)
        fr = long_form(both, [("k", np.arange(1, K + 1)), ("sample", np.arange(B)), ("type", TYPES),
                              ("order", np.arange(1, n + 1)), ("sign", SIGNS),
                              ("metric", ["generalizable", "non_generalizable"])], constants=const, per_axis=per)
        hb = self.h_bar_by_type.reshape(K, B, 3)
        fh = long_form(hb, [("k", np.arange(1, K + 1)), ("sample", np.arange(B)), ("type", TYPES)],
                       constants={**const, "order": 0, "sign": "", "metric": "h_bar"}, per_axis=per)
        return pd.concat([fr, fh[fr.columns]], ignore_index=True)


@dataclass(frozen=True, eq=False)
class GeneralizationPower:
    """G of every salient interaction of the model against each of K baselines.

    - ``model``: :class:`Salience` of the model (its ``effects`` ``[*B, 2, 2**n]``, ``mask``, ``threshold``).
    - ``baselines``: one :class:`Salience` per baseline.
    - ``per_baseline``: ``[K, *B, 2, 2**n]`` bool, Eq. 7 against baseline k (False where the
      model's interaction is not salient).
    - ``values_full``: ``[*B]`` ``v(x)`` on the full input (``model.values[..., -1]``), for Eq. 12.
    - ``eligible``: ``[*B, K]`` bool, baseline k may be compared with that sample (None: all may);
      ``per_baseline`` is False for ineligible pairs.

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> only_and = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    >>> only_or = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
    >>> gp = generalization_power(m, [only_and, only_or])
    >>> gp.K, gp.g(1)[:, 3].tolist(), gp.g(2)[:, 3].tolist()  # G_hat(k) of {0, 1}, types (and, or)
    (2, [True, False], [True, True])
    >>> gp.n_agree()[:, 3].tolist()  # baselines sharing each salient interaction
    [1, 1]
    """

    model: Salience
    baselines: tuple[Salience, ...]
    per_baseline: np.ndarray
    values_full: np.ndarray
    eligible: np.ndarray | None = None

    @property
    def K(self) -> int:
        """Number of baselines."""
        return int(self.per_baseline.shape[0])

    @property
    def n(self) -> int:
        """Number of input variables."""
        return self.model.n

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Batch shape ``B``."""
        return self.model.batch_shape

    def _check_k(self, k: int | None) -> int:
        if k is None:
            return self.K
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= self.K:
            raise InputError(f"k must be an int in 1..K={self.K} (use the first k baselines), got {k!r}")
        return int(k)

    @property
    def n_eligible(self) -> np.ndarray:
        """``[*B]`` int: the number of baselines each sample is compared with (K without a mask)."""
        if self.eligible is None:
            return np.full(self.batch_shape, self.K, dtype=np.int64)
        return self.eligible.sum(-1).astype(np.int64)

    def _ordered(self) -> np.ndarray:
        """``per_baseline`` with each sample's eligible baselines first (in baseline order): ``[K, *B, 2, 2**n]``."""
        if self.eligible is None:
            return self.per_baseline
        order = np.argsort(~self.eligible, axis=-1, kind="stable")  # [*B, K], eligible ids first
        moved = np.moveaxis(self.per_baseline, 0, -3)  # [*B, K, 2, 2**n]
        return np.moveaxis(np.take_along_axis(moved, order[..., None, None], axis=-3), -3, 0)

    def g(self, k: int | None = None) -> np.ndarray:
        """``G_hat(k)`` (Eq. 10): ``[*B, 2, 2**n]`` bool, generalizes to any of the first k (eligible)
        baselines (default: all of them)."""
        k = self._check_k(k)
        if k == self.K:
            return np.any(self.per_baseline, axis=0)
        return np.any(self._ordered()[:k], axis=0)

    def cumulative(self) -> np.ndarray:
        """``[K, *B, 2, 2**n]``: ``G_hat(k)`` for k = 1..K."""
        return np.logical_or.accumulate(self._ordered(), axis=0)

    def n_agree(self) -> np.ndarray:
        """``[*B, 2, 2**n]`` int: how many of the (eligible) baselines share each salient interaction of the
        model (salient there, same type and sign; Eq. 7 per baseline); 0 where the model's is not salient.

        K = 1 is refused: with one baseline the count is G itself (read ``g()``), not graded evidence.

        >>> import numpy as np, genphase as gp
        >>> m = gp.AndOrInteractions.from_effects(np.array([0, 0, 0, 1.0]), np.zeros(4), 0.0)
        >>> generalization_power(m, [m, m]).n_agree()[0].tolist()
        [0, 0, 0, 2]
        """
        if self.K < 2:
            raise InputError("n_agree (graded evidence) needs K >= 2 baselines; with K = 1 the count is G itself "
                             "(0 or 1): read g() / the order_strengths table, or train more baselines (baselines.k)")
        return self.per_baseline.sum(axis=0, dtype=np.int64)

    def h_bar(self, k: int | None = None, *, type: str = "all") -> np.ndarray:
        """Per-sample H-bar (Eq. 11) with ``G_hat(k)``: ``[*B]``; NaN for samples without salient interactions.

        ``type`` "and"/"or" restricts numerator and denominator to that type.
        """
        return _h_bar(self.model.effects, self.model.mask, self.g(k))[..., type_index(type)]

    def salient_effects(self, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(salient, generalizable)`` effects ``[*B, 2, 2**n]``: the model's salient effects (0 elsewhere)
        and those of them with ``G_hat(k) = 1`` -- the inputs of Eq. 8-9 and Eq. 12."""
        k = self._check_k(k)
        i = np.where(self.model.mask, self.model.effects, 0.0)
        return i, np.where(self.g(k), i, 0.0)

    def ablation(self) -> BaselineAblation:
        """H-bar and generalizable strengths for k = 1..K (Eq. 10 ablation, the paper's Fig. 3)."""
        cum = self.cumulative()
        eff, sal = self.model.effects, self.model.mask
        hb = _h_bar(eff[None], sal[None], cum)  # [K, *B, 3]
        i = np.where(sal, eff, 0.0)
        gen = signed_order_sums(np.where(cum, i[None], 0.0), self.n)
        return BaselineAblation(h_bar=hb[..., 2], h_bar_by_type=hb, generalizable=gen, total=signed_order_sums(i, self.n))

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model") -> pd.DataFrame:
        """Long form over the model's salient interactions and k = 1..K:
        ``[checkpoint,] k, sample, model, type, mask, order, sign, metric, value`` with ``metric``
        "generalizes" and ``value`` ``G_hat(k)`` in {0, 1}, plus an ``effect`` column."""
        base = self.model.to_frame(checkpoint=checkpoint, model=model)
        size = 1 << self.n
        cum = self.cumulative().reshape(self.K, -1, 2, size)
        s = base["sample"].to_numpy()
        t = (base["type"].to_numpy() == "or").astype(np.int64)
        m = base["mask"].to_numpy()
        frames = []
        for k in range(self.K):
            fr = base.rename(columns={"value": "effect"})
            fr.insert(0 if checkpoint is None else 1, "k", k + 1)
            fr["metric"] = "generalizes"
            fr["value"] = cum[k, s, t, m].astype(np.int64)
            frames.append(fr)
        return pd.concat(frames, ignore_index=True)


def _per_baseline(model_sal: Salience, base_sal: Sequence[Salience], eligible: np.ndarray | None = None) -> np.ndarray:
    eff = model_sal.effects
    out = np.empty((len(base_sal), *eff.shape), dtype=bool)
    for k, b in enumerate(base_sal):  # over the K baselines (a handful), each batched over samples
        out[k] = model_sal.mask & b.mask & (eff * b.effects > 0)
        if eligible is not None:
            out[k] &= eligible[..., k, None, None]
    return out


def check_eligible(eligible: Any, batch_shape: tuple[int, ...], K: int, *, minimum: int = 2,
                   what: str = "eligible") -> np.ndarray:
    """Validate an eligibility mask: ``[*B, K]`` (or flat ``[prod(B), K]``) of bools (or 0/1), with at
    least ``minimum`` True entries per sample; returns it as a ``[*B, K]`` bool array.

    >>> check_eligible([[True, True, False]], (1,), 3).tolist()
    [[True, True, False]]
    """
    arr = np.asarray(eligible)
    nb = int(np.prod(batch_shape)) if batch_shape else 1
    if arr.shape not in ((*batch_shape, K), (nb, K)):
        raise InputError(f"{what} must have shape {(*batch_shape, K)} (one row per explained sample, one column per "
                         f"baseline), got {arr.shape}")
    if arr.dtype != bool:
        if not (np.issubdtype(arr.dtype, np.integer) and np.isin(arr, (0, 1)).all()):
            raise InputError(f"{what} must be boolean (True where the baseline never trained on the sample), "
                             f"got dtype {arr.dtype}")
        arr = arr.astype(bool)
    arr = arr.reshape(*batch_shape, K)
    counts = arr.reshape(nb, K).sum(1)
    low = np.nonzero(counts < minimum)[0]
    if low.size:
        raise InputError(f"{what}: every sample must be compared with at least {minimum} baselines that never saw it; "
                         f"samples {low[:5].tolist()} (flat batch order) have {counts[low[:5]].tolist()}; use a "
                         "cross-fitting design that leaves each training sample out of at least two baselines "
                         "(crossfit_design) or train more baselines (baselines.k)")
    return arr


def generalization_power(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    eligible: Any = None,
) -> GeneralizationPower:
    """G of every salient interaction of ``model`` against each of the K ``baselines`` (Eq. 7, 10).

    ``model``: interactions of the model under study, batch shape ``B``; ``baselines``: K
    interaction sets of the baseline models on the same samples and variables (a single
    AndOrInteractions counts as K = 1). Salience uses ``tau`` relative to each model's own
    per-sample max |I| (model and each baseline separately) or the fixed ``absolute`` threshold
    for all; singletons merged into AND unless ``merge_singletons=False``.

    ``eligible``: optional ``[*B, K]`` bool mask (cross-fitting): True where baseline k never trained
    on that sample; each sample is then compared only with its eligible baselines, at least two.
    Raises :class:`~genphase.errors.InputError` for mismatched n, variables or batch shapes, NaN
    effects, and a mask of the wrong shape or with fewer than two eligible baselines for a sample.

    >>> import numpy as np, genphase as gp
    >>> m = gp.AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)), 0.0)
    >>> other = gp.AndOrInteractions.from_effects(np.zeros((2, 4)), np.zeros((2, 4)), 0.0)
    >>> elig = [[True, True, False], [False, True, True]]  # sample 1 is never compared with baseline 0
    >>> generalization_power(m, [m, other, other], eligible=elig).h_bar().tolist()
    [1.0, 0.0]
    """
    model, bases = check_compatible(model, baselines)
    check_threshold_args(tau, absolute)
    elig = None if eligible is None else check_eligible(eligible, model.batch_shape, len(bases))
    ms = salience(model, tau, absolute=absolute, merge_singletons=merge_singletons)
    bs = tuple(salience(b, tau, absolute=absolute, merge_singletons=merge_singletons) for b in bases)
    v = np.asarray(model.values, dtype=np.float64)[..., -1]
    return GeneralizationPower(model=ms, baselines=bs, per_baseline=_per_baseline(ms, bs, elig), values_full=v,
                               eligible=elig)


def generalizes(
    model: AndOrInteractions,
    baseline: AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> np.ndarray:
    """Eq. 7 against one baseline: ``[*B, 2, 2**n]`` bool (True = salient in the model and generalizes).

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> base = AndOrInteractions.from_effects([0.0, 0.0, 0.0, -1.0], [0.0, 0.0, 0.0, 1.0])
    >>> generalizes(m, base).tolist()  # the AND has the opposite sign in the baseline: it does not generalize
    [[False, False, False, False], [False, False, False, True]]
    """
    return generalization_power(model, [baseline], tau=tau, absolute=absolute, merge_singletons=merge_singletons).g(1)


def baseline_ablation(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> BaselineAblation:
    """H-bar and generalizable strengths with the first k baselines, k = 1..K (Fig. 3), as data.

    >>> m = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0])
    >>> only_or = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
    >>> ab = baseline_ablation(m, [only_or, m])
    >>> ab.h_bar.round(4).tolist()  # k = 1, 2
    [0.3333, 1.0]
    """
    return generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons).ablation()
