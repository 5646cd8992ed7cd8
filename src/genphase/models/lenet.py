"""LeNet-5 style convolutional network for small grayscale (or colour) images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InputError
from ._common import as_hw, check_positive, conv_out, pool_out

__all__ = ["LeNet"]


class LeNet(nn.Module):
    """LeNet-5: two 5x5 conv + max-pool stages and three linear layers.

    ``[B, in_channels, H, W] -> [B, num_classes]``. Works for any image size from 4x4 on:
    the first convolution is padded ("same"); the second is unpadded (classic LeNet-5
    on 28x28 and 32x32) when its input is at least 10 pixels wide, and padded otherwise
    (e.g. 8x8 digits: 8 -> 4 -> 2). The flattened size is computed from ``image_size``.

    Args:
        in_channels: input channels (1 for grayscale).
        num_classes: number of output logits ``C``.
        image_size: ``H`` (square) or ``(H, W)``.
        channels: output channels of the two convolutions.
        hidden: widths of the two hidden linear layers.
        activation: ``"relu"`` or ``"tanh"`` (the original).
        dropout: dropout probability before the hidden linear layers.

    >>> net = LeNet(in_channels=1, num_classes=10, image_size=8)  # 8x8 digits: 8 -> 4 -> 2
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int | Sequence[int] = 28,
        *,
        channels: tuple[int, int] = (6, 16),
        hidden: tuple[int, int] = (120, 84),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_channels = check_positive("in_channels", in_channels)
        num_classes = check_positive("num_classes", num_classes)
        h, w = as_hw(image_size)
        if min(h, w) < 4:
            raise InputError(f"LeNet needs images of at least 4x4 pixels, got image_size={image_size!r}")
        if activation not in ("relu", "tanh"):
            raise InputError(f"activation must be 'relu' or 'tanh', got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
        c1, c2 = (check_positive("channels entry", int(c)) for c in channels)
        h1, h2 = (check_positive("hidden entry", int(c)) for c in hidden)
        act: type[nn.Module] = nn.ReLU if activation == "relu" else nn.Tanh

        # Stage 1: 5x5 "same" conv, 2x2 pool.
        ph, pw = pool_out(h), pool_out(w)
        # Stage 2: valid 5x5 conv when the map is large enough, else "same".
        pad2 = 0 if min(ph, pw) >= 10 else 2
        qh, qw = conv_out(ph, 5, padding=pad2), conv_out(pw, 5, padding=pad2)
        pool2: nn.Module = nn.Identity()
        if min(qh, qw) >= 2:
            pool2, qh, qw = nn.MaxPool2d(2), pool_out(qh), pool_out(qw)

        self.in_channels = in_channels
        self.image_size = (h, w)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5, padding=2),
            act(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=pad2),
            act(),
            pool2,
        )
        flat = c2 * qh * qw
        layers: list[nn.Module] = [nn.Flatten()]
        for d_in, d_out in ((flat, h1), (h1, h2)):
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(d_in, d_out), act()]
        layers.append(nn.Linear(h2, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to logits ``[B, C]``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, *self.image_size):
            raise InputError(
                f"LeNet expects input [B, {self.in_channels}, {self.image_size[0]}, {self.image_size[1]}], "
                f"got {list(x.shape)}"
            )
        return self.classifier(self.features(x))
