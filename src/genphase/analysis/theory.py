"""Theory model of the two-phase dynamics: regression on noisy triggering functions.

**This is a reconstruction, not the published model.** The theory paper (arXiv 2407.19198) models
learning as a regression on interaction-triggering functions under noise whose level shrinks over
training; only a thin summary of it was available. Following docs/science.md, section 11.3, genphase
implements this explicit form:

    w(sigma^2) = (J^T J + 2^n diag(s(sigma^2)))^{-1} J^T y

* ``y[S] = v(x_S)``: the masked outputs of a (trained) model on one sample, all ``2^n`` masks;
* ``J[S, T] = 1[T subset S]``: the AND triggering function of ``T`` on mask ``S`` (so ``J w`` is the
  zeta transform of ``w`` and ``J^T y`` the superset-sum transform of ``y``);
* ``s_T(sigma^2) = (1 + sigma^2)^|T| - 1`` (default; any penalty growing with the order can be
  passed): the noise on a triggering function of order ``|T|`` grows with the number of variables
  it multiplies, so high orders are shrunk most;
* ``w(sigma^2)``: the interactions (AND / Harsanyi type, index ``T``; ``w[{}]`` is the bias) the
  model is predicted to encode at noise level ``sigma^2``. At ``sigma^2 = 0`` they are exactly the
  Harsanyi dividends (Moebius transform) of ``y``; as ``sigma^2`` shrinks over training, ever
  higher orders are learned -- the second phase of the two-phase dynamics. (The first phase, the
  removal of the initialisation's noise interactions, is not part of this model.)

The order distribution of ``w`` (per order, positive and negative apart, averaged over samples) is
the model's prediction; :func:`fit_noise_schedule` fits one ``sigma^2`` per checkpoint of a measured
order distribution (optionally constrained to shrink over training) and reports how well it fits.

Computation: ``J^T J`` is the Kronecker product of ``[[2, 1], [1, 1]]`` (one per variable), applied
in ``O(n 2^n)``. The system is solved exactly by a dense Cholesky factorisation for small ``n``
(``method="dense"``, default for ``n <= 6``) and otherwise by preconditioned conjugate gradients
(``method="cg"``) batched over samples, whose preconditioner is the exact inverse of
``J^T J + beta * diag(c^|T|)`` -- a sum of two Kronecker products, inverted in ``O(n 2^n)`` through
the 2x2 generalised eigenproblem -- with ``beta, c`` fitted to ``2^n s_T`` by least squares in log scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ..transforms import kron_apply, moebius, num_variables, subset_orders, superset_zeta
from ._common import order_onehot
from ._stats import split_groups
from .order_distribution import checkpoint_items
from .tables import long_form

__all__ = [
    "default_penalty",
    "TriggeringRegression",
    "TheoryPrediction",
    "NoiseScheduleFit",
    "fit_noise_schedule",
    "default_sigma2_grid",
    "harsanyi_order_distribution",
    "THEORY_COLUMNS",
]

#: Columns of the predicted-vs-measured table :meth:`NoiseScheduleFit.to_table` (``metrics/theory_fit.parquet``).
THEORY_COLUMNS: tuple[str, ...] = ("checkpoint", "sigma2", "order", "measured", "predicted", "distance")

_A = np.array([[2.0, 1.0], [1.0, 1.0]])  # J^T J per variable (rows/cols: bit absent, present)
_A_INV = np.array([[1.0, -1.0], [-1.0, 2.0]])

Penalty = Callable[[np.ndarray, float], np.ndarray]


def default_penalty(orders: np.ndarray, sigma2: float) -> np.ndarray:
    """``s_T = (1 + sigma^2)^|T| - 1`` for orders ``|T|`` (computed as ``expm1(|T| log1p(sigma^2))``).

    >>> default_penalty(np.array([0, 1, 2]), 1.0).tolist()  # (1 + 1)^|T| - 1
    [0.0, 1.0, 3.0]
    """
    return np.expm1(np.asarray(orders, dtype=np.float64) * np.log1p(float(sigma2)))


def default_sigma2_grid(num: int = 91) -> np.ndarray:
    """Descending log grid of noise levels, ``1e2`` down to ``1e-7`` (``num`` points).

    >>> default_sigma2_grid(3).tolist()  # 1e2 down to 1e-7, evenly in log
    [100.0, 0.0031622776601683794, 1e-07]
    """
    return np.logspace(2.0, -7.0, int(num))


def _as_values(values: Any) -> np.ndarray:
    if isinstance(values, AndOrInteractions):
        v = np.asarray(values.values, dtype=np.float64)
        what = "values of the AndOrInteractions"
    else:
        try:
            v = np.asarray(values.cpu() if hasattr(values, "cpu") else values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"values must be a numeric array [*B, 2**n], got {type(values).__name__}") from exc
        what = "values"
    if v.ndim == 0:
        raise InputError(f"{what} must have shape [*B, 2**n], got a scalar")
    num_variables(v.shape[-1], what=what)
    if v.size == 0:
        raise InputError(f"{what} is empty; pass the masked outputs of at least one sample")
    if not np.all(np.isfinite(v)):
        raise InputError(f"{what} contain NaN or inf; the theory model needs finite masked outputs")
    return v


def _pcg(apply_a: Callable[[np.ndarray], np.ndarray], apply_m: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
         x0: np.ndarray | None, tol: float, max_iter: int) -> tuple[np.ndarray, int, float]:
    """Batched preconditioned CG on rows of ``b`` ``[R, N]``; returns (x, iterations, worst relative residual)."""
    x = np.zeros_like(b) if x0 is None else x0.copy()
    r = b - apply_a(x) if x0 is not None else b.copy()
    bn = np.linalg.norm(b, axis=-1)
    bn = np.where(bn > 0, bn, 1.0)
    z = apply_m(r)
    p = z.copy()
    rz = np.einsum("ij,ij->i", r, z)
    it = 0
    rel = float(np.max(np.linalg.norm(r, axis=-1) / bn))
    while rel > tol and it < max_iter:
        ap = apply_a(p)
        pap = np.einsum("ij,ij->i", p, ap)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.where(pap > 0, rz / np.where(pap > 0, pap, 1.0), 0.0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * ap
        it += 1
        rel = float(np.max(np.linalg.norm(r, axis=-1) / bn))
        if rel <= tol:
            break
        z = apply_m(r)
        rz_new = np.einsum("ij,ij->i", r, z)
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(rz > 0, rz_new / np.where(rz > 0, rz, 1.0), 0.0)
        p = z + beta[:, None] * p
        rz = rz_new
    return x, it, rel


@dataclass(frozen=True, eq=False)
class TheoryPrediction:
    """Predicted order distribution along a noise schedule.

    - ``sigma2``: ``[S]`` noise levels (in the order given).
    - ``strength``: ``[S, n, 2]`` mean over samples of the signed sums of ``w`` per order 1..n and
      sign (+, -; "-" entries <= 0).

    >>> p = TheoryPrediction(sigma2=np.array([1.0]), strength=np.array([[[3.0, 0.0], [1.0, -0.5]]]))
    >>> p.to_frame().query("metric == 'strength'")[["order", "sign", "value"]].values.tolist()
    [[1, '+', 3.0], [1, '-', 0.0], [2, '+', 1.0], [2, '-', -0.5]]
    """

    sigma2: np.ndarray
    strength: np.ndarray

    @property
    def n(self) -> int:
        """Number of input variables."""
        return int(self.strength.shape[1])

    @property
    def share(self) -> np.ndarray:
        """``[S, n]``: ``|+| + |-|`` strength per order, normalised to sum to one."""
        a = np.abs(self.strength).sum(-1)
        tot = a.sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, a / np.where(tot > 0, tot, 1.0), np.nan)

    @property
    def share_signed(self) -> np.ndarray:
        """``[S, n, 2]``: ``|strength|`` per order and sign, normalised to sum to one."""
        a = np.abs(self.strength)
        tot = a.sum(axis=(-2, -1), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, a / np.where(tot > 0, tot, 1.0), np.nan)

    def mean_order(self) -> np.ndarray:
        """Strength-weighted mean order ``[S]``."""
        s = self.share
        return (s * np.arange(1, self.n + 1)).sum(-1)

    def to_frame(self) -> pd.DataFrame:
        """Long form: ``sigma2, order, sign, metric, value`` (metrics strength and share_signed)."""
        arr = np.stack([self.strength, self.share_signed], axis=-1)
        return long_form(arr, [("sigma2", self.sigma2), ("order", np.arange(1, self.n + 1)), ("sign", ["+", "-"]),
                               ("metric", ["strength", "share"])])


class TriggeringRegression:
    """Ridge regression on triggering functions with an order-dependent penalty (a RECONSTRUCTION).

    ``w(sigma^2) = (J^T J + 2^n diag(s_T(sigma^2)))^{-1} J^T y`` per sample; see the module docstring.

    ``values``: masked outputs ``[*B, 2**n]`` (or an AndOrInteractions, whose ``values`` are used);
    ``penalty``: ``s(orders, sigma2) -> array`` (default :func:`default_penalty`), must be >= 0;
    ``method``: "auto" (dense for n <= 6, else CG), "dense" or "cg"; ``tol``/``max_iter``: CG stopping rule
    (relative residual).

    >>> v = np.array([[0.0, 1.0, 1.0, 3.0]])  # Harsanyi dividends: {0}: 1, {1}: 1, {0, 1}: 1
    >>> reg = TriggeringRegression(v)
    >>> reg.interactions(1e-6).round(4).tolist()  # almost no noise: the dividends
    [[0.0, 1.0, 1.0, 1.0]]
    >>> share = reg.predict([1e-6, 100.0]).strength[:, :, 0]  # [sigma2, order 1..2], sign +
    >>> (share / share.sum(1, keepdims=True)).round(3).tolist()  # much noise: almost all strength on order 1
    [[0.667, 0.333], [0.994, 0.006]]
    """

    def __init__(self, values: Any, *, penalty: Penalty | None = None, method: str = "auto", tol: float = 1e-10,
                 max_iter: int = 2000) -> None:
        v = _as_values(values)
        self.values = v
        self.n = num_variables(v.shape[-1])
        self.batch_shape = tuple(v.shape[:-1])
        self.penalty = penalty or default_penalty
        if method not in ("auto", "dense", "cg"):
            raise InputError(f"method must be 'auto', 'dense' or 'cg', got {method!r}")
        self.method = ("dense" if self.n <= 6 else "cg") if method == "auto" else method
        if not (tol > 0 and max_iter >= 1):
            raise InputError(f"need tol > 0 and max_iter >= 1, got tol={tol}, max_iter={max_iter}")
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self._y = v.reshape(-1, v.shape[-1])
        self._rhs = superset_zeta(self._y)  # J^T y
        self._dense_a: np.ndarray | None = None
        #: CG diagnostics of the last solve: iterations and worst relative residual per sigma^2.
        self.last_info: list[dict[str, float]] = []

    # ------------------------------------------------------------------ pieces
    def penalty_weights(self, sigma2: float) -> np.ndarray:
        """``s_m(sigma^2)`` for orders ``m = 0..n`` (``[n+1]``)."""
        if not (math.isfinite(float(sigma2)) and float(sigma2) >= 0):
            raise InputError(f"sigma2 must be a finite number >= 0, got {sigma2!r}")
        s = np.asarray(self.penalty(np.arange(self.n + 1), float(sigma2)), dtype=np.float64).reshape(-1)
        if s.shape != (self.n + 1,) or not np.all(np.isfinite(s)) or np.any(s < 0):
            raise InputError(f"penalty(orders, {sigma2}) must return n+1={self.n + 1} finite values >= 0, got {s}")
        return s

    def _dense(self) -> np.ndarray:
        if self._dense_a is None:
            a = np.ones((1, 1))
            for _ in range(self.n):
                a = np.kron(_A, a)
            self._dense_a = a
        return self._dense_a

    def _solve_one(self, sigma2: float, x0: np.ndarray | None) -> np.ndarray:
        n = self.n
        size = 1 << n
        s = self.penalty_weights(sigma2)
        d = size * s[subset_orders(n)]  # [2**n] diagonal of the penalty
        if not np.any(d > 0):
            self.last_info.append({"sigma2": float(sigma2), "iterations": 0, "residual": 0.0})
            return moebius(self._y)  # J^{-1} y exactly
        if self.method == "dense":
            from scipy.linalg import cho_factor, cho_solve

            mat = self._dense() + np.diag(d)
            w = cho_solve(cho_factor(mat), self._rhs.T).T
            self.last_info.append({"sigma2": float(sigma2), "iterations": 0, "residual": 0.0})
            return w
        t = size * s
        m = np.arange(n + 1)
        pos = (t > 0) & (m >= 1)
        if pos.sum() >= 2:
            slope, icpt = np.polyfit(m[pos], np.log(t[pos]), 1)
            beta, c = math.exp(icpt), math.exp(slope)
        elif pos.sum() == 1:
            beta, c = float(t[pos][0]), 1.0
        else:
            beta, c = 0.0, 1.0
        if beta > 0:
            dt = beta ** (1.0 / n) * np.array([1.0, c])
            dih = 1.0 / np.sqrt(dt)
            lam, u = np.linalg.eigh(dih[:, None] * _A * dih[None, :])
            vmat = dih[:, None] * u
            orders = subset_orders(n)
            kl = lam[0] ** (n - orders) * lam[1] ** orders
            inv_diag = 1.0 / (kl + 1.0)

            def apply_m(r: np.ndarray) -> np.ndarray:
                return kron_apply(kron_apply(r, vmat.T) * inv_diag, vmat)
        else:
            def apply_m(r: np.ndarray) -> np.ndarray:
                return kron_apply(r, _A_INV)

        def apply_a(x: np.ndarray) -> np.ndarray:
            return kron_apply(x, _A) + d * x

        w, it, rel = _pcg(apply_a, apply_m, self._rhs, x0, self.tol, self.max_iter)
        self.last_info.append({"sigma2": float(sigma2), "iterations": it, "residual": rel})
        return w

    # ------------------------------------------------------------------ public
    def interactions(self, sigma2: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """``w(sigma^2)``: ``[*B, 2**n]`` for a scalar ``sigma2``, ``[S, *B, 2**n]`` for a sequence."""
        scalar = np.ndim(sigma2) == 0
        s2 = np.atleast_1d(np.asarray(sigma2, dtype=np.float64))
        if s2.ndim != 1 or s2.size == 0:
            raise InputError(f"sigma2 must be a number or a non-empty 1-D sequence, got shape {np.shape(sigma2)}")
        self.last_info = []
        out = np.empty((s2.size, *self._y.shape))
        order = np.argsort(-s2, kind="stable")  # solve from large to small noise, warm-starting CG
        prev = None
        for i in order:
            w = self._solve_one(float(s2[i]), prev)
            out[i] = w
            prev = w
        out = out.reshape(s2.size, *self.batch_shape, 1 << self.n)
        return out[0] if scalar else out

    def predict(self, sigma2: float | Sequence[float] | np.ndarray | None = None) -> TheoryPrediction:
        """Predicted order distribution (mean over samples) at each noise level (default: :func:`default_sigma2_grid`)."""
        s2 = default_sigma2_grid() if sigma2 is None else np.atleast_1d(np.asarray(sigma2, dtype=np.float64))
        w = self.interactions(s2).reshape(s2.size, -1, 1 << self.n)
        oh = order_onehot(self.n)
        pos = (np.maximum(w, 0.0) @ oh).mean(1)
        neg = (np.minimum(w, 0.0) @ oh).mean(1)
        return TheoryPrediction(sigma2=s2.copy(), strength=np.stack([pos, neg], axis=-1))


@dataclass(frozen=True, eq=False)
class NoiseScheduleFit:
    """A noise schedule fitted to a measured order distribution, and how well it matches.

    - ``checkpoints``: ``[C]``; ``sigma2``: ``[C]`` fitted noise level per checkpoint.
    - ``measured`` / ``predicted``: ``[C, n]`` shares per order (or ``[C, n, 2]`` with ``sign_split``).
    - ``distance``: ``[C]`` total-variation distance ``0.5 * sum |measured - predicted|`` in [0, 1].
    - ``constant_sigma2`` / ``constant_distance``: the best single noise level for all checkpoints
      and its distances (a reference: a useful schedule should beat it).
    - ``r2``: ``1 - SSE / SST`` of the shares over all checkpoints and cells.
    - ``spearman``: rank correlation of ``sigma2`` with the checkpoint (negative = shrinking noise).
    - ``monotone``: whether the schedule was constrained to be non-increasing.

    >>> v = np.array([[0.0, 1.0, 1.0, 3.0]])
    >>> fit = fit_noise_schedule(v, [[1.0, 0.0], [2.0, 1.0]], sigma2_grid=[100.0, 1.0, 1e-6])
    >>> fit.checkpoints.tolist(), fit.sigma2.tolist(), fit.distance.round(3).tolist()
    ([0, 1], [100.0, 1e-06], [0.006, 0.0])
    """

    checkpoints: np.ndarray
    sigma2: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    distance: np.ndarray
    constant_sigma2: float
    constant_distance: np.ndarray
    r2: float
    spearman: float
    monotone: bool
    sigma2_grid: np.ndarray

    @property
    def mean_distance(self) -> float:
        """Mean total-variation distance over checkpoints."""
        return float(self.distance.mean())

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary of the fit."""
        return {
            "mean_distance": self.mean_distance, "max_distance": float(self.distance.max()),
            "constant_sigma2": self.constant_sigma2, "constant_mean_distance": float(self.constant_distance.mean()),
            "r2": self.r2, "spearman": self.spearman, "monotone": self.monotone,
            "schedule": {int(c): float(s) for c, s in zip(self.checkpoints, self.sigma2)},
            "model": "reconstruction: w = (J^T J + 2^n diag((1+sigma^2)^|T| - 1))^-1 J^T y (docs/science.md, section 11.3)",
        }

    def to_table(self) -> pd.DataFrame:
        """Predicted against measured order distribution, one row per checkpoint and order (what a report draws):
        ``checkpoint, sigma2, order, measured, predicted, distance`` -- shares per order (summed over signs
        with ``sign_split``), the fitted noise level and the checkpoint's total-variation distance."""
        meas = self.measured if self.measured.ndim == 2 else self.measured.sum(-1)
        pred = self.predicted if self.predicted.ndim == 2 else self.predicted.sum(-1)
        C, n = meas.shape
        return pd.DataFrame({
            "checkpoint": np.repeat(self.checkpoints, n), "sigma2": np.repeat(self.sigma2, n),
            "order": np.tile(np.arange(1, n + 1), C), "measured": meas.reshape(-1), "predicted": pred.reshape(-1),
            "distance": np.repeat(self.distance, n),
        })[list(THEORY_COLUMNS)]

    def to_frame(self) -> pd.DataFrame:
        """Long form: ``checkpoint, order, [sign,] metric, value`` (metrics measured / predicted) with ``sigma2``."""
        arr = np.stack([self.measured, self.predicted], axis=-1)
        axes: list[tuple[str, Any]] = [("checkpoint", self.checkpoints), ("order", np.arange(1, arr.shape[1] + 1))]
        if arr.ndim == 4:
            axes.append(("sign", ["+", "-"]))
        axes.append(("metric", ["measured", "predicted"]))
        fr = long_form(arr, axes)
        fr.insert(1, "sigma2", pd.Series(self.sigma2, index=self.checkpoints).reindex(fr["checkpoint"]).to_numpy())
        return fr


