"""End-to-end miniature runs of `genphase run`: report, resumption after SIGKILL, directory guards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from genphase.errors import RunDirectoryError
from genphase.pipeline.config import load_config
from genphase.pipeline.run import run

MINI = ["training.epochs=6", "baselines.epochs=4", "checkpoints.schedule=every", "checkpoints.every=2",
        "explain.samples=3", "variables.n=4", "data.train_size=120"]
TIMING_FREE = ["training", "h_bar", "order_strengths", "baseline_ablation", "removal_loss", "order_distribution", "jaccard", "samples"]


def _cli(out: Path) -> subprocess.Popen:
    code = "from genphase.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "run", "digits", *MINI, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_miniature_run_resume_after_sigkill(tmp_path):
    ref = tmp_path / "ref"
    run(load_config("digits", MINI), ref, log=lambda m: None)
    assert (ref / "report.html").exists()
    for name in TIMING_FREE:
        assert (ref / "metrics" / f"{name}.parquet").exists(), name
    # kill a second run as soon as extraction has started, then resume it
    out = tmp_path / "killed"
    proc = _cli(out)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "interactions" / "model" / "epoch_0002.npz").exists():
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "report.html").exists() or proc.returncode == 0
    done = subprocess.run([sys.executable, "-c", "from genphase.cli import main; main()", "run", "digits", *MINI,
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in TIMING_FREE:
        a = pd.read_parquet(ref / "metrics" / f"{name}.parquet")
        b = pd.read_parquet(out / "metrics" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
    assert not list(out.rglob(".*.tmp"))
    # running again is a no-op that still succeeds
    assert _cli(out).wait(timeout=300) == 0


def test_other_config_in_run_dir_is_refused(tmp_path):
    cfg = load_config("digits", MINI)
    from genphase.pipeline.run import _prepare_dir
    from genphase.pipeline.storage import RunPaths

    _prepare_dir(RunPaths(tmp_path / "r"), cfg)
    (tmp_path / "r" / "checkpoints").mkdir()  # work has started: the directory is no longer free
    with pytest.raises(RunDirectoryError, match="another configuration"):
        run(load_config("digits", MINI + ["training.epochs=7"]), tmp_path / "r", log=lambda m: None)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="not a genphase run directory"):
        run(cfg, tmp_path / "x", log=lambda m: None)


def test_config_errors_fail_before_training(tmp_path):
    from genphase.errors import ConfigError

    with pytest.raises(ConfigError, match="explain.samples"):
        run(load_config("digits", ["explain.samples=100000"]), tmp_path / "r", log=lambda m: None)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_cli_presets_and_help():
    from typer.testing import CliRunner

    from genphase.cli import app

    r = CliRunner().invoke(app, ["presets"])
    assert r.exit_code == 0 and "digits" in r.output and "breast-cancer-mlp" in r.output
    r = CliRunner().invoke(app, ["run", "--help"])
    assert r.exit_code == 0 and "resumes" in r.output
    r = CliRunner().invoke(app, ["run", "digits", "training.epochz=3", "--out", "/tmp/never"])
    assert r.exit_code == 2


def test_cli_extract_from_a_checkpoint(tmp_path):
    import torch
    from typer.testing import CliRunner

    import genphase as gp
    from genphase.cli import app
    from genphase.pipeline.run import build_model_for, load_data

    cfg = load_config("digits", ["variables.n=4"])
    model = build_model_for(cfg, load_data(cfg), seed=3)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    out = tmp_path / "ints.npz"
    r = CliRunner().invoke(app, ["extract", str(tmp_path / "m.pt"), "-c", "digits", "variables.n=4",
                                 "--samples", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    res = gp.load_interactions(out)
    assert res.batch_shape == (3,) and res.n == 4
    import numpy as np

    np.testing.assert_allclose(res.reconstruct(), res.values + res.noise, atol=1e-9)
    bad = CliRunner().invoke(app, ["extract", str(tmp_path / "m.pt"), "--samples", "100000"])
    assert bad.exit_code == 2


def test_directory_of_a_run_that_failed_before_any_work_is_taken_over(tmp_path):
    from genphase.errors import GenphaseError

    bad = load_config("digits", MINI + ["data.options.foo=1"])
    with pytest.raises(GenphaseError):
        run(bad, tmp_path / "r", log=lambda m: None, report=False)
    out = run(load_config("digits", MINI), tmp_path / "r", log=lambda m: None, report=False)
    assert (out / "metrics" / "h_bar.parquet").exists()
    assert oct((out / "manifest.json").stat().st_mode & 0o777) != oct(0o600)
