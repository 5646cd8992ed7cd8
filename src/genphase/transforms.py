"""Fast subset transforms in bitmask order, batched over leading axes (numpy or torch).

Every transform here is a Kronecker product of one 2x2 matrix per variable. It is
applied in O(n 2^n) work by grouping variables into chunks of ``c <= 4`` bits (fastest in a sweep of c = 1..6 at n = 10, 12) and
multiplying each chunk by the dense ``2^c x 2^c`` Kronecker factor (one BLAS call per
chunk), never by a dense ``2^n x 2^n`` matrix. Inputs have shape ``[..., 2**n]``;
outputs have the same shape, dtype and kind (numpy in, numpy out; torch in, torch out,
on the same device).

Transforms (``S``, ``T`` are subsets as bitmasks):

* :func:`moebius`            ``(M f)[T] = sum_{L subset T} (-1)^{|T|-|L|} f[L]``  (AND / Harsanyi)
* :func:`zeta`               ``(Z f)[S] = sum_{T subset S} f[T]``                  (inverse of moebius)
* :func:`superset_zeta`      ``(Zup f)[U] = sum_{T superset U} f[T]``
* :func:`superset_moebius`   inverse of :func:`superset_zeta`
* :func:`reverse`            ``f[N \\ S]`` (complement), i.e. reversing the last axis
* :func:`or_transform`       ``I_or[T] = -sum_{L subset T} (-1)^{|T|-|L|} f[N \\ L]``
* :func:`inverse_or_transform`
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any, Callable

import numpy as np

from ._typing import Array
from .errors import InputError

__all__ = [
    "num_variables",
    "subset_orders",
    "order_parity",
    "kron_apply",
    "kron_operator",
    "moebius",
    "zeta",
    "superset_zeta",
    "superset_moebius",
    "reverse",
    "or_transform",
    "inverse_or_transform",
    "masks_to_bitmasks",
    "bitmasks_to_masks",
    "singleton_bitmasks",
]

_CHUNK_BITS = 4

# 2x2 factors, rows = output bit (0 absent, 1 present), columns = input bit.
_MOEBIUS = np.array([[1.0, 0.0], [-1.0, 1.0]])
_ZETA = np.array([[1.0, 0.0], [1.0, 1.0]])
_SUP_ZETA = np.array([[1.0, 1.0], [0.0, 1.0]])
_SUP_MOEBIUS = np.array([[1.0, -1.0], [0.0, 1.0]])


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def num_variables(size: int, *, what: str = "values") -> int:
    """Return ``n`` such that ``size == 2**n``, or raise an :class:`InputError`.

    >>> num_variables(8)
    3
    >>> num_variables(6)
    Traceback (most recent call last):
    ...
    genphase.errors.InputError: the last dimension of values must be 2**n (one entry per subset of the n variables, in bitmask order), got 6; nearest valid sizes are 4 and 8
    """
    size = int(size)
    if size < 1 or size & (size - 1):
        lo = 1 << max(size.bit_length() - 1, 0)
        raise InputError(
            f"the last dimension of {what} must be 2**n (one entry per subset of the n variables, "
            f"in bitmask order), got {size}; nearest valid sizes are {lo} and {lo * 2}"
        )
    return size.bit_length() - 1


@lru_cache(maxsize=64)
def _orders_np(n: int) -> np.ndarray:
    idx = np.arange(1 << n, dtype=np.int64)
    out = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        out += (idx >> i) & 1
    out.setflags(write=False)
    return out


def subset_orders(n: int) -> np.ndarray:
    """Orders ``|S|`` of all ``2**n`` subsets in bitmask order, shape ``[2**n]`` (int64, read-only).

    >>> subset_orders(3).tolist()  # subsets {}, {0}, {1}, {0,1}, {2}, {0,2}, {1,2}, {0,1,2}
    [0, 1, 1, 2, 1, 2, 2, 3]
    """
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}")
    return _orders_np(n)


@lru_cache(maxsize=64)
def _parity_np(n: int) -> np.ndarray:
    out = 1.0 - 2.0 * (_orders_np(n) % 2)
    out.setflags(write=False)
    return out


def order_parity(n: int) -> np.ndarray:
    """``(-1)^|S|`` for all subsets in bitmask order, shape ``[2**n]`` (float64, read-only).

    >>> order_parity(2).tolist()
    [1.0, -1.0, -1.0, 1.0]
    """
    return _parity_np(n)


@lru_cache(maxsize=256)
def _chunk_np(key: bytes, c: int) -> np.ndarray:
    m = np.frombuffer(key, dtype=np.float64).reshape(2, 2)
    out = np.ones((1, 1))
    for _ in range(c):
        out = np.kron(m, out)
    return out


def _chunk_sizes(n: int) -> list[int]:
    return [min(_CHUNK_BITS, n - lo) for lo in range(0, n, _CHUNK_BITS)]


def _plan_np(m: np.ndarray, n: int, dtype) -> tuple:
    """Chunk factors of ``kron(m, ..., m)``, lowest bits first; the first one stored transposed."""
    return _plan_np_cached(np.ascontiguousarray(m, dtype=np.float64).tobytes(), n, np.dtype(dtype).str)


@lru_cache(maxsize=256)
def _plan_np_cached(key: bytes, n: int, dtype: str) -> tuple:
    mats = [_chunk_np(key, c).astype(dtype) for c in _chunk_sizes(n)]
    mats[0] = np.ascontiguousarray(mats[0].T)
    for mat in mats:
        mat.setflags(write=False)
    return tuple(mats)


_TORCH_PLANS: dict[tuple, list] = {}


def _plan_torch(m: np.ndarray, n: int, dtype, device) -> list:
    key = (np.ascontiguousarray(m, dtype=np.float64).tobytes(), n, dtype, device)
    plan = _TORCH_PLANS.get(key)
    if plan is None:
        import torch

        if len(_TORCH_PLANS) > 256:
            _TORCH_PLANS.clear()
        plan = [torch.tensor(mat, dtype=dtype, device=device) for mat in _plan_np(m, n, np.float64)]
        _TORCH_PLANS[key] = plan
    return plan


def _apply_plan(x: Array, plan: list) -> Array:
    """Multiply the last axis of ``x`` (``[..., 2**n]``) chunk by chunk: one BLAS call per chunk."""
    size = x.shape[-1]
    y = x.reshape(-1, size)
    lo = 0
    for mat in plan:
        d = mat.shape[0]
        if lo == 0:
            # bits [0, c) are the fastest-varying: (rows, d) @ factor^T (stored transposed)
            y = y.reshape(-1, d) @ mat
        else:
            y = mat @ y.reshape(-1, d, 1 << lo)
        lo += d.bit_length() - 1
    return y.reshape(x.shape)


def kron_apply(x: Array, m: np.ndarray) -> Array:
    """Apply ``kron(m, ..., m)`` (one 2x2 factor ``m`` per variable) along the last axis.

    ``x`` has shape ``[..., 2**n]``; returns a new array of the same shape and kind.
    ``m[j, i]`` maps input bit value ``i`` to output bit value ``j`` of each variable.

    >>> import numpy as np
    >>> m = np.array([[1.0, 0.0], [1.0, 1.0]])  # the zeta factor: output bit 1 sums input bits 0 and 1
    >>> kron_apply(np.array([1.0, 2.0, 3.0, 4.0]), m).tolist()
    [1.0, 3.0, 4.0, 10.0]
    """
    n = num_variables(x.shape[-1])
    if n == 0:
        return x.clone() if _is_torch(x) else np.array(x, copy=True)
    if not (_is_torch(x) and x.is_floating_point()) and not (
        isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)
    ):
        x = x.double() if _is_torch(x) else np.asarray(x, dtype=np.float64)
    if _is_torch(x):
        return _apply_plan(x, _plan_torch(m, n, x.dtype, x.device))
    return _apply_plan(x, _plan_np(m, n, x.dtype))


def kron_operator(m: np.ndarray, n: int, *, dtype: Any, device: Any = "cpu") -> Callable[[Any], Any]:
    """Precompiled :func:`kron_apply` for torch tensors ``[..., 2**n]`` of one dtype and device.

    Skips the per-call checks and lookups; for inner loops (the solvers). ``n >= 1``.

    >>> import numpy as np, torch
    >>> op = kron_operator(np.array([[1.0, 0.0], [1.0, 1.0]]), 2, dtype=torch.float64)
    >>> op(torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)).tolist()
    [[1.0, 3.0, 4.0, 10.0]]
    """
    if n < 1:
        raise InputError(f"kron_operator needs n >= 1, got {n}")
    import torch

    plan = _plan_torch(m, n, dtype, torch.device(device))
    return partial(_apply_plan, plan=plan)


def moebius(f: Array) -> Array:
    """Subset Moebius transform (Harsanyi dividends / AND interactions of a game), shape kept.

    >>> import numpy as np
    >>> v = np.array([0.0, 1.0, 2.0, 5.0])  # v({}), v({0}), v({1}), v({0,1})
    >>> moebius(v).tolist()  # the pair adds 5 - 1 - 2 + 0 = 2
    [0.0, 1.0, 2.0, 2.0]
    """
    return kron_apply(f, _MOEBIUS)


def zeta(f: Array) -> Array:
    """Subset-sum (zeta) transform, the inverse of :func:`moebius`, shape kept.

    >>> import numpy as np
    >>> zeta(np.array([0.0, 1.0, 2.0, 2.0])).tolist()  # back to the game of the moebius example
    [0.0, 1.0, 2.0, 5.0]
    """
    return kron_apply(f, _ZETA)


def superset_zeta(f: Array) -> Array:
    """Superset-sum transform ``(Zup f)[U] = sum_{T superset U} f[T]``, shape kept.

    >>> import numpy as np
    >>> superset_zeta(np.array([1.0, 2.0, 3.0, 4.0])).tolist()  # [{} .. {0,1}] -> sums over supersets
    [10.0, 6.0, 7.0, 4.0]
    """
    return kron_apply(f, _SUP_ZETA)


def superset_moebius(f: Array) -> Array:
    """Inverse of :func:`superset_zeta`, shape kept.

    >>> import numpy as np
    >>> superset_moebius(np.array([10.0, 6.0, 7.0, 4.0])).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    return kron_apply(f, _SUP_MOEBIUS)


