"""The :class:`AndOrInteractions` result type and the values-level entry points.

* :func:`extract_and_or` -- sparsest AND-OR interactions of a batch of games ``v[..., 2**n]``.
* :func:`harsanyi_dividends` -- AND-only (Moebius) decomposition.

Conventions: subsets are bitmasks, arrays are in bitmask order, and every result array is a
numpy ``float64`` array on the CPU whatever the input was (torch tensors on any device are
accepted; solving runs on the input's device).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._interactions_file import ARRAY_FIELDS, read_interactions_file, write_interactions_file
from ._readers import DEFAULT_FIX
from ._typing import ArrayLike
from ._vocabulary import SOLVER_NAMES
from .errors import ConvergenceWarning, CorruptFileError, InputError, require
from .transforms import _is_torch, bitmasks_to_masks, moebius, num_variables, subset_orders

__all__ = ["AndOrInteractions", "extract_and_or", "harsanyi_dividends", "SOLVERS"]

#: Names accepted by ``extract_and_or(solver=...)``: ``"admm"`` (default) and ``"hpr"`` are the
#: same exact solver (Halpern-anchored Peaceman-Rachford; "admm" is its historical name).
SOLVERS = SOLVER_NAMES


def check_threshold_args(tau: float, absolute: float | None) -> None:
    """Validate the salience arguments: relative ``tau`` in [0, 1] (a fraction of each sample's
    max |I|), or, when given, an ``absolute`` threshold >= 0.

    >>> check_threshold_args(0.05, None)
    >>> check_threshold_args(1.5, None)
    Traceback (most recent call last):
    ...
    genphase.errors.InputError: relative tau must be in [0, 1] (a fraction of the sample's max |I|), got 1.5; use absolute=... for a fixed threshold
    """
    if absolute is not None:
        try:
            ok = float(absolute) >= 0 and math.isfinite(float(absolute))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"absolute threshold must be a finite number >= 0, got {absolute!r}")
        return
    try:
        ok = 0.0 <= float(tau) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(
            f"relative tau must be in [0, 1] (a fraction of the sample's max |I|), got {tau!r}; "
            "use absolute=... for a fixed threshold"
        )


@dataclass(frozen=True, eq=False)
class AndOrInteractions:
    """AND-OR interactions of a batch of samples; batch shape ``B`` (``values.shape[:-1]``).

    Fields (``n`` variables, arrays in bitmask order, numpy float64):

    - ``and_effects``, ``or_effects``: ``[*B, 2**n]``; entry 0 is 0.
    - ``bias``: ``[*B]``, ``v[{}] + q[{}]``.
    - ``noise``: ``[*B, 2**n]``, the noise ``q`` (``|q[S]| <= noise_bound * |v[N] - v[{}]|``).
    - ``values``: ``[*B, 2**n]``, the game ``v`` that was decomposed.
    - ``objective``: ``[*B]``, Eq. 6: ``sum_{T != {}} |and[T]| + |or[T]|``.
    - ``lower_bound``: ``[*B]``, certified lower bound on the optimum (dual bound).
    - ``gap``: ``[*B]``, certified bound on ``(objective - optimum) / optimum``.
    - ``iterations``: ``[*B]`` solver iterations; ``converged``: ``[*B]`` bool.
    - ``noise_bound``: ``r``; ``solver``: solver name; ``variables``: names of the n variables;
      ``metadata``: free JSON-serialisable dict (value function, masker, model, ...).

    Universal matching: ``predict(S) == values[..., S] + noise[..., S]`` for every mask ``S``.

    >>> import numpy as np
    >>> res = AndOrInteractions.from_effects([0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0], bias=0.5)
    >>> res.n, res.batch_shape, res.values.tolist()  # v = 0.5 + 2 [x0 and x1] + 1 [x0 or x1]
    (2, (), [0.5, 1.5, 1.5, 3.5])
    >>> res.predict([[True, False]]).tolist()  # the surrogate on the mask {x0}
    [1.5]
    """

    and_effects: np.ndarray
    or_effects: np.ndarray
    bias: np.ndarray
    noise: np.ndarray
    values: np.ndarray
    objective: np.ndarray
    lower_bound: np.ndarray
    gap: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    noise_bound: float = 0.0
    solver: str = "admm"
    variables: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_effects(
        cls,
        and_effects: ArrayLike,
        or_effects: ArrayLike,
        bias: ArrayLike | float = 0.0,
        *,
        variables: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> "AndOrInteractions":
        """Build a result from known effects (hand-built or planted sets; tests, theory).

        ``and_effects``/``or_effects``: ``[*B, 2**n]`` (entry 0 ignored and set to 0); ``bias``
        broadcastable to ``[*B]``. ``values`` is set to the surrogate's outputs, noise to 0,
        gap to 0 and objective to the L1 norm.
        """
        a = np.array(and_effects.cpu() if _is_torch(and_effects) else and_effects, dtype=np.float64)
        o = np.array(or_effects.cpu() if _is_torch(or_effects) else or_effects, dtype=np.float64)
        if a.shape != o.shape:
            raise InputError(f"and_effects {a.shape} and or_effects {o.shape} must have the same shape")
        n = num_variables(a.shape[-1], what="and_effects")
        a[..., 0] = 0.0
        o[..., 0] = 0.0
        batch = a.shape[:-1]
        b = np.broadcast_to(np.asarray(bias, dtype=np.float64), batch).copy()
        obj = np.abs(a).sum(-1) + np.abs(o).sum(-1)
        res = cls(
            and_effects=a, or_effects=o, bias=b, noise=np.zeros_like(a), values=np.zeros_like(a),
            objective=obj, lower_bound=obj.copy(), gap=np.zeros(batch), iterations=np.zeros(batch, dtype=np.int64),
            converged=np.ones(batch, dtype=bool), solver="given",
            variables=tuple(variables) if variables is not None else None, metadata=dict(metadata or {}),
        )
        if variables is not None and len(variables) != n:
            raise InputError(f"got {len(variables)} variable names for n={n} variables")
        return replace(res, values=res.reconstruct())

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        """Number of input variables."""
        return num_variables(self.and_effects.shape[-1])

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading (batch) shape: one entry per sample."""
        return tuple(self.and_effects.shape[:-1])

    @property
    def orders(self) -> np.ndarray:
        """``|T|`` for every subset, shape ``[2**n]``."""
        return subset_orders(self.n)

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the variables (``x0..x{n-1}`` unless given)."""
        return self.variables if self.variables is not None else tuple(f"x{i}" for i in range(self.n))

    def __len__(self) -> int:
        return self.batch_shape[0] if self.batch_shape else 1

    def __getitem__(self, index) -> "AndOrInteractions":
        """Index the batch axes (not the subset axis): ``res[3]``, ``res[:10]``, ``res[mask]``."""
        if not self.batch_shape:
            raise InputError("this AndOrInteractions holds a single sample; it cannot be indexed")
        if not isinstance(index, tuple):
            index = (index,)
        kw = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if isinstance(val, np.ndarray):
                kw[f.name] = val[index]
        return replace(self, **kw)

    # ------------------------------------------------------------------ views
    def merged(self) -> "AndOrInteractions":
        """Singletons merged into AND: ``and[{i}] += or[{i}]``, ``or[{i}] = 0``.

        A one-variable AND and a one-variable OR trigger on exactly the same masks, so only their
        sum is identifiable; this view reports it once, as AND. Universal matching still holds.
        """
        single = self.orders == 1
        a = self.and_effects.copy()
        o = self.or_effects.copy()
        a[..., single] += o[..., single]
        o[..., single] = 0.0
        return replace(self, and_effects=a, or_effects=o)

    def effects(self) -> np.ndarray:
        """AND and OR effects stacked: ``[*B, 2, 2**n]`` (index 0 = AND, 1 = OR)."""
        return np.stack([self.and_effects, self.or_effects], axis=-2)

    def max_abs(self) -> np.ndarray:
        """Per-sample ``max_T |I[T]|`` over AND and OR effects, shape ``[*B]``."""
        return np.maximum(np.abs(self.and_effects).max(-1), np.abs(self.or_effects).max(-1))

    def thresholds(self, tau: float = 0.05, *, absolute: float | None = None) -> np.ndarray:
        """Salience threshold per sample, ``[*B]``: ``tau * max|I|`` or the given absolute value."""
        check_threshold_args(tau, absolute)
        if absolute is not None:
            return np.full(self.batch_shape, float(absolute))
        return float(tau) * self.max_abs()

    def salient(self, tau: float = 0.05, *, absolute: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks ``(and_salient, or_salient)``, each ``[*B, 2**n]``: ``|I[T]| > threshold``."""
        thr = self.thresholds(tau, absolute=absolute)[..., None]
        return np.abs(self.and_effects) > thr, np.abs(self.or_effects) > thr

    def top_k(self, k: int = 10, *, sample: int | tuple[int, ...] = 0):
        """The ``k`` interactions of largest ``|I|`` of one sample, as a pandas DataFrame.

        Columns: ``type`` (and/or), ``mask`` (bitmask), ``order``, ``variables`` (names), ``effect``.
        """
        import pandas as pd

        one = self[sample] if self.batch_shape else self
        eff = np.concatenate([one.and_effects, one.or_effects])
        size = 1 << self.n
        k = max(0, min(int(k), 2 * size))
        idx = np.argsort(-np.abs(eff), kind="stable")[:k]
        masks = idx % size
        names = self.variable_names
        members = bitmasks_to_masks(masks, self.n)
        return pd.DataFrame(
            {
                "type": np.where(idx < size, "and", "or"),
                "mask": masks,
                "order": self.orders[masks],
                "variables": [tuple(names[j] for j in np.nonzero(m)[0]) for m in members],
                "effect": eff[idx],
            }
        )

    def predict(self, masks: ArrayLike) -> np.ndarray:
        """Surrogate ``h(x_S)`` for bitmasks ``S`` (int array ``[*B, m]`` or ``[m]``) or bool masks ``[..., n]``.

        ``h(x_S) = bias + sum_{T subset S, T != {}} and[T] + sum_{T meets S, T != {}} or[T]``.
        """
        m = np.asarray(masks.cpu() if _is_torch(masks) else masks)
        if m.dtype == bool:
            if m.shape[-1] != self.n:
                raise InputError(f"boolean masks must have last dimension n={self.n}, got {m.shape[-1]}")
            from .transforms import masks_to_bitmasks

            m = masks_to_bitmasks(m)
        m = m.astype(np.int64)
        size = 1 << self.n
        if m.size and (m.min() < 0 or m.max() >= size):
            raise InputError(f"bitmasks must lie in [0, {size - 1}] for n={self.n}, got range [{m.min()}, {m.max()}]")
        full = self.reconstruct()
        if m.ndim == 1:
            return full[..., m]
        return np.take_along_axis(full, np.broadcast_to(m, (*self.batch_shape, m.shape[-1])), axis=-1)

    def reconstruct(self) -> np.ndarray:
        """``h(x_S)`` for all ``2**n`` masks, ``[*B, 2**n]`` (computed with fast transforms)."""
        from .transforms import reverse, zeta

        a = self.and_effects.copy()
        a[..., 0] = 0.0
        o = self.or_effects.copy()
        o[..., 0] = 0.0
        # sum_{T meets S} o[T] = total - sum_{T subset N\S} o[T]
        or_part = o.sum(-1, keepdims=True) - reverse(zeta(o))
        return self.bias[..., None] + zeta(a) + or_part

    # ------------------------------------------------------------------ export
    def to_frame(self, *, tau: float | None = None, absolute: float | None = None, merged: bool = False):
        """Long-form pandas DataFrame: ``sample, type, mask, order, effect[, salient]``.

        ``sample`` is the flat index over the batch shape. With ``tau`` or ``absolute``, only
        salient interactions are kept.
        """
        import pandas as pd

        res = self.merged() if merged else self
        size = 1 << self.n
        eff = res.effects().reshape(-1, 2, size)
        nb = eff.shape[0]
        sample, typ, mask = np.meshgrid(np.arange(nb), np.arange(2), np.arange(size), indexing="ij")
        keep = mask != 0
        if tau is not None or absolute is not None:
            thr = res.thresholds(0.05 if tau is None else tau, absolute=absolute).reshape(-1)
            keep &= np.abs(eff) > thr[:, None, None]
        return pd.DataFrame(
            {
                "sample": sample[keep],
                "type": np.where(typ[keep] == 0, "and", "or"),
                "mask": mask[keep],
                "order": self.orders[mask[keep]],
                "effect": eff[keep],
            }
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Save to ``path`` (``.npz`` appended if missing: the arrays and JSON metadata), atomically;
        returns the path. See :meth:`load`.

        >>> import tempfile
        >>> res = extract_and_or(np.arange(4.0))
        >>> AndOrInteractions.load(res.save(tempfile.mkdtemp() + "/ints")).n
        2
        """
        meta = {
            "n": self.n,
            "batch_shape": list(self.batch_shape),
            "noise_bound": self.noise_bound,
            "solver": self.solver,
            "variables": list(self.variables) if self.variables is not None else None,
            "metadata": self.metadata,
        }
        return write_interactions_file(path, {k: getattr(self, k) for k in ARRAY_FIELDS}, meta)

    @staticmethod
    def load(path: str | os.PathLike, *, fix: str | None = None) -> "AndOrInteractions":
        """Load a result written by :meth:`save`. A missing, truncated or foreign file, or one whose
        arrays disagree, raises :class:`~genphase.errors.CorruptFileError` naming it (``fix``: the
        remedy the message names). Example: :meth:`save`."""
        arrays, meta = read_interactions_file(path, fix)
        try:
            return AndOrInteractions(
                **arrays,
                noise_bound=float(meta["noise_bound"]),
                solver=str(meta["solver"]),
                variables=tuple(meta["variables"]) if meta.get("variables") is not None else None,
                metadata=dict(meta.get("metadata") or {}),
            )
        except (InputError, ValueError, TypeError) as exc:
            fix = DEFAULT_FIX if fix is None else fix
            raise CorruptFileError(f"{str(path)!r} holds inconsistent interactions ({exc}); {fix}", path) from exc

    def to_shapiq(self, sample: int | tuple[int, ...] = 0, *, kind: str = "and"):
        """One sample as ``shapiq.InteractionValues`` (needs the ``shapiq`` extra).

        ``kind="and"``: the AND effects (with ``bias`` as the empty coalition), index ``"Moebius"``;
        ``kind="harsanyi"``: the plain Moebius transform of ``values`` (shapiq's exact Moebius values);
        ``kind="or"``: the OR effects, index ``"Moebius"`` as the closest shapiq index.

        >>> iv = extract_and_or(np.array([0.0, 1.0, 1.0, 3.0])).to_shapiq(kind="harsanyi")
        >>> round(float(iv[(0, 1)]), 6)
        1.0
        """
        shapiq = require("shapiq", "shapiq", "Conversion to shapiq.InteractionValues")
        one = self[sample] if self.batch_shape else self
        if kind == "and":
            vec = one.and_effects.copy()
            vec[0] = one.bias
        elif kind == "or":
            vec = one.or_effects.copy()
            vec[0] = one.bias
        elif kind == "harsanyi":
            vec = moebius(one.values)
        else:
            raise InputError(f"kind must be 'and', 'or' or 'harsanyi', got {kind!r}")
        n = self.n
        nz = np.nonzero(vec)[0]
        if 0 not in nz:
            nz = np.concatenate([[0], nz])
        members = bitmasks_to_masks(nz, n)
        lookup = {tuple(np.flatnonzero(m).tolist()): pos for pos, m in enumerate(members)}
        return shapiq.InteractionValues(
            values=np.asarray(vec[nz], dtype=float),
            index="Moebius",
            max_order=n,
            min_order=0,
            n_players=n,
            interaction_lookup=lookup,
            baseline_value=float(vec[0]),
            estimated=False,
        )

    def summary(self) -> dict[str, Any]:
        """Small JSON-friendly summary of the batch (shape, solver, worst gap...)."""
        return {
            "n": self.n,
            "batch_shape": list(self.batch_shape),
            "solver": self.solver,
            "noise_bound": self.noise_bound,
            "max_gap": float(np.max(self.gap)) if self.gap.size else 0.0,
            "all_converged": bool(np.all(self.converged)),
            "mean_objective": float(np.mean(self.objective)) if self.objective.size else 0.0,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"AndOrInteractions(n={s['n']}, batch_shape={tuple(s['batch_shape'])}, solver={self.solver!r}, "
            f"noise_bound={self.noise_bound}, max_gap={s['max_gap']:.2e})"
        )


# ---------------------------------------------------------------------- entry points
def _check_values(values: ArrayLike, what: str = "values"):
    """Validate a value array; return it as a float64 torch tensor plus (n, batch_shape)."""
    import torch

    if _is_torch(values):
        t = values.detach()
        if t.is_complex():
            raise InputError(f"{what} must be real, got a complex tensor ({t.dtype}); pass its real part explicitly if that is meant")
        if not t.is_floating_point():
            t = t.double()
        t = t.to(torch.float64) if t.device.type != "mps" else t.float()
    else:
        arr = np.asarray(values)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{what} must be a numeric array, got dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise InputError(f"{what} must be real, got dtype {arr.dtype}; pass its real part explicitly if that is meant")
        t = torch.as_tensor(np.ascontiguousarray(arr, dtype=np.float64))
    if t.ndim == 0:
        raise InputError(f"{what} must have shape [..., 2**n], got a scalar")
    n = num_variables(t.shape[-1], what=what)
    batch = tuple(t.shape[:-1])
    if t.numel() == 0 or any(b == 0 for b in batch):
        raise InputError(f"{what} is an empty batch (shape {tuple(t.shape)}); pass at least one sample")
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        flat = bad.reshape(-1, t.shape[-1]).any(-1).nonzero()[:5, 0].tolist()
        raise InputError(
            f"{what} contains NaN or inf (first bad samples in flattened batch order: {flat}); "
            "check the model's outputs (e.g. use the stable log-odds value function) before extracting"
        )
    return t, n, batch


def harsanyi_dividends(values: ArrayLike) -> np.ndarray:
    """AND-only decomposition: the Moebius transform of ``v`` (Harsanyi dividends).

    ``values``: ``[..., 2**n]``; returns the same shape (numpy float64) with entry 0 = ``v[{}]``.
    These equal shapiq's exact "Moebius" interaction values.

    >>> harsanyi_dividends([[0.0, 1.0, 1.0, 1.0]]).tolist()  # an OR game needs an AND term of -1 on the pair
    [[0.0, 1.0, 1.0, -1.0]]
    """
    t, _, _ = _check_values(values)
    return moebius(t).cpu().numpy()


def _to_np(x) -> np.ndarray:
    return x.detach().cpu().numpy()


def _device_of(values: Any, device: Any) -> Any:
    """The torch device the solver will run on: ``device`` if given, else that of a tensor, else the CPU."""
    import torch

    if device is not None:
        return torch.device(device)
    return values.device if _is_torch(values) else torch.device("cpu")


def check_memory(n: int, device: Any = "cpu", *, noisy: bool = True, batch_size: int | None = None) -> None:
    """Raise :class:`~genphase.errors.MemoryEstimateError` when one sample of ``n`` variables needs more memory
    than ``device`` has free (:func:`genphase.solvers.estimate_memory`), whatever ``batch_size`` is: even a
    batch of one sample cannot go below that. :func:`extract_and_or` calls it before it copies the values.

    >>> check_memory(10)  # about 1.3 MiB per sample: fits anywhere
    >>> check_memory(40, batch_size=1)  # about 1.4 PiB per sample
    Traceback (most recent call last):
    ...
    genphase.errors.MemoryEstimateError: n=40 needs about 1407374883553280 bytes (...) per sample for the exact solver, but only ...
    """
    import torch

    from .errors import MemoryEstimateError
    from .solvers import available_memory, estimate_memory

    dev = torch.device(device)
    need = estimate_memory(int(n), 1, noisy=noisy)
    free = available_memory(dev)
    if need > free * 0.8:  # the threshold of genphase.solvers.default_batch_size
        m = max(1, int(n))
        while m > 1 and estimate_memory(m, 1, noisy=noisy) > free * 0.8:
            m -= 1
        size = f"batch_size={batch_size} cannot help: one sample alone needs that much" if batch_size is not None else (
            "a smaller batch cannot help: one sample alone needs that much")
        raise MemoryEstimateError(
            f"n={n} needs about {need} bytes ({need / 2**30:.2f} GiB) per sample for the exact solver, but only "
            f"{free / 2**30:.2f} GiB is free on {dev} ({size}); use fewer variables (n={m} needs "
            f"{estimate_memory(m, 1, noisy=noisy) / 2**30:.2f} GiB here) or a machine with more free memory")


def extract_and_or(
    values: ArrayLike,
    *,
    noise_bound: float = 0.0,
    solver: str = "admm",
    tol: float = 1e-3,
    max_iter: int | None = None,
    batch_size: int | None = None,
    warm_start: AndOrInteractions | None = None,
    variables: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    device: Any = None,
    progress: bool = False,
    **solver_options: Any,
) -> AndOrInteractions:
    """Sparsest AND-OR interactions of a batch of games (Eq. 6 of docs/science.md), with a certified gap.

    Args:
        values: ``[..., 2**n]`` array or tensor, ``v[..., S] = v(x_S)`` in bitmask order.
        noise_bound: ``r >= 0``; the noise satisfies ``|q[S]| <= r * |v[N] - v[{}]|`` per sample.
        solver: ``"admm"`` (default; also ``"hpr"``; exact, certified; samples it leaves unconverged are
            re-solved by the exact LP when ``n <= 10``, which happens mostly with noise), ``"sgd-reference"`` (the original
            research recipe, for reproducing published numbers), or ``"highs"`` (exact LP
            through scipy, small ``n`` only).
        tol: target certified relative gap for ``"admm"`` (default ``1e-3``).
        max_iter: iteration cap (solver-specific default).
        batch_size: samples solved together; default chosen from available memory.
        warm_start: a previous result for the same samples and variables (e.g. the previous
            checkpoint; its values may differ). Checked, then used only with ``ties="least-norm"``,
            where it starts the solver from its effects and changes only the time taken. The
            default rule is the cold path's optimum, so it is not used there (it saved at most
            about 10% of the iterations, docs/solver.md, "Warm starts").
        variables, metadata: stored on the result.
        device: solve on this torch device (default: the device of ``values``).
        progress: show a progress bar over batches.
        **solver_options: extra options of the chosen solver (see :mod:`genphase.solvers`). For
            the default solver, ``ties`` picks which optimum is reported among tied ones
            (docs/solver.md, "Ties"; the rule is stated in ``metadata["tie_rule"]``):
            ``"cold-start"`` (default) the one the iteration reaches from its fixed cold start,
            the same alone or in any batch; ``"least-norm"`` the least-L2-norm optimum,
            certified and independent of the algorithm, tens of times slower on network games, with
            ``tiebreak`` (its ``mu``, in [1e-4, 10], default 0.5) and ``tie_tol`` (certified
            distance as a fraction of max|effect|, in [1e-8, 0.05], default 5e-3).

    Returns:
        :class:`AndOrInteractions` with ``and_effects``, ``or_effects``, ``bias``, ``noise``,
        ``objective``, ``lower_bound``, ``gap``... of batch shape ``values.shape[:-1]``.

    >>> import numpy as np
    >>> v = np.array([[0.0, 0.0, 0.0, 1.0],   # x0 AND x1: one AND effect
    ...               [0.0, 1.0, 1.0, 1.0]])  # x0 OR x1: one OR effect
    >>> res = extract_and_or(v, tol=1e-6)
    >>> res.batch_shape, res.and_effects.round(3).tolist(), (res.or_effects.round(3) + 0.0).tolist()
    ((2,), [[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    >>> res.objective.round(3).tolist(), res.converged.tolist()
    ([1.0, 1.0], [True, True])
    """
    from .solvers import solve

    noise_bound = _real_scalar(noise_bound, "noise_bound")
    if not (math.isfinite(noise_bound) and noise_bound >= 0):
        raise InputError(f"noise_bound must be a finite number >= 0 (a fraction of |v[N]-v[{{}}]|), got {noise_bound!r}")
    shape = getattr(values, "shape", None)
    if shape is not None and len(shape) >= 1 and shape[-1] >= 1 and not shape[-1] & (shape[-1] - 1):
        # before values are copied or scanned: n from the shape alone
        check_memory(int(shape[-1]).bit_length() - 1, _device_of(values, device), noisy=noise_bound > 0,
                     batch_size=batch_size)
    t, n, batch = _check_values(values)
    check_memory(n, _device_of(t, device), noisy=noise_bound > 0, batch_size=batch_size)
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    tol = _real_scalar(tol, "tol")
    if not (0 < tol < 1):
        raise InputError(f"tol is a relative duality gap and must lie in (0, 1), got {tol!r}; the default is 1e-3")
    if max_iter is not None:
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise InputError(f"max_iter must be an integer >= 1 (or None for the solver's default), got {max_iter!r}")
        max_iter = int(max_iter)
    _check_solver_options(solver, solver_options)
    if variables is not None and len(variables) != n:
        raise InputError(f"got {len(variables)} variable names for n={n} variables")
    if warm_start is not None:
        _check_warm_start(warm_start, n, batch, variables)
    if device is not None:
        t = t.to(device)
    flat = t.reshape(-1, 1 << n)
    init = None
    if warm_start is not None:
        init = (warm_start.and_effects.reshape(-1, 1 << n), warm_start.or_effects.reshape(-1, 1 << n))
    raw = solve(
        flat,
        noise_bound=float(noise_bound),
        solver=solver,
        tol=tol,
        max_iter=max_iter,
        batch_size=batch_size,
        init=init,
        progress=progress,
        **solver_options,
    )
    if solver != "sgd-reference" and not bool(np.all(raw.converged)):
        bad = int((~raw.converged).sum())
        ties = " or the tie rule's certificate (tie_tol)" if solver_options.get("ties") == "least-norm" else ""
        warnings.warn(
            f"{bad} of {raw.converged.size} samples did not reach the certified gap tol={tol}{ties} "
            f"(worst gap {float(raw.gap.max()):.3g}, at most {int(raw.iterations.max())} iterations); "
            f"raise max_iter or tol, or for n <= 10 use solver='highs'",
            ConvergenceWarning,
            stacklevel=2,
        )
    v_np = _to_np(flat)

    def shaped(x: np.ndarray, per_mask: bool = True) -> np.ndarray:
        return x.reshape(*batch, 1 << n) if per_mask else x.reshape(batch)

    meta = dict(metadata or {})
    meta.setdefault("solver_options", {k: v for k, v in solver_options.items() if _is_json_serializable(v)})
    meta.setdefault("tol", tol)
    for k, val in raw.metadata.items():
        meta.setdefault(k, val)
    return AndOrInteractions(
        and_effects=shaped(raw.and_effects),
        or_effects=shaped(raw.or_effects),
        bias=shaped(v_np[:, 0] + raw.noise[:, 0], False),
        noise=shaped(raw.noise),
        values=shaped(v_np),
        objective=shaped(raw.objective, False),
        lower_bound=shaped(raw.lower_bound, False),
        gap=shaped(raw.gap, False),
        iterations=shaped(raw.iterations, False),
        converged=shaped(raw.converged, False),
        noise_bound=float(noise_bound),
        solver=solver,
        variables=tuple(variables) if variables is not None else None,
        metadata=meta,
    )


def _check_warm_start(warm_start: Any, n: int, batch: tuple[int, ...], variables: Sequence[str] | None) -> None:
    """A warm start must be a result for the same variables and samples (n, batch shape, names);
    its values may differ (the previous checkpoint's are the usual warm start)."""
    if not isinstance(warm_start, AndOrInteractions):
        raise InputError(
            f"warm_start must be an AndOrInteractions (a previous extract_and_or result), got {type(warm_start).__name__}"
        )
    if warm_start.n != n or warm_start.batch_shape != batch:
        raise InputError(
            f"warm_start has n={warm_start.n}, batch {warm_start.batch_shape}; values have n={n}, batch {batch}; "
            "pass a result for the same samples and variables (or no warm start)"
        )
    if variables is not None and warm_start.variables is not None and tuple(variables) != tuple(warm_start.variables):
        raise InputError(
            f"warm_start is for the variables {list(warm_start.variables)[:6]}..., these values for {list(variables)[:6]}...; "
            "a warm start must come from the same variables"
        )
    if not (np.all(np.isfinite(warm_start.and_effects)) and np.all(np.isfinite(warm_start.or_effects))):
        raise InputError("warm_start has NaN or inf effects; pass a finished result (or no warm start)")


def _real_scalar(x: Any, name: str) -> float:
    """``x`` as a Python float: accepts Python, numpy and 0-d torch real numbers, refuses the rest."""
    if _is_torch(x):
        if x.numel() != 1 or x.ndim != 0:
            raise InputError(f"{name} must be a number, got a tensor of shape {tuple(x.shape)}")
        x = x.item()
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a real number, got {x!r} ({type(x).__name__})")
    return float(x)


#: options each non-default solver accepts through ``extract_and_or(**solver_options)``
_SOLVER_OPTIONS = {"highs": ("time_limit",), "sgd-reference": ("steps", "lr", "momentum", "decay", "certify")}


def _check_solver_options(solver: str, options: Mapping[str, Any]) -> None:
    valid = _SOLVER_OPTIONS.get(solver)
    if valid is None:  # the exact solver checks its own options against its dataclass
        return
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InputError(f"unknown options {unknown} for solver {solver!r}; valid: {list(valid)}")


def _is_json_serializable(x: Any) -> bool:
    try:
        json.dumps(x)
        return True
    except TypeError:
        return False
