"""What a Tracker is given, made uniform: explained samples and labels, their modality, the default masker,
dataset indices, training-log rows, fingerprints for the configuration hash."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Mapping

import numpy as np
import torch

from ..errors import InputError

__all__: list[str] = []


def _is_texts(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(t, str) for t in x)


def _infer_modality(x: Any) -> str:
    if _is_texts(x):
        return "text"
    nd = np.ndim(x) if not isinstance(x, torch.Tensor) else x.ndim
    return {2: "tabular", 3: "pointcloud", 4: "image"}.get(nd, "unknown")


def _masker_modality(masker: Any) -> str | None:
    from ..maskers import EmbeddingMasker, ImagePatchMasker, PointCloudMasker, TabularMasker

    for cls, mod in ((ImagePatchMasker, "image"), (TabularMasker, "tabular"), (PointCloudMasker, "pointcloud"),
                     (EmbeddingMasker, "text")):
        if isinstance(masker, cls):
            return mod
    return None  # a custom masker: its prepare() decides what fits


def _labels(y: Any, size: int, what: str) -> np.ndarray:
    lab = np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
    if lab.shape != (size,):
        raise InputError(f"{what}: labels must have shape [{size}] (one per sample), got {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"{what}: labels must be integer class indices, got dtype {lab.dtype}")
    if lab.size and lab.min() < 0:
        raise InputError(f"{what}: labels must be >= 0 (class indices), got {int(lab.min())}")
    return lab.astype(np.int64)


def _pair(samples: Any, what: str) -> tuple[Any, np.ndarray]:
    if not isinstance(samples, (tuple, list)) or len(samples) != 2 or _is_texts(samples):
        raise InputError(f"{what} must be a pair (inputs, labels), e.g. (x[:64], y[:64]); got {type(samples).__name__}")
    x, y = samples
    if _is_texts(x):
        x = [str(t) for t in x]
        size = len(x)
    else:
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach().cpu()
        if x.ndim < 2:
            raise InputError(f"{what}: inputs must be [M, ...] (a batch of samples) or a list of texts, got shape "
                             f"{tuple(x.shape)}")
        if not x.is_floating_point():
            x = x.float()
        size = int(x.shape[0])
    if size == 0:
        raise InputError(f"{what} holds no samples; pass at least one")
    return x, _labels(y, size, what)


def _dataset_index(given: Any, n_train: int, n_test: int) -> np.ndarray:
    if given is None:
        return np.concatenate([np.arange(n_train), np.arange(n_test)]).astype(np.int64)
    if not isinstance(given, (tuple, list)) or len(given) != 2:
        raise InputError("dataset_index must be a pair (train_index, reference_index), one index per explained sample")
    out = []
    for idx, size, what in ((given[0], n_train, "train"), (given[1], n_test, "reference")):
        a = np.asarray(idx.detach().cpu() if isinstance(idx, torch.Tensor) else idx).reshape(-1)
        if a.size != size or not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"dataset_index: the {what} index must hold {size} integers (one per explained sample), "
                             f"got {a.size} of dtype {a.dtype}")
        out.append(a.astype(np.int64))
    return np.concatenate(out)


def _training_rows(rows: Any, step: int) -> list[dict[str, Any]]:
    """Training-log rows as plain dicts (JSON-safe), each with its epoch (default ``step``)."""
    out = []
    for r in rows:
        if not isinstance(r, Mapping) or "split" not in r or "loss" not in r:
            raise InputError(f"training rows must be mappings with split, loss and accuracy (and epoch), got {r!r}")
        row = {"epoch": int(r.get("epoch", step)), "split": str(r["split"]), "loss": float(r["loss"]),
               "accuracy": float(r.get("accuracy", math.nan))}
        if r.get("prediction_changes") is not None:
            row["prediction_changes"] = int(r["prediction_changes"])
        out.append(row)
    return out


def _fingerprint(obj: Any) -> str:
    h = hashlib.sha256()
    if isinstance(obj, torch.Tensor):
        h.update(str(tuple(obj.shape)).encode())
        h.update(obj.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(str(obj.shape).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    else:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _describe_inputs(x: Any) -> str:
    if isinstance(x, list):
        return f"{len(x)} texts"
    if isinstance(x, torch.Tensor):
        return f"shape {list(x.shape)}"
    if isinstance(x, Mapping):
        return "token inputs " + ", ".join(f"{k} {list(v.shape)}" for k, v in x.items())
    return type(x).__name__


def _describe(masker: Any) -> dict[str, Any]:
    from ..masked_outputs import _describe as describe

    return json.loads(json.dumps(describe(masker), default=str))


def _embedding_of(model: Any) -> Any:
    for m in (model, getattr(model, "model", None)):
        if m is not None and callable(getattr(m, "get_input_embeddings", None)):
            return m.get_input_embeddings()
    raise InputError(
        f"{type(model).__name__} has no get_input_embeddings() (nor .model.get_input_embeddings()); text "
        "variables are masked in the model's own word embedding, so measure the Hugging Face model itself"
    )


def _central_cells(gh: int, gw: int, frac: float) -> int:
    """Number of grid cells whose centre lies in the central box of ``frac`` (as ImagePatchMasker counts)."""
    lo_r, hi_r = gh * (1 - frac) / 2, gh * (1 + frac) / 2
    lo_c, hi_c = gw * (1 - frac) / 2, gw * (1 + frac) / 2
    rows = sum(1 for r in range(gh) if lo_r <= r + 0.5 <= hi_r)
    cols = sum(1 for c in range(gw) if lo_c <= c + 0.5 <= hi_c)
    return rows * cols


def _default_masker(modality: str, x: Any, split: np.ndarray, n: int, background: Any, seed: int) -> Any:
    """The modality's default masker of ``n`` variables (see :class:`~genphase.Tracker`, ``n``); text gets a
    placeholder the tracker rebuilds with the tokenizer's ``[MASK]`` id."""
    from ..maskers import EmbeddingMasker, ImagePatchMasker, PointCloudMasker, TabularMasker

    if modality == "text":
        return EmbeddingMasker(_embedding_of, n, baseline=0)
    bg = x[split == "train"] if background is None else torch.as_tensor(np.asarray(background)).float()
    if modality == "image":
        c, h, w = x.shape[1:]
        ps = max(1, min(h, w) // 4)
        cells = (h // ps) * (w // ps)
        frac = 0.75 if n <= _central_cells(h // ps, w // ps, 0.75) else 1.0
        if n > cells:
            raise InputError(f"n={n} exceeds the {cells} patches of {ps}x{ps} of a {h}x{w} image; lower n or pass a masker")
        return ImagePatchMasker.from_data(bg, patch_size=ps, n=n, seed=seed, central_fraction=frac)
    if modality == "tabular":
        f = int(x.shape[1])
        if n > f:
            raise InputError(f"n={n} exceeds the {f} features of the tabular samples; lower n")
        return TabularMasker.from_data(bg, features=list(range(n)))
    if modality == "pointcloud":
        return PointCloudMasker(n=n)
    raise InputError(f"cannot tell the modality of inputs of shape {tuple(x.shape)}; pass a masker")
