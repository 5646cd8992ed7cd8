"""Solvers of the sparsest AND-OR decomposition (Eq. 6 of docs/science.md), one module per algorithm.

- ``"admm"`` (default; also ``"hpr"``): exact and certified. By default Halpern-anchored
  Peaceman-Rachford splitting (:mod:`genphase.solvers.halpern`); with ``halpern=False`` the
  earlier over-relaxed ADMM (:mod:`genphase.solvers.admm`, whose :func:`~genphase.solvers.admm.solve_admm`
  is the entry point of both).
- ``"sgd-reference"``: the original research recipe (:mod:`genphase.solvers.sgd`).
- ``"highs"``: explicit LP through scipy's HiGHS (:mod:`genphase.solvers.lp`), small ``n`` only.

Shared pieces: the linear maps (:mod:`~genphase.solvers.operators`), the dual certificate
(:mod:`~genphase.solvers.certificate`), the tie rule (:mod:`~genphase.solvers.ties`), the options
(:mod:`~genphase.solvers.options`) and the typed result (:class:`~genphase.solvers.result.SolveResult`).

:func:`solve` normalises each game (``max_S |v[S] - v[{}]| = 1``), chooses a batch size from
the available memory, runs the chosen solver and scales the results back.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from typing import Any

import numpy as np
import torch

from ..errors import InputError, MemoryEstimateError
from .result import SolveResult

__all__ = ["solve", "estimate_memory", "available_memory", "default_batch_size", "SolveResult", "SOLVER_NAMES", "EXACT_SOLVERS"]

#: names of the default exact solver: "admm" (historical) and "hpr" (its algorithm)
EXACT_SOLVERS = ("admm", "hpr")
#: every name :func:`solve` accepts
SOLVER_NAMES = (*EXACT_SOLVERS, "sgd-reference", "highs")

#: samples the exact solver leaves unconverged are re-solved exactly by HiGHS up to this n
FALLBACK_MAX_N = 10
#: default iteration cap of the Gauss-Seidel ADMM (``halpern=False``) on noise-bounded problems
#: (then the HiGHS fallback); it converges slowly there
NOISY_MAX_ITER = 5000
#: default iteration cap without noise when the HiGHS fallback is available (n <= FALLBACK_MAX_N)
EXACT_MAX_ITER_SMALL_N = 20000
#: with ``ties="least-norm"`` the L1 stage is certified to this fraction of ``tol``
TIE_STAGE_TOL = 0.25

# float64 arrays of size 2**n kept per sample by the exact solver (state, temporaries, outputs), noise case
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
    """Bytes the exact solver needs for ``batch`` samples of ``n`` variables."""
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
    v0 = values[:, :1]
    scale = (values - v0).abs().amax(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    eta_raw = noise_bound * (values[:, -1] - values[:, 0]).abs()
    if batch_size is None:
        batch_size = default_batch_size(n, dev)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    parts: list[SolveResult] = []
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
            parts.append(_unscale(part, sc).numpy())
            if bar is not None:
                bar.update(task, advance=hi - lo)
    finally:
        if bar is not None:
            bar.stop()
    return SolveResult.concat(parts)


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
    """The default exact solver: the L1 problem (warm-startable, HiGHS fallback at small n),
    then the tie stage (:func:`~genphase.solvers.ties.canonical_stage`)."""
    from .admm import solve_admm
    from .lp import solve_highs
    from .options import ADMMOptions
    from .ties import canonical_stage, check_tie_options

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
    a0 = None
    if init is not None:
        a0 = torch.as_tensor(np.asarray(init[0])[lo:hi], dtype=vb.dtype, device=vb.device) / sc[:, None]
    canonical = kw.get("ties", ADMMOptions.ties) != "none"
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
    return part


def _restart_state(state, todo, vb, eta, part, opts):
    """First-stage states with the samples ``todo`` (finished by HiGHS) restarted at the LP solution."""
    from .halpern import _NoiseFreeSplit, _NoisySplit, halpern_rho
    from .operators import parity

    n = vb.shape[-1].bit_length() - 1
    cls = _NoisySplit if bool((eta > 0).any()) else _NoiseFreeSplit
    rho = halpern_rho(n) if opts.rho is None else float(opts.rho)
    prob = cls(vb[todo], eta[todo], rho, vb.dtype, parity(n, vb))
    prob.cast(vb.dtype)
    state = state.clone()
    state[todo] = prob.start(part.and_effects[todo].to(vb.dtype))
    return state


def _run_sgd(v_raw, eta_raw, vb, eta, sc, max_iter, options) -> SolveResult:
    from .sgd import sgd_reference_result

    options = dict(options)  # shared by every batch: never pop from the caller's dict
    certify = bool(options.pop("certify", True))
    steps = int(options.pop("steps", max_iter or 10000))
    return sgd_reference_result(v_raw, eta_raw, vb, eta, sc, steps=steps, certify=certify, **options)