def reverse(f: Array) -> Array:
    """Complement map ``f[..., S] -> f[..., N \\ S]`` (reverses the last axis).

    >>> import numpy as np
    >>> reverse(np.array([[0, 1, 2, 3]])).tolist()  # entry {} takes f[{0,1}] (the complement)
    [[3, 2, 1, 0]]
    """
    if _is_torch(f):
        return f.flip(-1)
    return f[..., ::-1]


def or_transform(f: Array) -> Array:
    """OR interactions of the game ``f``: ``I[T] = -sum_{L subset T} (-1)^{|T|-|L|} f[N \\ L]``.

    Entry 0 holds ``-f[N]``; entries ``T != {}`` are the OR effects of Theorem 1 (docs/science.md, section 3.2).

    >>> import numpy as np
    >>> v = np.array([0.0, 1.0, 1.0, 1.0])  # an OR game: 1 once either variable is present
    >>> (or_transform(v) + 0.0).tolist()  # entry 0 is -v(N); the pair {0,1} carries the OR effect
    [-1.0, 0.0, 0.0, 1.0]
    """
    return -moebius(reverse(f))


def inverse_or_transform(i_or: Array) -> Array:
    """Inverse of :func:`or_transform` (all entries, entry 0 included).

    >>> import numpy as np
    >>> inverse_or_transform(np.array([-1.0, 0.0, 0.0, 1.0])).tolist()
    [0.0, 1.0, 1.0, 1.0]
    """
    return reverse(zeta(-i_or))


