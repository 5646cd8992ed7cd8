"""Label Wave: the first minimum of the smoothed prediction changes, with patience."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genphase.analysis import label_wave_stop, label_wave_study
from genphase.errors import InputError


def _log(pc, *, epochs=None, extra_rows=True):
    epochs = np.arange(1, len(pc) + 1) if epochs is None else np.asarray(epochs)
    rows = [{"model": "model", "epoch": 0, "split": "train", "loss": 2.0}]
    rows += [{"model": "model", "epoch": int(e), "split": "train", "loss": 1.0, "prediction_changes": int(v)}
             for e, v in zip(epochs, pc)]
    if extra_rows:  # other splits and a baseline carry no counts
        rows += [{"model": "model", "epoch": int(e), "split": "eval", "loss": 1.0 + 0.01 * abs(int(e) - 9)}
                 for e in [0, *epochs]]
        rows += [{"model": "baseline_0", "epoch": int(e), "split": "train", "loss": 1.0, "prediction_changes": 0}
                 for e in epochs]
    return pd.DataFrame(rows)


def test_finds_a_planted_minimum():
    # V-shaped prediction changes with the minimum planted at epoch 14 (40 epochs)
    e = np.arange(1, 41)
    pc = 10 + 5 * np.abs(e - 14)
    st = label_wave_stop(_log(pc))
    assert st.epoch == 14 and st.stopped_at == 19
    np.testing.assert_array_equal(st.epochs, e)


def test_the_first_minimum_not_the_global_one():
    # a minimum at 10 that holds for 5 epochs, then a deeper one at 30: Label Wave stops at the first
    e = np.arange(1, 41)
    pc = np.where(e <= 20, 10 + 9 * np.abs(e - 10), np.maximum(100 - 10 * (e - 20), 0))
    assert int(e[np.argmin(pc)]) > 20
    assert label_wave_stop(_log(pc)).epoch == 10


def test_a_dip_beaten_within_the_patience_is_not_yet_the_minimum():
    # noise dip at epoch 5 (value 30), beaten at epoch 8; window 1 shows the patience rule alone
    pc = [80, 60, 45, 40, 30, 35, 38, 25, 20, 18, 30, 40, 50, 60, 70, 80]
    assert label_wave_stop(_log(pc), window=1, patience=2).epoch == 5
    assert label_wave_stop(_log(pc), window=1, patience=5).epoch == 10


def test_the_moving_average_smooths_a_single_epoch_spike():
    pc = [50, 40, 30, 25, 2, 25, 24, 23, 22, 21, 20, 30, 40, 50, 60, 70]  # one-epoch dip at 5
    assert label_wave_stop(_log(pc), window=1, patience=5).epoch == 5
    st = label_wave_stop(_log(pc), window=3, patience=5)
    np.testing.assert_allclose(st.smoothed[4:6], [(25 + 2 + 25) / 3, (2 + 25 + 24) / 3])
    assert st.epoch == 6  # the smoothed minimum: 17 at epoch 6 (the spike alone no longer decides)


def test_study_columns_score_the_stop_on_the_evaluation_split():
    e = np.arange(1, 41)
    pc = 10 + 5 * np.abs(e - 14)
    row = label_wave_study(_log(pc))
    assert row["labelwave_stop_epoch"] == 14
    assert row["labelwave_regret"] == pytest.approx(0.05)  # eval loss 1 + 0.01 |14 - 9| minus its minimum 1.0


def test_a_log_without_predictions_is_refused():
    log = _log([5, 4, 3]).drop(columns="prediction_changes")
    with pytest.raises(InputError, match="no predictions.*no 'prediction_changes' column"):
        label_wave_stop(log)
    empty = _log([5, 4, 3]).assign(prediction_changes=np.nan)
    with pytest.raises(InputError, match="no predictions.*no 'train' row holds a value"):
        label_wave_stop(empty)
    with pytest.raises(InputError, match="window"):
        label_wave_stop(_log([5, 4, 3]), window=2)
    with pytest.raises(InputError, match=">= 0"):
        label_wave_stop(_log([5, -4, 3]))
