"""Scoring a stop on held-out data: validation early stopping with patience, regret, and one study row.

The evaluation split is held out from both the training split and the reference split (the paper's
"test" split, on which the K baselines are trained). It is used only here, to score a recommended
stop; no phase rule reads it.

* :func:`patience_stop` -- the classic baseline: watch a validation loss, stop when it has not
  improved by more than ``min_delta`` for ``patience`` checkpoints, keep the best checkpoint seen.
* :func:`score_stop` -- the evaluation loss at a stop minus the best evaluation loss over all
  checkpoints (``regret``, >= 0) and the same for accuracy (best minus at the stop, >= 0).
* :func:`study_row` -- the per-seed row of ``genphase study`` from a phase report and the training log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["STUDY_COLUMNS", "PatienceStop", "StopScore", "patience_stop", "score_stop", "study_row"]

#: Columns of one row of ``study.parquet``, in order (``*_ci_low`` / ``*_ci_high``: the bootstrap
#: intervals of ``metrics/phases.json``, None when not found or not resampled).
STUDY_COLUMNS: tuple[str, ...] = (
    "preset", "seed", "clear", "three_phases", "three_phase_support", "phase1_end", "phase3_start", "stop_epoch", "best_epoch",
    "regret", "accuracy_regret", "baseline_stop_epoch", "baseline_regret", "baseline_accuracy_regret",
    "phase1_end_ci_low", "phase1_end_ci_high", "phase3_start_ci_low", "phase3_start_ci_high",
    "stop_ci_low", "stop_ci_high", "eval_loss_at_stop", "best_eval_loss", "baseline_eval_loss", "patience",
)


@dataclass(frozen=True)
class PatienceStop:
    """Validation early stopping: ``epoch`` is the checkpoint kept (the best loss seen when training stopped),
    ``stopped_at`` the checkpoint where the patience ran out (the last checkpoint if it never did).

    >>> s = patience_stop([0, 1, 2, 3, 4, 5], [3.0, 2.0, 2.5, 2.4, 2.6, 1.0], patience=3)
    >>> s.epoch, s.stopped_at  # no improvement on epoch 1 for 3 checkpoints: stop at 4, keep 1
    (1, 4)
    """

    epoch: int
    stopped_at: int
    patience: int
    min_delta: float


@dataclass(frozen=True)
class StopScore:
    """A stop scored on the evaluation split: ``regret = loss[stop] - min loss`` and ``accuracy_regret = max
    accuracy - accuracy[stop]`` (NaN without an accuracy column); ``best_epoch`` has the lowest evaluation loss.

    >>> log = pd.DataFrame({"epoch": [0, 1, 2], "split": "eval", "loss": [2.0, 1.0, 1.5],
    ...                     "accuracy": [0.5, 0.75, 0.625]})
    >>> s = score_stop(log, 2)
    >>> s.best_epoch, s.loss_at_stop, s.regret, s.accuracy_regret
    (1, 1.5, 0.5, 0.125)
    """

    stop_epoch: int
    best_epoch: int
    loss_at_stop: float
    best_loss: float
    regret: float
    accuracy_regret: float


def _series(training: pd.DataFrame, split: str, column: str, what: str) -> pd.Series:
    if not isinstance(training, pd.DataFrame):
        raise InputError(f"training must be the training log (a DataFrame), got {type(training).__name__}")
    missing = sorted({"epoch", "split", column} - set(training.columns))
    if missing:
        raise InputError(f"training lacks the columns {missing} (has {sorted(map(str, training.columns))})")
    df = training
    if "model" in df.columns:
        df = df[df["model"] == "model"]
    df = df[df["split"] == split]
    if df.empty:
        raise InputError(f"training has no rows of split {split!r} (splits: {sorted(map(str, training['split'].unique()))}); "
                         f"{what}")
    v = pd.to_numeric(df[column], errors="coerce")
    s = pd.Series(v.to_numpy(dtype=float, na_value=np.nan), index=df["epoch"].to_numpy()).groupby(level=0).mean()
    if not np.all(np.isfinite(s.to_numpy())):
        raise InputError(f"training.{column} of split {split!r} has NaN or inf values (epochs "
                         f"{s.index[~np.isfinite(s.to_numpy())].tolist()[:5]})")
    return s.sort_index()


def patience_stop(epochs: Any, loss: Any, *, patience: int = 5, min_delta: float = 0.0) -> PatienceStop:
    """Validation early stopping with patience on a loss per checkpoint (sorted ``epochs``).

    A checkpoint improves when its loss is below the best so far by more than ``min_delta``;
    training stops at the ``patience``-th checkpoint in a row without improvement, and the best
    checkpoint so far is kept.

    >>> patience_stop([0, 1, 2, 3, 4, 5], [3.0, 2.0, 2.5, 2.4, 2.6, 1.0], patience=3).epoch
    1
    """
    e = np.asarray(epochs, dtype=np.int64).reshape(-1)
    x = np.asarray(loss, dtype=np.float64).reshape(-1)
    if e.size == 0 or e.size != x.size:
        raise InputError(f"patience_stop needs one loss per checkpoint, got {e.size} epochs and {x.size} losses")
    if not np.all(np.isfinite(x)):
        raise InputError("patience_stop got NaN or inf losses")
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        raise InputError(f"patience must be an int >= 1 (checkpoints without improvement), got {patience!r}")
    if not (math.isfinite(float(min_delta)) and float(min_delta) >= 0):
        raise InputError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
    best, best_i, wait, stop_i = x[0], 0, 0, e.size - 1
    for i in range(1, e.size):  # over checkpoints (a short series), not samples
        if x[i] < best - min_delta:
            best, best_i, wait = x[i], i, 0
        else:
            wait += 1
            if wait >= patience:
                stop_i = i
                break
    return PatienceStop(epoch=int(e[best_i]), stopped_at=int(e[stop_i]), patience=int(patience),
                        min_delta=float(min_delta))


def score_stop(training: pd.DataFrame, stop_epoch: int, *, split: str = "eval") -> StopScore:
    """Score ``stop_epoch`` on the ``split`` rows of the training log (the model under study).

    >>> log = pd.DataFrame({"epoch": [0, 1, 2], "split": "eval", "loss": [2.0, 1.0, 1.5],
    ...                     "accuracy": [0.5, 0.8, 0.7]})
    >>> s = score_stop(log, 2)
    >>> s.best_epoch, s.regret, round(s.accuracy_regret, 6)
    (1, 0.5, 0.1)
    """
    need = "the stop is scored on the evaluation split, held out from train and reference"
    loss = _series(training, split, "loss", need)
    if int(stop_epoch) not in loss.index:
        raise InputError(f"stop epoch {stop_epoch} has no {split!r} loss (epochs {loss.index.min()}..{loss.index.max()}); "
                         "log the evaluation split at every analysed checkpoint")
    best_epoch = int(loss.idxmin())
    at = float(loss.loc[int(stop_epoch)])
    acc_regret = math.nan
    if "accuracy" in training.columns:
        acc = _series(training, split, "accuracy", need)
        if int(stop_epoch) in acc.index:
            acc_regret = float(acc.max() - acc.loc[int(stop_epoch)])
    return StopScore(stop_epoch=int(stop_epoch), best_epoch=best_epoch, loss_at_stop=at, best_loss=float(loss.min()),
                     regret=at - float(loss.min()), accuracy_regret=acc_regret)


def study_row(
    phases: Any,
    training: pd.DataFrame,
    *,
    preset: str = "",
    seed: int = 0,
    patience: int = 5,
    min_delta: float = 0.0,
    reference_split: str = "test",
    evaluation_split: str = "eval",
    epochs: Any = None,
) -> dict[str, Any]:
    """One row of ``study.parquet`` (:data:`STUDY_COLUMNS`) from a run's phase report and training log.

    ``phases``: a :class:`~genphase.analysis.PhaseReport` or its ``to_dict()`` (``metrics/phases.json``);
    ``training``: the training log with ``reference_split`` ("test", the split the baselines train
    on) and ``evaluation_split`` ("eval") rows. The interaction stop is ``early_stopping["epoch"]``;
    the baseline is :func:`patience_stop` on the reference loss (it spends the same labelled data as
    the baselines). Both are scored by :func:`score_stop` on the evaluation split. ``epochs``: the
    checkpoints a stop may pick (the saved models; None: every epoch of the log): the log is
    restricted to them, so the patience counts checkpoints and the regrets are against the best
    checkpoint.

    >>> log = pd.DataFrame({"epoch": [0, 1, 2] * 2, "split": ["test"] * 3 + ["eval"] * 3,
    ...                     "loss": [2.0, 1.0, 1.2, 2.0, 1.1, 1.3]})
    >>> row = study_row({"clear": False, "boundaries": {}, "early_stopping": {"epoch": 2}}, log, patience=1)
    >>> row["baseline_stop_epoch"], round(row["regret"], 6)
    (1, 0.2)
    """
    d: Mapping[str, Any] = phases.to_dict() if hasattr(phases, "to_dict") else phases
    if not isinstance(d, Mapping) or "early_stopping" not in d:
        raise InputError("phases must be a PhaseReport or its to_dict() (metrics/phases.json) with 'early_stopping'")
    es = d["early_stopping"] if isinstance(d["early_stopping"], Mapping) else {}
    stop = es.get("epoch")
    if stop is None:
        raise InputError("phases.early_stopping has no 'epoch'")
    if epochs is not None:
        if not isinstance(training, pd.DataFrame) or "epoch" not in training.columns:
            raise InputError("training must be the training log (a DataFrame with an 'epoch' column)")
        keep = np.asarray(sorted({int(e) for e in np.asarray(epochs).reshape(-1)}), dtype=np.int64)
        training = training[training["epoch"].isin(keep)]
    ref = _series(training, reference_split, "loss", "validation early stopping watches the reference split's loss")
    base = patience_stop(ref.index.to_numpy(), ref.to_numpy(), patience=patience, min_delta=min_delta)
    ours = score_stop(training, int(stop), split=evaluation_split)
    theirs = score_stop(training, base.epoch, split=evaluation_split)
    b = d.get("boundaries") or {}
    bci = d.get("boundaries_ci") or {}

    def end(ci: Any, i: int) -> int | None:
        return int(ci[i]) if isinstance(ci, (list, tuple)) and len(ci) == 2 and ci[i] is not None else None

    row = {
        "preset": preset, "seed": int(seed), "clear": bool(d.get("clear", False)),
        "three_phases": bool(d.get("three_phases", False)),
        "three_phase_support": d.get("three_phase_support"), "phase1_end": b.get("phase1_end"),
        "phase3_start": b.get("phase3_start"), "stop_epoch": ours.stop_epoch, "best_epoch": ours.best_epoch,
        "regret": ours.regret, "accuracy_regret": ours.accuracy_regret, "baseline_stop_epoch": base.epoch,
        "baseline_regret": theirs.regret, "baseline_accuracy_regret": theirs.accuracy_regret,
        "phase1_end_ci_low": end(bci.get("phase1_end"), 0), "phase1_end_ci_high": end(bci.get("phase1_end"), 1),
        "phase3_start_ci_low": end(bci.get("phase3_start"), 0), "phase3_start_ci_high": end(bci.get("phase3_start"), 1),
        "stop_ci_low": end(es.get("ci"), 0), "stop_ci_high": end(es.get("ci"), 1),
        "eval_loss_at_stop": ours.loss_at_stop, "best_eval_loss": ours.best_loss, "baseline_eval_loss": theirs.loss_at_stop,
        "patience": int(patience),
    }
    return {k: row[k] for k in STUDY_COLUMNS}
