"""Shared typing vocabulary of genphase.

Conventions used throughout the package:

* A subset ``S`` of the ``n`` input variables ``N = {0, ..., n-1}`` is an integer
  bitmask: bit ``i`` set means variable ``i`` is kept (present).
* A *game* / *value vector* is an array of shape ``[..., 2**n]`` whose last axis is
  indexed by bitmask (``v[..., S] = v(x_S)``); leading axes are batch axes
  (samples, checkpoints, models, ...).
* Interaction vectors (AND effects, OR effects, Harsanyi dividends) use the same
  layout: ``I[..., T]`` is the effect of the coalition ``T``.
"""

from __future__ import annotations

from typing import TypeAlias, TypeVar, Union

import numpy as np
import numpy.typing as npt

try:  # torch is a hard dependency, but keep typing importable without it
    import torch

    Tensor: TypeAlias = torch.Tensor
except Exception:  # pragma: no cover
    Tensor = "torch.Tensor"  # type: ignore[assignment,misc]

__all__ = ["Array", "ArrayLike", "FloatArray", "BoolArray", "IntArray", "ArrayT", "Tensor"]

#: A numpy array or a torch tensor; functions accepting it return the same kind.
Array: TypeAlias = Union[np.ndarray, "Tensor"]
#: Anything convertible to an array (lists, numpy arrays, tensors).
ArrayLike: TypeAlias = Union[npt.ArrayLike, "Tensor"]
FloatArray: TypeAlias = npt.NDArray[np.floating]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.integer]
#: Type variable for functions that map numpy->numpy and torch->torch.
ArrayT = TypeVar("ArrayT", np.ndarray, "Tensor")
