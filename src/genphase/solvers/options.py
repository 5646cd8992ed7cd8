"""Options of the splitting solvers (:mod:`genphase.solvers.halpern`, :mod:`genphase.solvers.admm`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InputError

__all__ = ["ADMMOptions"]


@dataclass(frozen=True)
class ADMMOptions:
    """Parameters of the exact splitting solvers, in units of the normalised game (``max|v - v[{}]| = 1``).

    ``halpern`` (default on; used when ``adapt_every == 0``): Halpern-anchored Peaceman-Rachford
    iterations with restarts (:mod:`genphase.solvers.halpern`) instead of over-relaxed ADMM
    (:mod:`genphase.solvers.admm`; ``relax`` is then unused). ``iterate_dtype``: dtype of the
    iterates of the Halpern path, ``"float32"`` or ``"float64"``; ``None`` picks float32 when
    ``tol >= 1e-5`` (the certificate, the returned effects and universal matching are always
    evaluated in the input's dtype). ``tiebreak`` is the ``mu`` and ``tie_tol`` the certified
    accuracy of the tie rule (:mod:`genphase.solvers.ties`), applied when ``ties="least-norm"``;
    the default ``ties="none"`` skips the tie stage (several times faster, but among tied optima
    the one reported can then depend on the warm start and ``iterate_dtype``, not on the batch:
    the float32 -> float64 hand-over is decided per sample).

    >>> ADMMOptions(tol=1e-4).halpern
    True
    """

    tol: float = 1e-3
    max_iter: int = 50000
    rho: float | None = None
    relax: float = 1.9
    check_every: int = 25
    adapt_every: int = 0
    adapt_mu: float = 5.0
    adapt_tau: float = 2.0
    tiebreak: float = 0.5
    tie_tol: float = 5e-3
    ties: str = "none"
    abs_tol: float = 1e-10
    halpern: bool = True
    iterate_dtype: str | None = None


def iterate_dtype(options: ADMMOptions, dt: torch.dtype) -> torch.dtype:
    """The dtype of the Halpern iterates for input dtype ``dt`` (validates ``options.iterate_dtype``)."""
    if options.iterate_dtype is None:
        return torch.float32 if options.tol >= 1e-5 else dt
    try:
        return {"float32": torch.float32, "float64": torch.float64}[options.iterate_dtype]
    except KeyError:
        raise InputError(
            f"iterate_dtype must be 'float32', 'float64' or None (float32 unless tol < 1e-5), "
            f"got {options.iterate_dtype!r}"
        ) from None
