"""Order distribution of interactions over checkpoints (the two-phase view) and the weighted Jaccard
similarity between the order-m interaction distributions of training and testing samples.

Strength (docs/science.md, section 11.1; docs/run-directory.md ``order_distribution``): per sample, type and
order ``m``, the signed sums over ALL interactions of that order (salient or not)

    strength+(m) = sum_{|T| = m} max(I[T], 0),    strength-(m) = sum_{|T| = m} min(I[T], 0),

averaged over the samples of a group (a split). Three normalisations, selectable:

* ``"raw"``: the mean signed sums themselves (column ``strength``);
* ``"relative"``: divided by the mean over the same samples of ``|v[N] - v[{}]|`` (``strength_rel``);
* ``"share"``: ``|strength|`` divided by its sum over orders and signs, per group and type
  (``strength_share``; sums to one).

Types are "and", "or" and "all" (AND + OR); singletons are merged into AND by default.

Weighted Jaccard similarity of order ``m`` (two-phase paper): for each sample, the order-m
effects are split into positive and negative parts ``x+ = max(I, 0)``, ``x- = max(-I, 0)``
(aligned by type and subset ``T``); ``a+``, ``a-`` are their means over the training samples and
``b+``, ``b-`` over the testing samples; then

    J(m) = sum_T [min(a+, b+) + min(a-, b-)] / sum_T [max(a+, b+) + max(a-, b-)]

over the order-m subsets (type "all": over the AND and the OR subsets together). Splitting per
sample before averaging keeps opposite effects on different samples from cancelling. ``J`` is NaN
when both distributions are zero. :func:`order_jaccard_by_class` computes ``J`` per class (the
training and testing samples of one ground-truth class) and averages over the classes present in
both splits, as the two-phase paper does; it is not applicable when the variables differ per
sample (text, point clouds), because subsets are then not aligned across samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import SIGNS, TYPES, check_model, check_same_variables, effects_view, frame_context, order_onehot, signed_order_sums
from ._stats import nan_mean, safe_div, split_groups
from .tables import TABLE_COLUMNS, long_form

__all__ = [
    "NORMALIZATIONS",
    "OrderDistribution",
    "order_strength",
    "output_range",
    "order_distribution",
    "order_distribution_series",
    "order_distribution_samples",
    "weighted_jaccard",
    "order_jaccard",
    "order_jaccard_by_class",
    "JACCARD_NOT_SHARED",
    "checkpoint_items",
]

#: Why the Jaccard similarity is not applicable when variables differ per sample (text, point clouds).
JACCARD_NOT_SHARED = ("not applicable: the input variables differ from sample to sample (e.g. the tokens of a "
                      "sentence, the clusters of a point cloud), so interaction T of one sample and T of another "
                      "are not the same pattern and their distributions cannot be aligned")

#: Names accepted by ``normalization=`` / :meth:`OrderDistribution.normalized`.
NORMALIZATIONS = ("raw", "relative", "share")


def order_strength(res: AndOrInteractions, *, merge_singletons: bool = True) -> np.ndarray:
    """Per-sample signed strength of ALL interactions: ``[*B, 3, n, 2]`` (types and/or/all, orders 1..n, signs +/-).

    >>> res = AndOrInteractions.from_effects([0.0, 1.0, 0.0, -2.0], [0.0, 0.0, 0.0, 0.5])
    >>> order_strength(res)[2].tolist()  # type "all": order 1 (+, -), order 2 (+, -)
    [[1.0, 0.0], [0.5, -2.0]]
    """
    check_model(res, "res")
    return signed_order_sums(effects_view(res, merge_singletons), res.n)


def output_range(res: AndOrInteractions) -> np.ndarray:
    """``|v[N] - v[{}]|`` per sample, ``[*B]`` (from ``res.values``).

    >>> output_range(AndOrInteractions.from_effects([0.0, 1.0, 0.0, -3.0], [0.0] * 4)).tolist()  # |v[N] - v[{}]|
    2.0
    """
    check_model(res, "res")
    v = np.asarray(res.values, dtype=np.float64)
    out = np.abs(v[..., -1] - v[..., 0])
    if not np.all(np.isfinite(out)):
        raise InputError("res.values has NaN or inf at the full or empty mask; re-extract from finite outputs")
    return out


@dataclass(frozen=True, eq=False)
class OrderDistribution:
    """Mean order distribution per group of samples (usually the split).

    - ``groups``: group names (``("all",)`` without a split).
    - ``strength``: ``[G, 3, n, 2]`` mean over the group's samples of the signed sums per type,
      order and sign (all interactions).
    - ``mean_range``: ``[G]`` mean ``|v[N] - v[{}]|``; ``count``: ``[G]`` samples per group.

    >>> res = AndOrInteractions.from_effects([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, -1.0]], [[0.0] * 4] * 2)
    >>> od = order_distribution(res, split=["train", "test"])
    >>> od.groups, od.strength[:, 2].tolist(), od.count.tolist()  # [group, type "all", order, sign]
    (('train', 'test'), [[[1.0, 0.0], [2.0, 0.0]], [[0.0, 0.0], [0.0, -1.0]]], [1, 1])
    """

    groups: tuple[str, ...]
    strength: np.ndarray
    mean_range: np.ndarray
    count: np.ndarray

    @property
    def n(self) -> int:
        """Number of input variables (= highest order)."""
        return int(self.strength.shape[-2])

    @property
    def strength_rel(self) -> np.ndarray:
        """``strength / mean |v[N] - v[{}]|`` per group (NaN when that mean is 0)."""
        return safe_div(self.strength, self.mean_range[:, None, None, None])

    @property
    def strength_share(self) -> np.ndarray:
        """``|strength|`` over its sum over orders and signs, per group and type (NaN when all zero)."""
        a = np.abs(self.strength)
        return safe_div(a, a.sum(axis=(-2, -1), keepdims=True))

    def normalized(self, mode: str = "raw") -> np.ndarray:
        """``[G, 3, n, 2]`` in one of :data:`NORMALIZATIONS`."""
        if mode not in NORMALIZATIONS:
            raise InputError(f"normalization must be one of {list(NORMALIZATIONS)}, got {mode!r}")
        if mode == "raw":
            return self.strength.copy()
        return self.strength_rel if mode == "relative" else self.strength_share

    def mean_order(self, *, type: str = "all") -> np.ndarray:
        """Strength-weighted mean order ``sum_m m |s(m)| / sum_m |s(m)|`` per group, ``[G]``."""
        if type not in TYPES:
            raise InputError(f"type must be one of {list(TYPES)}, got {type!r}")
        a = np.abs(self.strength[:, TYPES.index(type)]).sum(-1)  # [G, n]
        return safe_div((a * np.arange(1, self.n + 1)).sum(-1), a.sum(-1))

    def to_table(self) -> pd.DataFrame:
        """The ``order_distribution`` metric table (without ``checkpoint``):
        ``split, type, order, sign, strength, strength_rel, strength_share``."""
        axes = [("split", list(self.groups)), ("type", TYPES), ("order", np.arange(1, self.n + 1)), ("sign", SIGNS)]
        fr = long_form(self.strength, axes, value_name="strength")
        fr["strength_rel"] = self.strength_rel.reshape(-1)
        fr["strength_share"] = self.strength_share.reshape(-1)
        return fr[list(TABLE_COLUMNS["order_distribution"])]

    def to_frame(self, *, checkpoint: int | None = None, model: str = "model") -> pd.DataFrame:
        """Long form: ``[checkpoint,] split, model, type, order, sign, metric, value`` with metrics
        strength, strength_rel, strength_share."""
        arr = np.stack([self.strength, self.strength_rel, self.strength_share], axis=-1)
        const = frame_context(checkpoint, model)
        axes = [("split", list(self.groups)), ("type", TYPES), ("order", np.arange(1, self.n + 1)), ("sign", SIGNS),
                ("metric", ["strength", "strength_rel", "strength_share"])]
        return long_form(arr, axes, constants=const)


def order_distribution(res: AndOrInteractions, *, split: Any = None, merge_singletons: bool = True) -> OrderDistribution:
    """Mean order distribution of ``res`` per split group (see the module docstring).

    ``split``: per-sample labels (e.g. "train"/"test"), same size as the batch; None for one group "all".

    >>> res = AndOrInteractions.from_effects([[0.0, 1.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0]], [[0.0] * 4] * 2)
    >>> od = order_distribution(res)  # one group "all": the mean over both samples
    >>> od.groups, od.strength[0, 2].tolist(), od.mean_range.tolist()
    (('all',), [[2.0, 0.0], [1.0, 0.0]], [3.0])
    """
    per = order_strength(res, merge_singletons=merge_singletons)
    nb = int(np.prod(res.batch_shape)) if res.batch_shape else 1
    per = per.reshape(nb, 3, res.n, 2)
    rng = output_range(res).reshape(nb)
    groups = split_groups(split, nb)
    return OrderDistribution(
        groups=tuple(g for g, _ in groups),
        strength=np.stack([per[sel].mean(0) for _, sel in groups]),
        mean_range=np.array([rng[sel].mean() for _, sel in groups]),
        count=np.array([int(sel.sum()) for _, sel in groups]),
    )


def order_distribution_samples(res: AndOrInteractions, split: Any, *, merge_singletons: bool = True) -> pd.DataFrame:
    """The per-sample order distribution (the ``order_distribution_samples`` table, without ``checkpoint``):
    ``sample, split, type, order, sign, strength``, the signed sum over ALL interactions of each
    order and sign for every sample (the ``order_distribution`` table is its mean per split). It is
    what the bootstrap of the two-phase turn resamples.

    >>> import numpy as np, genphase as gp
    >>> a = gp.AndOrInteractions.from_effects(np.array([[0, 1.0, -2.0, 0.5]]), np.zeros((1, 4)), 0.0)
    >>> t = order_distribution_samples(a, ["train"])
    >>> t[(t["type"] == "all") & (t["order"] == 1)]["strength"].tolist()
    [1.0, -2.0]
    """
    per = order_strength(res, merge_singletons=merge_singletons)
    nb = int(np.prod(res.batch_shape)) if res.batch_shape else 1
    groups = np.asarray(split).reshape(-1)
    if groups.size != nb:
        raise InputError(f"split must have one entry per sample ({nb}), got {groups.size}")
    axes = [("sample", np.arange(nb)), ("type", TYPES), ("order", np.arange(1, res.n + 1)), ("sign", SIGNS)]
    fr = long_form(per.reshape(nb, 3, res.n, 2), axes, value_name="strength", per_axis={"split": ("sample", groups)})
    return fr[list(TABLE_COLUMNS["order_distribution_samples"])]


def checkpoint_items(checkpoints: Any) -> list[tuple[int, AndOrInteractions]]:
    """Normalise a checkpoint series (``{epoch: res}`` or ``[(epoch, res), ...]``) to a sorted list.

    >>> a = AndOrInteractions.from_effects([0.0, 1.0], [0.0, 0.0])
    >>> [epoch for epoch, _ in checkpoint_items({5: a, 1: a})]  # sorted by epoch
    [1, 5]
    """
    if isinstance(checkpoints, Mapping):
        items = list(checkpoints.items())
    else:
        try:
            items = [tuple(x) for x in checkpoints]
        except TypeError as exc:
            raise InputError("checkpoints must be a mapping {epoch: AndOrInteractions} or a sequence of "
                             "(epoch, AndOrInteractions) pairs") from exc
    if not items:
        raise InputError("the checkpoint series is empty: pass at least one (epoch, AndOrInteractions)")
    out = []
    for it in items:
        if len(it) != 2:
            raise InputError(f"each checkpoint must be an (epoch, AndOrInteractions) pair, got {it!r:.80}")
        e, r = it
        try:
            ei = int(e)
        except (TypeError, ValueError) as exc:
            raise InputError(f"checkpoint epochs must be integers, got {e!r}") from exc
        out.append((ei, check_model(r, f"checkpoint {ei}")))
    epochs = [e for e, _ in out]
    if len(set(epochs)) != len(epochs):
        raise InputError(f"duplicate checkpoint epochs in the series: {sorted(epochs)}")
    out.sort(key=lambda x: x[0])
    for e, r in out[1:]:
        check_same_variables(out[0][1], r, f"checkpoint {out[0][0]}", f"checkpoint {e}")
    return out


def order_distribution_series(
    checkpoints: Mapping[int, AndOrInteractions] | Sequence[tuple[int, AndOrInteractions]],
    *,
    split: Any = None,
    merge_singletons: bool = True,
) -> pd.DataFrame:
    """Order distribution at every checkpoint: ``checkpoint, split, type, order, sign, strength,
    strength_rel, strength_share`` (the two-phase view; pick a normalisation by column).

    >>> a = AndOrInteractions.from_effects([[0.0, 1.0, 0.0, 3.0]], [[0.0] * 4])
    >>> t = order_distribution_series({0: a, 10: a}, split=["train"])
    >>> t[(t["type"] == "and") & (t["sign"] == "+")][["checkpoint", "order", "strength", "strength_share"]]
        checkpoint  order  strength  strength_share
    0            0      1       1.0            0.25
    2            0      2       3.0            0.75
    12          10      1       1.0            0.25
    14          10      2       3.0            0.75
    """
    frames = []
    for e, res in checkpoint_items(checkpoints):
        fr = order_distribution(res, split=split, merge_singletons=merge_singletons).to_table()
        fr.insert(0, "checkpoint", e)
        frames.append(fr)
    return pd.concat(frames, ignore_index=True)


def weighted_jaccard(a: Any, b: Any, *, axis: int = -1, signed: bool = True) -> np.ndarray:
    """Weighted Jaccard similarity of aligned vectors along ``axis``.

    ``signed=True``: ``a`` and ``b`` are signed; ``J = sum[min(a+, b+) + min(a-, b-)] / sum[max(a+, b+) +
    max(a-, b-)]`` with ``x+ = max(x, 0)``, ``x- = max(-x, 0)``. ``signed=False``: ``a`` and ``b`` are
    non-negative weights and ``J = sum min(a, b) / sum max(a, b)``. NaN where both are all zero.

    >>> round(float(weighted_jaccard([1.0, -1.0], [2.0, -1.0])), 4)  # (1 + 1) / (2 + 1)
    0.6667
    >>> float(weighted_jaccard([1.0, 0.0], [0.0, 1.0]))  # nothing in common
    0.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise InputError(f"weighted_jaccard needs aligned vectors of the same shape, got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("weighted_jaccard got NaN or inf entries")
    if signed:
        ap, an, bp, bn = np.maximum(a, 0), np.maximum(-a, 0), np.maximum(b, 0), np.maximum(-b, 0)
        num = (np.minimum(ap, bp) + np.minimum(an, bn)).sum(axis)
        den = (np.maximum(ap, bp) + np.maximum(an, bn)).sum(axis)
    else:
        if np.any(a < 0) or np.any(b < 0):
            raise InputError("weighted_jaccard(signed=False) needs non-negative weights; use signed=True for signed vectors")
        num = np.minimum(a, b).sum(axis)
        den = np.maximum(a, b).sum(axis)
    return safe_div(num, den)


def order_jaccard(
    train: AndOrInteractions, test: AndOrInteractions, *, merge_singletons: bool = True
) -> np.ndarray:
    """Weighted Jaccard similarity between the order-m distributions of training and testing samples.

    ``train`` / ``test``: interactions of the same model on training and testing samples (any batch
    sizes, same variables). Returns ``[3, n]``: types ("and", "or", "all"), orders 1..n (see the
    module docstring for the definition).

    >>> train = AndOrInteractions.from_effects([[0.0, 1.0, 0.0, 2.0]], [[0.0] * 4])
    >>> test = AndOrInteractions.from_effects([[0.0, 1.0, 0.0, -2.0]], [[0.0] * 4])
    >>> order_jaccard(train, test)[0].tolist()  # AND: order 1 agrees, order 2 has opposite signs
    [1.0, 0.0]
    """
    check_same_variables(train, test, "train", "test")
    n = train.n

    def parts(res: AndOrInteractions) -> tuple[np.ndarray, np.ndarray]:
        e = effects_view(res, merge_singletons).reshape(-1, 2, 1 << n)
        return np.maximum(e, 0).mean(0), np.maximum(-e, 0).mean(0)  # [2, 2**n] each

    ap, an = parts(train)
    bp, bn = parts(test)
    oh = order_onehot(n)
    num = (np.minimum(ap, bp) + np.minimum(an, bn)) @ oh  # [2, n]
    den = (np.maximum(ap, bp) + np.maximum(an, bn)) @ oh
    num = np.concatenate([num, num.sum(0, keepdims=True)])
    den = np.concatenate([den, den.sum(0, keepdims=True)])
    return safe_div(num, den)


def order_jaccard_by_class(
    train: AndOrInteractions,
    test: AndOrInteractions,
    train_labels: Any = None,
    test_labels: Any = None,
    *,
    variables_shared: bool = True,
    merge_singletons: bool = True,
) -> tuple[np.ndarray, int, str]:
    """Weighted Jaccard similarity per class, averaged over classes: ``(J [3, n], n_classes, note)``.

    ``train`` / ``test``: the model's interactions on training / testing samples (flat batches);
    ``*_labels``: their class per sample. For each class present in both splits, :func:`order_jaccard`
    of its training and testing samples; ``J`` is the NaN-aware mean over those classes (NaN and
    ``n_classes = 0`` when no class is in both). Without labels the samples are pooled (one group)
    and ``note`` says so. ``variables_shared=False`` (variables differ per sample: text, point
    clouds): all NaN, ``note`` = :data:`JACCARD_NOT_SHARED`.

    >>> import numpy as np, genphase as gp
    >>> a = gp.AndOrInteractions.from_effects(np.array([[0, 1.0, 0, 0], [0, 0, 1.0, 0]]), np.zeros((2, 4)), 0.0)
    >>> j, k, note = order_jaccard_by_class(a, a, [0, 1], [0, 1])
    >>> float(j[2, 0]), k
    (1.0, 2)
    """
    check_same_variables(train, test, "train", "test")
    n = train.n
    if not variables_shared:
        return np.full((3, n), np.nan), 0, JACCARD_NOT_SHARED
    if train_labels is None or test_labels is None:
        return order_jaccard(train, test, merge_singletons=merge_singletons), 1, (
            "labels not given: training and testing samples pooled over classes")
    ltr = np.asarray(train_labels).reshape(-1)
    lte = np.asarray(test_labels).reshape(-1)
    ntr = int(np.prod(train.batch_shape)) if train.batch_shape else 1
    nte = int(np.prod(test.batch_shape)) if test.batch_shape else 1
    if ltr.size != ntr or lte.size != nte:
        raise InputError(f"labels must have one entry per sample: got {ltr.size} for {ntr} training and "
                         f"{lte.size} for {nte} testing samples")
    classes = [c for c in dict.fromkeys(ltr.tolist()) if np.any(lte == c)]
    if not classes:
        return np.full((3, n), np.nan), 0, "no class has both training and testing samples"
    per = np.stack([order_jaccard(train[ltr == c], test[lte == c], merge_singletons=merge_singletons)
                    for c in classes])  # [K, 3, n]
    return nan_mean(per, axis=0), len(classes), ""
