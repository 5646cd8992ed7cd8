"""GenphaseCallback with the real Lightning Trainer: logging, EarlyStopping, checkpoints, bad input."""

from __future__ import annotations

import pytest
import torch

pl = pytest.importorskip("pytorch_lightning")

from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint  # noqa: E402
from pytorch_lightning.loggers import TensorBoardLogger  # noqa: E402

from genphase import Tracker  # noqa: E402
from genphase.errors import InputError  # noqa: E402
from genphase.integrations.lightning import GenphaseCallback  # noqa: E402
from genphase.tracker import Verdict  # noqa: E402

N = 4


class Tiny(pl.LightningModule):
    def __init__(self, features: int = 16):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(features, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(24, 1, 4, 4, generator=g)
    return x, torch.arange(24) % 3


def _loader(x, y):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def _tracker(run_dir, **kw):
    x, y = _data()
    return Tracker((x[:8], y[:8]), (x[12:20], y[12:20]), run_dir=run_dir, n=N, model_factory=Tiny,
                   reference_data=(x[12:], y[12:]), k=1, baseline_epochs=2, **kw)


def _trainer(tmp_path, callbacks, max_epochs, **kw):
    return pl.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, callbacks=callbacks,
                      default_root_dir=str(tmp_path / "pl"), enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0, **kw)


def _stop_after(m):
    """A planted phase rule: phase 3 (stop) once ``m`` checkpoints are measured."""

    def rule(training, h_bar, order_strengths):
        steps = sorted(h_bar["checkpoint"].unique())
        return Verdict(3 if len(steps) >= m else 1, len(steps) >= m, steps[-1] if len(steps) >= m else None, "planted")

    return rule


