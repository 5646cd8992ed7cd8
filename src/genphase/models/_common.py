"""Small shared helpers of the model zoo (argument checks, shape arithmetic)."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from ..errors import InputError

__all__ = ["as_hw", "check_positive", "classifier_head", "conv_out", "pool_out", "seeded"]


def check_positive(name: str, value: int) -> int:
    """Return ``value`` as an int, or raise :class:`InputError` if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_hw(image_size: int | Sequence[int], name: str = "image_size") -> tuple[int, int]:
    """Normalise an image size given as ``s`` or ``(H, W)`` to ``(H, W)``."""
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    else:
        try:
            size = tuple(int(s) for s in image_size)  # type: ignore[union-attr]
        except TypeError as exc:
            raise InputError(f"{name} must be an int or a pair (H, W), got {image_size!r}") from exc
    if len(size) != 2 or min(size) < 1:
        raise InputError(f"{name} must be an int or a pair (H, W) of positive ints, got {image_size!r}")
    return size[0], size[1]


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Spatial output length of a convolution along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def pool_out(size: int, kernel: int = 2) -> int:
    """Spatial output length of a non-overlapping max-pool along one axis."""
    return size // kernel


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's CPU RNG seeded by ``seed`` and restore the RNG afterwards.

    ``seed=None`` leaves the global RNG untouched (the block consumes from it as usual).
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def classifier_head(
    widths: Sequence[int], c_in: int, c_out: int, batchnorm: bool, dropout: float, activation: Callable[[], nn.Module] | None = None
) -> nn.Sequential:
    """MLP head ``Linear[-BatchNorm]-activation[-Dropout]`` per width, then ``Linear(c_out)``
    (activation: ``nn.ReLU`` by default)."""
    act = activation or (lambda: nn.ReLU(inplace=True))
    layers: list[nn.Module] = []
    for i, c in enumerate(widths):
        c = check_positive(f"head[{i}]", int(c))
        layers.append(nn.Linear(c_in, c, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(c))
        layers.append(act())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        c_in = c
    layers.append(nn.Linear(c_in, c_out))
    return nn.Sequential(*layers)
