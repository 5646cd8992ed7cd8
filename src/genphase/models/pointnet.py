"""PointNet classifier for point clouds ``[B, P, D]``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InputError
from ._common import check_positive, classifier_head

__all__ = ["PointNet", "TNet"]


def _shared_mlp(widths: Sequence[int], c_in: int, batchnorm: bool) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for i, c in enumerate(widths):
        c = check_positive(f"widths[{i}]", int(c))
        layers.append(nn.Conv1d(c_in, c, 1, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(c))
        layers.append(nn.ReLU(inplace=True))
        c_in = c
    return nn.Sequential(*layers), c_in


class TNet(nn.Module):
    """Predicts a ``D x D`` alignment matrix from a point cloud ``[B, D, P]`` -> ``[B, D, D]``.

    Initialised to output the identity (last layer zero), so training starts from "no transform".

    >>> TNet(dims=3)(torch.randn(2, 3, 16)).shape  # starts as the identity transform
    torch.Size([2, 3, 3])
    """

    def __init__(self, dims: int = 3, batchnorm: bool = True) -> None:
        super().__init__()
        self.dims = dims
        self.mlp, c = _shared_mlp((64, 128, 256), dims, batchnorm)
        self.head = classifier_head((128, 64), c, dims * dims, batchnorm, 0.0)
        last = self.head[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, D, P] -> [B, D, D]`` (identity plus a learned correction)."""
        feat = self.mlp(x).amax(dim=2)
        eye = torch.eye(self.dims, device=x.device, dtype=x.dtype)
        return self.head(feat).view(-1, self.dims, self.dims) + eye


class PointNet(nn.Module):
    """PointNet (Qi et al. 2017): shared per-point MLP, max-pool over points, MLP head.

    ``[B, P, in_dims] -> [B, num_classes]``; the output does not depend on the order of the
    ``P`` points (the only cross-point operation is a max), and any ``P >= 1`` works.

    Args:
        num_classes: number of output logits ``C``.
        in_dims: coordinates per point (3 for xyz).
        widths: channels of the shared per-point MLP (the last one is the global feature size).
        head: widths of the hidden layers of the classification MLP.
        dropout: dropout probability in the head.
        batchnorm: use batch normalisation in the shared MLP and the head.
        input_transform: learn a ``D x D`` input alignment with a :class:`TNet`.

    >>> _ = torch.manual_seed(0)
    >>> net = PointNet(num_classes=4, widths=(8, 16), head=(8,)).eval()
    >>> x = torch.randn(2, 10, 3)  # [B, P, D]
    >>> out = net(x)
    >>> out.shape, bool(torch.allclose(out, net(x[:, torch.randperm(10)]), atol=1e-6))  # point order does not matter
    (torch.Size([2, 4]), True)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_dims: int = 3,
        *,
        widths: Sequence[int] = (64, 128, 1024),
        head: Sequence[int] = (512, 256),
        dropout: float = 0.3,
        batchnorm: bool = True,
        input_transform: bool = False,
    ) -> None:
        super().__init__()
        num_classes = check_positive("num_classes", num_classes)
        in_dims = check_positive("in_dims", in_dims)
        if not widths:
            raise InputError("widths must list at least one layer width, got an empty sequence")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
        self.num_classes = num_classes
        self.in_dims = in_dims
        self.tnet = TNet(in_dims, batchnorm) if input_transform else None
        self.mlp, c = _shared_mlp(widths, in_dims, batchnorm)
        self.head = classifier_head(head, c, num_classes, batchnorm, dropout)

    def global_features(self, points: torch.Tensor) -> torch.Tensor:
        """Global (max-pooled) feature ``[B, widths[-1]]`` of points ``[B, P, in_dims]``."""
        if points.dim() != 3 or points.shape[2] != self.in_dims:
            raise InputError(f"PointNet expects points [B, P, {self.in_dims}], got {list(points.shape)}")
        x = points.transpose(1, 2)  # [B, D, P]
        if self.tnet is not None:
            x = torch.bmm(self.tnet(x).transpose(1, 2), x)
        return self.mlp(x).amax(dim=2)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Map point clouds ``[B, P, in_dims]`` to logits ``[B, C]``."""
        return self.head(self.global_features(points))
