"""Training records prediction_changes (Label Wave's signal) on the "train" rows, from epoch 1 on.

The counts are checked against a brute-force recount: the model's predicted classes on the training
examples are recomputed at every epoch (plain forward pass, eval mode) from the model handed to
``on_checkpoint``, and the changes counted with a Python loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genphase.pipeline.config import RunConfig
from genphase.pipeline.modality import ArrayModality
from genphase.pipeline.training import TrainSpec, evaluate, train


def _data(seed=0, n=60, d=5, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = rng.integers(0, classes, size=n)  # random labels: predictions keep flipping while memorising
    return x, y


def _model(seed=0, d=5, classes=3):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.ReLU(), torch.nn.Linear(16, classes))


SPEC = TrainSpec(epochs=12, optimizer="sgd", lr=0.5, momentum=0.9, weight_decay=0.0, batch_size=8, seed=3)


def _run(tmp_path=None, progress=None, model=None):
    x, y = _data()
    xt, yt = _data(seed=1, n=20)
    task = ArrayModality("tabular", RunConfig())
    preds: dict[int, list[int]] = {}

    def grab(epoch, m):
        m.eval()
        with torch.no_grad():
            out = m(torch.as_tensor(x))
        preds[epoch] = [int(v) for v in out.argmax(-1)]

    log = train(model or _model(), task, x, y, SPEC, torch.device("cpu"), eval_sets={"train": (x, y), "test": (xt, yt)},
                checkpoint_epochs=set(range(SPEC.epochs + 1)), on_checkpoint=grab,
                state_path=None if tmp_path is None else tmp_path / "state.pt", progress=progress)
    return log, preds


def test_counts_equal_a_brute_force_recount():
    log, preds = _run()
    train_rows = [r for r in log if r["split"] == "train"]
    assert [r["epoch"] for r in train_rows] == list(range(SPEC.epochs + 1))
    assert "prediction_changes" not in train_rows[0]  # epoch 0 has no previous epoch
    for r in train_rows[1:]:
        e = r["epoch"]
        want = sum(1 for a, b in zip(preds[e - 1], preds[e]) if a != b)
        assert isinstance(r["prediction_changes"], int)
        assert r["prediction_changes"] == want, e
    assert sum(r["prediction_changes"] for r in train_rows[1:]) > 0  # the recount is not vacuous
    assert not any("prediction_changes" in r for r in log if r["split"] != "train")


def test_evaluate_keeps_its_signature():
    x, y = _data()
    loss, acc = evaluate(_model(), ArrayModality("tabular", RunConfig()), x, y, torch.device("cpu"))
    assert isinstance(loss, float) and 0.0 <= acc <= 1.0


class _Stop(Exception):
    pass


def _interrupted_at_5(folder):
    folder.mkdir()

    def stop_at_5(epoch, row):
        if epoch == 5:
            raise _Stop

    with pytest.raises(_Stop):
        _run(folder, progress=stop_at_5)


def test_a_resumed_run_counts_exactly_as_an_uninterrupted_one(tmp_path):
    full, _ = _run()
    _interrupted_at_5(tmp_path / "a")
    st = torch.load(tmp_path / "a" / "state.pt", weights_only=True)
    assert st["epoch"] == 5 and st["train_predictions"].shape == (60,)
    resumed, _ = _run(tmp_path / "a")
    assert [r.get("prediction_changes") for r in resumed] == [r.get("prediction_changes") for r in full]


def test_a_state_saved_without_predictions_recounts_from_its_model(tmp_path):
    full, _ = _run()
    _interrupted_at_5(tmp_path / "b")
    path = tmp_path / "b" / "state.pt"
    st = torch.load(path, weights_only=True)
    st.pop("train_predictions")  # as written before predictions were kept
    torch.save(st, path)
    resumed, _ = _run(tmp_path / "b")
    assert [r.get("prediction_changes") for r in resumed] == [r.get("prediction_changes") for r in full]
