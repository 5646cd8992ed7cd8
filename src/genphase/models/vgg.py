"""A small VGG-style network (stacks of 3x3 convolutions and max-pools)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InputError
from ._common import as_hw, check_positive

__all__ = ["VGG"]


class VGG(nn.Module):
    """Small VGG: ``depth`` stages of ``convs_per_stage`` 3x3 convs, each stage followed by a 2x2 max-pool.

    ``[B, in_channels, H, W] -> [B, num_classes]``. Stage ``s`` has
    ``min(width * 2**s, max_width)`` channels. A stage's pool is skipped once the feature
    map is down to 1 pixel, so any depth works at 8x8, 28x28 and 32x32 (8x8 with depth 3:
    8 -> 4 -> 2 -> 1). The final map is flattened into a ``hidden``-wide linear layer and
    the output layer (``hidden=0``: output layer only).

    Args:
        in_channels: input channels.
        num_classes: number of output logits ``C``.
        image_size: ``H`` (square) or ``(H, W)``.
        depth: number of conv stages.
        width: channels of the first stage.
        convs_per_stage: 3x3 convolutions per stage.
        max_width: cap on the number of channels.
        batchnorm: add ``BatchNorm2d`` after every convolution.
        hidden: width of the hidden linear layer of the classifier (0 for none).
        dropout: dropout probability in the classifier.

    >>> net = VGG(in_channels=1, num_classes=3, image_size=8, depth=3, width=4, hidden=8)  # 8 -> 4 -> 2 -> 1
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        image_size: int | Sequence[int] = 32,
        *,
        depth: int = 3,
        width: int = 32,
        convs_per_stage: int = 2,
        max_width: int = 512,
        batchnorm: bool = True,
        hidden: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_channels = check_positive("in_channels", in_channels)
        num_classes = check_positive("num_classes", num_classes)
        depth = check_positive("depth", depth)
        width = check_positive("width", width)
        convs_per_stage = check_positive("convs_per_stage", convs_per_stage)
        max_width = check_positive("max_width", max_width)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
            raise InputError(f"hidden must be a non-negative int, got {hidden!r}")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
        h, w = as_hw(image_size)
        self.in_channels = in_channels
        self.image_size = (h, w)
        self.num_classes = num_classes

        layers: list[nn.Module] = []
        c_in = in_channels
        for stage in range(depth):
            c_out = min(width * 2**stage, max_width)
            for _ in range(convs_per_stage):
                layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not batchnorm))
                if batchnorm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(inplace=True))
                c_in = c_out
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*layers)
        flat = c_in * h * w
        head: list[nn.Module] = [nn.Flatten()]
        if hidden > 0:
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            head += [nn.Linear(flat, hidden), nn.ReLU(inplace=True)]
            flat = hidden
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(flat, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to logits ``[B, C]``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, *self.image_size):
            raise InputError(
                f"VGG expects input [B, {self.in_channels}, {self.image_size[0]}, {self.image_size[1]}], "
                f"got {list(x.shape)}"
            )
        return self.classifier(self.features(x))
