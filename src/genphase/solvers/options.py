"""Options of the splitting solvers (:mod:`genphase.solvers.halpern`, :mod:`genphase.solvers.admm`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InputError

__all__ = ["ADMMOptions", "check_interval", "iterate_dtype"]


@dataclass(frozen=True)
class ADMMOptions:
    """Parameters of the exact splitting solvers, in units of the normalised game (``max|v - v[{}]| = 1``).

    ``halpern`` (default on; used when ``adapt_every == 0``): Halpern-anchored Peaceman-Rachford
    iterations with restarts (:mod:`genphase.solvers.halpern`) instead of over-relaxed ADMM
    (:mod:`genphase.solvers.admm`; ``relax`` is then unused). ``iterate_dtype``: dtype of the
    iterates of the Halpern path, ``"float32"`` or ``"float64"``; ``None`` picks float32 when
    ``tol >= 1e-5`` (the certificate, the returned effects and universal matching are always
    evaluated in the input's dtype). ``tiebreak`` is the ``mu`` and ``tie_tol`` the certified
    accuracy of the least-norm tie rule (:mod:`genphase.solvers.ties`), applied when
    ``ties="least-norm"``; the default ``ties="cold-start"`` reports the optimum the iteration
    reaches from its cold start (no tie stage; the warm start is not used; the same for a sample
    alone or in any batch: the float32 -> float64 hand-over is decided per sample).
    ``rho``: ``None`` (default) lets the Halpern path pick a
    penalty per sample (docs/solver.md, "Penalty"); a number fixes it for every sample.
    ``check_every``: iterations between certificates (and
    restart tests); ``None`` picks 25, or 50 with a noise bound on the Halpern path, whose
    solves take thousands of iterations (:func:`check_interval`). ``finish_at`` (noise-bounded
    problems on the Halpern path): from this iteration on, at the first check and then at twice,
    four times ... that iteration, a sample the movement correction took gets an exact finish on
    the support its iterate identifies (:mod:`genphase.solvers.finish`; every open sample from 16
    times that iteration and at the cap); ``None`` picks
    :func:`~genphase.solvers.halpern.finish_start` (2,000 from n = 12), 0 turns it off.

    >>> ADMMOptions(tol=1e-4).halpern
    True
    """

    tol: float = 1e-3
    max_iter: int = 50000
    rho: float | None = None
    relax: float = 1.9
    check_every: int | None = None
    adapt_every: int = 0
    adapt_mu: float = 5.0
    adapt_tau: float = 2.0
    tiebreak: float = 0.5
    tie_tol: float = 5e-3
    ties: str = "cold-start"
    abs_tol: float = 1e-10
    halpern: bool = True
    iterate_dtype: str | None = None
    finish_at: int | None = None


def check_interval(options: ADMMOptions, noisy: bool, halpern: bool = True) -> int:
    """Iterations between certificates: ``options.check_every``, or by default 25 (50 for a
    noise-bounded problem on the Halpern path, where a certificate costs about as much as 10
    iterations and the solves take thousands; 10% less time at n = 10, same iteration counts).

    >>> check_interval(ADMMOptions(), noisy=True), check_interval(ADMMOptions(check_every=10), noisy=True)
    (50, 10)
    """
    if options.check_every is None:
        return 50 if (noisy and halpern) else 25
    if int(options.check_every) < 1:
        raise InputError(f"check_every must be >= 1, got {options.check_every}")
    return int(options.check_every)


def iterate_dtype(options: ADMMOptions, dt: torch.dtype) -> torch.dtype:
    """The dtype of the Halpern iterates for input dtype ``dt`` (validates ``options.iterate_dtype``).

    >>> iterate_dtype(ADMMOptions(), torch.float64)  # tol 1e-3 >= 1e-5: float32 iterates
    torch.float32
    >>> iterate_dtype(ADMMOptions(tol=1e-6), torch.float64)
    torch.float64
    """
    if options.iterate_dtype is None:
        return torch.float32 if options.tol >= 1e-5 else dt
    try:
        return {"float32": torch.float32, "float64": torch.float64}[options.iterate_dtype]
    except KeyError:
        raise InputError(
            f"iterate_dtype must be 'float32', 'float64' or None (float32 unless tol < 1e-5), "
            f"got {options.iterate_dtype!r}"
        ) from None
