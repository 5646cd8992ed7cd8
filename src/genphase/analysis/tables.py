"""Per-checkpoint tidy tables (docs/run-directory.md) from the model's and baselines' interactions."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from .generalization import effects, generalization_power, order_strengths, removal, salient, _h_from
from .order_distribution import order_distribution, order_jaccard

__all__ = ["analyze_checkpoint", "long_form"]

_TYPES = ("and", "or", "all")


def long_form(arrays: dict[str, np.ndarray], n: int, samples: np.ndarray, split: np.ndarray) -> pd.DataFrame:
    """``[B, 2, n+1]`` arrays keyed by column name -> rows (sample, split, type, order); 'all' = AND + OR."""
    B = len(samples)
    cols = {}
    for k, a in arrays.items():
        full = np.concatenate([a, a.sum(1, keepdims=True)], axis=1)[:, :, 1:]  # [B, 3, n]
        cols[k] = full.reshape(-1)
    s, t, m = np.meshgrid(np.arange(B), np.arange(3), np.arange(1, n + 1), indexing="ij")
    return pd.DataFrame({"sample": samples[s.reshape(-1)], "split": split[s.reshape(-1)],
                         "type": np.array(_TYPES)[t.reshape(-1)], "order": m.reshape(-1), **cols})


def analyze_checkpoint(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions],
    *,
    split: np.ndarray,
    labels: np.ndarray | None = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
) -> dict[str, pd.DataFrame]:
    """The tables ``h_bar``, ``order_strengths``, ``baseline_ablation``, ``removal_loss``,
    ``order_distribution`` and ``jaccard`` for one checkpoint (without the ``checkpoint`` column).

    ``model`` has batch shape ``[B]`` (explained samples); ``split`` ``[B]`` holds "train"/"test".
    """
    if len(model.batch_shape) != 1:
        raise InputError(f"analyze_checkpoint expects a flat batch [B], got batch shape {model.batch_shape}")
    B, n = model.batch_shape[0], model.n
    split = np.asarray(split).astype(str)
    if split.shape != (B,) or not set(split) <= {"train", "test"}:
        raise InputError(f"split must be [B]={B} strings 'train'/'test', got shape {split.shape}, values {sorted(set(split))[:4]}")
    labels = np.full(B, -1) if labels is None else np.asarray(labels)
    samples = np.arange(B)
    G = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    eff = effects(model, merge_singletons)
    sal = salient(eff, tau, absolute)
    out: dict[str, pd.DataFrame] = {}
    out["h_bar"] = pd.DataFrame({"sample": samples, "split": split, "h_bar": _h_from(eff, sal, G[-1])})
    K = G.shape[0]
    ab = np.stack([_h_from(eff, sal, G[k]) for k in range(K)])  # [K, B]
    out["baseline_ablation"] = pd.DataFrame({
        "k": np.repeat(np.arange(1, K + 1), B), "sample": np.tile(samples, K), "split": np.tile(split, K), "h_bar": ab.reshape(-1),
    })
    st = order_strengths(eff, sal, G[-1], n)
    rows = []
    for sign, tk, gk in (("+", "total_pos", "gen_pos"), ("-", "total_neg", "gen_neg")):
        fr = long_form({"total": st[tk], "generalizable": st[gk]}, n, samples, split)
        fr.insert(4, "sign", sign)
        rows.append(fr)
    out["order_strengths"] = pd.concat(rows, ignore_index=True)[["sample", "split", "type", "order", "sign", "total", "generalizable"]]
    rm = removal(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons)
    out["removal_loss"] = pd.DataFrame({"sample": samples, "split": split, "label": labels, **rm})
    od = order_distribution(model, merge_singletons)
    scale = np.abs(model.values[..., -1] - model.values[..., 0])
    dist_rows = []
    for sp in ("train", "test"):
        sel = split == sp
        if not sel.any():
            continue
        denom = max(float(scale[sel].mean()), 1e-12)
        parts = {}
        for sign, key in (("+", "pos"), ("-", "neg")):
            a = od[key][sel].mean(0)  # [2, n+1]
            parts[sign] = np.concatenate([a, a.sum(0, keepdims=True)])[:, 1:]  # [3, n]
        tot = np.abs(parts["+"]).sum(1) + np.abs(parts["-"]).sum(1)  # [3]
        for sign in ("+", "-"):
            t_idx, m_idx = np.meshgrid(np.arange(3), np.arange(1, n + 1), indexing="ij")
            s = parts[sign]
            dist_rows.append(pd.DataFrame({
                "split": sp, "type": np.array(_TYPES)[t_idx.reshape(-1)], "order": m_idx.reshape(-1), "sign": sign,
                "strength": s.reshape(-1), "strength_rel": (s / denom).reshape(-1),
                "strength_share": (np.abs(s) / np.where(tot > 0, tot, 1.0)[:, None]).reshape(-1),
            }))
    out["order_distribution"] = pd.concat(dist_rows, ignore_index=True)
    if (split == "train").any() and (split == "test").any():
        j = order_jaccard(model[split == "train"], model[split == "test"], merge_singletons)
        j = np.concatenate([j, np.full((1, n + 1), np.nan)])
        # 'all': AND and OR vectors concatenated
        from .order_distribution import weighted_jaccard
        from ..transforms import subset_orders

        a = effects(model[split == "train"], merge_singletons).mean(0)
        b = effects(model[split == "test"], merge_singletons).mean(0)
        orders = subset_orders(n)
        for m in range(1, n + 1):
            s = orders == m
            j[2, m] = weighted_jaccard(a[:, s].reshape(-1), b[:, s].reshape(-1))
        t_idx, m_idx = np.meshgrid(np.arange(3), np.arange(1, n + 1), indexing="ij")
        out["jaccard"] = pd.DataFrame({"type": np.array(_TYPES)[t_idx.reshape(-1)], "order": m_idx.reshape(-1),
                                       "jaccard": j[:, 1:].reshape(-1)})
    else:
        out["jaccard"] = pd.DataFrame(columns=["type", "order", "jaccard"])
    return out
