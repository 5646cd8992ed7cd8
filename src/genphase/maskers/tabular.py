"""Tabular features as variables: a masked feature takes its baseline value (the training mean)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .._typing import ArrayLike
from ..errors import InputError
from .base import (
    Masker,
    MaskerInputs,
    _BaselineCache,
    _check_baseline_finite,
    _keep_shared,
    _require_float,
    _train_mean,
    as_tensor,
)

__all__ = ["TabularMasker"]


class TabularMasker(Masker):
    """Tabular features: inputs ``[B, F]``; a masked feature takes its baseline value.

    Args:
        baseline: ``[F]``, usually the per-feature mean of the training data (:meth:`from_data`).
        groups: which features form the variables: ``None`` (default, every feature is one
            variable, ``n = F``), a list of feature indices (variable ``i`` = feature
            ``groups[i]``; other features stay as they are), or a list of lists (variable ``i``
            = all features in ``groups[i]``, e.g. a one-hot block). A feature belongs to at most
            one variable.
        features: shorthand for ``groups`` given as a flat list of feature indices (variable ``i``
            = feature ``features[i]``); pass ``groups`` or ``features``, not both.
        names: variable names (default ``f{j}`` of the first feature of each variable).

    >>> masker = TabularMasker.from_data(torch.tensor([[0.0, 10.0, 5.0], [2.0, 20.0, 5.0]]), groups=[[0, 1], [2]])
    >>> masker.n, masker.variable_names, masker.baseline.tolist()  # the baseline is the training mean
    (2, ('f0', 'f2'), [1.0, 15.0, 5.0])
    >>> masker(torch.tensor([[9.0, 9.0, 9.0]]), [False, True]).tolist()  # variable 0 (features 0, 1) masked
    [[1.0, 15.0, 9.0]]
    """

    def __init__(
        self,
        baseline: ArrayLike,
        *,
        groups: Sequence[int] | Sequence[Sequence[int]] | None = None,
        features: Sequence[int] | None = None,
        names: Sequence[str] | None = None,
    ):
        base = as_tensor(baseline, "baseline").detach().cpu()
        if base.ndim != 1 or base.shape[0] == 0:
            raise InputError(f"baseline must have shape [F] (one value per feature), got {tuple(base.shape)}")
        _require_float(base, "baseline")
        _check_baseline_finite(base, "baseline")
        self.num_features = int(base.shape[0])
        self._baseline = _BaselineCache(base)
        f = self.num_features
        if features is not None:
            if groups is not None:
                raise InputError("pass either groups or features (a flat list of feature indices), not both")
            if any(np.ndim(j) != 0 for j in features):
                raise InputError("features must be a flat list of feature indices; use groups=[[...], ...] for groups")
            groups = list(features)
        if groups is None:
            members = [[j] for j in range(f)]
        else:
            members = [[int(g)] if np.ndim(g) == 0 else [int(j) for j in g] for g in groups]
        index = torch.full((f,), -1, dtype=torch.long)
        for i, mem in enumerate(members):
            if not mem:
                raise InputError(f"variable {i} of groups is empty; every variable needs at least one feature")
            for j in mem:
                if not 0 <= j < f:
                    raise InputError(f"feature index {j} (variable {i}) is out of range for F={f} features")
                if index[j] >= 0:
                    raise InputError(f"feature {j} is in variables {int(index[j])} and {i}; a feature may belong to one variable only")
                index[j] = i
        self.groups: tuple[tuple[int, ...], ...] = tuple(tuple(m) for m in members)
        self.n = len(members)
        self._index = index
        if names is not None and len(names) != self.n:
            raise InputError(f"got {len(names)} names for n={self.n} variables")
        self._names = tuple(names) if names is not None else tuple(f"f{m[0]}" for m in members)

    @classmethod
    def from_data(cls, train_x: ArrayLike, **kwargs: Any) -> "TabularMasker":
        """Masker whose baseline is the per-feature mean of ``train_x`` ``[N, F]``."""
        mean = _train_mean(train_x, "train_x", 2)
        if mean.ndim != 1:
            raise InputError(f"train_x must have shape [N, F], got {tuple(as_tensor(train_x, 'train_x').shape)}")
        return cls(mean, **kwargs)

    @property
    def baseline(self) -> torch.Tensor:
        """The baseline ``[F]`` (float64, CPU)."""
        return self._baseline.value

    @property
    def variable_names(self) -> tuple[str, ...]:
        return self._names

    def prepare(self, inputs: MaskerInputs) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"TabularMasker needs a tensor [B, F], got {type(inputs).__name__}")
        if inputs.ndim != 2 or inputs.shape[1] != self.num_features:
            raise InputError(
                f"tabular inputs must have shape [B, F={self.num_features}] (the baseline's length), "
                f"got {tuple(inputs.shape)}; build the masker from training data with the same features"
            )
        _require_float(inputs, "tabular inputs")
        return inputs

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> torch.Tensor:
        x = rows  # [R, F]
        keep = _keep_shared(masks, self._index.to(x.device))
        return torch.where(keep, x, self._baseline.like(x))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "num_features": self.num_features, "groups": [list(g) for g in self.groups]}


