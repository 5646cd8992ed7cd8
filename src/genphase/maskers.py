"""Maskers: build the masked inputs ``x_S`` of a batch of samples, one masker per modality.

Conventions (see ``SCIENCE.md`` section 1):

* A masker explains ``n`` input variables. A mask is a boolean vector ``[n]`` (``True`` = the
  variable is kept) or an integer bitmask (bit ``i`` set = variable ``i`` kept).
* Variables not kept are replaced by a baseline: the training-data mean (tabular features,
  image patches), a baseline embedding such as ``[MASK]`` (text), the cluster centre (point
  clouds). Parts of the input that belong to no variable are never changed.
* Everything is batched and vectorised: one call masks ``R`` rows at once (``torch.where`` /
  ``gather`` on per-position variable indices), on the device of the inputs.

The interface (:class:`Masker`) has two steps so that per-sample work is done once per sample,
not once per masked copy:

1. ``prepare(inputs) -> prepared``: validate a batch of ``B`` samples and precompute per-sample
   state (point-cloud clusters, token embeddings). ``prepared`` is a tensor or a mapping of
   tensors, all with leading axis ``B``.
2. ``mask(rows, masks) -> model_inputs``: ``rows`` holds ``R`` rows of ``prepared`` (a sample may
   appear many times), ``masks`` is a bool tensor ``[R, n]``; returns the ``R`` masked model
   inputs: a tensor (the model is called as ``model(x)``), a mapping (``model(**kwargs)``, e.g.
   ``inputs_embeds`` and ``attention_mask`` for Hugging Face models) or a tuple
   (``model(*args)``).

A custom masker needs ``n`` and ``mask`` only::

    class ZeroMasker(Masker):
        def __init__(self, n):
            self.n = n
        def mask(self, rows, masks):          # rows [R, n], masks [R, n]
            return torch.where(masks, rows, torch.zeros_like(rows))
"""

from __future__ import annotations

import math
import string
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import numpy as np
import torch

from ._typing import ArrayLike
from .errors import InputError, require

__all__ = [
    "Masker",
    "MaskerInputs",
    "ModelInputs",
    "TabularMasker",
    "ImagePatchMasker",
    "EmbeddingMasker",
    "PointCloudMasker",
    "WordVariables",
    "word_variables",
    "collate_text",
    "DEFAULT_STOP_WORDS",
    "all_masks",
    "as_bool_masks",
]

#: What a masker's ``prepare`` accepts and returns: a tensor ``[B, ...]`` or a mapping of tensors
#: that all have leading axis ``B``.
MaskerInputs = Union[torch.Tensor, Mapping[str, torch.Tensor]]
#: What ``mask`` returns: ``model(x)`` for a tensor, ``model(**x)`` for a mapping, ``model(*x)`` for a tuple.
ModelInputs = Union[torch.Tensor, Mapping[str, Any], tuple]


