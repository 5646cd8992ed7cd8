"""genphase.Tracker in a plain loop: results against planted truths, the run directory, resuming, bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from analysis.helpers import planted_strengths

from genphase import Tracker
from genphase.errors import InputError, RunDirectoryError
from genphase.maskers import TabularMasker
from genphase.tracker import SCALAR_KEYS, Verdict, default_phase_rule

N = 4


def _net(classes: int = 3, hidden: int = 8) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))


def _data(m: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2 * m, 1, 4, 4, generator=g)
    y = torch.arange(2 * m) % 3
    return x, y


def _tracker(tmp_path, name="run", m=8, **kw):
    x, y = _data(m)
    opts = dict(n=N, model_factory=_net, reference_data=(x, y), k=2, baseline_epochs=2, baseline_batch_size=4)
    opts.update(kw)
    return Tracker((x[:m], y[:m]), (x[m:], y[m:]), run_dir=tmp_path / name, **opts)


def test_model_equal_to_its_baseline_generalizes_fully(tmp_path):
    """Planted truth: when the model is its only baseline, every salient interaction is shared, so H-bar = 1."""
    torch.manual_seed(1)
    model = _net()
    x, y = _data()
    tr = Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=tmp_path / "r", n=N, baselines=[copy.deepcopy(model)])
    res = tr.measure(model, step=0)
    assert set(res) == {"step", "stop_epoch", *SCALAR_KEYS}
    for key in ("h_bar", "h_bar_low", "h_bar_high", "h_bar_test", "h_bar_test_low", "h_bar_test_high"):
        assert res[key] == pytest.approx(1.0)
    assert res["high_order_nongen"] == pytest.approx(0.0, abs=1e-9)
    assert res["high_order_nongen_test"] == pytest.approx(0.0, abs=1e-9)


def test_model_equal_to_its_baseline_after_another_measurement_generalizes_fully(tmp_path):
    """The model and its baselines take the same extraction path: a measurement never starts from
    the previous one's interactions (a warm start could land on another tied optimum)."""
    x, y = _data()
    torch.manual_seed(2)
    before, after = _net(), _net()
    tr = Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=tmp_path / "r", n=N, baselines=[copy.deepcopy(after)])
    tr.measure(before, step=0)
    res = tr.measure(after, step=1)
    assert res["h_bar"] == pytest.approx(1.0) and res["h_bar_test"] == pytest.approx(1.0)


def test_measure_writes_a_run_directory_the_report_reads(tmp_path):
    tr = _tracker(tmp_path)
    model = _net()
    out = [tr.measure(model, step=s) for s in (0, 2, 4)]
    for r in out:
        assert r["h_bar_low"] <= r["h_bar"] <= r["h_bar_high"]
        assert 0.0 <= r["h_bar"] <= 1.0 and r["phase"] in (0.0, 1.0, 2.0, 3.0) and r["stop"] in (0.0, 1.0)
    root = tmp_path / "run"
    for rel in ("config.yaml", "manifest.json", "explained/samples.npz", "explained/variables.json",
                "interactions/model/epoch_0004.npz", "interactions/baseline_1.npz", "checkpoints/baseline_0/final.pt",
                "metrics/phases.json"):
        assert (root / rel).exists(), rel
    hb = pd.read_parquet(root / "metrics/h_bar.parquet")
    assert sorted(hb["checkpoint"].unique()) == [0, 2, 4] and len(hb) == 3 * 16
    # the per-split means the tracker returned are the means of the table it wrote
    last = hb[(hb["checkpoint"] == 4) & (hb["split"] == "test")]["h_bar"].mean()
    assert out[-1]["h_bar_test"] == pytest.approx(last)
    training = pd.read_parquet(root / "metrics/training.parquet")
    assert set(training["model"]) == {"model", "baseline_0", "baseline_1"}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["stages"]["analysis"] == "done" and manifest["timings"]["measurements"] == 3
    # (tests/integrations/test_examples.py builds the report of such directories with `genphase report`)


def test_baselines_are_seeded_saved_and_reused(tmp_path):
    a = _tracker(tmp_path, "a")
    a.setup(_net())
    b = _tracker(tmp_path, "b")
    b.setup(_net())
    wa = torch.load(tmp_path / "a/checkpoints/baseline_1/final.pt")
    wb = torch.load(tmp_path / "b/checkpoints/baseline_1/final.pt")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # same seed, same weights
    w0 = torch.load(tmp_path / "a/checkpoints/baseline_0/final.pt")
    assert not all(torch.equal(wa[k], w0[k]) for k in wa)  # seeds differ between baselines
    mtime = (tmp_path / "a/checkpoints/baseline_1/final.pt").stat().st_mtime_ns
    again = _tracker(tmp_path, "a")
    again.setup(_net())
    assert (tmp_path / "a/checkpoints/baseline_1/final.pt").stat().st_mtime_ns == mtime  # reused, not retrained


