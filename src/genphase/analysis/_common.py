"""Shared validation and array helpers of the analysis layer (private).

Array conventions used across :mod:`genphase.analysis`:

* Effects of one model are ``[*B, 2, 2**n]``: axis -2 is the type (0 = AND, 1 = OR), the last
  axis the subset in bitmask order (entry 0, the empty set, is never an interaction).
* Order-wise arrays are ``[..., 3, n, 2]``: types ``("and", "or", "all")`` ("all" = AND + OR),
  orders ``1..n`` (index ``m - 1``), signs ``("+", "-")``; "-" entries are <= 0.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..interactions import AndOrInteractions, check_threshold_args
from ..transforms import subset_orders
from ._stats import TYPES

__all__ = [
    "TYPES",
    "SIGNS",
    "as_baselines",
    "check_model",
    "check_compatible",
    "check_same_variables",
    "check_threshold_args",
    "as_str_array",
    "effects_view",
    "thresholds",
    "order_onehot",
    "signed_order_sums",
    "flat_batch",
    "MIN_COVERAGE",
]

SIGNS: tuple[str, str] = ("+", "-")
#: A checkpoint whose H-bar is defined (some interaction salient) on fewer than this share of the explained training
#: samples is "thin": its mean H-bar describes those few samples only (``phases.json`` ``coverage``; the peak of the
#: fall on clean samples is never taken at one).
MIN_COVERAGE = 0.5


def check_model(res: Any, what: str = "model") -> AndOrInteractions:
    """Type- and finiteness-check one interaction set; return it."""
    if not isinstance(res, AndOrInteractions):
        raise InputError(
            f"{what} must be an AndOrInteractions (from extract_and_or or AndOrInteractions.from_effects), "
            f"got {type(res).__name__}"
        )
    for name in ("and_effects", "or_effects"):
        arr = getattr(res, name)
        if arr.size and not np.all(np.isfinite(arr)):
            bad = (~np.isfinite(arr)).reshape(-1, arr.shape[-1]).any(-1).nonzero()[0][:5].tolist()
            raise InputError(
                f"{what}.{name} contains NaN or inf (first bad samples in flattened batch order: {bad}); "
                "re-extract the interactions from finite model outputs"
            )
    if any(b == 0 for b in res.batch_shape):
        raise InputError(f"{what} holds an empty batch (batch shape {res.batch_shape}); pass at least one sample")
    return res


def as_baselines(baselines: Any) -> list[AndOrInteractions]:
    """Normalise ``baselines`` to a list (a single AndOrInteractions counts as K = 1)."""
    if isinstance(baselines, AndOrInteractions):
        return [baselines]
    if baselines is None or isinstance(baselines, (str, bytes)):
        raise InputError(f"baselines must be a sequence of AndOrInteractions, got {type(baselines).__name__}")
    try:
        out = list(baselines)
    except TypeError as exc:
        raise InputError(f"baselines must be a sequence of AndOrInteractions, got {type(baselines).__name__}") from exc
    if not out:
        raise InputError("baselines is empty: pass the interactions of K >= 1 baseline models trained on the test split")
    return out


def _check_same_variables(a: AndOrInteractions, b: AndOrInteractions, name_a: str, name_b: str) -> None:
    if a.n != b.n:
        raise InputError(
            f"{name_b} has n={b.n} variables but {name_a} has n={a.n}; extract both with the same masker "
            "(same variables, same masks)"
        )
    if a.variables is not None and b.variables is not None and tuple(a.variables) != tuple(b.variables):
        raise InputError(
            f"{name_b} uses variables {list(b.variables)} but {name_a} uses {list(a.variables)}; "
            "extract both on the same samples with the same masker"
        )


def check_compatible(model: Any, baselines: Any) -> tuple[AndOrInteractions, list[AndOrInteractions]]:
    """Validate a model and its K baselines: same n, same variable names (when both are set), same batch shape.

    Returns ``(model, baselines_as_list)``; raises :class:`~genphase.errors.InputError` naming both sides.
    """
    model = check_model(model, "model")
    bases = as_baselines(baselines)
    for k, b in enumerate(bases):
        check_model(b, f"baselines[{k}]")
        _check_same_variables(model, b, "the model", f"baselines[{k}]")
        if b.batch_shape != model.batch_shape:
            raise InputError(
                f"baselines[{k}] has batch shape {b.batch_shape} but the model has {model.batch_shape}; "
                "extract the baselines' interactions on the same samples, in the same order"
            )
    return model, bases


def check_same_variables(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Public-in-package check that two interaction sets use the same n and variable names."""
    check_model(a, name_a)
    check_model(b, name_b)
    _check_same_variables(a, b, name_a, name_b)


