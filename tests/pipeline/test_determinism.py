"""Same inputs, same tables, whatever the environment: each stage computes with ``execution.threads`` torch
threads (default 1) on every executor, so ``OMP_NUM_THREADS`` (set or not) and the executor change nothing.

These runs are subprocesses started as a user starts them: ``genphase run`` with ``OMP_NUM_THREADS`` removed
from the environment (the root conftest sets it for the test process only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

RUN = ["training.epochs=4", "baselines.k=2", "baselines.epochs=3", "checkpoints.schedule=every", "checkpoints.every=1",
       "explain.samples=8", "variables.n=4", "device=cpu", "--no-report"]


def _run(out, *extra, env_threads=None):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if env_threads is not None:
        env["OMP_NUM_THREADS"] = str(env_threads)
    res = subprocess.run([sys.executable, "-m", "genphase.cli", "run", "breast-cancer-mlp", *RUN, *extra,
                          "--out", str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def _same(a, b):
    names = sorted(p.name for p in (a / "metrics").glob("*.parquet"))
    assert names == sorted(p.name for p in (b / "metrics").glob("*.parquet"))
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(a / "metrics" / name), pd.read_parquet(b / "metrics" / name),
                                      check_exact=True, obj=name)
    assert json.loads((a / "metrics/phases.json").read_text()) == json.loads((b / "metrics/phases.json").read_text())


@pytest.mark.slow
def test_omp_num_threads_unset_or_set_gives_the_same_tables(tmp_path):
    unset = _run(tmp_path / "unset")
    _same(unset, _run(tmp_path / "one", env_threads=1))
    _same(unset, _run(tmp_path / "two", env_threads=2))
    man = json.loads((unset / "manifest.json").read_text())
    assert man["threads"] == {"train_model": 1, "baselines": 1, "extract": 1, "analysis": 1}


@pytest.mark.slow
def test_local_and_ray_give_the_same_tables_with_no_omp_num_threads(tmp_path):
    pytest.importorskip("ray")
    _same(_run(tmp_path / "local"), _run(tmp_path / "ray", "--executor", "ray"))


@pytest.mark.slow
def test_a_run_killed_at_45_percent_of_its_wall_time_resumes_to_identical_tables(tmp_path):
    """A plain timed SIGKILL (no pause hook), then the same command: every table equal, training.parquet
    (with prediction_changes) included."""
    import signal
    import time

    t0 = time.monotonic()
    whole = _run(tmp_path / "whole")
    wall = time.monotonic() - t0
    out = tmp_path / "killed"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    proc = subprocess.Popen([sys.executable, "-m", "genphase.cli", "run", "breast-cancer-mlp", *RUN, "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.45 * wall)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "manifest.json").exists()
    _same(whole, _run(out))


@pytest.mark.slow
def test_stages_side_by_side_in_worker_processes_give_the_same_tables(tmp_path):
    """execution.workers=2: the local executor runs independent stages in two processes at once."""
    one = _run(tmp_path / "one")
    two = _run(tmp_path / "two", "execution.workers=2")
    _same(one, two)
    assert json.loads((two / "manifest.json").read_text())["stages"] == {"train_model": "done", "extract": "done",
                                                                         "analysis": "done"}


def test_a_worker_process_that_dies_is_named_with_the_fix(tmp_path):
    """A script without the main guard: each spawned worker imports it again and dies at once."""
    script = tmp_path / "unguarded.py"
    script.write_text("from genphase.pipeline.config import load_config\nfrom genphase.pipeline.run import run\n"
                      f"run(load_config('breast-cancer-mlp', {RUN[:-1] + ['execution.workers=2']!r}), "
                      f"{str(tmp_path / 'run')!r}, log=lambda m: None, report=False)\n")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert "worker process of the local executor died" in res.stderr and "__main__" in res.stderr
