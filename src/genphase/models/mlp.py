"""Multi-layer perceptron for tabular data and flattened images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InputError
from ._common import check_positive

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Module):
    """Fully connected classifier ``[B, *input_shape] -> [B, num_classes]``.

    The input is flattened from dimension 1 on, so tabular ``[B, D]`` and image
    ``[B, C, H, W]`` inputs both work (``in_features = D`` or ``C*H*W``).

    Args:
        in_features: number of input features after flattening, or the per-sample input
            shape (e.g. ``(1, 28, 28)``).
        num_classes: number of output logits ``C``.
        hidden: widths of the hidden layers (empty for a linear model).
        activation: ``"relu"``, ``"gelu"``, ``"tanh"`` or ``"leaky_relu"``.
        dropout: dropout probability after each hidden activation.
        batchnorm: insert ``BatchNorm1d`` after each hidden linear layer.

    >>> net = MLP((1, 8, 8), num_classes=10, hidden=(32,))  # images are flattened: in_features = 64
    >>> net(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        in_features: int | Sequence[int],
        num_classes: int,
        hidden: Sequence[int] = (256, 256),
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(in_features, int) and not isinstance(in_features, bool):
            d_in = check_positive("in_features", in_features)
        else:
            dims = [check_positive("in_features entry", int(d)) for d in in_features]
            if not dims:
                raise InputError(f"in_features must be a positive int or a non-empty shape, got {in_features!r}")
            d_in = math.prod(dims)
        num_classes = check_positive("num_classes", num_classes)
        if activation not in _ACTIVATIONS:
            raise InputError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        width = d_in
        for i, h in enumerate(hidden):
            h = check_positive(f"hidden[{i}]", int(h))
            layers.append(nn.Linear(width, h))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.in_features = d_in
        self.num_classes = num_classes
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` of shape ``[B, ...]`` (``prod(...) == in_features``) to logits ``[B, C]``."""
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise InputError(
                f"MLP expects {self.in_features} features per sample after flattening, got {x.shape[1]}"
            )
        return self.net(x)
