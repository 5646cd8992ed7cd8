"""Running a measured model on the explained samples: eval mode without grad, chunks, devices, calls."""

from __future__ import annotations

from typing import Any

import torch

__all__: list[str] = []


def _chunks(inputs: Any, size: int, chunk: int):
    for lo in range(0, size, chunk):
        hi = min(lo + chunk, size)
        yield inputs[lo:hi] if isinstance(inputs, torch.Tensor) else {k: v[lo:hi] for k, v in inputs.items()}


def _call(model: Any, x: Any) -> torch.Tensor:
    from ..masked_outputs import _call_model

    return _call_model(model, x)


def _to(x: Any, device: torch.device) -> Any:
    from ..maskers.base import to_device

    return to_device(x, device)


def _rows_of(x: Any) -> int:
    return int(x.shape[0]) if isinstance(x, torch.Tensor) else int(next(iter(x.values())).shape[0])


class _EvalMode:
    """Switch a module to eval mode (and back, module by module), without grad, outside inference mode."""

    def __init__(self, model: Any):
        self.model = model
        self.saved: list[tuple[torch.nn.Module, bool]] = []

    def __enter__(self):
        self._ctx = [torch.inference_mode(False), torch.no_grad()]
        for c in self._ctx:
            c.__enter__()
        if isinstance(self.model, torch.nn.Module):
            self.saved = [(m, m.training) for m in self.model.modules()]
            self.model.eval()
        return self

    def __exit__(self, *exc):
        for m, flag in self.saved:
            m.training = flag
        for c in reversed(self._ctx):
            c.__exit__(*exc)
        return False


def _param_signature(model: torch.nn.Module) -> list[tuple[int, ...]]:
    return sorted(tuple(p.shape) for p in model.parameters())
