"""The masker protocol and the helpers every masker shares.

Maskers build the masked inputs ``x_S`` of a batch of samples, one masker per modality.

Conventions (see docs/science.md, section 2):

* A masker explains ``n`` input variables. A mask is a boolean vector ``[n]`` (``True`` = the
  variable is kept) or an integer bitmask (bit ``i`` set = variable ``i`` kept).
* Variables not kept are replaced by a baseline: the training-data mean (tabular features,
  image patches), a baseline embedding such as ``[MASK]`` (text), the cluster centre (point
  clouds). Parts of the input that belong to no variable are never changed.
* Everything is batched and vectorised: one call masks ``R`` rows at once (``torch.where`` /
  ``gather`` on per-position variable indices), on the device of the inputs.

The interface (:class:`Masker`) has two steps so that per-sample work is done once per sample,
not once per masked copy:

1. ``prepare(inputs) -> prepared``: validate a batch of ``B`` samples and precompute per-sample
   state (point-cloud clusters, token embeddings). ``prepared`` is a tensor or a mapping of
   tensors, all with leading axis ``B``.
2. ``mask(rows, masks) -> model_inputs``: ``rows`` holds ``R`` rows of ``prepared`` (a sample may
   appear many times), ``masks`` is a bool tensor ``[R, n]``; returns the ``R`` masked model
   inputs: a tensor (the model is called as ``model(x)``), a mapping (``model(**kwargs)``, e.g.
   ``inputs_embeds`` and ``attention_mask`` for Hugging Face models) or a tuple
   (``model(*args)``).

A custom masker needs ``n`` and ``mask`` only::

    class ZeroMasker(Masker):
        def __init__(self, n):
            self.n = n
        def mask(self, rows, masks):          # rows [R, n], masks [R, n]
            return torch.where(masks, rows, torch.zeros_like(rows))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping, Union

import numpy as np
import torch

from .._typing import ArrayLike
from ..errors import InputError
from ..transforms import bitmasks_to_masks

__all__ = ["Masker", "MaskerInputs", "ModelInputs", "all_masks", "as_bool_masks", "as_tensor", "batch_size_of", "to_device", "take_rows"]

#: What a masker's ``prepare`` accepts and returns: a tensor ``[B, ...]`` or a mapping of tensors
#: that all have leading axis ``B``.
MaskerInputs = Union[torch.Tensor, Mapping[str, torch.Tensor]]
#: What ``mask`` returns: ``model(x)`` for a tensor, ``model(**x)`` for a mapping, ``model(*x)`` for a tuple.
ModelInputs = Union[torch.Tensor, Mapping[str, Any], tuple]


# ---------------------------------------------------------------------------- helpers
def as_tensor(x: Any, what: str) -> torch.Tensor:
    """``x`` as a real tensor (tensors pass through, arrays and lists are converted without copying
    where possible); ``what`` names the value in the :class:`InputError` for complex or ragged input.

    >>> as_tensor([[1.0, 2.0]], "baseline").dtype
    torch.float64
    >>> as_tensor(np.array([1j]), "baseline")
    Traceback (most recent call last):
    ...
    genphase.errors.InputError: baseline must be real, got complex dtype complex128; pass x.real (or abs(x)) explicitly
    """
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise InputError(f"{what} must be real, got complex dtype {x.dtype}; pass x.real (or x.abs()) explicitly")
        return x
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InputError(f"{what} must be a tensor or array, got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise InputError(f"{what} must be a numeric tensor or array, got an object array (ragged nesting?)")
    if arr.dtype.kind == "c":
        raise InputError(f"{what} must be real, got complex dtype {arr.dtype}; pass x.real (or abs(x)) explicitly")
    return torch.as_tensor(arr)


def batch_size_of(inputs: MaskerInputs, what: str = "inputs") -> int:
    """Leading size of a tensor or of a mapping of tensors (which must agree).

    >>> batch_size_of(torch.zeros(3, 5)), batch_size_of({"input_ids": torch.zeros(2, 7), "labels": torch.ones(2)})
    (3, 2)
    """
    if isinstance(inputs, torch.Tensor):
        if inputs.ndim == 0:
            raise InputError(f"{what} must have a leading batch axis, got a scalar")
        return int(inputs.shape[0])
    if isinstance(inputs, Mapping):
        sizes = {}
        for k, v in inputs.items():
            if not isinstance(v, torch.Tensor) or v.ndim == 0:
                raise InputError(
                    f"{what}[{k!r}] must be a tensor with a leading batch axis, got {type(v).__name__}"
                    + (f" of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else "")
                )
            sizes[k] = int(v.shape[0])
        if not sizes:
            raise InputError(f"{what} is an empty mapping; pass at least one tensor")
        if len(set(sizes.values())) != 1:
            raise InputError(f"the tensors of {what} have different batch sizes {sizes}; they must all be [B, ...]")
        return next(iter(sizes.values()))
    raise InputError(f"{what} must be a tensor [B, ...] or a mapping of tensors, got {type(inputs).__name__}")


def to_device(inputs: Any, device: torch.device | None) -> Any:
    """Convert arrays to tensors and move a tensor / mapping of tensors to ``device``.

    >>> x = to_device({"ids": np.array([[1, 2]])}, torch.device("cpu"))  # arrays become tensors
    >>> type(x["ids"]).__name__, x["ids"].device
    ('Tensor', device(type='cpu'))
    """
    if isinstance(inputs, Mapping):
        return {k: to_device(v, device) for k, v in inputs.items()}
    t = as_tensor(inputs, "inputs")
    return t if device is None else t.to(device)


def take_rows(inputs: MaskerInputs, index: torch.Tensor) -> MaskerInputs:
    """Select rows ``index`` (long ``[R]``) of a tensor or of every tensor of a mapping.

    >>> take_rows(torch.tensor([[0, 1], [2, 3], [4, 5]]), torch.tensor([2, 0, 2])).tolist()  # a row may repeat
    [[4, 5], [0, 1], [4, 5]]
    """
    if isinstance(inputs, torch.Tensor):
        return inputs.index_select(0, index)
    return {k: v.index_select(0, index) for k, v in inputs.items()}


def _device_of(inputs: MaskerInputs) -> torch.device:
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    return next(iter(inputs.values())).device


def all_masks(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """All ``2**n`` boolean masks in bitmask order, ``[2**n, n]`` (row ``S``, column ``i`` = bit ``i`` of ``S``).

    >>> all_masks(2).tolist()  # rows {}, {0}, {1}, {0,1}
    [[False, False], [True, False], [False, True], [True, True]]
    """
    if n < 0 or n > 30:
        raise InputError(f"n must be in [0, 30] to enumerate 2**n masks, got n={n}")
    return bitmasks_to_masks(torch.arange(1 << n, device=device), n)


def as_bool_masks(masks: Any, n: int, rows: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Coerce masks to a bool tensor ``[rows, n]``.

    Accepts bool masks ``[n]`` (one mask for every row) or ``[rows, n]``, or integer bitmasks
    (scalar or ``[rows]``; bit ``i`` set = variable ``i`` kept).

    >>> as_bool_masks([1, 2], n=2, rows=2).tolist()  # bitmasks: bit i set = variable i kept
    [[True, False], [False, True]]
    >>> as_bool_masks(torch.tensor([True, False]), n=2, rows=3).shape  # one mask for every row
    torch.Size([3, 2])
    """
    m = as_tensor(masks, "masks").to(device)
    if m.dtype == torch.bool:
        if m.ndim == 0 or m.shape[-1] != n:
            raise InputError(
                f"boolean masks must have last dimension n={n} (one entry per variable), got shape {tuple(m.shape)}"
            )
        if m.ndim == 1:
            m = m.expand(rows, n)
        if m.shape != (rows, n):
            raise InputError(f"boolean masks must have shape [{n}] or [{rows}, {n}] (one per input row), got {tuple(m.shape)}")
        return m
    if m.is_floating_point() or m.is_complex():
        raise InputError(f"masks must be bool [..., n] or integer bitmasks, got dtype {m.dtype}")
    m = m.long()
    if m.ndim == 0:
        m = m.expand(rows)
    if m.shape != (rows,):
        raise InputError(f"integer bitmasks must be a scalar or have shape [{rows}] (one per input row), got {tuple(m.shape)}")
    size = 1 << n
    if m.numel() and (int(m.min()) < 0 or int(m.max()) >= size):
        raise InputError(f"bitmasks must lie in [0, {size - 1}] for n={n}, got range [{int(m.min())}, {int(m.max())}]")
    return bitmasks_to_masks(m, n)


