"""Solvers of the sparsest AND-OR decomposition (Eq. 6 of docs/science.md), one module per algorithm.

- ``"admm"`` (default; also ``"hpr"``): exact and certified. By default Halpern-anchored
  Peaceman-Rachford splitting (:mod:`genphase.solvers.halpern`); with ``halpern=False`` the
  earlier over-relaxed ADMM (:mod:`genphase.solvers.admm`, whose :func:`~genphase.solvers.admm.solve_admm`
  is the entry point of both).
- ``"sgd-reference"``: the original research recipe (:mod:`genphase.solvers.sgd`).
- ``"highs"``: explicit LP through scipy's HiGHS (:mod:`genphase.solvers.lp`), small ``n`` only.

Shared pieces: the linear maps (:mod:`~genphase.solvers.operators`), the dual certificate
(:mod:`~genphase.solvers.certificate`), the tie rules (:mod:`~genphase.solvers.ties`), the options
(:mod:`~genphase.solvers.options`) and the typed result (:class:`~genphase.solvers.result.SolveResult`).

:func:`solve` normalises each game (``max_S |v[S] - v[{}]| = 1``), chooses a batch size from
the available memory, runs the chosen solver and scales the results back.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import torch

from .._system import free_memory
from .._vocabulary import EXACT_SOLVERS, SOLVER_NAMES
from ..errors import InputError, MemoryEstimateError
from .result import SolveResult

__all__ = ["solve", "estimate_memory", "available_memory", "default_batch_size", "SolveResult", "SOLVER_NAMES", "EXACT_SOLVERS"]


#: samples the exact solver leaves unconverged are re-solved exactly by HiGHS up to this n
FALLBACK_MAX_N = 10
#: default iteration cap of the Gauss-Seidel ADMM (``halpern=False``) on noise-bounded problems
#: (then the HiGHS fallback); it converges slowly there
NOISY_MAX_ITER = 5000
#: default iteration cap without noise when the HiGHS fallback is available (n <= FALLBACK_MAX_N)
EXACT_MAX_ITER_SMALL_N = 20000
#: with ``ties="least-norm"`` the L1 stage is certified to this fraction of ``tol``
TIE_STAGE_TOL = 0.25

# Peak memory of the exact solver per sample, in arrays of 2**n float64 entries: a fixed part
# (input, normalised game, t, best point and OR completion, certificate temporaries) and a part
# per iterate block (state, anchor, next state, multipliers, reflection, projection and the
# transforms' temporaries) that scales with the iterates' itemsize. Fitted above the peak RSS
# measured at n = 14-20 (docs/solver.md, "Memory"): at n = 16, 84 arrays without noise (float32
# iterates) and 145 with noise and float64 iterates; at n = 20, 46 and 68.
_BASE_ARRAYS = 64
_ARRAYS_PER_BLOCK = 24


def available_memory(device: torch.device) -> int:
    """Free memory in bytes on ``device`` (GPU: cudaMemGetInfo; CPU: MemAvailable).

    >>> available_memory(torch.device("cpu")) > 0  # bytes; the value depends on the machine
    True
    """
    free = free_memory(device)
    if free is None:  # pragma: no cover - a machine that reports no free memory
        raise MemoryEstimateError(f"cannot read the free memory of {device}; pass batch_size= explicitly")
    return free


def estimate_memory(n: int, batch: int = 1, itemsize: int = 8, *, noisy: bool = True) -> int:
    """Peak bytes the exact solver needs for ``batch`` samples of ``n`` variables.

    ``itemsize``: bytes per entry of the iterates (8 covers the float32 -> float64 switch);
    ``noisy``: a noise bound doubles the iterate blocks (2 -> 4). The default is the worst case.

    >>> estimate_memory(20) / 2**30  # one sample at n = 20, noise bound, float64 iterates
    1.25
    """
    blocks = 4 if noisy else 2
    per_entry = _BASE_ARRAYS * 8 + _ARRAYS_PER_BLOCK * blocks * itemsize
    return per_entry * batch * (1 << n)


def _max_batch(n: int, device: torch.device, noisy: bool, fraction: float) -> tuple[int, int, int]:
    """``(largest batch that fits in fraction of the free memory, bytes per sample, free bytes)``;
    raises :class:`MemoryEstimateError` when one sample needs more than 80% of the free memory."""
    need1 = estimate_memory(n, 1, noisy=noisy)
    free = available_memory(device)
    if need1 > free * 0.8:
        m = max(1, n - 2)
        raise MemoryEstimateError(
            f"n={n} needs about {need1 / 2**30:.2f} GiB per sample for the exact solver, "
            f"but only {free / 2**30:.2f} GiB is free on {device}; use fewer variables "
            f"(n={m} needs {estimate_memory(m, noisy=noisy) / 2**30:.2f} GiB) or a larger machine"
        )
    return int(max(1, (free * fraction) // need1)), need1, free


def default_batch_size(n: int, device: torch.device, fraction: float = 0.25, *, noisy: bool = True) -> int:
    """Largest batch whose estimated memory (:func:`estimate_memory`) fits in ``fraction`` of the
    free memory (at least 1); raises :class:`MemoryEstimateError` when one sample does not fit.

    >>> default_batch_size(8, torch.device("cpu"))  # capped at 2**(16 - n) on the CPU
    256
    """
    fit, _, _ = _max_batch(n, device, noisy, fraction)
    # cap: small batches keep per-sample early exit effective on the CPU
    cap = 4096 if device.type == "cuda" else max(1, 2 ** max(0, 16 - n))
    return int(min(cap, fit))


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
) -> SolveResult:
    """Solve each row of ``values`` (``[B, 2**n]``, float64 tensor); returns a numpy :class:`SolveResult`
    in the units of ``values``.

    >>> r = solve(torch.tensor([[0.0, 2.0, 2.0, 2.0]], dtype=torch.float64))  # 2 * OR{0,1}
    >>> r.or_effects.round(6).tolist(), bool(r.converged[0])
    ([[0.0, 0.0, 0.0, 2.0]], True)
    """
    B, size = values.shape
    n = size.bit_length() - 1
    dev = values.device
    if solver not in SOLVER_NAMES:
        raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVER_NAMES)}")
    if B == 0:
        raise InputError(f"values is an empty batch (shape {tuple(values.shape)}); pass at least one sample")
    v0 = values[:, :1]
    scale = (values - v0).abs().amax(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    eta_raw = noise_bound * (values[:, -1] - values[:, 0]).abs()
    noisy = bool(noise_bound > 0)
    if batch_size is None:
        batch_size = default_batch_size(n, dev, noisy=noisy)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if solver in EXACT_SOLVERS and batch_size > 1:
        fit, need1, free = _max_batch(n, dev, noisy, 0.8)
        if min(batch_size, B) > fit:
            raise MemoryEstimateError(
                f"batch_size={batch_size} needs about {min(batch_size, B) * need1 / 2**30:.2f} GiB for the exact solver "
                f"at n={n}, but only {free / 2**30:.2f} GiB is free on {dev}; use batch_size <= {fit} or leave it unset"
            )
    out: SolveResult | None = None  # filled batch by batch: the results are streamed, never concatenated
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
            if solver in EXACT_SOLVERS:
                part = _run_exact(vb, eta, tol, max_iter, init, lo, hi, sc, options)
            elif solver == "sgd-reference":
                part = _run_sgd(values[lo:hi], eta_raw[lo:hi], vb, eta, sc, max_iter, options)
            else:
                from .lp import solve_highs

                part = solve_highs(vb, eta, **options)
            if solver != "sgd-reference":
                from .ties import split_singletons_evenly

                split_singletons_evenly(part, n)
            part = _unscale(part, sc).numpy()
            if out is None:
                out = _allocate(part, B)
            for k, val in part.arrays().items():
                getattr(out, k)[lo:hi] = val
            if bar is not None:
                bar.update(task, advance=hi - lo)
    finally:
        if bar is not None:
            bar.stop()
    return out  # type: ignore[return-value]


def _allocate(first: SolveResult, total: int) -> SolveResult:
    """Empty numpy result arrays for ``total`` samples, shaped and typed like the batch ``first``."""
    arrays = {k: np.empty((total, *np.shape(v)[1:]), dtype=np.asarray(v).dtype) for k, v in first.arrays().items()}
    return SolveResult(**arrays, metadata=dict(first.metadata))


def _unscale(part: SolveResult, sc: torch.Tensor) -> SolveResult:
    """Back to the units of the caller's values (``sc``: the per-sample scale ``[B]``)."""
    return replace(
        part,
        and_effects=part.and_effects * sc[:, None],
        or_effects=part.or_effects * sc[:, None],
        noise=part.noise * sc[:, None],
        objective=part.objective * sc,
        lower_bound=part.lower_bound * sc,
    )


