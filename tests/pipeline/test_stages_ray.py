"""`genphase run` and `genphase study` on the Ray executor give the local executor's tables.

The truth is the local executor's run of the same configuration (tests/miniature.py, built once per
session): every timing-free table, phases.json and every interactions file must be equal, exactly.
One local Ray instance (2 CPUs) serves the module. Its workers inherit a test hook
(``GENPHASE_TEST_KILL_AT=train:3``): the first worker that finishes epoch 3 of a training SIGKILLs
itself, so the first run here also checks that a task killed mid-run is retried with nothing lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import miniature
import numpy as np
import pandas as pd
import pytest

from genphase.errors import ConfigError, MissingDependencyError
from genphase.pipeline.config import load_config
from genphase.pipeline.driver import with_execution
from genphase.pipeline.run import run

TINY_STUDY = ["training.epochs=5", "baselines.k=1", "baselines.epochs=2", "checkpoints.schedule=every", "checkpoints.every=1",
              "explain.samples=8", "variables.n=3", "data.train_size=60", "analysis.n_resamples=50", "device=cpu"]


@pytest.fixture(scope="module")
def ray_ex(tmp_path_factory):
    ray = pytest.importorskip("ray")
    from genphase.pipeline.executors import get_executor

    if ray.is_initialized():
        pytest.skip("this process already runs a Ray session")
    kill = tmp_path_factory.mktemp("kill") / "killed"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENPHASE_TEST_KILL_AT", "train:3")
        mp.setenv("GENPHASE_TEST_KILL_FILE", str(kill))
        mp.setenv("RAY_DEDUP_LOGS", "0")
        mp.delenv("RAY_ADDRESS", raising=False)
        ex = get_executor("ray", num_cpus=2)
    ex.kill_file = kill
    yield ex
    ex.close()


def _same_run(ref: Path, out: Path) -> None:
    for name in miniature.TIMING_FREE:
        a = pd.read_parquet(ref / "metrics" / f"{name}.parquet")
        b = pd.read_parquet(out / "metrics" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    assert json.loads((ref / "metrics" / "phases.json").read_text()) == json.loads((out / "metrics" / "phases.json").read_text())
    ints = sorted(p.relative_to(ref) for p in (ref / "interactions").rglob("*.npz"))
    assert ints == sorted(p.relative_to(out) for p in (out / "interactions").rglob("*.npz")) and ints
    for rel in ints:
        with np.load(ref / rel) as za, np.load(out / rel) as zb:
            for k in za.files:
                if k != "__meta__":
                    np.testing.assert_array_equal(za[k], zb[k], err_msg=f"{rel}:{k}")
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["stages"]) == {"train_model", "extract", "analysis"}
    assert not (out / ".staging").exists() and not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    from genphase.pipeline.integrity import verify_run

    assert {f.status for f in verify_run(out)} == {"ok"}


@pytest.mark.slow
def test_a_ray_run_killed_mid_training_gives_the_local_tables(ray_ex, mini_run, tmp_path):
    out = tmp_path / "run"
    logs: list[str] = []
    run(with_execution(miniature.mini_config(), "ray"), out, log=logs.append, report=False, executor=ray_ex)
    # the worker that trained the model SIGKILLed itself after epoch 3; Ray ran the task again, which
    # resumed from the training state it had saved, and the run ended with the local run's files
    point, pid = ray_ex.kill_file.read_text().split()
    assert point == "train:3" and int(pid) != os.getpid()
    # the model's 4 checkpoints, K = 3 baselines and K = 3 null baselines
    assert "stage 3/5 extract: AND-OR interactions of 10 models, 16 samples x 2^4 masks each" in logs
    _same_run(mini_run, out)
    # the same directory resumes on the local executor: nothing is redone, the tables stay
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")}
    run(miniature.mini_config(), out, log=lambda m: None, report=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npz")} == before
    _same_run(mini_run, out)


@pytest.mark.slow
def test_shared_path_gives_the_local_tables(ray_ex, mini_run, tmp_path):
    out = tmp_path / "run"
    run(with_execution(miniature.mini_config(), "ray", shared_path=str(tmp_path)), out, log=lambda m: None, report=False)
    import ray

    assert ray.is_initialized()  # joined the module's instance, left it running
    _same_run(mini_run, out)


@pytest.mark.slow
def test_a_two_seed_study_gives_the_local_tables(ray_ex, tmp_path):
    from genphase.pipeline.study import study

    # no thread count given: every stage computes with execution.threads (1) on either executor
    local = study("digits", [0, 1], overrides=TINY_STUDY, out=tmp_path / "local", log=lambda m: None, report=False)
    remote = study("digits", [0, 1], overrides=TINY_STUDY, out=tmp_path / "ray", log=lambda m: None, report=False,
                   executor="ray")
    pd.testing.assert_frame_equal(pd.read_parquet(local / "study.parquet"), pd.read_parquet(remote / "study.parquet"),
                                  check_exact=True)
    assert len(pd.read_parquet(remote / "study.parquet")) == 2
    for s in (0, 1):
        _same_run(local / f"seed_{s}", remote / f"seed_{s}")
    info = {k: v for k, v in json.loads((remote / "study.json").read_text()).items()}
    assert info == json.loads((local / "study.json").read_text())  # the executor is not part of a study's identity


@pytest.mark.slow
def test_a_driver_killed_mid_run_resumes(ray_ex, mini_run, tmp_path):
    """`genphase run --executor ray` (its own local Ray instance) killed after baseline 0 was committed."""
    out, marker = tmp_path / "run", tmp_path / "reached"
    env = {**os.environ, "GENPHASE_TEST_PAUSE_AT": "baseline:0", "GENPHASE_TEST_PAUSE_FILE": str(marker)}
    env.pop("GENPHASE_TEST_KILL_AT", None)
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-c", "from genphase.cli import main; main()", "run", "digits", *miniature.MINI,
                             "--out", str(out), "--no-report", "--executor", "ray"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while not marker.exists():
            assert proc.poll() is None, f"run ended (rc {proc.returncode}) before reaching baseline:0"
            assert time.monotonic() < deadline, "run did not reach baseline:0 within 240 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started
        proc.wait(timeout=60)
    man = json.loads((out / "manifest.json").read_text())
    assert "checkpoints/baseline_0/final.pt" in man["files"] and "analysis" not in man["stages"]
    kept = (out / "checkpoints/baseline_0/final.pt").stat().st_mtime_ns
    run(with_execution(miniature.mini_config(), "ray"), out, log=lambda m: None, report=False, executor=ray_ex)
    assert (out / "checkpoints/baseline_0/final.pt").stat().st_mtime_ns == kept  # not trained again
    _same_run(mini_run, out)


def test_the_ray_executor_without_ray_installed_names_the_extra(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from genphase.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    out = tmp_path / "r"
    with pytest.raises(MissingDependencyError, match=r"pip install 'genphase\[ray\]'"):
        run(with_execution(miniature.mini_config(), "ray"), out, log=lambda m: None)
    assert not out.exists()  # refused before anything was written
    r = CliRunner().invoke(app, ["run", "digits", *miniature.MINI, "--out", str(out), "--executor", "ray"])
    assert r.exit_code == 2 and "pip install 'genphase[ray]'" in " ".join(r.output.split())


def test_an_unreachable_address_fails_within_seconds(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=r"--ray-address 'localhost:1': no Ray cluster can be reached there"):
        run(with_execution(miniature.mini_config(), "ray", address="localhost:1"), tmp_path / "r", log=lambda m: None)
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("args, message", [
    (dict(executor="dask"), "--executor 'dask' is not known; choose local or ray"),
    (dict(address="localhost:6379"), "--ray-address 'localhost:6379' applies to the Ray executor only; add --executor ray"),
    (dict(shared_path="/tmp"), "--shared-path '/tmp' applies to the Ray executor only"),
])
def test_bad_executor_options_are_refused(args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        with_execution(load_config("digits"), **args)


@pytest.mark.parametrize("override, key", [
    ("executor=spark", "executor"), ("execution.max_retries=-1", "execution.max_retries"),
    ("execution.cpus_per_task=0", "execution.cpus_per_task"), ("execution.address=h:1", "execution.address"),
])
def test_bad_execution_keys_are_refused(override, key):
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        load_config("digits", [override])


def test_the_executor_is_not_part_of_the_config_hash():
    from genphase.pipeline.config import config_hash

    a = load_config("digits")
    b = load_config("digits", ["executor=ray", "execution.max_retries=5", "execution.cpus_per_task=2"])
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(load_config("digits", ["training.epochs=3"]))