def masks_to_bitmasks(masks: Array) -> np.ndarray:
    """Boolean masks ``[..., n]`` (True = variable kept) to integer bitmasks ``[...]``.

    >>> masks_to_bitmasks([[True, False, True], [False, False, False]]).tolist()
    [5, 0]
    """
    m = np.asarray(masks.cpu() if _is_torch(masks) else masks).astype(bool)
    n = m.shape[-1]
    if n > 62:
        raise InputError(f"at most 62 variables fit in an int64 bitmask, got n={n}")
    weights = (np.int64(1) << np.arange(n, dtype=np.int64))
    return (m.astype(np.int64) * weights).sum(-1)


def bitmasks_to_masks(bitmasks: Array, n: int) -> Array:
    """Integer bitmasks ``[...]`` to boolean masks ``[..., n]`` (True = variable kept); a torch
    tensor gives a bool tensor on its device, anything else a numpy array.

    >>> bitmasks_to_masks([5, 2], 3).tolist()
    [[True, False, True], [False, True, False]]
    """
    if _is_torch(bitmasks):
        import torch

        b = bitmasks.long()
        return ((b[..., None] >> torch.arange(n, device=b.device)) & 1).bool()
    b = np.asarray(bitmasks, dtype=np.int64)
    return ((b[..., None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def singleton_bitmasks(n: int) -> np.ndarray:
    """The bitmasks ``1 << i`` of the one-variable subsets ``{i}``, ``[n]`` int64.

    >>> singleton_bitmasks(3).tolist()
    [1, 2, 4]
    """
    return np.int64(1) << np.arange(n, dtype=np.int64)
