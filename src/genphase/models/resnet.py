"""A small ResNet with ResNet-18-like basic blocks, sized for 8x8 to 32x32 images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ._common import check_positive

__all__ = ["BasicBlock", "ResNet"]


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut.

    ``[B, c_in, H, W] -> [B, c_out, ceil(H/stride), ceil(W/stride)]``.

    >>> BasicBlock(4, 8, stride=2)(torch.zeros(2, 4, 7, 7)).shape  # ceil(7 / 2) = 4
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, batchnorm: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batchnorm)
        self.bn1 = _norm(c_out, batchnorm)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=not batchnorm)
        self.bn2 = _norm(c_out, batchnorm)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=not batchnorm), _norm(c_out, batchnorm)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block forward, see the class docstring for shapes."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet: 3x3 stem (no max-pool), stages of :class:`BasicBlock`, global average pool.

    ``[B, in_channels, H, W] -> [B, num_classes]`` for any ``H, W >= 1`` (8x8, 28x28,
    32x32, ...). Stage ``s`` has ``width * 2**s`` channels and stride 2 for ``s >= 1``.
    ``num_blocks=(2, 2, 2, 2)`` with ``width=64`` is ResNet-18 (11M parameters); the default
    ``width=16`` is a 0.7M-parameter version fit for CPU experiments.

    Args:
        in_channels: input channels.
        num_classes: number of output logits ``C``.
        width: channels of the stem and of the first stage.
        num_blocks: basic blocks per stage (its length is the number of stages).
        batchnorm: use ``BatchNorm2d`` (``False``: plain convolutions with biases).

    >>> net = ResNet(in_channels=1, num_classes=10, width=4, num_blocks=(1, 1))
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        *,
        width: int = 16,
        num_blocks: Sequence[int] = (2, 2, 2, 2),
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        in_channels = check_positive("in_channels", in_channels)
        num_classes = check_positive("num_classes", num_classes)
        width = check_positive("width", width)
        blocks = [check_positive(f"num_blocks[{i}]", int(b)) for i, b in enumerate(num_blocks)]
        if not blocks:
            raise InputError("num_blocks must list at least one stage, got an empty sequence")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=not batchnorm),
            _norm(width, batchnorm),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        c_in = width
        for s, n in enumerate(blocks):
            c_out = width * 2**s
            layer = [BasicBlock(c_in, c_out, stride=1 if s == 0 else 2, batchnorm=batchnorm)]
            layer += [BasicBlock(c_out, c_out, batchnorm=batchnorm) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layer))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to logits ``[B, C]``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InputError(f"ResNet expects input [B, {self.in_channels}, H, W], got {list(x.shape)}")
        out = self.stages(self.stem(x))
        return self.fc(self.pool(out).flatten(1))