# ---------------------------------------------------------------------------- helpers
def _as_tensor(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise InputError(f"{what} must be real, got complex dtype {x.dtype}; pass x.real (or x.abs()) explicitly")
        return x
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InputError(f"{what} must be a tensor or array, got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise InputError(f"{what} must be a numeric tensor or array, got an object array (ragged nesting?)")
    if arr.dtype.kind == "c":
        raise InputError(f"{what} must be real, got complex dtype {arr.dtype}; pass x.real (or abs(x)) explicitly")
    return torch.as_tensor(arr)


def _batch_size(inputs: MaskerInputs, what: str = "inputs") -> int:
    """Leading size of a tensor or of a mapping of tensors (which must agree)."""
    if isinstance(inputs, torch.Tensor):
        if inputs.ndim == 0:
            raise InputError(f"{what} must have a leading batch axis, got a scalar")
        return int(inputs.shape[0])
    if isinstance(inputs, Mapping):
        sizes = {}
        for k, v in inputs.items():
            if not isinstance(v, torch.Tensor) or v.ndim == 0:
                raise InputError(
                    f"{what}[{k!r}] must be a tensor with a leading batch axis, got {type(v).__name__}"
                    + (f" of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else "")
                )
            sizes[k] = int(v.shape[0])
        if not sizes:
            raise InputError(f"{what} is an empty mapping; pass at least one tensor")
        if len(set(sizes.values())) != 1:
            raise InputError(f"the tensors of {what} have different batch sizes {sizes}; they must all be [B, ...]")
        return next(iter(sizes.values()))
    raise InputError(f"{what} must be a tensor [B, ...] or a mapping of tensors, got {type(inputs).__name__}")


def _to_device(inputs: Any, device: torch.device | None) -> Any:
    """Convert arrays to tensors and move a tensor / mapping of tensors to ``device``."""
    if isinstance(inputs, Mapping):
        return {k: _to_device(v, device) for k, v in inputs.items()}
    t = _as_tensor(inputs, "inputs")
    return t if device is None else t.to(device)


def _rows(inputs: MaskerInputs, index: torch.Tensor) -> MaskerInputs:
    """Select rows ``index`` (long ``[R]``) of a tensor or of every tensor of a mapping."""
    if isinstance(inputs, torch.Tensor):
        return inputs.index_select(0, index)
    return {k: v.index_select(0, index) for k, v in inputs.items()}


def _device_of(inputs: MaskerInputs) -> torch.device:
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    return next(iter(inputs.values())).device


def all_masks(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """All ``2**n`` boolean masks in bitmask order, ``[2**n, n]`` (row ``S``, column ``i`` = bit ``i`` of ``S``)."""
    if n < 0 or n > 30:
        raise InputError(f"n must be in [0, 30] to enumerate 2**n masks, got n={n}")
    s = torch.arange(1 << n, device=device)
    return ((s[:, None] >> torch.arange(n, device=device)) & 1).bool()


def as_bool_masks(masks: Any, n: int, rows: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Coerce masks to a bool tensor ``[rows, n]``.

    Accepts bool masks ``[n]`` (one mask for every row) or ``[rows, n]``, or integer bitmasks
    (scalar or ``[rows]``; bit ``i`` set = variable ``i`` kept).
    """
    m = _as_tensor(masks, "masks").to(device)
    if m.dtype == torch.bool:
        if m.ndim == 0 or m.shape[-1] != n:
            raise InputError(
                f"boolean masks must have last dimension n={n} (one entry per variable), got shape {tuple(m.shape)}"
            )
        if m.ndim == 1:
            m = m.expand(rows, n)
        if m.shape != (rows, n):
            raise InputError(f"boolean masks must have shape [{n}] or [{rows}, {n}] (one per input row), got {tuple(m.shape)}")
        return m
    if m.is_floating_point() or m.is_complex():
        raise InputError(f"masks must be bool [..., n] or integer bitmasks, got dtype {m.dtype}")
    m = m.long()
    if m.ndim == 0:
        m = m.expand(rows)
    if m.shape != (rows,):
        raise InputError(f"integer bitmasks must be a scalar or have shape [{rows}] (one per input row), got {tuple(m.shape)}")
    size = 1 << n
    if m.numel() and (int(m.min()) < 0 or int(m.max()) >= size):
        raise InputError(f"bitmasks must lie in [0, {size - 1}] for n={n}, got range [{int(m.min())}, {int(m.max())}]")
    return ((m[:, None] >> torch.arange(n, device=m.device)) & 1).bool()


def _keep_shared(masks: torch.Tensor, var_index: torch.Tensor) -> torch.Tensor:
    """``keep[r, *pos] = masks[r, var_index[pos]]`` (``True`` where ``var_index < 0``); ``[R, *var_index.shape]``."""
    r, n = masks.shape
    ext = torch.cat([masks, masks.new_ones(r, 1)], dim=1)
    idx = torch.where(var_index < 0, torch.full_like(var_index, n), var_index)
    return ext[:, idx]


def _keep_rows(masks: torch.Tensor, var_index: torch.Tensor) -> torch.Tensor:
    """Per-row variant: ``var_index`` is ``[R, *pos]``; returns ``[R, *pos]``."""
    r, n = masks.shape
    ext = torch.cat([masks, masks.new_ones(r, 1)], dim=1)
    idx = torch.where(var_index < 0, torch.full_like(var_index, n), var_index)
    return torch.gather(ext, 1, idx.reshape(r, -1)).reshape(var_index.shape)


class _BaselineCache:
    """A CPU tensor plus copies cast to the (device, dtype) pairs it was used with."""

    def __init__(self, value: torch.Tensor):
        self.value = value
        self._cache: dict[tuple, torch.Tensor] = {}

    def like(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        t = self._cache.get(key)
        if t is None:
            t = self.value.to(device=x.device, dtype=x.dtype)
            self._cache[key] = t
        return t


# ---------------------------------------------------------------------------- protocol
class Masker(ABC):
    """Base class of maskers. Subclasses set ``n`` (number of variables) and implement :meth:`mask`.

    Optional overrides: :meth:`prepare` (validate / precompute per-sample state once),
    :attr:`variable_names`, :meth:`describe`.
    """

    #: Number of input variables.
    n: int

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Names of the ``n`` variables (default ``x0..x{n-1}``)."""
        return tuple(f"x{i}" for i in range(self.n))

    def prepare(self, inputs: MaskerInputs) -> MaskerInputs:
        """Validate a batch of ``B`` samples and precompute per-sample state; leading axis stays ``B``."""
        _batch_size(inputs)
        return inputs

    @abstractmethod
    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> ModelInputs:
        """Masked model inputs of ``R`` rows of prepared inputs; ``masks`` is bool ``[R, n]`` (True = kept)."""

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description (stored in the metadata of results)."""
        return {"type": type(self).__name__, "n": int(self.n)}

    def __call__(self, inputs: Any, masks: Any) -> ModelInputs:
        """Mask a batch directly: ``inputs`` ``[B, ...]`` (or mapping), ``masks`` bool ``[B, n]`` / ``[n]``
        or bitmasks ``[B]`` / scalar. Returns the ``B`` masked model inputs."""
        prepared = self.prepare(_to_device(inputs, None))
        b = _batch_size(prepared)
        m = as_bool_masks(masks, self.n, b, _device_of(prepared))
        return self.mask(prepared, m)


def _check_baseline_finite(base: torch.Tensor, what: str) -> None:
    if base.is_floating_point() and not bool(torch.isfinite(base).all()):
        raise InputError(f"{what} contains NaN or inf; compute it from finite training data")


def _train_mean(train_x: ArrayLike, what: str, min_ndim: int) -> torch.Tensor:
    t = _as_tensor(train_x, what)
    if t.ndim < min_ndim:
        raise InputError(f"{what} must have shape [N, ...] with at least {min_ndim} dims, got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise InputError(f"{what} is empty (shape {tuple(t.shape)}); pass at least one training sample")
    return t.detach().to(torch.float64).mean(0).cpu()


def _require_float(x: torch.Tensor, what: str) -> None:
    if not x.is_floating_point():
        raise InputError(
            f"{what} must be a floating-point tensor (the baseline is a mean), got dtype {x.dtype}; convert with .float()"
        )


# ---------------------------------------------------------------------------- tabular
class TabularMasker(Masker):
    """Tabular features: inputs ``[B, F]``; a masked feature takes its baseline value.

    Args:
        baseline: ``[F]``, usually the per-feature mean of the training data (:meth:`from_data`).
        groups: which features form the variables: ``None`` (default, every feature is one
            variable, ``n = F``), a list of feature indices (variable ``i`` = feature
            ``groups[i]``; other features stay as they are), or a list of lists (variable ``i``
            = all features in ``groups[i]``, e.g. a one-hot block). A feature belongs to at most
            one variable.
        features: shorthand for ``groups`` given as a flat list of feature indices (variable ``i``
            = feature ``features[i]``); pass ``groups`` or ``features``, not both.
        names: variable names (default ``f{j}`` of the first feature of each variable).
    """

    def __init__(
        self,
        baseline: ArrayLike,
        *,
        groups: Sequence[int] | Sequence[Sequence[int]] | None = None,
        features: Sequence[int] | None = None,
        names: Sequence[str] | None = None,
    ):
        base = _as_tensor(baseline, "baseline").detach().cpu()
        if base.ndim != 1 or base.shape[0] == 0:
            raise InputError(f"baseline must have shape [F] (one value per feature), got {tuple(base.shape)}")
        _require_float(base, "baseline")
        _check_baseline_finite(base, "baseline")
        self.num_features = int(base.shape[0])
        self._baseline = _BaselineCache(base)
        f = self.num_features
        if features is not None:
            if groups is not None:
                raise InputError("pass either groups or features (a flat list of feature indices), not both")
            if any(np.ndim(j) != 0 for j in features):
                raise InputError("features must be a flat list of feature indices; use groups=[[...], ...] for groups")
            groups = list(features)
        if groups is None:
            members = [[j] for j in range(f)]
        else:
            members = [[int(g)] if np.ndim(g) == 0 else [int(j) for j in g] for g in groups]
        index = torch.full((f,), -1, dtype=torch.long)
        for i, mem in enumerate(members):
            if not mem:
                raise InputError(f"variable {i} of groups is empty; every variable needs at least one feature")
            for j in mem:
                if not 0 <= j < f:
                    raise InputError(f"feature index {j} (variable {i}) is out of range for F={f} features")
                if index[j] >= 0:
                    raise InputError(f"feature {j} is in variables {int(index[j])} and {i}; a feature may belong to one variable only")
                index[j] = i
        self.groups: tuple[tuple[int, ...], ...] = tuple(tuple(m) for m in members)
        self.n = len(members)
        self._index = index
        if names is not None and len(names) != self.n:
            raise InputError(f"got {len(names)} names for n={self.n} variables")
        self._names = tuple(names) if names is not None else tuple(f"f{m[0]}" for m in members)

    @classmethod
    def from_data(cls, train_x: ArrayLike, **kwargs: Any) -> "TabularMasker":
        """Masker whose baseline is the per-feature mean of ``train_x`` ``[N, F]``."""
        mean = _train_mean(train_x, "train_x", 2)
        if mean.ndim != 1:
            raise InputError(f"train_x must have shape [N, F], got {tuple(_as_tensor(train_x, 'train_x').shape)}")
        return cls(mean, **kwargs)

    @property
    def baseline(self) -> torch.Tensor:
        """The baseline ``[F]`` (float64, CPU)."""
        return self._baseline.value

    @property
    def variable_names(self) -> tuple[str, ...]:
        return self._names

    def prepare(self, inputs: MaskerInputs) -> torch.Tensor:
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"TabularMasker needs a tensor [B, F], got {type(inputs).__name__}")
        if inputs.ndim != 2 or inputs.shape[1] != self.num_features:
            raise InputError(
                f"tabular inputs must have shape [B, F={self.num_features}] (the baseline's length), "
                f"got {tuple(inputs.shape)}; build the masker from training data with the same features"
            )
        _require_float(inputs, "tabular inputs")
        return inputs

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> torch.Tensor:
        x = rows  # [R, F]
        keep = _keep_shared(masks, self._index.to(x.device))
        return torch.where(keep, x, self._baseline.like(x))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "num_features": self.num_features, "groups": [list(g) for g in self.groups]}


# ---------------------------------------------------------------------------- images
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
        base = _as_tensor(baseline, "baseline").detach().cpu()
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
        t = _as_tensor(train_x, "train_x")
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


# ---------------------------------------------------------------------------- point clouds
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
        x = self._points(_as_tensor(points, "points"))
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


# ---------------------------------------------------------------------------- text
#: Default stop words of :func:`word_variables` (lower case). Negations ("not", "no", "nor",
#: "never") are deliberately *not* stop words: they carry sentiment.
DEFAULT_STOP_WORDS: frozenset[str] = frozenset(
    """a an the and or but if then else so than that this these those there here of in on at by for with
    about against between into through during before after above below to from up down out off over under
    again further once is am are was were be been being have has had having do does did doing i me my myself
    we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its
    itself they them their theirs themselves what which who whom whose when where why how all any both each
    few more most other some such only own same too very s t can will just should would could may might must
    shall as until while because also ll re ve d m o y""".split()
)


@dataclass(frozen=True)
class WordVariables:
    """One tokenized sentence and its ``n`` word variables (see :func:`word_variables`).

    ``groups[i]`` are the token positions of variable ``i`` (all sub-tokens of one word),
    ``words[i]`` the word as it appears in ``text``; variables are in text order.
    """

    text: str
    words: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None = None

    @property
    def n(self) -> int:
        return len(self.groups)

    @property
    def variable_index(self) -> list[int]:
        """Per token: the variable it belongs to, ``-1`` for tokens of no variable."""
        out = [-1] * len(self.input_ids)
        for i, g in enumerate(self.groups):
            for pos in g:
                out[pos] = i
        return out


def _is_punctuation(word: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PS" or ch in string.punctuation for ch in word)


def word_variables(
    tokenizer: Any,
    text: str,
    n: int,
    *,
    stop_words: Iterable[str] = DEFAULT_STOP_WORDS,
    max_length: int | None = None,
    choose: str = "first",
    seed: int = 0,
) -> WordVariables:
    """Tokenize ``text`` and pick ``n`` words as variables.

    Words are the tokenizer's pre-tokenized words (``encoding.word_ids()``, so a fast Hugging Face
    tokenizer is needed); all sub-tokens of a word form one variable. Special tokens, stop words
    (case-insensitive match against ``stop_words``) and punctuation/symbol-only words are never
    chosen. Among the eligible words, ``choose="first"`` takes the first ``n`` in text order;
    ``choose="random"`` draws ``n`` without replacement with ``numpy.random.default_rng(seed)``.
    Either way the variables are numbered in text order.

    ``max_length`` defaults to ``tokenizer.model_max_length``; longer texts raise an
    :class:`InputError` (no silent truncation, which could drop chosen words).
    """
    require("transformers", "text", "word_variables (text variables)")
    if choose not in ("first", "random"):
        raise InputError(f"choose must be 'first' or 'random', got {choose!r}")
    if int(n) != n or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if not isinstance(text, str):
        raise InputError(f"text must be a str, got {type(text).__name__}")
    try:
        enc = tokenizer(text, add_special_tokens=True, truncation=False, return_offsets_mapping=True)
        word_ids = enc.word_ids()
    except (NotImplementedError, ValueError, AttributeError) as exc:
        raise InputError(
            f"{type(tokenizer).__name__} cannot map tokens to words (word_ids()); use a fast tokenizer "
            "(AutoTokenizer.from_pretrained(..., use_fast=True))"
        ) from exc
    ids = list(enc["input_ids"])
    if max_length is None:
        ml = getattr(tokenizer, "model_max_length", None)
        max_length = int(ml) if ml is not None and ml < 1_000_000 else None
    if max_length is not None and len(ids) > max_length:
        raise InputError(
            f"the text has {len(ids)} tokens, more than the model's max_length={max_length}; "
            "shorten the text (or pass a larger max_length if the model allows it)"
        )
    offsets = enc["offset_mapping"]
    groups: dict[int, list[int]] = {}
    for pos, w in enumerate(word_ids):
        if w is not None:
            groups.setdefault(int(w), []).append(pos)
    stop = {s.lower() for s in stop_words}
    eligible: list[tuple[int, str]] = []
    all_words = []
    for w, positions in groups.items():
        lo = min(offsets[p][0] for p in positions)
        hi = max(offsets[p][1] for p in positions)
        word = text[lo:hi]
        all_words.append(word)
        if word and word.lower() not in stop and not _is_punctuation(word):
            eligible.append((w, word))
    if len(eligible) < n:
        raise InputError(
            f"the text has {len(eligible)} eligible words (not stop words or punctuation), fewer than n={n}: "
            f"{[e[1] for e in eligible]}; lower n, use a longer text, or pass a smaller stop_words set"
        )
    if choose == "first":
        picked = eligible[:n]
    else:
        rng = np.random.default_rng(seed)
        sel = sorted(int(i) for i in rng.choice(len(eligible), size=n, replace=False))
        picked = [eligible[i] for i in sel]
    tti = enc.get("token_type_ids")
    return WordVariables(
        text=text,
        words=tuple(word for _, word in picked),
        groups=tuple(tuple(groups[w]) for w, _ in picked),
        input_ids=tuple(int(i) for i in ids),
        attention_mask=tuple(int(i) for i in enc.get("attention_mask", [1] * len(ids))),
        token_type_ids=tuple(int(i) for i in tti) if tti is not None else None,
    )


def collate_text(items: Sequence[WordVariables], *, pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad a list of :class:`WordVariables` (same ``n``) into the inputs of :class:`EmbeddingMasker`.

    Returns ``input_ids``, ``attention_mask`` (0 on padding), ``variable_index`` (``-1`` for tokens
    of no variable and padding) and, when every item has them, ``token_type_ids``; each ``[B, L]``
    long, right-padded to the longest item.
    """
    if len(items) == 0:
        raise InputError("collate_text got no items; pass at least one WordVariables")
    ns = {it.n for it in items}
    if len(ns) != 1:
        raise InputError(f"all items must have the same number of variables n, got {sorted(ns)}")
    length = max(len(it.input_ids) for it in items)
    b = len(items)
    ids = torch.full((b, length), int(pad_token_id), dtype=torch.long)
    att = torch.zeros(b, length, dtype=torch.long)
    var = torch.full((b, length), -1, dtype=torch.long)
    with_tt = all(it.token_type_ids is not None for it in items)
    tt = torch.zeros(b, length, dtype=torch.long)
    for r, it in enumerate(items):  # collation of token lists (not on the masking hot path)
        m = len(it.input_ids)
        ids[r, :m] = torch.tensor(it.input_ids)
        att[r, :m] = torch.tensor(it.attention_mask)
        var[r, :m] = torch.tensor(it.variable_index)
        if with_tt:
            tt[r, :m] = torch.tensor(it.token_type_ids)
    out = {"input_ids": ids, "attention_mask": att, "variable_index": var}
    if with_tt:
        out["token_type_ids"] = tt
    return out


class EmbeddingMasker(Masker):
    """Text: variables are groups of token positions; masking replaces their input embeddings.

    Inputs: a mapping with ``input_ids`` ``[B, L]`` (or precomputed ``inputs_embeds``
    ``[B, L, D]``), ``variable_index`` ``[B, L]`` (variable of each token, ``-1`` for none; see
    :func:`word_variables` and :func:`collate_text`) and optionally ``attention_mask`` and any
    other per-token tensors (``token_type_ids``, ...), which are passed through unchanged.

    Output (``mask``): ``{"inputs_embeds": [R, L, D], "attention_mask": [R, L], ...}``, for
    ``model(**kwargs)`` of a Hugging Face model. Masked tokens get the ``baseline`` vector as word
    embedding (the model still adds position / token-type embeddings); attention is unchanged,
    so for BERT-like models masking with the ``[MASK]`` embedding equals replacing the token ids by
    ``[MASK]``.

    Args:
        embedding: the model's input embedding (``model.get_input_embeddings()``), a module or
            callable mapping ids ``[B, L]`` to ``[B, L, D]``.
        n: number of variables per sample.
        baseline: a token id (its embedding is used, e.g. ``tokenizer.mask_token_id``), a vector
            ``[D]``, or ``"zeros"``. :meth:`for_model` resolves ``"mask"`` / ``"pad"`` / ``"unk"``.
    """

    def __init__(self, embedding: Callable[[torch.Tensor], torch.Tensor], n: int, *, baseline: int | ArrayLike | str = "zeros"):
        if int(n) != n or n < 1:
            raise InputError(f"n must be a positive integer, got {n!r}")
        if not callable(embedding):
            raise InputError(f"embedding must be a module or callable ids -> embeddings, got {type(embedding).__name__}")
        self.embedding = embedding
        self.n = int(n)
        self._baseline_kind: str
        self._baseline_vec: _BaselineCache | None = None
        self._baseline_id: int | None = None
        if isinstance(baseline, str):
            if baseline != "zeros":
                raise InputError(
                    f"baseline {baseline!r} needs a tokenizer: use EmbeddingMasker.for_model(model, tokenizer, n, "
                    f"baseline={baseline!r}), or pass a token id, a vector [D] or 'zeros'"
                )
            self._baseline_kind = "zeros"
        elif isinstance(baseline, (int, np.integer)):
            self._baseline_kind = "token"
            self._baseline_id = int(baseline)
        else:
            vec = _as_tensor(baseline, "baseline").detach().cpu()
            if vec.ndim != 1:
                raise InputError(f"a baseline vector must have shape [D] (embedding size), got {tuple(vec.shape)}")
            self._baseline_kind = "vector"
            self._baseline_vec = _BaselineCache(vec)

    @classmethod
    def for_model(cls, model: Any, tokenizer: Any, n: int, *, baseline: str | int | ArrayLike = "mask") -> "EmbeddingMasker":
        """Masker using ``model.get_input_embeddings()``; ``baseline`` is ``"mask"`` (default),
        ``"pad"``, ``"unk"``, ``"zeros"``, a token id or a vector."""
        if not hasattr(model, "get_input_embeddings"):
            raise InputError(
                f"{type(model).__name__} has no get_input_embeddings(); pass the embedding module to EmbeddingMasker directly"
            )
        if isinstance(baseline, str) and baseline != "zeros":
            attr = {"mask": "mask_token_id", "pad": "pad_token_id", "unk": "unk_token_id"}.get(baseline)
            if attr is None:
                raise InputError(f"unknown baseline {baseline!r}; choose 'mask', 'pad', 'unk', 'zeros', a token id or a vector")
            tid = getattr(tokenizer, attr, None)
            if tid is None:
                raise InputError(
                    f"the tokenizer has no {attr} (no [{baseline.upper()}] token); choose another baseline "
                    "('pad', 'unk', 'zeros', a token id or a vector)"
                )
            baseline = int(tid)
        return cls(model.get_input_embeddings(), n, baseline=baseline)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(f"w{i}" for i in range(self.n))

    def _baseline_like(self, e: torch.Tensor) -> torch.Tensor:
        d = e.shape[-1]
        if self._baseline_kind == "zeros":
            return e.new_zeros(d)
        if self._baseline_kind == "vector":
            vec = self._baseline_vec.like(e)  # type: ignore[union-attr]
        else:
            ids = torch.tensor([[self._baseline_id]], dtype=torch.long, device=e.device)
            vec = self.embedding(ids)[0, 0].to(e.dtype)
        if vec.shape != (d,):
            raise InputError(f"baseline vector has shape {tuple(vec.shape)} but the embeddings have size D={d}")
        return vec

    def prepare(self, inputs: MaskerInputs) -> dict[str, torch.Tensor]:
        if not isinstance(inputs, Mapping):
            raise InputError(
                "EmbeddingMasker needs a mapping with input_ids [B, L] and variable_index [B, L] "
                f"(see genphase.maskers.collate_text), got {type(inputs).__name__}"
            )
        b = _batch_size(inputs)
        if "variable_index" not in inputs:
            raise InputError("text inputs need 'variable_index' [B, L] (variable of each token, -1 for none); see collate_text")
        var = inputs["variable_index"].long()
        if "inputs_embeds" in inputs:
            emb = inputs["inputs_embeds"]
        elif "input_ids" in inputs:
            ids = inputs["input_ids"]
            if ids.ndim != 2:
                raise InputError(f"input_ids must have shape [B, L], got {tuple(ids.shape)}")
            emb = self.embedding(ids)
        else:
            raise InputError("text inputs need 'input_ids' [B, L] (or 'inputs_embeds' [B, L, D])")
        if emb.ndim != 3 or var.shape != emb.shape[:2]:
            raise InputError(
                f"variable_index must have shape [B, L] = {list(emb.shape[:2])} (one entry per token), got {list(var.shape)}"
            )
        if var.numel() and (int(var.min()) < -1 or int(var.max()) >= self.n):
            raise InputError(
                f"variable_index values must be -1 (no variable) or in [0, {self.n - 1}] for n={self.n}, "
                f"got range [{int(var.min())}, {int(var.max())}]"
            )
        present = torch.zeros(b, self.n + 1, dtype=torch.bool, device=var.device)
        present.scatter_(1, torch.where(var < 0, self.n, var), True)
        missing = ~present[:, : self.n]
        if bool(missing.any()):
            s, v = (int(i) for i in missing.nonzero()[0])
            raise InputError(
                f"sample {s} has no token for variable {v}; every one of the n={self.n} variables needs at least "
                "one token (build the inputs with word_variables(..., n) and collate_text)"
            )
        out = {k: v for k, v in inputs.items() if k not in ("input_ids", "inputs_embeds", "variable_index")}
        if "attention_mask" not in out:
            out["attention_mask"] = torch.ones(var.shape, dtype=torch.long, device=var.device)
        for k, v in out.items():
            if tuple(v.shape[:2]) != tuple(var.shape):
                raise InputError(f"{k} must have shape [B, L] = {list(var.shape)} like input_ids, got {list(v.shape)}")
        out["inputs_embeds"] = emb
        out["variable_index"] = var
        return out

    def mask(self, rows: MaskerInputs, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        e = rows["inputs_embeds"]  # type: ignore[index]
        keep = _keep_rows(masks, rows["variable_index"])  # type: ignore[index]  # [R, L]
        out = {k: v for k, v in rows.items() if k not in ("inputs_embeds", "variable_index")}  # type: ignore[union-attr]
        out["inputs_embeds"] = torch.where(keep[..., None], e, self._baseline_like(e))
        return out

    def describe(self) -> dict[str, Any]:
        base: Any = self._baseline_kind
        if self._baseline_kind == "token":
            base = {"token_id": self._baseline_id}
        return {**super().describe(), "baseline": base}
