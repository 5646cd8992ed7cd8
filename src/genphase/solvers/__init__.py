"""Solvers of the sparsest AND-OR decomposition (SCIENCE.md Eq. 6).

- ``"admm"`` (default): exact, certified (:mod:`genphase.solvers.admm`).
- ``"sgd-reference"``: the original research recipe (:mod:`genphase.solvers.sgd`).
- ``"highs"``: explicit LP through scipy's HiGHS (:mod:`genphase.solvers.lp`), small ``n`` only.

:func:`solve` normalises each game (``max_S |v[S] - v[{}]| = 1``), chooses a batch size from
the available memory, runs the chosen solver and scales the results back.
"""

from __future__ import annotations

import math
import os
from dataclasses import fields
from typing import Any

import numpy as np
import torch

from ..errors import InputError, MemoryEstimateError

__all__ = ["solve", "estimate_memory", "available_memory", "default_batch_size"]

#: samples ADMM leaves unconverged are re-solved exactly by HiGHS up to this n
FALLBACK_MAX_N = 10
#: default iteration cap of the Gauss-Seidel ADMM (``halpern=False``) on noise-bounded problems
#: (then the HiGHS fallback); it converges slowly there
NOISY_MAX_ITER = 5000
#: default iteration cap without noise when the HiGHS fallback is available (n <= FALLBACK_MAX_N)
EXACT_MAX_ITER_SMALL_N = 20000

# float64 arrays of size 2**n kept per sample by ADMM (state, temporaries, outputs), noise case
_ARRAYS_PER_SAMPLE = 40


