"""The CLI does what its options say (`genphase run | extract | report`), and its errors say what went wrong.

Error tests check the message, not only exit code 2: click's own usage errors exit with 2 as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import miniature
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genphase.cli import app
from genphase.pipeline.config import load_config


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _text(result) -> str:
    """The CLI's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


# ------------------------------------------------------------------------------ extract
@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "test"])
def test_extract_equals_explain_on_the_same_checkpoint_and_samples(mini_run, tmp_path, split):
    import genphase as gp
    from genphase.maskers import ImagePatchMasker
    from genphase.pipeline.run import build_model_for, load_data

    ckpt = mini_run / "checkpoints" / "model" / "epoch_0006.pt"
    out = tmp_path / "ints.npz"
    r = _invoke("extract", str(ckpt), "-c", str(mini_run / "config.yaml"), "--split", split, "--samples", str(miniature.M),
                "--device", "cpu", "--out", str(out))
    assert r.exit_code == 0, r.output
    got = gp.load_interactions(out)
    idx = np.asarray(got.metadata["dataset_index"])
    assert got.metadata["split"] == split and len(idx) == miniature.M
    # the same explanation written here: the checkpoint's model, the run's masker settings, those samples
    cfg = load_config(str(mini_run / "config.yaml"))
    ds = load_data(cfg)
    model = build_model_for(cfg, ds, seed=0)
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    model.eval()
    v = cfg.variables
    masker = ImagePatchMasker.from_data(ds.x_train, patch_size=v.patch_size, layout=v.layout, n=v.n, seed=v.seed,
                                        **v.options)
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    want = gp.explain(model, torch.as_tensor(x[idx]), torch.as_tensor(y[idx]), masker, value_fn="log_odds",
                      solver=cfg.interactions.solver, tol=cfg.interactions.tol)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_allclose(got.and_effects, want.and_effects, atol=1e-9)
    np.testing.assert_allclose(got.or_effects, want.or_effects, atol=1e-9)
    if split == "train":
        # extract picks training samples as the run does: the run's explained training samples, whose
        # masked outputs at epoch 6 are the ones stored by the run
        with np.load(mini_run / "explained" / "samples.npz") as z:
            np.testing.assert_array_equal(idx, z["dataset_index"][:miniature.M])
        stored = gp.load_interactions(mini_run / "interactions" / "model" / "epoch_0006.npz")
        np.testing.assert_allclose(got.values, stored.values[:miniature.M], rtol=1e-12)


def test_extract_errors_name_the_problem(tmp_path):
    from genphase.pipeline.run import build_model_for, load_data

    cfg = load_config("digits", ["variables.n=4"])
    torch.save(build_model_for(cfg, load_data(cfg), seed=3).state_dict(), tmp_path / "m.pt")
    r = _invoke("extract", str(tmp_path / "m.pt"), "variables.n=4", "--samples", "100000")
    assert r.exit_code == 2
    assert "config key 'explain.samples': 100000 exceeds the 674 samples of the reference (test) split" in _text(r)
    r = _invoke("extract", str(tmp_path / "m.pt"), "--split", "val")
    assert r.exit_code == 2 and "--split must be train or test, got 'val'" in _text(r)
    r = _invoke("extract", str(tmp_path / "missing.pt"))
    assert r.exit_code == 2 and "missing.pt" in _text(r) and "error:" in _text(r)


# ------------------------------------------------------------------------------ run: what each option does
@pytest.fixture
def captured(monkeypatch, tmp_path):
    """`genphase run` with the job replaced by a recorder of (config, run directory, report flag)."""
    calls = []
    monkeypatch.setattr("genphase.pipeline.run.run",
                        lambda cfg, out, *, log, report, threads=None: calls.append((cfg, Path(out), report)) or Path(out))
    monkeypatch.chdir(tmp_path)
    return calls


def test_run_defaults_to_runs_slash_preset_with_a_report(captured):
    r = _invoke("run", "digits")
    assert r.exit_code == 0, r.output
    (cfg, out, report), = captured
    assert out == Path("runs") / "digits" and report is True
    assert cfg.to_dict() == load_config("digits").to_dict()
    assert cfg.device == "auto"


def test_run_quick_applies_the_presets_quick_setting(captured):
    assert _invoke("run", "digits", "--quick").exit_code == 0
    (cfg, out, _), = captured
    assert out == Path("runs") / "digits-quick"
    assert cfg.to_dict() == load_config("digits", quick=True).to_dict()
    # the digits quick setting (pipeline/presets.py): 40 epochs, 30 baseline epochs, 8 checkpoints, 8 samples
    assert (cfg.training.epochs, cfg.baselines.epochs, cfg.checkpoints.count, cfg.explain.samples) == (40, 30, 8, 32)


def test_run_device_no_report_and_a_config_files_default_directory(captured, tmp_path):
    (tmp_path / "mine.yaml").write_text("preset: digits\ntraining:\n  epochs: 7\n")
    assert _invoke("run", "mine.yaml", "--device", "cpu", "--no-report").exit_code == 0
    (cfg, out, report), = captured
    assert cfg.device == "cpu" and report is False and cfg.training.epochs == 7
    assert out == Path("runs") / "mine"


@pytest.mark.slow
def test_run_no_report_device_cpu_into_the_default_directory_for_real(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    mini = [o for o in miniature.MINI if not o.startswith("device=")]
    r = _invoke("run", "digits", *mini, "--device", "cpu", "--no-report")
    assert r.exit_code == 0, r.output
    out = tmp_path / "runs" / "digits"
    assert json.loads((out / "manifest.json").read_text())["stages"]["analysis"] == "done"
    assert load_config(str(out / "config.yaml")).device == "cpu"
    assert "device cpu" in _text(r)
    assert not (out / "report.html").exists() and not (out / "figures").exists()


def test_run_no_report_does_not_claim_a_report(captured):
    r = _invoke("run", "digits", "--no-report")
    assert r.exit_code == 0
    assert "report.html" not in r.output


# ------------------------------------------------------------------------------ run / report: errors
def test_run_errors_name_the_problem(tmp_path):
    r = _invoke("run", "digits", "training.epochz=3", "--out", str(tmp_path / "never"))
    assert r.exit_code == 2
    assert "error: unknown config key 'training.epochz'; valid keys here: epochs, optimizer, lr," in _text(r)
    r = _invoke("run", "no-such-preset", "--out", str(tmp_path / "never"))
    assert r.exit_code == 2 and "'no-such-preset' is neither a preset" in _text(r)
    r = _invoke("run", "digits", "training.epochs=0", "--out", str(tmp_path / "never"))
    assert r.exit_code == 2 and "config key 'training.epochs': must be >= 1, got 0" in _text(r)
    assert not (tmp_path / "never").exists()
    # a click usage error also exits with 2: only the message tells them apart
    r = _invoke("run", "digits", "--bogus")
    assert r.exit_code == 2 and "No such option: --bogus" in _text(r)


def test_run_into_a_foreign_directory_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file.txt").write_text("mine")
    r = _invoke("run", "digits", "--out", str(tmp_path / "x"))
    assert r.exit_code == 2
    assert "exists and is not a genphase run directory (no manifest.json); choose another --out" in _text(r)
    assert (tmp_path / "x" / "file.txt").read_text() == "mine"


def test_report_of_an_unfinished_run_is_refused(tmp_path):
    (tmp_path / "r").mkdir()
    r = _invoke("report", str(tmp_path / "r"))
    assert r.exit_code == 2
    assert "has no finished analysis (manifest stage 'analysis'); run or resume it with" in _text(r)
    assert not (tmp_path / "r" / "report.html").exists()
