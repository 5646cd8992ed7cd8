"""One writer per run directory: a second `genphase run` on a directory in use is refused at once; a lock left
by a dead process is taken over. Real runs in subprocesses, no OMP_NUM_THREADS forced beyond the tests' own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from genphase.errors import RunDirectoryError
from genphase.rundir import LOCK_FILE, RunLock

RUN = ["training.epochs=6", "baselines.epochs=4", "checkpoints.schedule=every", "checkpoints.every=2",
       "explain.samples=8", "variables.n=4", "device=cpu"]


def _cmd(out):
    return [sys.executable, "-m", "genphase.cli", "run", "breast-cancer-mlp", *RUN, "--out", str(out)]


@pytest.mark.slow
def test_a_second_run_on_a_directory_in_use_is_refused_at_once(tmp_path):
    alone = tmp_path / "alone"
    assert subprocess.run(_cmd(alone), capture_output=True, text=True, timeout=600).returncode == 0
    out = tmp_path / "shared"
    first = subprocess.Popen(_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_FILE).exists() or not (out / "manifest.json").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended before it was seen"
            time.sleep(0.05)
        t0 = time.monotonic()
        second = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=120)
        took = time.monotonic() - t0
        assert second.returncode == 2
        assert f"is in use by PID {first.pid} on {socket.gethostname()}" in second.stderr
        assert took < 30  # at once: it never waits for the first, and loads no data
    finally:
        first.wait(timeout=600)
    assert first.returncode == 0, first.stdout.read()
    assert not (out / LOCK_FILE).exists()
    for p in sorted((alone / "metrics").glob("*.parquet")):  # the first run went on undisturbed
        pd.testing.assert_frame_equal(pd.read_parquet(p), pd.read_parquet(out / "metrics" / p.name), check_exact=True)
    assert json.loads((alone / "metrics/phases.json").read_text()) == json.loads((out / "metrics/phases.json").read_text())


@pytest.mark.slow
def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "GENPHASE_TEST_PAUSE_AT": "train:2", "GENPHASE_TEST_PAUSE_FILE": str(tmp_path / "paused")}
    victim = subprocess.Popen(_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "paused").exists():
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == victim.pid  # its lock file is left behind
    done = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert not (out / LOCK_FILE).exists()


def test_report_waits_for_no_one_but_refuses_a_directory_in_use(tmp_path, mini_run):
    from typer.testing import CliRunner

    from genphase.cli import app

    with RunLock(mini_run, "a run in another process"):
        res = CliRunner().invoke(app, ["report", str(mini_run)])
    assert res.exit_code == 2 and "is in use by PID" in res.stderr and "a run in another process" in res.stderr


def test_a_lock_held_on_another_host_is_respected(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": "then",
                                                  "command": "genphase run"}))
    with pytest.raises(RunDirectoryError, match=r"in use by PID 1 on elsewhere\.example.*another machine.*delete"):
        RunLock(tmp_path).acquire()