def available_memory(device: torch.device) -> int:
    """Free memory in bytes on ``device`` (GPU: cudaMemGetInfo; CPU: MemAvailable)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def estimate_memory(n: int, batch: int = 1, itemsize: int = 8) -> int:
    """Bytes the ADMM solver needs for ``batch`` samples of ``n`` variables."""
    return _ARRAYS_PER_SAMPLE * batch * (1 << n) * itemsize


def default_batch_size(n: int, device: torch.device, fraction: float = 0.25) -> int:
    """Largest batch whose estimated memory fits in ``fraction`` of the free memory (at least 1)."""
    need1 = estimate_memory(n, 1)
    free = available_memory(device)
    if need1 > free * 0.8:
        raise MemoryEstimateError(
            f"n={n} needs about {need1 / 2**30:.2f} GiB per sample for the exact solver, "
            f"but only {free / 2**30:.2f} GiB is free on {device}; use fewer variables "
            f"(n={max(1, n - 2)} needs {estimate_memory(max(1, n - 2)) / 2**30:.2f} GiB) or a larger machine"
        )
    # cap: small batches keep per-sample early exit effective on the CPU
    cap = 4096 if device.type == "cuda" else max(1, 2 ** max(0, 16 - n))
    return int(max(1, min(cap, (free * fraction) // need1)))


def solve(
    values: torch.Tensor,
    *,
    noise_bound: float = 0.0,
    solver: str = "admm",
    tol: float = 1e-3,
    max_iter: int | None = None,
    batch_size: int | None = None,
    init: tuple[Any, Any] | None = None,
    progress: bool = False,
    **options: Any,
) -> dict[str, np.ndarray]:
    """Solve each row of ``values`` (``[B, 2**n]``, float64 tensor). Returns numpy arrays.

    Keys: ``and_effects``, ``or_effects``, ``noise`` (``[B, 2**n]``), ``objective``,
    ``lower_bound``, ``gap``, ``iterations``, ``converged`` (``[B]``), in the units of ``values``.
    """
    B, size = values.shape
    n = size.bit_length() - 1
    dev = values.device
    v0 = values[:, :1]
    scale = (values - v0).abs().amax(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    eta_raw = noise_bound * (values[:, -1] - values[:, 0]).abs()
    if batch_size is None:
        batch_size = default_batch_size(n, dev)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    out: dict[str, list] = {k: [] for k in ("and_effects", "or_effects", "noise", "objective", "lower_bound", "gap", "iterations", "converged")}
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"solving {B} games (n={n}, {solver})", total=B)
    try:
        for lo in range(0, B, batch_size):
            hi = min(B, lo + batch_size)
            sc = scale[lo:hi]
            vb = (values[lo:hi] - v0[lo:hi]) / sc[:, None]
            eta = eta_raw[lo:hi] / sc
            if solver == "admm":
                part = _run_admm(vb, eta, tol, max_iter, init, lo, hi, sc, options)
            elif solver == "sgd-reference":
                part = _run_sgd(values[lo:hi], eta_raw[lo:hi], vb, eta, sc, max_iter, options)
            elif solver == "highs":
                part = _run_highs(vb, eta, options)
            else:
                raise InputError(f"unknown solver {solver!r}; choose admm, sgd-reference or highs")
            if solver != "sgd-reference":
                _split_singletons_evenly(part, n)
            for k in ("and_effects", "or_effects", "noise"):
                part[k] = part[k] * sc[:, None]
            for k in ("objective", "lower_bound"):
                part[k] = part[k] * sc
            for k, val in part.items():
                out[k].append(val.detach().cpu().numpy() if isinstance(val, torch.Tensor) else np.asarray(val))
            if bar is not None:
                bar.update(task, advance=hi - lo)
    finally:
        if bar is not None:
            bar.stop()
    return {k: np.concatenate(val) for k, val in out.items()}


def _split_singletons_evenly(part: dict, n: int) -> None:
    """Tie rule for one-variable terms: AND {i} and OR {i} trigger on the same masks, so only
    their sum is identified; report it split evenly (never raises the objective)."""
    idx = torch.as_tensor([1 << i for i in range(n)], dtype=torch.long, device=part["and_effects"].device)
    a, o = part["and_effects"], part["or_effects"]
    half = 0.5 * (a[:, idx] + o[:, idx])
    old = a[:, idx].abs().sum(-1) + o[:, idx].abs().sum(-1)
    a[:, idx] = half
    o[:, idx] = half
    part["objective"] = part["objective"] - old + 2.0 * half.abs().sum(-1)
    lb, ob = part["lower_bound"], part["objective"]
    if part["gap"].dtype.is_floating_point and not bool(torch.isnan(lb).any()):
        gap = (ob - lb) / torch.clamp(lb, min=1e-12)
        part["gap"] = torch.where(ob <= 1e-12, torch.zeros_like(gap), torch.clamp(gap, min=0.0))


def _run_admm(vb, eta, tol, max_iter, init, lo, hi, sc, options):
    from .admm import ADMMOptions, solve_admm

    kw = dict(options)
    fallback_max_n = int(kw.pop("fallback_max_n", FALLBACK_MAX_N))
    names = {f.name for f in fields(ADMMOptions)}
    unknown = set(kw) - names
    if unknown:
        valid = sorted((names - {"tol", "max_iter"}) | {"fallback_max_n"})
        raise InputError(f"unknown ADMM options {sorted(unknown)}; valid: {valid}")
    kw["tol"] = tol
    noisy = bool((eta > 0).any())
    if max_iter is not None:
        kw["max_iter"] = int(max_iter)
    elif noisy and not (kw.get("halpern", True) and kw.get("adapt_every", 0) == 0):
        kw["max_iter"] = NOISY_MAX_ITER
    elif vb.shape[-1].bit_length() - 1 <= fallback_max_n:
        kw["max_iter"] = EXACT_MAX_ITER_SMALL_N
    a0 = None
    if init is not None:
        a0 = torch.as_tensor(np.asarray(init[0])[lo:hi], dtype=vb.dtype, device=vb.device) / sc[:, None]
    r = solve_admm(vb, eta, ADMMOptions(**kw), init=a0)
    part = {
        "and_effects": r.and_effects,
        "or_effects": r.or_effects,
        "noise": r.noise,
        "objective": r.objective,
        "lower_bound": r.lower_bound,
        "gap": r.gap,
        "iterations": r.iterations,
        "converged": r.converged,
    }
    n = vb.shape[-1].bit_length() - 1
    todo = (~r.converged).nonzero()[:, 0]
    if todo.numel() and n <= fallback_max_n:
        # the iteration cap was reached: finish these samples with the exact LP;
        # their gap is then 0 up to HiGHS's own optimality tolerance (~1e-9), not a dual certificate
        exact = _run_highs(vb[todo], eta[todo], {})
        for k, val in exact.items():
            if k != "iterations":
                part[k][todo] = val.to(part[k].dtype)
    return part


def _run_sgd(v_raw, eta_raw, vb, eta, sc, max_iter, options):
    from .admm import ADMMOptions, solve_admm
    from .sgd import solve_sgd_reference

    options = dict(options)  # shared by every batch: never pop from the caller's dict
    certify = bool(options.pop("certify", True))
    steps = int(options.pop("steps", max_iter or 10000))
    a, o, q, obj = solve_sgd_reference(v_raw - v_raw[:, :1], eta_raw, steps=steps, **options)
    if certify:
        # lower bound from the exact solver, so the reported gap is certified
        lb = solve_admm(vb, eta, ADMMOptions()).lower_bound * sc  # within 1e-3 of the optimum
    else:
        lb = torch.full_like(obj, math.nan)
    gap = (obj - lb) / torch.clamp(lb, min=1e-12)
    gap = torch.where(obj <= 1e-12, torch.zeros_like(gap), gap)
    return {
        "and_effects": a / sc[:, None],
        "or_effects": o / sc[:, None],
        "noise": q / sc[:, None],
        "objective": obj / sc,
        "lower_bound": lb / sc,
        "gap": gap,
        "iterations": torch.full_like(obj, steps, dtype=torch.long),
        "converged": torch.zeros_like(obj, dtype=torch.bool),
    }


def _run_highs(vb, eta, options):
    from .lp import solve_lp_highs

    a, o, q, obj = solve_lp_highs(vb.cpu().numpy(), eta.cpu().numpy(), **options)
    t = lambda x: torch.as_tensor(x, dtype=vb.dtype, device=vb.device)  # noqa: E731
    obj_t = t(obj)
    return {
        "and_effects": t(a),
        "or_effects": t(o),
        "noise": t(q),
        "objective": obj_t,
        "lower_bound": obj_t.clone(),
        "gap": torch.zeros_like(obj_t),
        "iterations": torch.zeros_like(obj_t, dtype=torch.long),
        "converged": torch.ones_like(obj_t, dtype=torch.bool),
    }