def test_state_dict_resumes_the_series(tmp_path):
    tr = _tracker(tmp_path)
    model = _net()
    first = [tr.measure(model, step=s) for s in (0, 1)]
    state = json.loads(json.dumps(tr.state_dict()))  # survives JSON, as in the HF checkpoint file
    tr.measure(model, step=2)  # measured, then "lost" by resuming from the state of step 1
    fresh = _tracker(tmp_path)
    fresh.load_state_dict(state)
    assert fresh.steps == [0, 1]
    assert [h["h_bar"] for h in fresh.history] == [r["h_bar"] for r in first]
    fresh.measure(model, step=2)
    assert fresh.steps == [0, 1, 2]
    hb = pd.read_parquet(tmp_path / "run/metrics/h_bar.parquet")
    assert sorted(hb["checkpoint"].unique()) == [0, 1, 2] and len(hb) == 3 * 16
    with pytest.raises(InputError, match="not after the last measured step"):
        fresh.measure(model, step=2)
    other = _tracker(tmp_path, "other", tau=0.1)
    with pytest.raises(RunDirectoryError, match="another configuration"):
        other.load_state_dict(state)


class _Flaky(torch.nn.Module):
    """A model that raises like an out-of-memory error once ``fail`` is set."""

    def __init__(self):
        super().__init__()
        self.net = _net()
        self.fail = False

    def forward(self, x):
        if self.fail:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.net(x)


def test_failed_measurement_is_reported_and_skipped(tmp_path):
    model = _Flaky()
    tr = _tracker(tmp_path, model_factory=_Flaky)
    assert tr.measure(model, step=0) is not None
    model.fail = True
    with pytest.warns(RuntimeWarning, match="failed.*out of memory.*skipped"):
        assert tr.measure(model, step=1) is None
    assert tr.steps == [0] and tr.failures[0]["step"] == 1
    model.fail = False
    assert tr.measure(model, step=2)["step"] == 2
    strict = _tracker(tmp_path, "strict", model_factory=_Flaky, strict=True)
    strict.setup(model)
    model.fail = True
    with pytest.raises(RuntimeError, match="out of memory"):
        strict.measure(model, step=0)


def test_bad_input_is_refused_early(tmp_path):
    x, y = _data()
    base = dict(run_dir=tmp_path / "x", n=N, model_factory=_net, reference_data=(x, y), k=1, baseline_epochs=1)
    with pytest.raises(InputError, match="every_n_epochs"):
        Tracker((x[:8], y[:8]), (x[8:], y[8:]), every_n_epochs=0, **base)
    with pytest.raises(InputError, match="TabularMasker.*image"):
        Tracker((x[:8], y[:8]), (x[8:], y[8:]), **{**base, "n": None}, masker=TabularMasker(torch.zeros(16)))
    with pytest.raises(InputError, match="either baselines"):
        Tracker((x[:8], y[:8]), (x[8:], y[8:]), **base, baselines=[_net()])
    # explained samples whose shape does not fit the model: at the first measurement, before anything is trained
    wide = Tracker((x[:8], y[:8]), (x[8:], y[8:]), **{**base, "run_dir": tmp_path / "w"})
    big = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(25, 3))
    with pytest.raises(InputError, match=r"cannot run on the explained samples \(shape \[16, 1, 4, 4\]\)"):
        wide.measure(big, step=0)
    assert not (tmp_path / "w/checkpoints").exists()
    # baselines of another architecture / class count
    arch = Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=tmp_path / "a", n=N, baselines=[_net(hidden=5)])
    with pytest.raises(InputError, match="another architecture"):
        arch.measure(_net(), step=0)
    classes = Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=tmp_path / "c", n=N, baselines=[_net(classes=4)])
    with pytest.raises(InputError, match="baseline 0 produces 4 classes but the model produces 3"):
        classes.measure(_net(classes=3), step=0)
    # a run directory holding another configuration
    _tracker(tmp_path, "same")
    with pytest.raises(RunDirectoryError, match="another configuration"):
        _tracker(tmp_path, "same", tau=0.2)


def test_run_directory_of_genphase_run_is_refused(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps({"config_hash": "abc", "genphase_version": "0.1.0"}))
    with pytest.raises(RunDirectoryError, match="holds a `genphase run` of another configuration"):
        _tracker(tmp_path)


def test_phase_rule_is_swappable(tmp_path):
    calls = []

    def rule(training, h_bar, order_strengths):
        calls.append(sorted(h_bar["checkpoint"].unique()))
        steps = calls[-1]
        return Verdict(phase=3 if len(steps) >= 2 else 1, stop=len(steps) >= 2, stop_epoch=steps[0], message="planted")

    tr = _tracker(tmp_path, phase_rule=rule)
    model = _net()
    a, b = tr.measure(model, step=0), tr.measure(model, step=5)
    assert (a["phase"], a["stop"], b["phase"], b["stop"], b["stop_epoch"]) == (1.0, 0.0, 3.0, 1.0, 0.0)
    assert calls == [[0], [0, 5]]
    state = json.loads((tmp_path / "run/metrics/tracker_state.json").read_text())
    assert state["verdict"]["stop"] is True and state["verdict"]["steps"] == [0, 5]


