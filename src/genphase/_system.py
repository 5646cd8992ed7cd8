"""Facts about the machine that several layers need: free memory per device."""

from __future__ import annotations

import os

import torch

__all__ = ["free_memory"]


def free_memory(device: torch.device | str) -> int | None:
    """Free memory in bytes on ``device``: ``cudaMemGetInfo`` on a GPU, the host's
    ``MemAvailable`` (or free pages) otherwise; ``None`` when the machine does not say.

    >>> free_memory("cpu") > 0
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # pragma: no cover - depends on the machine
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    try:  # pragma: no cover - non-Linux
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None