def test_early_stopping_on_a_genphase_metric_stops_a_real_fit(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = _data()
    tracker = _tracker(tmp_path / "run", phase_rule=_stop_after(3))
    es = EarlyStopping(monitor="genphase/stop", mode="min", divergence_threshold=0.5, patience=10**6)
    trainer = _trainer(tmp_path, [GenphaseCallback(tracker), es], max_epochs=10,
                       logger=TensorBoardLogger(str(tmp_path), name="tb"))
    trainer.fit(Tiny(), _loader(x[:12], y[:12]), _loader(x[12:], y[12:]))
    assert tracker.steps == [0, 1, 2]  # initial model, then after epochs 0 and 1
    assert trainer.current_epoch == 2 and es.stopped_epoch == 1  # stopped after the 2nd epoch, not at 10
    assert trainer.callback_metrics["genphase/stop"] == 1.0
    assert float(trainer.callback_metrics["genphase/h_bar"]) == pytest.approx(tracker.history[-1]["h_bar"])
    events = EventAccumulator(str(next((tmp_path / "tb").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"genphase/h_bar", "genphase/h_bar_test", "genphase/phase", "genphase/stop"} <= tags
    assert [e.step for e in events.Scalars("genphase/h_bar")][0] == 0  # the initial model is logged too


def test_stop_on_phase3_and_every_n_epochs(tmp_path):
    x, y = _data()
    tracker = _tracker(tmp_path / "run", phase_rule=_stop_after(3), every_n_epochs=2)
    trainer = _trainer(tmp_path, [GenphaseCallback(tracker, stop_on_phase3=True)], max_epochs=12,
                       check_val_every_n_epoch=2, logger=False)
    trainer.fit(Tiny(), _loader(x[:12], y[:12]), _loader(x[12:], y[12:]))
    assert tracker.steps == [0, 2, 4]
    assert trainer.current_epoch == 4


def test_checkpoint_resume_continues_the_series_without_validation(tmp_path):
    x, y = _data()
    ck = ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_last=True)
    first = _tracker(tmp_path / "run")
    _trainer(tmp_path, [GenphaseCallback(first), ck], max_epochs=2, logger=False).fit(Tiny(), _loader(x[:12], y[:12]))
    assert first.steps == [0, 1, 2]  # measured in on_train_epoch_end: no validation loop
    again = _tracker(tmp_path / "run")
    cb = GenphaseCallback(again)
    _trainer(tmp_path, [cb, ModelCheckpoint(dirpath=str(tmp_path / "ck2"))], max_epochs=4, logger=False).fit(
        Tiny(), _loader(x[:12], y[:12]), ckpt_path=str(tmp_path / "ck" / "last.ckpt"))
    assert again.steps == [0, 1, 2, 3, 4]
    assert [h["h_bar"] for h in again.history[:3]] == [h["h_bar"] for h in first.history]
    import pandas as pd

    hb = pd.read_parquet(tmp_path / "run/metrics/h_bar.parquet")
    assert sorted(hb["checkpoint"].unique()) == [0, 1, 2, 3, 4]


def test_bad_input_fails_before_the_first_epoch(tmp_path):
    x, y = _data()
    tracker = _tracker(tmp_path / "run")
    trainer = _trainer(tmp_path, [GenphaseCallback(tracker)], max_epochs=3, logger=False)
    with pytest.raises(InputError, match="cannot run on the explained samples"):
        trainer.fit(Tiny(features=20), _loader(torch.rand(12, 1, 4, 5), y[:12]))
    assert trainer.global_step == 0
    with pytest.raises(InputError, match="genphase.Tracker"):
        GenphaseCallback(object())


_DDP_SCRIPT = r'''
import json, sys
from pathlib import Path
import torch
import pytorch_lightning as pl
from genphase import Tracker
from genphase.integrations.lightning import GenphaseCallback
from genphase.tracker import Verdict

out = Path(sys.argv[1])

class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    def forward(self, x):
        return self.net(x)
    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

def rule(training, h_bar, order_strengths):
    steps = sorted(h_bar["checkpoint"].unique())
    return Verdict(3 if len(steps) >= 3 else 1, len(steps) >= 3, steps[-1], "planted")

g = torch.Generator().manual_seed(0)
x = torch.rand(24, 1, 4, 4, generator=g); y = torch.arange(24) % 3
tracker = Tracker((x[:8], y[:8]), (x[12:20], y[12:20]), run_dir=out / "run", n=4, model_factory=Tiny,
                  reference_data=(x[12:], y[12:]), k=1, baseline_epochs=2, phase_rule=rule)
trainer = pl.Trainer(max_epochs=8, accelerator="cpu", devices=2, strategy="ddp", logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     callbacks=[GenphaseCallback(tracker, stop_on_phase3=True)])
trainer.fit(Tiny(), torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:12], y[:12]), batch_size=4))
(out / f"rank{trainer.global_rank}.json").write_text(json.dumps({
    "steps": tracker.steps, "epoch": trainer.current_epoch,
    "h_bar": float(trainer.callback_metrics["genphase/h_bar"])}))
'''


@pytest.mark.slow
def test_ddp_rank0_measures_and_the_decision_is_broadcast(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "ddp_fit.py"
    script.write_text(_DDP_SCRIPT)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["steps"] == [0, 1, 2] and r1["steps"] == []  # only rank 0 measured
    assert r0["epoch"] == r1["epoch"] == 2  # both ranks stopped together on the broadcast advice
    assert r0["h_bar"] == r1["h_bar"]  # and logged the same value


def test_the_real_phase_rule_stops_an_overfitting_fit_through_early_stopping(tmp_path):
    """No stub: an MLP over-fits 400 digits with 20% flipped labels; the engine finds phase 3 and
    ``EarlyStopping(monitor="genphase/stop")`` ends the fit well before ``max_epochs``."""
    import json

    from overfitting_digits import digits_and_tracker

    from genphase.models import MLP

    class Digits(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = MLP((1, 8, 8), 10, hidden=(256, 256))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _):
            return torch.nn.functional.cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    pl.seed_everything(0, verbose=False)
    x_tr, y_tr, tracker = digits_and_tracker(tmp_path / "run", Digits)
    es = EarlyStopping(monitor="genphase/stop", mode="min", divergence_threshold=0.5, patience=10**6, strict=False)
    trainer = _trainer(tmp_path, [GenphaseCallback(tracker), es], max_epochs=45, logger=False, enable_checkpointing=False)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_tr, y_tr), batch_size=32, shuffle=True)
    trainer.fit(Digits(), loader)
    assert trainer.current_epoch < 45 and es.stopped_epoch > 0  # stopped early, by EarlyStopping
    assert tracker.history[-1]["stop"] == 1.0 and all(h["stop"] == 0.0 for h in tracker.history[:-1])
    assert tracker.steps[-1] == trainer.current_epoch  # the measurement after the last epoch trained said stop
    phases = json.loads((tmp_path / "run/metrics/phases.json").read_text())
    assert phases["boundaries"]["phase3_start"] is not None
    assert tracker.history[-1]["stop_epoch"] == phases["early_stopping"]["epoch"]
