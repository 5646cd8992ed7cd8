"""Tidy (long-form) table views of analysis results.

Every result type of :mod:`genphase.analysis` has a ``to_frame()`` method built on
:func:`long_form`: one row per value, with the columns of :data:`LONG_COLUMNS` that apply
(``checkpoint, k, sample, split, model, type, mask, order, sign, metric, value``), so results can
be concatenated, plotted and queried with the user's own tools.

:data:`TABLE_COLUMNS` lists the columns of the per-checkpoint metric tables of
``docs/run-directory.md`` (without the ``checkpoint`` column, which the pipeline adds); they are
produced by :func:`genphase.analysis.analyze_checkpoint`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["LONG_COLUMNS", "TABLE_COLUMNS", "long_form"]

#: Column order of the long-form views (only the columns that apply are present).
LONG_COLUMNS: tuple[str, ...] = (
    "checkpoint", "k", "sample", "split", "model", "type", "mask", "order", "sign", "metric", "value",
)

#: Columns of the per-checkpoint metric tables (docs/run-directory.md), ``checkpoint`` excluded.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "h_bar": ("sample", "split", "h_bar"),
    "order_strengths": ("sample", "split", "type", "order", "sign", "total", "generalizable"),
    "baseline_ablation": ("k", "sample", "split", "h_bar"),
    "removal_loss": ("sample", "split", "label", "v", "v_tilde", "loss", "loss_removed"),
    "order_distribution": ("split", "type", "order", "sign", "strength", "strength_rel", "strength_share"),
    "order_distribution_samples": ("sample", "split", "type", "order", "sign", "strength"),
    "jaccard": ("type", "order", "jaccard", "n_classes", "note"),
    "removal_summary": ("k", "split", "n", "loss", "loss_removed", "change"),
    "ablation_strengths": ("k", "split", "type", "order", "sign", "generalizable", "non_generalizable", "n_samples"),
}


def long_form(
    values: np.ndarray,
    axes: Sequence[tuple[str, Sequence[Any]]],
    *,
    value_name: str = "value",
    constants: Mapping[str, Any] | None = None,
    per_axis: Mapping[str, tuple[str, Sequence[Any]]] | None = None,
) -> pd.DataFrame:
    """Flatten an array into a long-form DataFrame, one row per element (vectorised).

    ``values`` has shape ``tuple(len(labels) for _, labels in axes)``; each ``(name, labels)`` of
    ``axes`` becomes a column holding the label of that axis. ``constants`` adds columns with one
    value for every row (``checkpoint``, ``model``...). ``per_axis`` maps an extra column name to
    ``(axis_name, labels)``: a second labelling of an existing axis (e.g. ``split`` per ``sample``).
    Columns: any not in :data:`LONG_COLUMNS` first (in the given order), then those of
    :data:`LONG_COLUMNS` in its order, then ``value_name``.

    >>> long_form(np.array([[1.0, 2.0], [3.0, 4.0]]), [("sample", [0, 1]), ("type", ["and", "or"])],
    ...           constants={"checkpoint": 3})
       checkpoint  sample type  value
    0           3       0  and    1.0
    1           3       0   or    2.0
    2           3       1  and    3.0
    3           3       1   or    4.0
    """
    arr = np.asarray(values)
    shape = tuple(len(lab) for _, lab in axes)
    if arr.shape != shape:
        raise InputError(f"long_form: values have shape {arr.shape} but the axes describe {shape}")
    idx = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), dtype=np.int64)
    cols: dict[str, Any] = {}
    for name, val in (constants or {}).items():
        cols[name] = np.full(arr.size, val, dtype=object if isinstance(val, str) else None)
    axis_pos = {name: i for i, (name, _) in enumerate(axes)}
    for i, (name, labels) in enumerate(axes):
        cols[name] = np.asarray(labels)[idx[i]]
    for name, (axis_name, labels) in (per_axis or {}).items():
        if axis_name not in axis_pos:
            raise InputError(f"long_form: per_axis column {name!r} refers to unknown axis {axis_name!r}")
        lab = np.asarray(labels)
        if len(lab) != shape[axis_pos[axis_name]]:
            raise InputError(f"long_form: {name!r} has {len(lab)} labels for axis {axis_name!r} of length "
                             f"{shape[axis_pos[axis_name]]}")
        cols[name] = lab[idx[axis_pos[axis_name]]]
    cols[value_name] = arr.reshape(-1)
    order = [c for c in cols if c not in LONG_COLUMNS and c != value_name]  # e.g. sigma2: leading keys
    order += [c for c in LONG_COLUMNS if c in cols and c != value_name]
    return pd.DataFrame({c: cols[c] for c in order + [value_name]})
