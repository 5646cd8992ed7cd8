"""One extraction path: a model's masked outputs -> :func:`genphase.extract_and_or` with the configured solver,
tolerance, noise bound and tie rule.

``genphase run`` (its ``extract`` stage), ``genphase extract`` and :class:`genphase.Tracker` all extract
through :func:`extract`, with the ``interactions`` settings of :class:`genphase.settings.InteractionConfig`;
:func:`explain` is the same with keyword arguments instead of a settings object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .interactions import AndOrInteractions
from .masked_outputs import _describe, _masked_values
from .maskers.base import Masker
from .settings import InteractionConfig
from .value_functions import ValueFunctionLike

__all__ = ["Extraction", "extract", "explain"]


@dataclass(frozen=True)
class Extraction:
    """The interactions of one model on the explained samples, with the seconds of each half of the work.

    >>> e = Extraction(interactions=None, masked_forward_s=0.5, solve_s=1.5)
    >>> e.seconds
    2.0
    """

    interactions: AndOrInteractions
    masked_forward_s: float
    solve_s: float

    @property
    def seconds(self) -> float:
        """Masked forward passes and solve together."""
        return self.masked_forward_s + self.solve_s


def extract(
    model: Any,
    inputs: Any,
    labels: Any,
    masker: Masker,
    settings: InteractionConfig | None = None,
    *,
    device: Any = None,
    solve_device: Any = None,
    autocast: Any = None,
    progress: bool = False,
    max_memory: int | None = None,
    variables: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **solver_options: Any,
) -> Extraction:
    """AND-OR interactions of ``model`` on ``inputs`` under ``settings`` (default :class:`InteractionConfig`()).

    The ``2**n`` masked forward passes of every sample (:func:`genphase.masked_values` with the settings'
    value function and chunk size, on ``device``: default the model's), then :func:`genphase.extract_and_or`
    with the settings' solver, tolerance, noise bound and tie rule (on ``solve_device``, default ``device``;
    ``solver_options`` such as ``max_iter`` go to it too). ``variables`` defaults to ``masker.variable_names``.
    The result's metadata records the value function, the masker, the labels explained (for ``predicted_*``
    value functions: the predicted classes), merged with ``metadata``. The settings are not validated here:
    a run's config and a Tracker validate them before any work.

    >>> import torch
    >>> from genphase.maskers import TabularMasker
    >>> def model(x):  # log-odds of class 1 = x0 * x1: an AND of the two features
    ...     return torch.stack([torch.zeros(len(x)), x[:, 0] * x[:, 1]], 1)
    >>> out = extract(model, torch.tensor([[2.0, 3.0]]), torch.tensor([1]), TabularMasker(torch.zeros(2)),
    ...               InteractionConfig(tol=1e-6))
    >>> out.interactions.and_effects.round(3).tolist(), out.seconds >= 0
    ([[0.0, 0.0, 0.0, 6.0]], True)
    """
    from .interactions import extract_and_or

    s = settings if settings is not None else InteractionConfig()
    t0 = time.perf_counter()
    values, lab, vf = _masked_values(model, inputs, labels, masker, value_fn=s.value_function, chunk_size=s.chunk_size,
                                     autocast=autocast, device=device, progress=progress, max_memory=max_memory)
    t1 = time.perf_counter()
    if variables is None:
        names = getattr(masker, "variable_names", None)
        variables = tuple(names) if names is not None else None
    meta: dict[str, Any] = {
        "value_function": vf.name,
        "label_source": "predicted" if vf.uses_prediction else "given",
        "labels": [int(x) for x in lab.tolist()],
        "masker": _describe(masker),
        "model": type(model).__name__,
        "autocast": None if autocast is None else str(autocast),
    }
    meta.update(metadata or {})
    res = extract_and_or(values, **{**s.solver_options(), **solver_options}, variables=variables, metadata=meta,
                         device=solve_device if solve_device is not None else device, progress=progress)
    return Extraction(res, t1 - t0, time.perf_counter() - t1)


def explain(
    model: Any,
    inputs: Any,
    labels: Any,
    masker: Masker,
    *,
    value_fn: ValueFunctionLike = "log_odds",
    noise_bound: float = 0.0,
    chunk_size: int = 4096,
    autocast: Any = None,
    device: Any = None,
    progress: bool = False,
    max_memory: int | None = None,
    solver: str = "admm",
    tol: float = 1e-3,
    solve_device: Any = None,
    variables: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **solver_options: Any,
) -> AndOrInteractions:
    """AND-OR interactions of ``model`` on ``inputs``, in one call: :func:`extract` with these keyword arguments
    as its settings (``ties`` among ``solver_options`` is the tie rule).

    Returns:
        :class:`genphase.interactions.AndOrInteractions` of batch shape ``[B]``.

    >>> import torch
    >>> from genphase.maskers import TabularMasker
    >>> def model(x):  # log-odds of class 1 = x0 * x1: an AND of the two features
    ...     return torch.stack([torch.zeros(len(x)), x[:, 0] * x[:, 1]], 1)
    >>> res = explain(model, torch.tensor([[2.0, 3.0]]), torch.tensor([1]), TabularMasker(torch.zeros(2)), tol=1e-6)
    >>> res.variables, res.and_effects.round(3).tolist(), res.metadata["value_function"]
    (('f0', 'f1'), [[0.0, 0.0, 0.0, 6.0]], 'log_odds')
    """
    settings = InteractionConfig(value_function=value_fn, solver=solver, tol=tol, noise_bound=noise_bound,
                                 chunk_size=chunk_size, ties=solver_options.pop("ties", "cold-start"))
    return extract(model, inputs, labels, masker, settings, device=device, solve_device=solve_device, autocast=autocast,
                   progress=progress, max_memory=max_memory, variables=variables, metadata=metadata,
                   **solver_options).interactions