def effects_view(res: AndOrInteractions, merge_singletons: bool = True) -> np.ndarray:
    """``[*B, 2, 2**n]`` effects of ``res`` (AND, OR); singletons merged into AND by default."""
    eff = (res.merged() if merge_singletons else res).effects().copy()
    eff[..., 0] = 0.0
    return eff


def thresholds(eff: np.ndarray, tau: float = 0.05, absolute: float | None = None) -> np.ndarray:
    """Per-sample salience threshold ``[*B]`` for effects ``[*B, 2, 2**n]``."""
    check_threshold_args(tau, absolute)
    if absolute is not None:
        return np.full(eff.shape[:-2], float(absolute))
    return float(tau) * np.abs(eff).max(axis=(-2, -1))


@lru_cache(maxsize=32)
def _onehot(n: int) -> np.ndarray:
    orders = subset_orders(n)
    out = (orders[:, None] == np.arange(1, n + 1)[None, :]).astype(np.float64)  # [2**n, n]
    out.setflags(write=False)
    return out


def order_onehot(n: int) -> np.ndarray:
    """``[2**n, n]`` float matrix: row ``T`` has a 1 in column ``|T| - 1`` (the empty set: all zeros)."""
    return _onehot(n)


def signed_order_sums(x: np.ndarray, n: int) -> np.ndarray:
    """Signed sums per type, order and sign: ``[*A, 2, 2**n] -> [*A, 3, n, 2]``.

    ``out[..., t, m-1, 0] = sum_{|T|=m} max(x_t[T], 0)`` and ``[..., 1]`` the same with ``min``;
    type index 2 ("all") is the sum of AND and OR.
    """
    oh = order_onehot(n)
    pos = np.maximum(x, 0.0) @ oh  # [*A, 2, n]
    neg = np.minimum(x, 0.0) @ oh
    both = np.stack([pos, neg], axis=-1)  # [*A, 2, n, 2]
    return np.concatenate([both, both.sum(axis=-3, keepdims=True)], axis=-3)


def flat_batch(res: AndOrInteractions) -> int:
    """Number of samples in the (flattened) batch."""
    return int(np.prod(res.batch_shape)) if res.batch_shape else 1


def as_str_array(x: Any, shape: tuple[int, ...], what: str, allowed: Sequence[str] | None = None) -> np.ndarray:
    """Validate a per-sample string array (e.g. split)."""
    arr = np.asarray(x)
    if arr.shape != shape:
        raise InputError(f"{what} must have shape {shape} (one entry per sample), got {arr.shape}")
    arr = arr.astype(str)
    if allowed is not None:
        bad = sorted(set(arr.reshape(-1).tolist()) - set(allowed))
        if bad:
            raise InputError(f"{what} may only hold {list(allowed)}, got {bad[:5]}")
    return arr


def frame_context(checkpoint: int | None, model: str) -> dict[str, Any]:
    """Constant columns of a ``to_frame`` view: ``model`` and, when given, ``checkpoint``."""
    return {"model": model} if checkpoint is None else {"checkpoint": checkpoint, "model": model}


def per_sample_split(split: Any) -> dict[str, tuple[str, np.ndarray]]:
    """``per_axis`` entry of :func:`long_form` adding a ``split`` column per sample (none if None)."""
    return {} if split is None else {"split": ("sample", np.asarray(split).astype(str).reshape(-1))}
