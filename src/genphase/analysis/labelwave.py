"""Label Wave: a stop that uses no held-out data (Yuan, Feng and Liu, "Early stopping against label noise
without validation data", ICLR 2024, arXiv:2502.07551).

The signal: the prediction changes ``PC(e)``, the number of training examples whose predicted class
(argmax of the logits) at the end of epoch ``e`` differs from that at the end of epoch ``e - 1``. genphase
records it while training (``prediction_changes`` on the training log's ``split == "train"`` rows, from
epoch 1; :func:`genphase.pipeline.training.train`). The predictions are those of the model in eval mode
after each epoch, on the training examples (the paper's code counts the predictions made during the
training pass instead; the end-of-epoch ones do not depend on dropout or on the order of mini-batches).

The stop (:func:`label_wave_stop`):

1. ``PC`` is smoothed by a centred moving mean over ``window = 3`` epochs (the window shrinks at the
   ends, :func:`~genphase.analysis.smooth`).
2. "The first minimum": the smoothed series is walked from epoch 1; an epoch improves when its value
   is below the lowest so far by more than ``min_delta`` (default 0); after ``patience = 5`` epochs in a
   row without improvement the walk stops and the epoch with the lowest value so far is the stop
   (:func:`~genphase.analysis.patience_stop` on the smoothed series). So a dip that is beaten within 5
   epochs is not a minimum yet; the first one that is not beaten for 5 epochs is.

Both defaults are genphase's choices, stated here (the paper's exact window and confirmation rule could
not be checked against its text); they are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .evaluation import patience_stop, score_stop
from .phase_rules import smooth

__all__ = ["LabelWaveStop", "label_wave_stop", "label_wave_study"]


@dataclass(frozen=True, eq=False)
class LabelWaveStop:
    """The Label Wave stop: ``epoch`` (the first minimum of the smoothed prediction changes),
    ``stopped_at`` (where the patience ran out; the last epoch if it never did), the series it used
    (``epochs``, ``changes``, ``smoothed``) and its parameters.

    >>> pc = [90, 50, 30, 20, 12, 10, 14, 25, 30, 28, 26, 30]  # prediction changes per epoch 1..12
    >>> s = label_wave_stop(pd.DataFrame({"epoch": range(1, 13), "split": "train", "prediction_changes": pc}))
    >>> s.epoch, s.stopped_at, s.window, s.smoothed[:3].round(2).tolist()  # moving mean over 3 epochs
    (6, 11, 3, [70.0, 56.67, 33.33])
    """

    epoch: int
    stopped_at: int
    epochs: np.ndarray
    changes: np.ndarray
    smoothed: np.ndarray
    window: int
    patience: int
    min_delta: float


def _changes(training: pd.DataFrame, split: str) -> pd.Series:
    if not isinstance(training, pd.DataFrame):
        raise InputError(f"training must be the training log (a DataFrame), got {type(training).__name__}")
    missing = sorted({"epoch", "split"} - set(training.columns))
    if missing:
        raise InputError(f"training lacks the columns {missing} (has {sorted(map(str, training.columns))})")
    fix = ("the training log has no predictions: Label Wave needs prediction_changes on the training rows, which "
           "genphase records while training; re-run the training stage with this genphase version")
    if "prediction_changes" not in training.columns:
        raise InputError(f"{fix} (the log has no 'prediction_changes' column)")
    df = training
    if "model" in df.columns:
        df = df[df["model"] == "model"]
    df = df[df["split"].astype(str) == split]
    v = pd.to_numeric(df["prediction_changes"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    e = pd.to_numeric(df["epoch"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    have = np.isfinite(v) & np.isfinite(e)
    if not have.any():
        raise InputError(f"{fix} (no {split!r} row holds a value)")
    if np.any(v[have] < 0):
        raise InputError("prediction_changes must be counts >= 0")
    s = pd.Series(v[have], index=e[have].astype(np.int64))
    if s.index.duplicated().any():
        raise InputError(f"prediction_changes has several {split!r} rows for epochs "
                         f"{sorted(set(s.index[s.index.duplicated()].tolist()))[:5]}; pass one run's log")
    return s.sort_index()


def label_wave_stop(
    training: pd.DataFrame,
    *,
    window: int = 3,
    patience: int = 5,
    min_delta: float = 0.0,
    split: str = "train",
) -> LabelWaveStop:
    """The Label Wave stop epoch from a training log with ``prediction_changes`` (see the module docstring).

    ``training``: ``epoch, split, prediction_changes`` (and optionally ``model``: only "model" rows are
    read); the ``split`` rows with a value are used (epoch 1 on). A log without the column, or with no
    value on those rows, raises :class:`~genphase.errors.InputError`.

    >>> pc = [90, 50, 30, 20, 12, 10, 14, 25, 30, 28, 26, 30]  # epochs 1..12, planted minimum at epoch 6
    >>> log = pd.DataFrame({"epoch": range(1, 13), "split": "train", "prediction_changes": pc})
    >>> label_wave_stop(log).epoch
    6
    """
    s = _changes(training, split)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InputError(f"window must be an odd int >= 1 (epochs of the centred moving mean), got {window!r}")
    epochs = s.index.to_numpy(dtype=np.int64)
    changes = s.to_numpy(dtype=float)
    sm = smooth(changes, int(window))
    st = patience_stop(epochs, sm, patience=patience, min_delta=min_delta)
    return LabelWaveStop(epoch=st.epoch, stopped_at=st.stopped_at, epochs=epochs, changes=changes, smoothed=sm,
                         window=int(window), patience=st.patience, min_delta=st.min_delta)


def label_wave_study(
    training: pd.DataFrame,
    *,
    evaluation_split: str = "eval",
    window: int = 3,
    patience: int = 5,
    min_delta: float = 0.0,
) -> dict[str, Any]:
    """``{"labelwave_stop_epoch", "labelwave_regret"}`` for a row of ``study.parquet``: the Label Wave stop and
    its regret on the evaluation split (:func:`~genphase.analysis.score_stop`: evaluation loss at the stop
    minus the lowest evaluation loss).

    >>> log = pd.DataFrame({"epoch": [0, 1, 2, 3] * 2, "split": ["train"] * 4 + ["eval"] * 4,
    ...                     "loss": [2.0, 1.0, 0.5, 0.2, 2.0, 1.0, 1.2, 1.5],
    ...                     "prediction_changes": [None, 10, 12, 15, None, None, None, None]})
    >>> row = label_wave_study(log, window=1, patience=2)
    >>> row["labelwave_stop_epoch"], round(row["labelwave_regret"], 6)
    (1, 0.0)
    """
    st = label_wave_stop(training, window=window, patience=patience, min_delta=min_delta)
    sc = score_stop(training, st.epoch, split=evaluation_split)
    return {"labelwave_stop_epoch": st.epoch, "labelwave_regret": sc.regret}
