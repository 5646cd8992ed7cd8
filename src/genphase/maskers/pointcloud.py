"""Point-cloud clusters as variables (farthest-point sampling + nearest centre): a masked cluster collapses to its centre."""

from __future__ import annotations

import math
from typing import Any

import torch

from .._typing import ArrayLike
from ..errors import InputError
from .base import (
    Masker,
    MaskerInputs,
    _require_float,
    as_tensor,
)

__all__ = ["PointCloudMasker"]


class PointCloudMasker(Masker):
    """Point clouds: inputs ``[B, P, D]`` (``D >= 1``; or ``[B, D, P]`` with ``channels_first=True``).

    Clusters (computed per sample, once, in :meth:`prepare`):

    1. Farthest-point sampling of ``n`` centres among the points. The first centre is point 0
       (``start="first"``) or the point farthest from the centroid (``start="centroid"``); each
       next centre is the point farthest from the centres chosen so far. Ties go to the lowest
       point index (deterministic, no randomness).
    2. Every point is assigned to its nearest centre (squared Euclidean distance; ties go to the
       lowest centre index). Each centre belongs to its own cluster, so the ``n`` clusters
       partition the points and none is empty.

    Distances use the first ``coord_dims`` coordinates (default ``min(3, D)``: xyz; extra
    features such as normals are ignored for clustering). Masking variable ``i`` replaces every
    point of cluster ``i`` (all ``D`` features) by the cluster centre: the FPS centre point
    (``centre="seed"``, default) or the mean of the cluster's points (``centre="mean"``).

    >>> x = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [5.0, 0, 0], [6.0, 0, 0]]])  # [B=1, P=4, D=3]
    >>> masker = PointCloudMasker(2)  # FPS centres: point 0, then the farthest, point 3
    >>> masker(x, [True, False])[0, :, 0].tolist()  # cluster 1 (points 2, 3) collapses to its centre
    [0.0, 1.0, 6.0, 6.0]
    """

    def __init__(
        self,
        n: int,
        *,
        start: str = "first",
        centre: str = "seed",
        coord_dims: int | None = None,
        channels_first: bool = False,
    ):
        if int(n) != n or n < 1:
            raise InputError(f"n must be a positive integer number of clusters, got {n!r}")
        if start not in ("first", "centroid"):
            raise InputError(f"start must be 'first' or 'centroid', got {start!r}")
        if centre not in ("seed", "mean"):
            raise InputError(f"centre must be 'seed' (the FPS point) or 'mean' (cluster mean), got {centre!r}")
        if coord_dims is not None and coord_dims < 1:
            raise InputError(f"coord_dims must be >= 1, got {coord_dims}")
        self.n = int(n)
        self.start = start
        self.centre = centre
        self.coord_dims = coord_dims
        self.channels_first = bool(channels_first)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(f"cluster{i}" for i in range(self.n))

    def _points(self, inputs: MaskerInputs) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"PointCloudMasker needs a tensor of points, got {type(inputs).__name__}")
        layout = "[B, D, P]" if self.channels_first else "[B, P, D]"
        if inputs.ndim != 3:
            raise InputError(f"point clouds must have shape {layout}, got {tuple(inputs.shape)}")
        _require_float(inputs, "point clouds")
        x = inputs.transpose(1, 2) if self.channels_first else inputs
        p = x.shape[1]
        if p < self.n:
            raise InputError(
                f"point clouds have P={p} points, fewer than n={self.n} clusters; lower n or use denser clouds"
                + ("" if self.channels_first or x.shape[2] < self.n else
                   " (if the layout is [B, D, P], pass channels_first=True)")
            )
        k = self.coord_dims if self.coord_dims is not None else min(3, x.shape[2])
        if k > x.shape[2]:
            raise InputError(f"coord_dims={k} exceeds the point dimension D={x.shape[2]}")
        return x

    def clusters(self, points: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
        """Cluster a batch of clouds: returns ``(assign [B, P], centre_index [B, n])`` (long).

        ``assign[b, p]`` is the cluster of point ``p``; ``centre_index[b, i]`` the point chosen as
        centre ``i`` by farthest-point sampling.
        """
        x = self._points(as_tensor(points, "points"))
        return self._cluster(x)

    def _cluster(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, p, d = x.shape
        k = self.coord_dims if self.coord_dims is not None else min(3, d)
        xyz = x[..., :k]
        if xyz.dtype in (torch.float16, torch.bfloat16):
            xyz = xyz.float()
        ar = torch.arange(b, device=x.device)
        if self.start == "first":
            cur = torch.zeros(b, dtype=torch.long, device=x.device)
        else:
            cur = ((xyz - xyz.mean(1, keepdim=True)) ** 2).sum(-1).argmax(1)
        idx = torch.empty(b, self.n, dtype=torch.long, device=x.device)
        dist = torch.full((b, p), math.inf, dtype=xyz.dtype, device=x.device)
        for i in range(self.n):  # loop over the n centres only (vectorised over samples and points)
            idx[:, i] = cur
            c = xyz[ar, cur]  # [B, k]
            dist = torch.minimum(dist, ((xyz - c[:, None]) ** 2).sum(-1))
            if i + 1 < self.n:
                best, cur = dist.max(1)
                dup = best <= 0
                if bool(dup.any()):
                    bad = int(dup.nonzero()[0, 0])
                    raise InputError(
                        f"point cloud {bad} has only {i + 1} distinct points (in its first {k} coordinates), fewer "
                        f"than n={self.n} clusters; lower n or remove duplicate points"
                    )
        centres = xyz[ar[:, None], idx]  # [B, n, k]
        d2 = ((xyz[:, :, None, :] - centres[:, None, :, :]) ** 2).sum(-1)  # [B, P, n]
        assign = d2.argmin(-1)
        return assign, idx

    def prepare(self, inputs: MaskerInputs) -> dict[str, torch.Tensor]:
        x = self._points(inputs)
        assign, idx = self._cluster(x)
        b, p, d = x.shape
        if self.centre == "seed":
            centres = x[torch.arange(b, device=x.device)[:, None], idx]  # [B, n, D]
        else:
            acc_t = torch.float32 if x.device.type == "mps" else torch.float64
            acc = torch.zeros(b, self.n, d, dtype=acc_t, device=x.device)
            acc.scatter_add_(1, assign[..., None].expand(b, p, d), x.to(acc_t))
            cnt = torch.zeros(b, self.n, dtype=acc_t, device=x.device)
            cnt.scatter_add_(1, assign, torch.ones(b, p, dtype=acc_t, device=x.device))
            centres = (acc / cnt[..., None]).to(x.dtype)
        return {"points": x, "assign": assign, "centres": centres}

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> torch.Tensor:
        x, assign, centres = rows["points"], rows["assign"], rows["centres"]  # type: ignore[index]
        keep = torch.gather(masks, 1, assign)  # [R, P]
        per_point = torch.gather(centres, 1, assign[..., None].expand(-1, -1, x.shape[2]))
        out = torch.where(keep[..., None], x, per_point)
        return out.transpose(1, 2) if self.channels_first else out

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "start": self.start,
            "centre": self.centre,
            "coord_dims": self.coord_dims,
            "channels_first": self.channels_first,
            "cluster_rule": "farthest-point sampling + nearest centre",
        }


