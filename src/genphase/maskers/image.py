"""Image patches as variables: a masked patch takes the baseline image's pixels there (by default the training mean)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .._typing import ArrayLike
from ..errors import InputError
from .base import (
    Masker,
    MaskerInputs,
    _BaselineCache,
    _check_baseline_finite,
    _keep_shared,
    _require_float,
    _train_mean,
    as_tensor,
)

__all__ = ["ImagePatchMasker", "IMAGE_LAYOUTS"]


IMAGE_LAYOUTS = ("fixed", "random-central", "all")


class ImagePatchMasker(Masker):
    """Image patches: inputs ``[B, C, H, W]``; a masked patch takes the baseline's pixels.

    The image is cut into a grid of equal patches (``patch_size`` or ``grid``; H and W must be
    divisible). Cells are numbered row-major, ``k = row * grid_w + col``. The ``n`` variables are
    chosen cells, by ``layout``:

    * ``"fixed"``: ``patches`` lists the cells (indices ``k`` or ``(row, col)`` pairs) in variable order.
    * ``"random-central"`` (default): ``n`` cells drawn without replacement, with
      ``numpy.random.default_rng(seed)``, among the *central* cells -- those whose centre lies in
      the central box covering ``central_fraction`` of the height and of the width (bounds
      included) -- then sorted row-major (variable 0 is the top-left chosen cell). With the
      default ``0.75`` an 8 x 8 grid keeps its central 6 x 6 cells (the outer ring is excluded);
      a 4 x 4 grid keeps all 16; ``1.0`` always keeps every cell.
    * ``"all"``: every cell, row-major (``n = grid_h * grid_w``).

    Pixels outside the chosen patches always stay as in the image.

    Args:
        baseline: ``[C, H, W]`` per-pixel mean of the training images (:meth:`from_data`), or a
            scalar / ``[C]`` per-channel value together with ``image_shape=(C, H, W)``.

    >>> masker = ImagePatchMasker(torch.zeros(1, 4, 4), grid=2, layout="all")  # 2 x 2 patches of 2 x 2 pixels
    >>> masker.n, masker.variable_names
    (4, ('r0c0', 'r0c1', 'r1c0', 'r1c1'))
    >>> masker(torch.ones(1, 1, 4, 4), 0b0110)[0, 0].tolist()  # keep r0c1 and r1c0; the rest takes the baseline 0
    [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        baseline: ArrayLike,
        *,
        patch_size: int | tuple[int, int] | None = None,
        grid: int | tuple[int, int] | None = None,
        layout: str = "random-central",
        patches: Sequence[int | tuple[int, int]] | None = None,
        n: int | None = None,
        seed: int = 0,
        central_fraction: float = 0.75,
        image_shape: tuple[int, int, int] | None = None,
    ):
        base = as_tensor(baseline, "baseline").detach().cpu()
        _require_float(base, "baseline")
        if base.ndim != 3:
            if image_shape is None:
                raise InputError(
                    f"baseline must be [C, H, W] (per-pixel training mean), got shape {tuple(base.shape)}; "
                    "for a scalar or per-channel baseline also pass image_shape=(C, H, W)"
                )
            c = image_shape[0]
            if base.ndim == 1 and base.shape[0] == c:
                base = base[:, None, None]
            elif base.ndim > 1 or (base.ndim == 1 and base.shape[0] != 1):
                raise InputError(f"baseline of shape {tuple(base.shape)} cannot broadcast to image_shape {tuple(image_shape)}")
            base = base.expand(*image_shape).clone()
        elif image_shape is not None and tuple(base.shape) != tuple(image_shape):
            raise InputError(f"baseline shape {tuple(base.shape)} differs from image_shape {tuple(image_shape)}")
        _check_baseline_finite(base, "baseline")
        self.image_shape: tuple[int, int, int] = tuple(int(s) for s in base.shape)  # type: ignore[assignment]
        self._baseline = _BaselineCache(base)
        _, h, w = self.image_shape

        def pair(v: int | tuple[int, int], what: str) -> tuple[int, int]:
            p = (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(s) for s in v)  # type: ignore[union-attr]
            if len(p) != 2 or min(p) < 1:
                raise InputError(f"{what} must be a positive int or a pair of positive ints, got {v!r}")
            return p  # type: ignore[return-value]

        if (patch_size is None) == (grid is None):
            raise InputError("pass exactly one of patch_size (pixels per patch) or grid (patches per side)")
        if patch_size is not None:
            ph, pw = pair(patch_size, "patch_size")
            if h % ph or w % pw:
                raise InputError(
                    f"image size H x W = {h} x {w} is not divisible by patch_size {ph} x {pw}; "
                    "choose a patch size that divides the image (or resize/crop the images)"
                )
            gh, gw = h // ph, w // pw
        else:
            gh, gw = pair(grid, "grid")  # type: ignore[arg-type]
            if h % gh or w % gw:
                raise InputError(
                    f"image size H x W = {h} x {w} is not divisible by grid {gh} x {gw}; "
                    "choose a grid that divides the image (or resize/crop the images)"
                )
            ph, pw = h // gh, w // gw
        self.patch_size = (ph, pw)
        self.grid = (gh, gw)
        total = gh * gw
        if layout not in IMAGE_LAYOUTS:
            raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(IMAGE_LAYOUTS)}")
        self.layout = layout
        self.seed = int(seed)
        self.central_fraction = float(central_fraction)

        if layout == "fixed":
            if patches is None:
                raise InputError("layout='fixed' needs patches=[...] (cell indices row*grid_w+col, or (row, col) pairs)")
            cells = []
            for p in patches:
                if np.ndim(p) == 0:
                    k = int(p)  # type: ignore[arg-type]
                    if not 0 <= k < total:
                        raise InputError(f"patch index {k} is out of range for a {gh} x {gw} grid ({total} patches)")
                else:
                    r, c = (int(s) for s in p)  # type: ignore[union-attr]
                    if not (0 <= r < gh and 0 <= c < gw):
                        raise InputError(f"patch (row, col) = ({r}, {c}) is outside the {gh} x {gw} grid")
                    k = r * gw + c
                cells.append(k)
            if len(set(cells)) != len(cells):
                raise InputError(f"patches contain duplicates: {cells}; each variable must be a different patch")
            if n is not None and n != len(cells):
                raise InputError(f"n={n} but {len(cells)} patches were listed; drop n or list n patches")
            if total < len(cells):  # pragma: no cover - caught by range checks
                raise InputError(f"{len(cells)} patches requested but the grid has {total}")
        elif layout == "all":
            if n is not None and n != total:
                raise InputError(f"layout='all' uses every one of the {gh} x {gw} = {total} patches, but n={n} was given")
            cells = list(range(total))
        else:
            if n is None:
                raise InputError("layout='random-central' needs n (the number of patches to draw)")
            if not 0 < self.central_fraction <= 1:
                raise InputError(f"central_fraction must be in (0, 1], got {central_fraction}")
            if n > total:
                raise InputError(
                    f"n={n} patches requested but the {gh} x {gw} grid has only {total}; "
                    "lower n or use a smaller patch_size / finer grid"
                )
            f = self.central_fraction
            rows_c = (np.arange(gh) + 0.5) * ph
            cols_c = (np.arange(gw) + 0.5) * pw
            eps = 1e-9 * max(h, w)  # bounds included, robust to rounding
            ok_r = (rows_c >= h * (1 - f) / 2 - eps) & (rows_c <= h * (1 + f) / 2 + eps)
            ok_c = (cols_c >= w * (1 - f) / 2 - eps) & (cols_c <= w * (1 + f) / 2 + eps)
            central = [int(r * gw + c) for r in range(gh) for c in range(gw) if ok_r[r] and ok_c[c]]
            if n > len(central):
                raise InputError(
                    f"n={n} patches requested but only {len(central)} of the {total} patches of the {gh} x {gw} grid "
                    f"are central (central_fraction={f}); raise central_fraction (1.0 = all patches), lower n, "
                    "or use a smaller patch_size"
                )
            rng = np.random.default_rng(self.seed)
            cells = sorted(int(k) for k in rng.choice(np.array(central), size=n, replace=False))
        self.cells: tuple[int, ...] = tuple(cells)
        self.n = len(cells)
        index = torch.full((h, w), -1, dtype=torch.long)
        for i, (r0, c0, r1, c1) in enumerate(self.patch_boxes):
            index[r0:r1, c0:c1] = i
        self._index = index

    @classmethod
    def from_data(cls, train_x: ArrayLike, **kwargs: Any) -> "ImagePatchMasker":
        """Masker whose baseline is the per-pixel mean of ``train_x`` ``[N, C, H, W]``."""
        t = as_tensor(train_x, "train_x")
        if t.ndim != 4:
            raise InputError(f"train_x must have shape [N, C, H, W], got {tuple(t.shape)}")
        return cls(_train_mean(t, "train_x", 4), **kwargs)

    @property
    def baseline(self) -> torch.Tensor:
        """The baseline image ``[C, H, W]`` (CPU)."""
        return self._baseline.value

    @property
    def patch_boxes(self) -> list[list[int]]:
        """Pixel box ``[row0, col0, row1, col1]`` (end-exclusive) of each variable, in variable order."""
        ph, pw = self.patch_size
        gw = self.grid[1]
        return [[(k // gw) * ph, (k % gw) * pw, (k // gw + 1) * ph, (k % gw + 1) * pw] for k in self.cells]

    @property
    def variable_names(self) -> tuple[str, ...]:
        """``r{row}c{col}`` grid coordinates of each variable's patch."""
        gw = self.grid[1]
        return tuple(f"r{k // gw}c{k % gw}" for k in self.cells)

    def pixel_variables(self) -> torch.Tensor:
        """``[H, W]`` long map: the variable of each pixel, ``-1`` outside the chosen patches."""
        return self._index.clone()

    def prepare(self, inputs: MaskerInputs) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"ImagePatchMasker needs a tensor [B, C, H, W], got {type(inputs).__name__}")
        if inputs.ndim != 4 or tuple(inputs.shape[1:]) != self.image_shape:
            raise InputError(
                f"images must have shape [B, C, H, W] = [B, {', '.join(map(str, self.image_shape))}] "
                f"(the baseline's shape), got {tuple(inputs.shape)}; build the masker from training images "
                "of the same size (or resize the inputs)"
            )
        _require_float(inputs, "images")
        return inputs

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> torch.Tensor:
        x = rows  # [R, C, H, W]
        keep = _keep_shared(masks, self._index.to(x.device))  # [R, H, W]
        return torch.where(keep[:, None], x, self._baseline.like(x))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "image_shape": list(self.image_shape),
            "patch_size": list(self.patch_size),
            "grid": list(self.grid),
            "layout": self.layout,
            "cells": list(self.cells),
            "seed": self.seed,
            "central_fraction": self.central_fraction,
            "patch_boxes": self.patch_boxes,
        }

