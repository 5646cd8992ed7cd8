"""Cross-fitting design: K baselines trained on parts of the TRAINING split (no reference data needed for H-bar).

Design (``crossfit_design``): the training split's indices are dealt into K folds by a seeded
permutation (stratified by class when labels are given: within each class consecutive members go to
consecutive folds, so every fold holds each class in proportion, fold sizes differ by at most one).
Baseline k leaves out the ``m`` folds ``k, k+1, ..., k+m-1`` (mod K) and trains on the other K - m.
So every training sample is left out of exactly ``m`` baselines (the baselines ``f-m+1..f`` mod K for
a sample of fold ``f``) and every baseline trains on a fraction ``(K - m) / K`` of the training split.
The default ``m = max(2, K // 2)`` gives half-samples when K is even and >= 4 (K = 4: halves; K = 6:
halves), a little more than half for odd K >= 5, and thirds for K = 3 (the only way to leave each
sample out of two of three baselines). K < 3 is refused: with K = 2 a sample left out of two
baselines is left out of both, and they would train on nothing.

An explained training sample is compared only with the ``m`` baselines that left it out
(:meth:`CrossfitDesign.eligible`, the mask :func:`~genphase.analysis.generalization_power` takes);
explained samples of other splits were seen by no baseline and are compared with all K.
Any-of-k counts differ, therefore: a cross-fitted H-bar is an any-of-m H-bar (Eq. 10 with m
baselines per sample), to be compared with the reference design's k = m ablation row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["CrossfitDesign", "crossfit_design"]


@dataclass(frozen=True, eq=False)
class CrossfitDesign:
    """Which training indices each of K baselines trains on, and who may be compared with whom.

    - ``folds``: ``[n_train]`` int, the fold (0..K-1) of each training index.
    - ``leave_out``: ``m``, the number of baselines that leave each fold out (baseline k leaves out
      folds ``k..k+m-1`` mod K).
    - ``seed``: the seed of the permutation.

    >>> d = crossfit_design(8, 4, seed=0)  # 8 training samples, K = 4 baselines
    >>> d.K, d.leave_out, np.bincount(d.folds).tolist()  # each fold is left out by leave_out baselines
    (4, 2, [2, 2, 2, 2])
    """

    folds: np.ndarray
    K: int
    leave_out: int
    seed: int

    @property
    def n_train(self) -> int:
        """Size of the training split."""
        return int(self.folds.size)

    @property
    def left_out(self) -> np.ndarray:
        """``[K, K]`` bool: ``left_out[k, f]`` is True when baseline k does not train on fold f."""
        k = np.arange(self.K)[:, None]
        f = np.arange(self.K)[None, :]
        return (f - k) % self.K < self.leave_out

    @property
    def train_mask(self) -> np.ndarray:
        """``[K, n_train]`` bool: True where baseline k trains on that training index."""
        return ~self.left_out[:, self.folds]

    def train_indices(self, k: int) -> np.ndarray:
        """Sorted training indices baseline ``k`` trains on.

        >>> d = crossfit_design(8, 4, seed=0)
        >>> [d.train_indices(k).size for k in range(4)]
        [4, 4, 4, 4]
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) < self.K:
            raise InputError(f"k must be a baseline index in 0..{self.K - 1}, got {k!r}")
        return np.nonzero(self.train_mask[int(k)])[0]

    def eligible(self, train_index: Any) -> np.ndarray:
        """``[len(train_index), K]`` bool: True where baseline k never trained on that explained sample.

        ``train_index``: per explained sample, its index in the training split, or a negative number
        for a sample of another split (seen by no baseline: all True).

        >>> d = crossfit_design(6, 3, seed=0)
        >>> m = d.eligible([0, 1, -1])
        >>> m.sum(1).tolist(), bool((m[:2] & d.train_mask[:, [0, 1]].T).any())
        ([2, 2, 3], False)
        """
        idx = np.asarray(train_index)
        if idx.ndim != 1 or not (np.issubdtype(idx.dtype, np.integer) or idx.size == 0):
            raise InputError(f"train_index must be a 1-D array of integer training indices (negative: not a training "
                             f"sample), got shape {idx.shape} and dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        if np.any(idx >= self.n_train):
            bad = idx[idx >= self.n_train][:5].tolist()
            raise InputError(f"train_index {bad} out of range: the training split has {self.n_train} samples")
        out = np.ones((idx.size, self.K), dtype=bool)
        tr = idx >= 0
        out[tr] = self.left_out[:, self.folds[idx[tr]]].T
        return out


def crossfit_design(
    n_train: int,
    K: int,
    *,
    leave_out: int | None = None,
    labels: Any = None,
    seed: int = 0,
) -> CrossfitDesign:
    """The cross-fitting design for a training split of ``n_train`` samples and ``K`` baselines.

    ``leave_out``: ``m``, how many baselines leave each training sample out (default
    ``max(2, K // 2)``; ``2 <= m < K``). ``labels``: optional ``[n_train]`` class labels; folds are
    then stratified, and every baseline's training part must contain every class. Raises
    :class:`~genphase.errors.InputError` for K < 3, m outside ``2..K-1``, a training split with fewer
    than K samples (a fold would be empty), or a class too small to reach every baseline.

    >>> d = crossfit_design(12, 4, seed=1)
    >>> d.leave_out, d.train_mask.sum(1).tolist(), d.eligible([0, 5]).sum(1).tolist()
    (2, [6, 6, 6, 6], [2, 2])
    """
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 3:
        raise InputError(f"crossfit needs K >= 3 baselines (baselines.k), got {K!r}: each training sample must be left "
                         "out of at least two baselines and each baseline must still train on something "
                         "(with K = 2 a sample left out of two baselines is left out of both)")
    K = int(K)
    m = max(2, K // 2) if leave_out is None else leave_out
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 2 <= int(m) < K:
        raise InputError(f"leave_out must be an int in 2..{K - 1} (baselines that never see a training sample), got {m!r}")
    m = int(m)
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < K:
        raise InputError(f"the training split ({n_train!r} samples) is too small for the crossfit design: it needs at "
                         f"least K = {K} samples (one fold per baseline); use more training data or fewer baselines")
    n = int(n_train)
    rng = np.random.default_rng(seed)
    key = rng.random(n)
    if labels is None:
        order = np.argsort(key, kind="stable")
        lab = None
    else:
        lab = np.asarray(labels).reshape(-1)
        if lab.size != n:
            raise InputError(f"labels must have one entry per training sample ({n}), got {lab.size}")
        order = np.lexsort((key, lab))  # by class, random within class
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) % K
    design = CrossfitDesign(folds=folds, K=K, leave_out=m, seed=int(seed))
    if lab is not None:
        classes, inverse = np.unique(lab, return_inverse=True)
        present = np.zeros((K, classes.size), dtype=bool)  # [baseline, class]: class in its training part
        tm = design.train_mask
        for k in range(K):  # over K baselines (a handful)
            present[k, np.unique(inverse[tm[k]])] = True
        if not present.all():
            k, c = np.argwhere(~present)[0]
            size = int((inverse == c).sum())
            raise InputError(f"the training split is too small for the crossfit design: class {classes[c].item()!r} has "
                             f"{size} samples, so baseline {int(k)} never sees it (each class needs at least "
                             f"{m + 1} samples to reach all K = {K} baselines); use more training data or fewer baselines")
    return design
