"""The reference recipe of the original research code, for reproducing published numbers.

Plain (sub)gradient descent on ``gamma`` and ``q``: ``o_and = (v + q)/2 + gamma``,
``o_or = (v + q)/2 - gamma``, loss ``||I_and||_1 + ||I_or||_1`` summed over ALL subsets, the
empty one included, as the original code does: its empty-set rows are
``I_and[{}] = o_and[{}]`` and ``I_or[{}] = o_or[{}]`` (:func:`reference_loss`). Those two terms
add ``>= |v[{}] + q[{}]|`` to the loss, so with a noise bound the recipe spends ``q[{}]`` on
pulling the raw ``v[{}]`` towards 0, which moves every other effect: the drift of the published
numbers. The values are the raw game as given (``v[{}]`` not subtracted). SGD with momentum
0.9, learning rate decayed log-uniformly by 10x over ``steps`` steps, ``gamma`` and ``q``
starting at 0, ``q`` clamped into ``[-eta, eta]`` after every step.
It does not reach the optimum on most games (the transforms are ill-conditioned like
phi^(2n)); genphase certifies how far it stops with a dual bound from the exact solver.
"""

from __future__ import annotations

import math

import torch

from ..transforms import moebius, reverse
from .certificate import relative_gap
from .result import SolveResult

__all__ = ["solve_sgd_reference", "sgd_reference_result", "reference_loss"]


def reference_loss(v: torch.Tensor, gamma: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The loss the recipe minimises, per sample (``[B]``): ``sum_T |I_and[T]| + |I_or[T]|`` over all
    ``T`` including ``{}``, with the original code's empty-set rows ``I_and[{}] = o_and[{}]`` and
    ``I_or[{}] = o_or[{}]``.

    >>> v = torch.tensor([[2.0, 3.0]])  # raw values; v[{}] = 2
    >>> float(reference_loss(v, torch.zeros_like(v), torch.zeros_like(v)))  # |1| + |1| + |0.5| + |0.5| ({} rows, then {0})
    3.0
    """
    vq = v + q
    i_and = moebius(0.5 * vq + gamma)
    i_or = -moebius(reverse(0.5 * vq - gamma))
    empty_or = 0.5 * vq[..., 0] - gamma[..., 0]
    return i_and.abs().sum(-1) + i_or[..., 1:].abs().sum(-1) + empty_or.abs()


def solve_sgd_reference(
    v: torch.Tensor,
    eta: torch.Tensor,
    *,
    steps: int = 10000,
    lr: float = 1e-5,
    momentum: float = 0.9,
    decay: float = 10.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the recipe on ``v`` ``[B, 2**n]`` (raw, unnormalised values, as the original code did).

    Returns ``(and_effects, or_effects, q, objective)``; entry 0 of the effects is 0 and
    ``objective`` is Eq. 6 over ``T != {}`` (comparable with the other solvers); the loss the
    recipe minimises is :func:`reference_loss`.

    >>> v = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    >>> and_eff, or_eff, q, obj = solve_sgd_reference(v, torch.zeros(1), steps=200, lr=0.01)
    >>> and_eff.shape, or_eff.shape, q.shape, obj.shape
    (torch.Size([1, 4]), torch.Size([1, 4]), torch.Size([1, 4]), torch.Size([1]))
    >>> float(and_eff[0, 0]), float(q.abs().max())  # entry 0 of the effects is 0; q stays in [-eta, eta]
    (0.0, 0.0)
    """
    v = v.detach()
    gamma = torch.zeros_like(v, requires_grad=True)
    q = torch.zeros_like(v, requires_grad=True)
    opt = torch.optim.SGD([gamma, q], lr=lr, momentum=momentum)
    bound = eta[:, None]
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * decay ** (-step / max(steps - 1, 1))
        opt.zero_grad(set_to_none=True)
        loss = reference_loss(v, gamma, q).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            q.copy_(torch.maximum(torch.minimum(q, bound), -bound))
    with torch.no_grad():
        vq = v + q
        i_and = moebius(0.5 * vq + gamma)
        i_or = -moebius(reverse(0.5 * vq - gamma))
        i_and[:, 0] = 0.0
        i_or[:, 0] = 0.0
        obj = i_and.abs().sum(-1) + i_or.abs().sum(-1)
    return i_and, i_or, q.detach(), obj


def sgd_reference_result(
    v_raw: torch.Tensor,
    eta_raw: torch.Tensor,
    vb: torch.Tensor,
    eta: torch.Tensor,
    sc: torch.Tensor,
    *,
    steps: int = 10000,
    certify: bool = True,
    **options,
) -> SolveResult:
    """The recipe on the raw values ``v_raw`` (noise bounds ``eta_raw``; ``v[{}]`` is NOT
    subtracted, as in the original code) as a :class:`SolveResult` in the normalised units of
    ``vb = (v_raw - v_raw[:, :1]) / sc`` (``eta = eta_raw / sc``).

    With ``certify`` the lower bound comes from the exact solver on ``vb`` (certified within
    1e-3 of the optimum), so the reported gap is certified; otherwise it is NaN.
    ``converged`` is always False: the recipe has no stopping rule.

    >>> v = torch.tensor([[0.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    >>> r = sgd_reference_result(v, torch.zeros(1), v, torch.zeros(1), torch.ones(1), steps=10)
    >>> bool(r.objective[0] >= r.lower_bound[0])
    True
    """
    from .admm import solve_admm

    a, o, q, obj = solve_sgd_reference(v_raw, eta_raw, steps=steps, **options)
    if certify:
        lb = solve_admm(vb, eta).lower_bound * sc
    else:
        lb = torch.full_like(obj, math.nan)
    gap = relative_gap(obj, lb, 1e-12)
    return SolveResult(
        and_effects=a / sc[:, None],
        or_effects=o / sc[:, None],
        noise=q / sc[:, None],
        objective=obj / sc,
        lower_bound=lb / sc,
        gap=gap,
        iterations=torch.full_like(obj, steps, dtype=torch.long),
        converged=torch.zeros_like(obj, dtype=torch.bool),
    )
