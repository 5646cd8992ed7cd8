"""DGCNN (dynamic graph CNN with EdgeConv) for point clouds ``[B, P, D]``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import InputError
from ._common import check_positive, classifier_head

__all__ = ["DGCNN", "EdgeConv", "knn", "edge_features"]


def knn(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` nearest neighbours (the point itself included) of every point.

    Args:
        x: features ``[B, C, P]``.
        k: neighbours per point, ``1 <= k <= P``.

    Returns:
        Long tensor ``[B, P, k]``, ``out[b, i]`` lists the neighbours of point ``i``.

    >>> x = torch.tensor([[[0.0, 1.0, 10.0, 11.0]]])  # [B=1, C=1, P=4]: two pairs of close points
    >>> knn(x, 2).sort(-1).values.tolist()  # each point and its nearest neighbour
    [[[0, 1], [0, 1], [2, 3], [2, 3]]]
    """
    sq = (x * x).sum(dim=1)  # [B, P]
    inner = torch.bmm(x.transpose(1, 2), x)  # [B, P, P]
    neg_dist = 2 * inner - sq.unsqueeze(2) - sq.unsqueeze(1)
    return neg_dist.topk(k, dim=-1).indices


def edge_features(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """EdgeConv input ``[x_j - x_i, x_i]`` for every edge ``(i, j)`` of the k-NN graph.

    Args:
        x: features ``[B, C, P]``.
        idx: neighbour indices ``[B, P, k]`` (from :func:`knn`).

    Returns:
        ``[B, 2C, P, k]``.

    >>> x = torch.tensor([[[0.0, 1.0, 10.0]]])  # [B=1, C=1, P=3]
    >>> idx = torch.tensor([[[1], [0], [1]]])  # one neighbour per point
    >>> edge_features(x, idx)[0, :, :, 0].tolist()  # channels [x_j - x_i, x_i] per point i
    [[1.0, -1.0, -9.0], [0.0, 1.0, 10.0]]
    """
    b, c, p = x.shape
    k = idx.shape[-1]
    pts = x.transpose(1, 2).reshape(b * p, c)  # [B*P, C]
    flat = (idx + torch.arange(b, device=x.device).view(b, 1, 1) * p).reshape(-1)
    neigh = pts[flat].view(b, p, k, c)
    centre = x.transpose(1, 2).unsqueeze(2).expand(b, p, k, c)
    return torch.cat((neigh - centre, centre), dim=3).permute(0, 3, 1, 2).contiguous()


class EdgeConv(nn.Module):
    """One EdgeConv layer: k-NN graph in the input feature space, shared MLP on edges, max over neighbours.

    ``[B, c_in, P] -> [B, c_out, P]``.

    >>> EdgeConv(3, 8, k=4)(torch.randn(2, 3, 10)).shape  # [B, c_in, P] -> [B, c_out, P]
    torch.Size([2, 8, 10])
    """

    def __init__(self, c_in: int, c_out: int, k: int, batchnorm: bool = True) -> None:
        super().__init__()
        self.k = k
        layers: list[nn.Module] = [nn.Conv2d(2 * c_in, c_out, 1, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, c_in, P] -> [B, c_out, P]`` (``k`` is clipped to ``P``)."""
        idx = knn(x, min(self.k, x.shape[2]))
        return self.mlp(edge_features(x, idx)).amax(dim=3)


class DGCNN(nn.Module):
    """DGCNN (Wang et al. 2019) classifier: stacked :class:`EdgeConv` with a dynamic k-NN graph.

    ``[B, P, in_dims] -> [B, num_classes]``. Per-layer outputs are concatenated, lifted to
    ``emb_dims`` channels by a 1x1 convolution, max- and mean-pooled over points and fed to
    an MLP head. The output is invariant to the order of the points (up to ties in the k-NN
    search). Memory grows as ``B * P * k * max(edge_channels)`` for the edge tensors and
    ``B * P * P`` for the distance matrices.

    Args:
        num_classes: number of output logits ``C``.
        in_dims: coordinates per point (3 for xyz).
        k: neighbours per point (clipped to ``P``).
        edge_channels: output channels of the EdgeConv layers.
        emb_dims: channels of the global embedding.
        head: widths of the hidden layers of the classification MLP.
        dropout: dropout probability in the head.
        batchnorm: use batch normalisation.

    >>> net = DGCNN(num_classes=4, k=3, edge_channels=(8, 8), emb_dims=16, head=(8,)).eval()
    >>> net(torch.randn(2, 10, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_dims: int = 3,
        *,
        k: int = 20,
        edge_channels: Sequence[int] = (64, 64, 128, 256),
        emb_dims: int = 512,
        head: Sequence[int] = (512, 256),
        dropout: float = 0.5,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        num_classes = check_positive("num_classes", num_classes)
        in_dims = check_positive("in_dims", in_dims)
        k = check_positive("k", k)
        emb_dims = check_positive("emb_dims", emb_dims)
        if not edge_channels:
            raise InputError("edge_channels must list at least one EdgeConv width, got an empty sequence")
        if not 0.0 <= dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {dropout!r}")
        self.num_classes = num_classes
        self.in_dims = in_dims
        self.k = k
        convs: list[EdgeConv] = []
        c_in = in_dims
        for i, c in enumerate(edge_channels):
            c = check_positive(f"edge_channels[{i}]", int(c))
            convs.append(EdgeConv(c_in, c, k, batchnorm))
            c_in = c
        self.edge_convs = nn.ModuleList(convs)
        total = sum(int(c) for c in edge_channels)
        emb: list[nn.Module] = [nn.Conv1d(total, emb_dims, 1, bias=not batchnorm)]
        if batchnorm:
            emb.append(nn.BatchNorm1d(emb_dims))
        emb.append(nn.LeakyReLU(0.2, inplace=True))
        self.embed = nn.Sequential(*emb)
        self.head = classifier_head(head, 2 * emb_dims, num_classes, batchnorm, dropout,
                                    activation=lambda: nn.LeakyReLU(0.2, inplace=True))

    def global_features(self, points: torch.Tensor) -> torch.Tensor:
        """Global feature ``[B, 2 * emb_dims]`` (max and mean pool) of points ``[B, P, in_dims]``."""
        if points.dim() != 3 or points.shape[2] != self.in_dims:
            raise InputError(f"DGCNN expects points [B, P, {self.in_dims}], got {list(points.shape)}")
        x = points.transpose(1, 2)  # [B, D, P]
        outs = []
        for conv in self.edge_convs:
            x = conv(x)
            outs.append(x)
        feat = self.embed(torch.cat(outs, dim=1))  # [B, emb, P]
        return torch.cat((feat.amax(dim=2), feat.mean(dim=2)), dim=1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Map point clouds ``[B, P, in_dims]`` to logits ``[B, C]``."""
        return self.head(self.global_features(points))