def _measured_from_frame(frame: pd.DataFrame, type: str, split: str | None, sign_split: bool
                         ) -> tuple[np.ndarray, np.ndarray]:
    ck = "checkpoint" if "checkpoint" in frame.columns else "epoch"
    val = "strength" if "strength" in frame.columns else ("total" if "total" in frame.columns else None)
    if ck not in frame.columns or "order" not in frame.columns or val is None:
        raise InputError("measured must be an array or the order_distribution / order_strengths table "
                         f"(checkpoint, order, [sign,] strength|total); got columns {sorted(frame.columns)}")
    df = frame
    if "type" in df.columns:
        df = df[df["type"] == type]
    if "split" in df.columns and split is not None:
        df = df[df["split"] == split]
    if df.empty:
        raise InputError(f"measured has no rows with type == {type!r} and split == {split!r}")
    if sign_split and "sign" not in df.columns:
        raise InputError("sign_split=True needs a 'sign' column in measured")
    v = pd.to_numeric(df[val], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(v)):
        raise InputError(f"measured.{val} has NaN or inf values")
    key = [ck, "order"] + (["sign"] if sign_split else [])
    d = pd.DataFrame({ck: df[ck].to_numpy(), "order": df["order"].to_numpy().astype(np.int64), "a": np.abs(v),
                      "s": df["sample"].to_numpy() if "sample" in df.columns else 0})
    if sign_split:
        d["sign"] = df["sign"].astype(str).to_numpy()
    # per (checkpoint, sample): sum the |.| rows of an order (over signs unless sign_split); then mean over samples
    g = d.groupby(key + ["s"])["a"].sum().groupby(key).mean()
    n = int(d["order"].max())
    if sign_split:
        tab = g.unstack(["order", "sign"]).sort_index()
        cols = pd.MultiIndex.from_product([np.arange(1, n + 1), ["+", "-"]], names=["order", "sign"])
        arr = tab.reindex(columns=cols, fill_value=0.0).to_numpy(dtype=float).reshape(len(tab), n, 2)
    else:
        tab = g.unstack("order").sort_index()
        arr = tab.reindex(columns=np.arange(1, n + 1), fill_value=0.0).to_numpy(dtype=float)
    return tab.index.to_numpy().astype(np.int64), np.nan_to_num(arr)


