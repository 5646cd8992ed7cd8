"""Per-checkpoint metric tables for the pipeline (docs/run-directory.md), and the same over a series.

:func:`analyze_checkpoint` is what the main job calls once per checkpoint: it computes G once
(against all K baselines) and derives every table from it, so all tables of a checkpoint agree.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..interactions import AndOrInteractions
from ._common import SIGNS, TYPES, as_str_array, flat_batch
from ._stats import split_groups
from .bootstrap import bootstrap_h_bar
from .generalization import generalization_power
from .order_distribution import checkpoint_items, order_distribution, order_distribution_samples, order_jaccard_by_class
from .removal import RemovalResult
from .strengths import OrderStrengths
from .tables import TABLE_COLUMNS, long_form

__all__ = ["analyze_checkpoint", "analyze_series", "concat_checkpoints", "TABLE_NAMES"]

#: Names of the per-checkpoint tables returned by :func:`analyze_checkpoint`.
TABLE_NAMES: tuple[str, ...] = tuple(TABLE_COLUMNS)


def _labels(labels: Any, nb: int) -> Any:
    if labels is None:
        return pd.array([pd.NA] * nb, dtype="Int64")
    lab = np.asarray(labels)
    if lab.size != nb:
        raise InputError(f"labels must have one entry per sample ({nb}), got shape {lab.shape}")
    lab = lab.reshape(-1)
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"labels must be integers (class indices), got dtype {lab.dtype}")
    return lab.astype(np.int64)


def analyze_checkpoint(
    model: AndOrInteractions,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    split: Any,
    labels: Any = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    variables_shared: bool = True,
    eligible: Any = None,
) -> dict[str, pd.DataFrame]:
    """All per-checkpoint tables of docs/run-directory.md for one checkpoint, WITHOUT ``checkpoint``.

    ``model``: interactions of the model at this checkpoint, batch ``[B]`` (the explained samples
    in order; other batch shapes are flattened); ``baselines``: the K baselines' interactions on the
    same samples; ``split``: ``[B]`` "train"/"test" per sample; ``labels``: ``[B]`` int class
    indices (only recorded in ``removal_loss.label``; nullable NA when None).

    ``variables_shared``: False when the input variables differ per sample (text, point clouds;
    the pipeline sets it by modality): the Jaccard similarity is then reported as not applicable.
    ``eligible``: optional ``[B, K]`` cross-fitting mask (:func:`~genphase.analysis.generalization_power`):
    each sample is compared only with the baselines that never saw it; k in the ablation tables then
    counts each sample's eligible baselines.

    Returns ``{"h_bar", "order_strengths", "baseline_ablation", "removal_loss",
    "order_distribution", "order_distribution_samples", "jaccard", "removal_summary",
    "ablation_strengths"}`` with exactly the
    columns of :data:`~genphase.analysis.tables.TABLE_COLUMNS`. G is ``G_hat(K)`` (all baselines)
    except in ``baseline_ablation`` and ``ablation_strengths`` (k = 1..K) and ``removal_summary``
    (k = 1 as in the paper's footnote, and k = K). ``jaccard``: per class, averaged over the classes
    in both splits (``n_classes``; ``note`` says why a value is NaN or pooled); empty when the batch
    lacks train or test samples.

    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]),
    ...                                    np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))  # n = 2, B = 2
    >>> base = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> t = analyze_checkpoint(m, [base], split=["train", "test"], labels=[0, 1])
    >>> sorted(t) == sorted(TABLE_NAMES)
    True
    >>> t["h_bar"]["h_bar"].round(4).tolist()  # sample 0: the AND (2) generalizes, the OR (1) does not
    [0.6667, 1.0]
    """
    gp = generalization_power(model, baselines, tau=tau, absolute=absolute, merge_singletons=merge_singletons,
                              eligible=eligible)
    if not np.all(np.isfinite(gp.values_full)):
        bad = np.nonzero(~np.isfinite(gp.values_full.reshape(-1)))[0][:5].tolist()
        raise InputError(f"model.values[..., -1] (v on the full input) is NaN or inf for samples {bad}; "
                         "re-extract the interactions from finite model outputs")
    nb = flat_batch(model)
    split_arr = np.asarray(split)
    if split_arr.size == nb:  # accept the batch shape or the flat [B]
        split_arr = split_arr.reshape(-1)
    sp = as_str_array(split_arr, (nb,), "split", ("train", "test", "unseen"))
    lab = _labels(labels, nb)
    samples = np.arange(nb)
    n = model.n
    out: dict[str, pd.DataFrame] = {}

    out["h_bar"] = pd.DataFrame({"sample": samples, "split": sp, "h_bar": gp.h_bar().reshape(-1)})

    st = OrderStrengths.from_power(gp)
    axes = [("sample", samples), ("type", TYPES), ("order", np.arange(1, n + 1)), ("sign", SIGNS)]
    fr = long_form(st.total.reshape(nb, 3, n, 2), axes, value_name="total", per_axis={"split": ("sample", sp)})
    fr["generalizable"] = st.generalizable.reshape(-1)
    out["order_strengths"] = fr[list(TABLE_COLUMNS["order_strengths"])]

    ab = gp.ablation()
    fr = long_form(ab.h_bar.reshape(gp.K, nb), [("k", np.arange(1, gp.K + 1)), ("sample", samples)],
                   value_name="h_bar", per_axis={"split": ("sample", sp)})
    out["baseline_ablation"] = fr[list(TABLE_COLUMNS["baseline_ablation"])]

    rm = RemovalResult.from_power(gp)
    out["removal_loss"] = pd.DataFrame({
        "sample": samples, "split": sp, "label": lab, "v": rm.v.reshape(-1), "v_tilde": rm.v_tilde.reshape(-1),
        "loss": rm.loss.reshape(-1), "loss_removed": rm.loss_removed.reshape(-1),
    })[list(TABLE_COLUMNS["removal_loss"])]

    ks = sorted({1, gp.K})
    frames = []
    for k in ks:
        fr = (RemovalResult.from_power(gp) if k == gp.K else RemovalResult.from_power(gp, k)).summary(sp)
        fr.insert(0, "k", k)
        frames.append(fr)
    out["removal_summary"] = pd.concat(frames, ignore_index=True)[list(TABLE_COLUMNS["removal_summary"])]

    out["ablation_strengths"] = _ablation_strengths(ab, sp, n)

    out["order_distribution"] = order_distribution(model, split=sp, merge_singletons=merge_singletons).to_table()
    out["order_distribution_samples"] = order_distribution_samples(model, sp, merge_singletons=merge_singletons)

    flat = _flatten(model)
    tr, te = sp == "train", sp == "test"
    if tr.any() and te.any():
        has_labels = labels is not None
        lab_arr = np.asarray(lab) if has_labels else None
        j, ncls, note = order_jaccard_by_class(flat[tr], flat[te], lab_arr[tr] if has_labels else None,
                                               lab_arr[te] if has_labels else None, variables_shared=variables_shared,
                                               merge_singletons=merge_singletons)
        fr = long_form(j, [("type", TYPES), ("order", np.arange(1, n + 1))], value_name="jaccard")
        fr["n_classes"] = np.int64(ncls)
        fr["note"] = note
        out["jaccard"] = fr[list(TABLE_COLUMNS["jaccard"])]
    else:
        out["jaccard"] = pd.DataFrame({"type": pd.Series(dtype=object), "order": pd.Series(dtype=np.int64),
                                       "jaccard": pd.Series(dtype=np.float64), "n_classes": pd.Series(dtype=np.int64),
                                       "note": pd.Series(dtype=object)})
    return out


def _ablation_strengths(ab: Any, sp: np.ndarray, n: int) -> pd.DataFrame:
    """Mean over the samples of each split of the generalizable / non-generalizable strengths per k (Fig. 3)."""
    K = ab.K
    nb = sp.size
    gen = ab.generalizable.reshape(K, nb, 3, n, 2)
    non = ab.non_generalizable.reshape(K, nb, 3, n, 2)
    frames = []
    for name, sel in split_groups(sp, nb):
        axes = [("k", np.arange(1, K + 1)), ("type", TYPES), ("order", np.arange(1, n + 1)), ("sign", SIGNS)]
        fr = long_form(gen[:, sel].mean(1), axes, value_name="generalizable", constants={"split": name})
        fr["non_generalizable"] = non[:, sel].mean(1).reshape(-1)
        fr["n_samples"] = np.int64(sel.sum())
        frames.append(fr)
    return pd.concat(frames, ignore_index=True)[list(TABLE_COLUMNS["ablation_strengths"])]


def _flatten(res: AndOrInteractions) -> AndOrInteractions:
    from dataclasses import fields, replace

    nb = flat_batch(res)
    kw = {}
    for f in fields(res):
        val = getattr(res, f.name)
        if isinstance(val, np.ndarray):
            kw[f.name] = val.reshape(nb, *val.shape[len(res.batch_shape):])
    return replace(res, **kw)


def analyze_series(
    checkpoints: Mapping[int, AndOrInteractions] | Sequence[tuple[int, AndOrInteractions]],
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    split: Any,
    labels: Any = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    variables_shared: bool = True,
    n_resamples: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    eligible: Any = None,
) -> dict[str, pd.DataFrame]:
    """:func:`analyze_checkpoint` at every checkpoint (``{epoch: res}`` or ``[(epoch, res), ...]``),
    concatenated with a leading ``checkpoint`` column (the metric tables of docs/run-directory.md),
    plus ``h_bar_summary`` (:func:`~genphase.analysis.bootstrap.bootstrap_h_bar` of the ``h_bar``
    table with ``n_resamples``, ``ci_level`` and ``seed``; ``n_resamples=0`` leaves it out).
    ``eligible``: the cross-fitting mask, the same at every checkpoint (see :func:`analyze_checkpoint`).

    >>> m = AndOrInteractions.from_effects(np.array([[0, 0, 0, 2.0], [0, 1.0, 0, 0]]),
    ...                                    np.array([[0, 0, 0, 1.0], [0, 0, 0, 0]]))
    >>> base = AndOrInteractions.from_effects(np.array([[0, 0, 0, 1.0], [0, 1.0, 0, 0]]), np.zeros((2, 4)))
    >>> t = analyze_series({0: base, 5: m}, [base], split=["train", "test"], n_resamples=0)
    >>> t["h_bar"][["checkpoint", "sample"]].values.tolist(), t["h_bar"]["h_bar"].round(4).tolist()
    ([[0, 0], [0, 1], [5, 0], [5, 1]], [1.0, 1.0, 0.6667, 1.0])
    """
    out = concat_checkpoints(
        (e, analyze_checkpoint(res, baselines, split=split, labels=labels, tau=tau, absolute=absolute,
                               merge_singletons=merge_singletons, variables_shared=variables_shared, eligible=eligible))
        for e, res in checkpoint_items(checkpoints))
    if n_resamples:
        out["h_bar_summary"] = bootstrap_h_bar(out["h_bar"], n_resamples=n_resamples, level=ci_level, seed=seed)
    return out


def concat_checkpoints(per_checkpoint: Iterable[tuple[int, Mapping[str, pd.DataFrame]]]) -> dict[str, pd.DataFrame]:
    """One table per name from per-checkpoint tables, each with a leading ``checkpoint`` column, in the order given.

    >>> t = concat_checkpoints([(0, {"h_bar": pd.DataFrame({"h_bar": [0.5]})}), (3, {"h_bar": pd.DataFrame({"h_bar": [0.25]})})])
    >>> t["h_bar"].values.tolist()
    [[0.0, 0.5], [3.0, 0.25]]
    """
    frames: dict[str, list[pd.DataFrame]] = {}
    for e, tables in per_checkpoint:
        for name, fr in tables.items():
            fr = fr.copy()
            fr.insert(0, "checkpoint", e)
            frames.setdefault(name, []).append(fr)
    return {name: pd.concat(fr, ignore_index=True) for name, fr in frames.items()}
