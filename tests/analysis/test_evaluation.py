"""Scoring a stop on the evaluation split, and validation early stopping with patience, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import STUDY_COLUMNS, patience_stop, score_stop, study_row
from genphase.errors import InputError


def test_patience_stop_by_hand():
    e = np.arange(8)
    loss = [3.0, 2.0, 2.1, 1.9, 2.2, 2.3, 2.4, 0.5]
    # best 2.0 at 1; 2.1 no (wait 1); 1.9 yes (best at 3); 2.2, 2.3 no (wait 2 = patience): stop at 5, keep 3
    s = patience_stop(e, loss, patience=2)
    assert (s.epoch, s.stopped_at) == (3, 5)
    # with min_delta 0.2 the fall 2.0 -> 1.9 is no improvement: waits at 2, 3 -> stop at 3, keep 1
    assert patience_stop(e, loss, patience=2, min_delta=0.2).epoch == 1
    # patience never runs out: the best checkpoint overall, stopped at the last
    s = patience_stop(e, loss, patience=10)
    assert (s.epoch, s.stopped_at) == (7, 7)
    assert patience_stop([5], [1.0]).epoch == 5
    with pytest.raises(InputError, match="patience"):
        patience_stop(e, loss, patience=0)
    with pytest.raises(InputError, match="one loss per checkpoint"):
        patience_stop(e, loss[:3])


def _log() -> pd.DataFrame:
    e = np.arange(6)
    rows = []
    for sp, loss, acc in (("train", [2.0, 1.5, 1.0, 0.6, 0.3, 0.1], [0.5] * 6),
                          ("test", [2.0, 1.6, 1.3, 1.35, 1.4, 1.45], [0.5] * 6),
                          ("eval", [2.1, 1.7, 1.4, 1.2, 1.5, 1.6], [0.4, 0.5, 0.6, 0.7, 0.65, 0.6])):
        rows += [{"model": "model", "epoch": int(i), "split": sp, "loss": l, "accuracy": a}
                 for i, l, a in zip(e, loss, acc)]
    rows += [{"model": "baseline_0", "epoch": int(i), "split": "eval", "loss": 0.0, "accuracy": 1.0} for i in e]
    return pd.DataFrame(rows)


def test_score_stop_by_hand():
    s = score_stop(_log(), 4)
    # eval loss 1.5 at epoch 4, best 1.2 at epoch 3; accuracy 0.65 vs best 0.7 (baseline rows ignored)
    assert s.best_epoch == 3 and s.regret == pytest.approx(0.3) and s.accuracy_regret == pytest.approx(0.05)
    assert score_stop(_log(), 3).regret == 0.0
    with pytest.raises(InputError, match="no 'eval' loss|has no"):
        score_stop(_log(), 9)
    with pytest.raises(InputError, match="evaluation split"):
        score_stop(_log()[lambda d: d["split"] != "eval"], 3)


def test_study_row():
    phases = {"clear": True, "three_phase_support": 0.8, "boundaries": {"phase1_end": 1, "phase3_start": 4},
              "early_stopping": {"epoch": 4}}
    row = study_row(phases, _log(), preset="digits", seed=2, patience=2)
    assert set(row) == set(STUDY_COLUMNS)
    # validation stopping on the reference ("test") loss: best 1.3 at epoch 2, then 1.35, 1.4 -> stop, keep 2
    assert row["baseline_stop_epoch"] == 2 and row["baseline_regret"] == pytest.approx(0.2)
    assert row["baseline_accuracy_regret"] == pytest.approx(0.1)
    assert row["stop_epoch"] == 4 and row["regret"] == pytest.approx(0.3) and row["best_epoch"] == 3
    assert row["phase3_start"] == 4 and row["three_phase_support"] == 0.8 and row["seed"] == 2
    no_acc = study_row(phases, _log().drop(columns=["accuracy"]), patience=2)
    assert math.isnan(no_acc["accuracy_regret"])
    with pytest.raises(InputError, match="early_stopping"):
        study_row({"clear": True}, _log())


def test_study_row_on_checkpoints_only_and_with_intervals():
    phases = {"clear": True, "three_phase_support": 0.5, "boundaries": {"phase1_end": 1, "phase3_start": 4},
              "boundaries_ci": {"phase1_end": [1, 2], "phase3_start": None},
              "early_stopping": {"epoch": 4, "ci": [2, 5]}}
    # only checkpoints 0, 2, 4, 5 were saved: the best evaluation checkpoint is 2 (1.4; epoch 3's 1.2 is not one),
    # the reference loss 2.0, 1.3, 1.4, 1.45 stops with patience 1 at 4 and keeps 2
    row = study_row(phases, _log(), patience=1, epochs=[0, 2, 4, 5])
    assert row["best_epoch"] == 2 and row["regret"] == pytest.approx(1.5 - 1.4)
    assert row["baseline_stop_epoch"] == 2 and row["baseline_regret"] == 0.0
    assert (row["eval_loss_at_stop"], row["best_eval_loss"], row["baseline_eval_loss"]) == (1.5, 1.4, 1.4)
    assert (row["phase1_end_ci_low"], row["phase1_end_ci_high"]) == (1, 2)
    assert row["phase3_start_ci_low"] is None and (row["stop_ci_low"], row["stop_ci_high"]) == (2, 5)
    assert row["patience"] == 1 and list(row) == list(STUDY_COLUMNS)