def _keep_shared(masks: torch.Tensor, var_index: torch.Tensor) -> torch.Tensor:
    """``keep[r, *pos] = masks[r, var_index[pos]]`` (``True`` where ``var_index < 0``); ``[R, *var_index.shape]``."""
    r, n = masks.shape
    ext = torch.cat([masks, masks.new_ones(r, 1)], dim=1)
    idx = torch.where(var_index < 0, torch.full_like(var_index, n), var_index)
    return ext[:, idx]


def _keep_rows(masks: torch.Tensor, var_index: torch.Tensor) -> torch.Tensor:
    """Per-row variant: ``var_index`` is ``[R, *pos]``; returns ``[R, *pos]``."""
    r, n = masks.shape
    ext = torch.cat([masks, masks.new_ones(r, 1)], dim=1)
    idx = torch.where(var_index < 0, torch.full_like(var_index, n), var_index)
    return torch.gather(ext, 1, idx.reshape(r, -1)).reshape(var_index.shape)


class _BaselineCache:
    """A CPU tensor plus copies cast to the (device, dtype) pairs it was used with."""

    def __init__(self, value: torch.Tensor):
        self.value = value
        self._cache: dict[tuple, torch.Tensor] = {}

    def like(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        t = self._cache.get(key)
        if t is None:
            t = self.value.to(device=x.device, dtype=x.dtype)
            self._cache[key] = t
        return t


# ---------------------------------------------------------------------------- protocol
class Masker(ABC):
    """Base class of maskers. Subclasses set ``n`` (number of variables) and implement :meth:`mask`.

    Optional overrides: :meth:`prepare` (validate / precompute per-sample state once),
    :attr:`variable_names`, :meth:`describe`.

    >>> class ZeroMasker(Masker):  # a masked variable becomes 0
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def mask(self, rows, masks):  # rows [R, n], masks [R, n]
    ...         return torch.where(masks, rows, torch.zeros_like(rows))
    >>> m = ZeroMasker(3)
    >>> m(torch.tensor([[1.0, 2.0, 3.0]]), 0b101).tolist(), m.variable_names  # keep variables 0 and 2
    ([[1.0, 0.0, 3.0]], ('x0', 'x1', 'x2'))
    """

    #: Number of input variables.
    n: int

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the ``n`` variables (default ``x0..x{n-1}``)."""
        return tuple(f"x{i}" for i in range(self.n))

    def prepare(self, inputs: MaskerInputs) -> MaskerInputs:
        """Validate a batch of ``B`` samples and precompute per-sample state; leading axis stays ``B``."""
        batch_size_of(inputs)
        return inputs

    @abstractmethod
    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> ModelInputs:
        """Masked model inputs of ``R`` rows of prepared inputs; ``masks`` is bool ``[R, n]`` (True = kept)."""

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (stored in the metadata of results)."""
        return {"type": type(self).__name__, "n": int(self.n)}

    def __call__(self, inputs: Any, masks: Any) -> ModelInputs:
        """Mask a batch directly: ``inputs`` ``[B, ...]`` (or mapping), ``masks`` bool ``[B, n]`` / ``[n]``
        or bitmasks ``[B]`` / scalar. Returns the ``B`` masked model inputs."""
        prepared = self.prepare(to_device(inputs, None))
        b = batch_size_of(prepared)
        m = as_bool_masks(masks, self.n, b, _device_of(prepared))
        return self.mask(prepared, m)


def _check_baseline_finite(base: torch.Tensor, what: str) -> None:
    if base.is_floating_point() and not bool(torch.isfinite(base).all()):
        raise InputError(f"{what} contains NaN or inf; compute it from finite training data")


def _train_mean(train_x: ArrayLike, what: str, min_ndim: int) -> torch.Tensor:
    t = as_tensor(train_x, what)
    if t.ndim < min_ndim:
        raise InputError(f"{what} must have shape [N, ...] with at least {min_ndim} dims, got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise InputError(f"{what} is empty (shape {tuple(t.shape)}); pass at least one training sample")
    return t.detach().to(torch.float64).mean(0).cpu()


def _require_float(x: torch.Tensor, what: str) -> None:
    if not x.is_floating_point():
        raise InputError(
            f"{what} must be a floating-point tensor (the baseline is a mean), got dtype {x.dtype}; convert with .float()"
        )