def _series(h, loss):
    # two explained training samples per checkpoint with the same H-bar (the bootstrap needs two)
    e = np.arange(len(h))
    training = pd.DataFrame({"epoch": np.repeat(e, 2), "split": ["train", "test"] * len(e),
                             "loss": np.column_stack([np.linspace(2, 0.01, len(e)), loss]).reshape(-1)})
    hb = pd.DataFrame({"checkpoint": np.repeat(e, 2), "sample": np.tile([0, 1], len(e)), "split": "train",
                       "h_bar": np.repeat(h, 2)})
    return training, hb


def test_default_rule_reads_phases_from_a_planted_series():
    c = 16
    e = np.arange(c)
    rise = np.r_[np.linspace(0.1, 0.8, 6), np.linspace(0.8, 0.3, c - 6)]  # up to epoch 5, then down
    loss = np.r_[np.linspace(2.0, 0.5, 8), np.full(c - 8, 0.5)]  # improves until epoch 7, then flat
    # phase 3 comes from the interactions: the planted strengths learn mostly non-generalizable strength
    # from epoch 10 on (tests/analysis/helpers.py), so the default rule reports phase 3 at 10, whatever the loss
    v = default_phase_rule(*_series(rise, loss), planted_strengths(e, p3=10))
    assert (v.phase, v.stop) == (3, True)
    assert v.stop_epoch == v.report["boundaries"]["phase3_start"] == 10
    up = np.linspace(0.1, 0.8, c)
    v1 = default_phase_rule(*_series(up, np.linspace(2, 0.5, c)), planted_strengths(e, p3=None))
    assert (v1.phase, v1.stop, v1.stop_epoch) == (1, False, None)
    flat = np.full(c, 0.4) + 0.001 * np.sin(np.arange(c))
    assert default_phase_rule(*_series(flat, np.linspace(2, 0.5, c)), planted_strengths(e, p3=None)).phase == 0
    # past the peak, but the newly learned strength stays mostly generalizable: phase 2, no stop
    v2 = default_phase_rule(*_series(rise, np.linspace(2.0, 0.2, c)), planted_strengths(e, p3=None))
    assert (v2.phase, v2.stop) == (2, False)


def test_import_genphase_imports_no_framework():
    code = ("import sys, genphase; genphase.Tracker; "
            "bad = [m for m in ('lightning', 'pytorch_lightning', 'transformers', 'tensorboard') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(("kwargs", "override"), [
    ({"tau": 1.5}, "interactions.tau=1.5"),
    ({"n": 0}, "variables.n=0"),
    ({"k": 0}, "baselines.k=0"),
    ({"solver": "simplex"}, "interactions.solver=simplex"),
    ({"tol": 2.0}, "interactions.tol=2.0"),
    ({"noise_bound": -0.1}, "interactions.noise_bound=-0.1"),
    ({"value_fn": "odds"}, "interactions.value_function=odds"),
    ({"baseline_epochs": 0}, "baselines.epochs=0"),
    ({"baseline_lr": 0.0}, "baselines.lr=0.0"),
    ({"n_resamples": -1}, "analysis.n_resamples=-1"),
])
def test_a_bad_setting_fails_at_construction_with_the_error_of_a_run_config(tmp_path, kwargs, override):
    """The same ConfigError, word for word, as `genphase run` gives for the same setting; nothing trained."""
    from genphase.errors import ConfigError
    from genphase.pipeline.config import load_config

    built = []

    def factory():
        built.append(1)
        return _net()

    with pytest.raises(ConfigError) as from_config:
        load_config("digits", [override])
    with pytest.raises(ConfigError) as from_tracker:
        _tracker(tmp_path, **{"model_factory": factory, **kwargs})
    assert str(from_tracker.value) == str(from_config.value)
    assert str(from_tracker.value).startswith(f"config key '{override.split('=')[0]}'")
    assert not built and not (tmp_path / "run").exists()  # no baseline built, no run directory claimed


def test_mismatched_samples_and_labels_fail_at_construction(tmp_path):
    x, y = _data()
    with pytest.raises(InputError, match=r"train_samples: labels must have shape \[8\]"):
        Tracker((x[:8], y[:7]), (x[8:], y[8:]), run_dir=tmp_path / "r", n=N, model_factory=_net, reference_data=(x, y))
    with pytest.raises(InputError, match=r"dataset_index: the reference index must hold 8 integers"):
        Tracker((x[:8], y[:8]), (x[8:], y[8:]), run_dir=tmp_path / "r", n=N, model_factory=_net, reference_data=(x, y),
                dataset_index=(np.arange(8), np.arange(3)))
    assert not (tmp_path / "r").exists()