def fit_noise_schedule(
    values: Any,
    measured: Any,
    *,
    checkpoints: Sequence[int] | None = None,
    sigma2_grid: Sequence[float] | np.ndarray | None = None,
    monotone: bool = True,
    sign_split: bool = False,
    type: str = "and",
    split: str | None = "train",
    penalty: Penalty | None = None,
    method: str = "auto",
) -> NoiseScheduleFit:
    """Fit one noise level per checkpoint so that the theory's order distribution matches the measured one.

    ``values``: masked outputs ``[*B, 2**n]`` of the trained model (or its AndOrInteractions) on
    the samples whose distribution was measured. ``measured``: ``[C, n]`` non-negative strength per
    order 1..n (e.g. ``|+| + |-|``), or ``[C, n, 2]`` signed (+, -) strengths, or the
    ``order_distribution`` / ``order_strengths`` table (filtered to ``type`` and ``split``; rows of
    one checkpoint summed over signs unless ``sign_split``). ``type`` defaults to "and": the
    theory's ``w`` are AND (Harsanyi-type) interactions, so they are compared with the measured AND
    interactions; :func:`harsanyi_order_distribution` gives the exact Harsanyi dividends of the
    measured model instead (no AND-OR split involved). Shares (sum to one per checkpoint) are
    compared by total-variation distance, on the ``sigma2_grid`` (default :func:`default_sigma2_grid`).
    ``monotone=True`` constrains the schedule to be non-increasing over checkpoints (exact dynamic
    programming on the grid); otherwise each checkpoint gets its own best level.

    >>> v = np.array([[0.0, 1.0, 1.0, 3.0]])  # order shares 1 : 0 at checkpoint 0, 2 : 1 (no noise) at checkpoint 1
    >>> fit = fit_noise_schedule(v, [[1.0, 0.0], [2.0, 1.0]], sigma2_grid=[100.0, 1.0, 1e-6])
    >>> fit.sigma2.tolist(), fit.monotone  # the fitted noise shrinks
    ([100.0, 1e-06], True)
    """
    model = TriggeringRegression(values, penalty=penalty, method=method)
    n = model.n
    if isinstance(measured, pd.DataFrame):
        ck, arr = _measured_from_frame(measured, type, split, sign_split)
        if checkpoints is not None:
            raise InputError("checkpoints is taken from the measured table; do not pass it as well")
    else:
        arr = np.asarray(measured, dtype=np.float64)
        if arr.ndim == 3 and arr.shape[-1] == 2:
            arr = np.abs(arr) if sign_split else np.abs(arr).sum(-1)
        elif arr.ndim != 2:
            raise InputError(f"measured must be [C, n] or [C, n, 2], got shape {arr.shape}")
        elif sign_split:
            raise InputError("sign_split=True needs measured of shape [C, n, 2] (signed +/- strengths)")
        if not np.all(np.isfinite(arr)):
            raise InputError("measured has NaN or inf values")
        if arr.ndim == 2 and np.any(arr < 0):
            raise InputError("measured [C, n] must be non-negative strengths per order; pass [C, n, 2] for signed ones")
        ck = np.arange(arr.shape[0]) if checkpoints is None else np.asarray(checkpoints, dtype=np.int64)
    if arr.shape[0] == 0:
        raise InputError("measured holds no checkpoints")
    if len(ck) != arr.shape[0]:
        raise InputError(f"got {len(ck)} checkpoints for {arr.shape[0]} measured rows")
    if arr.shape[1] != n:
        raise InputError(f"measured has orders 1..{arr.shape[1]} but the values have n={n} variables")
    if len(np.unique(ck)) != len(ck):
        raise InputError(f"checkpoints must be unique, got {list(ck)}")
    order = np.argsort(ck, kind="stable")
    ck, arr = np.asarray(ck)[order], arr[order]
    flat = arr.reshape(arr.shape[0], -1)
    tot = flat.sum(-1, keepdims=True)
    if np.any(tot <= 0):
        raise InputError(f"measured strengths are all zero at checkpoints {ck[tot[:, 0] <= 0].tolist()}")
    meas = flat / tot

    grid = default_sigma2_grid() if sigma2_grid is None else np.asarray(sigma2_grid, dtype=np.float64).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise InputError("sigma2_grid must be a non-empty sequence of finite numbers >= 0")
    grid = np.unique(grid)[::-1]  # descending: early training = large noise
    pred = model.predict(grid)
    ps = (pred.share_signed if sign_split else pred.share).reshape(grid.size, -1)
    ps = np.nan_to_num(ps, nan=0.0)
    dist = 0.5 * np.abs(meas[:, None, :] - ps[None, :, :]).sum(-1)  # [C, G]

    C, G = dist.shape
    if monotone:
        cost = dist[0].copy()
        back = np.zeros((C, G), dtype=np.int64)
        for c in range(1, C):
            best = np.minimum.accumulate(cost)
            # index of the running minimum (first occurrence)
            is_new = np.concatenate([[True], cost[1:] < best[:-1]])
            pm_idx = np.maximum.accumulate(np.where(is_new, np.arange(G), 0))
            back[c] = pm_idx
            cost = dist[c] + best
        idx = np.empty(C, dtype=np.int64)
        idx[-1] = int(np.argmin(cost))
        for c in range(C - 1, 0, -1):
            idx[c - 1] = back[c, idx[c]]
    else:
        idx = np.argmin(dist, axis=1)
    gconst = int(np.argmin(dist.sum(0)))
    predicted = ps[idx]
    sse = float(((meas - predicted) ** 2).sum())
    sst = float(((meas - meas.mean(0, keepdims=True)) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else float("nan"))
    sig = grid[idx]
    if C >= 2 and np.ptp(sig) > 0:
        from scipy.stats import spearmanr

        rho = float(spearmanr(ck, sig).statistic)
    else:
        rho = float("nan")
    shape = (C, n, 2) if sign_split else (C, n)
    return NoiseScheduleFit(
        checkpoints=ck.astype(np.int64), sigma2=sig, measured=meas.reshape(shape), predicted=predicted.reshape(shape),
        distance=dist[np.arange(C), idx], constant_sigma2=float(grid[gconst]), constant_distance=dist[:, gconst],
        r2=r2, spearman=rho, monotone=bool(monotone), sigma2_grid=grid,
    )


def harsanyi_order_distribution(checkpoints: Any, *, split: Any = None) -> pd.DataFrame:
    """Order distribution of the Harsanyi dividends (Moebius transform of ``values``) at every checkpoint.

    ``checkpoints``: ``{epoch: AndOrInteractions}`` or ``[(epoch, res), ...]`` (their masked outputs
    ``values`` are used; the dividends are the unique AND-only decomposition the theory model
    predicts at ``sigma^2 = 0``). ``split``: per-sample labels or None (one group "all"). Returns
    ``checkpoint, split, type, order, sign, strength`` with ``type == "and"`` (mean over the group's
    samples of the signed sums per order, the empty set left out) -- a table
    :func:`fit_noise_schedule` accepts as ``measured``.

    >>> import numpy as np, genphase as gp
    >>> v = np.array([0.0, 1.0, 1.0, 3.0])  # dividends: {0}: 1, {1}: 1, {0, 1}: 1
    >>> res = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 1.0, 1.0]), np.zeros(4), 0.0)
    >>> tab = harsanyi_order_distribution({0: res})
    >>> tab.loc[tab["sign"] == "+", "strength"].tolist()
    [2.0, 1.0]
    """
    frames = []
    for e, res in checkpoint_items(checkpoints):
        v = _as_values(res)
        n = num_variables(v.shape[-1])
        d = moebius(v.reshape(-1, v.shape[-1]))
        d[:, 0] = 0.0
        oh = order_onehot(n)
        per = np.stack([np.maximum(d, 0.0) @ oh, np.minimum(d, 0.0) @ oh], axis=-1)  # [B, n, 2]
        for name, sel in split_groups(split, per.shape[0]):
            fr = long_form(per[sel].mean(0), [("order", np.arange(1, n + 1)), ("sign", ["+", "-"])],
                           value_name="strength")
            fr.insert(0, "checkpoint", e)
            fr.insert(1, "split", name)
            fr.insert(2, "type", "and")
            frames.append(fr)
    return pd.concat(frames, ignore_index=True)
