"""genphase: exact AND-OR interactions of deep networks and the three-phase dynamics of their generalization power.

Public API (imported lazily, so ``import genphase`` is cheap):

- :func:`extract_and_or`, :func:`harsanyi_dividends`, :class:`AndOrInteractions` (values level)
- :func:`h_bar` and the analysis layer in :mod:`genphase.analysis`
- :class:`Tracker`: the measurement inside the user's own training loop (integrations in
  :mod:`genphase.integrations`)
- maskers, value functions and model-to-values in :mod:`genphase.maskers`,
  :mod:`genphase.value_functions`, :mod:`genphase.masked_outputs`
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


def _version() -> str:
    """The installed distribution's version (pyproject.toml is the one source); a source tree that was never
    installed says so instead of guessing a number."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genphase")
    except PackageNotFoundError:  # pragma: no cover - a bare source tree on sys.path
        return "0+unknown"


__version__ = _version()

_EXPORTS: dict[str, str] = {
    "AndOrInteractions": "genphase.interactions",
    "extract_and_or": "genphase.interactions",
    "harsanyi_dividends": "genphase.interactions",
    "save_interactions": "genphase.io",
    "load_interactions": "genphase.io",
    "h_bar": "genphase.analysis",
    "explain": "genphase.extraction",
    "masked_values": "genphase.masked_outputs",
    "Tracker": "genphase.tracker",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genphase' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from .interactions import AndOrInteractions as AndOrInteractions
    from .interactions import extract_and_or as extract_and_or
    from .interactions import harsanyi_dividends as harsanyi_dividends
    from .tracker import Tracker as Tracker