def _run_exact(vb, eta, tol, max_iter, init, lo, hi, sc, options) -> SolveResult:
    """The default exact solver: the L1 problem (HiGHS fallback at small n) from the cold start
    (rule ``ties="cold-start"``), or, with ``ties="least-norm"``, from the warm start ``init`` if
    any, then the tie stage (:func:`~genphase.solvers.ties.canonical_stage`)."""
    from .admm import solve_admm
    from .lp import solve_highs
    from .options import ADMMOptions
    from .ties import canonical_stage, check_tie_options, cold_start_rule

    kw = dict(options)
    fallback_max_n = int(kw.pop("fallback_max_n", FALLBACK_MAX_N))
    names = {f.name for f in fields(ADMMOptions)}
    unknown = set(kw) - names
    if unknown:
        valid = sorted((names - {"tol", "max_iter"}) | {"fallback_max_n"})
        raise InputError(f"unknown ADMM options {sorted(unknown)}; valid: {valid}")
    kw["tol"] = tol
    check_tie_options(kw.get("tiebreak", ADMMOptions.tiebreak), kw.get("tie_tol", ADMMOptions.tie_tol), kw.get("ties", ADMMOptions.ties))
    noisy = bool((eta > 0).any())
    if max_iter is not None:
        kw["max_iter"] = int(max_iter)
    elif noisy and not (kw.get("halpern", True) and kw.get("adapt_every", 0) == 0):
        kw["max_iter"] = NOISY_MAX_ITER
    elif vb.shape[-1].bit_length() - 1 <= fallback_max_n:
        kw["max_iter"] = EXACT_MAX_ITER_SMALL_N
    canonical = kw.get("ties", ADMMOptions.ties) == "least-norm"
    a0 = None
    if init is not None and canonical:
        # only the least-norm rule may start elsewhere: the default rule IS the cold path's optimum
        a0 = torch.as_tensor(np.asarray(init[0])[lo:hi], dtype=vb.dtype, device=vb.device) / sc[:, None]
    opts = ADMMOptions(**kw)
    states: list | None = [] if canonical else None
    # with the tie stage, the L1 stage is certified to TIE_STAGE_TOL * tol, so that a tie-rule
    # answer within tol of the optimum is recognised as such (the check compares with its bound)
    part = solve_admm(vb, eta, replace(opts, tol=tol * TIE_STAGE_TOL) if canonical else opts, init=a0, state_out=states)
    state = states[0] if states else None
    n = vb.shape[-1].bit_length() - 1
    todo = (~part.converged).nonzero()[:, 0]
    if todo.numel() and n <= fallback_max_n:
        # the iteration cap was reached: finish these samples with the exact LP;
        # their gap is then 0 up to HiGHS's own optimality tolerance (~1e-9), not a dual certificate
        exact = solve_highs(vb[todo], eta[todo])
        for k, val in exact.arrays().items():
            if k != "iterations":
                getattr(part, k)[todo] = val.to(getattr(part, k).dtype)
        state = None if state is None else _restart_state(state, todo, vb, eta, part, opts)
    if canonical:
        canonical_stage(vb, eta, part, state, opts, opts.max_iter)
    else:
        part.metadata["tie_rule"] = cold_start_rule()
    return part


def _restart_state(state, todo, vb, eta, part, opts):
    """First-stage states with the samples ``todo`` (finished by HiGHS) restarted at the LP solution."""
    from .halpern import _NoiseFreeSplit, _NoisySplit, halpern_rho
    from .operators import parity

    n = vb.shape[-1].bit_length() - 1
    cls = _NoisySplit if bool((eta > 0).any()) else _NoiseFreeSplit
    s, rho = state[0].clone(), state[1].clone()
    rho[todo] = halpern_rho(n) if opts.rho is None else float(opts.rho)
    prob = cls(vb[todo], eta[todo], rho[todo], vb.dtype, parity(n, vb))
    prob.cast(vb.dtype)
    s[todo] = prob.start(part.and_effects[todo].to(vb.dtype))
    return s, rho


def _run_sgd(v_raw, eta_raw, vb, eta, sc, max_iter, options) -> SolveResult:
    from .sgd import sgd_reference_result

    options = dict(options)  # shared by every batch: never pop from the caller's dict
    certify = bool(options.pop("certify", True))
    steps = int(options.pop("steps", max_iter or 10000))
    return sgd_reference_result(v_raw, eta_raw, vb, eta, sc, steps=steps, certify=certify, **options)
