"""Where a run computes: its torch device and the number of CPU threads."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["resolve_device", "default_threads", "set_threads"]


def resolve_device(name: str) -> torch.device:
    """The torch device of the ``device`` config key: ``auto`` is CUDA when available, else the CPU; a
    CUDA device that is not available raises :class:`~genphase.errors.ConfigError`.

    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    True
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"config key 'device': {name!r} requested but CUDA is not available; use device=cpu or auto")
    return dev


def default_threads() -> int:
    """Torch CPU threads to use: ``OMP_NUM_THREADS`` when set to a positive integer, else the cores
    this process may run on (``os.sched_getaffinity``; ``os.cpu_count()`` where that is missing).

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "3"}):
    ...     default_threads()
    3
    >>> with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": ""}):  # unset: the usable cores
    ...     default_threads() >= 1
    True
    """
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def set_threads(threads: Any = None) -> int:
    """Set torch's intra-op CPU thread count to ``threads`` (default :func:`default_threads`); return it.

    >>> set_threads(1)
    1
    """
    if threads is None:
        n = default_threads()
    else:
        if hasattr(threads, "item") and getattr(threads, "ndim", 0) == 0:
            threads = threads.item()
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or int(threads) < 1:
            raise ConfigError(f"threads must be a positive integer (torch CPU threads), got {threads!r}")
        n = int(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
