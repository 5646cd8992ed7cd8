"""`genphase run` killed with SIGKILL at a known point of each stage, then resumed.

The kill point is not guessed with a timer: the test-only hook of genphase.pipeline.run
(``GENPHASE_TEST_PAUSE_AT=<point>`` and ``GENPHASE_TEST_PAUSE_FILE=<path>``) makes the run write
the marker file and sleep at that point; the test waits for the marker, kills the process, checks
that the stage had not finished, resumes in-process and compares every timing-free table with the
uninterrupted miniature run (tests/miniature.py).
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
import pandas as pd
import pytest
import torch

from genphase.errors import RunDirectoryError
from genphase.pipeline.run import run

pytestmark = pytest.mark.slow


def _killed_at(point: str, out: Path, tmp_path: Path) -> None:
    """Start `genphase run` on the miniature config, SIGKILL it once it reports reaching ``point``."""
    marker = tmp_path / f"reached-{point.replace(':', '-')}"
    env = {**os.environ, "GENPHASE_TEST_PAUSE_AT": point, "GENPHASE_TEST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from genphase.cli import main; main()", "run", "digits", *miniature.MINI,
         "--out", str(out), "--no-report"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 240  # a safety net only; the kill is triggered by the marker
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) before reaching {point}:\n{proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"run did not reach {point} within 240 s")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    assert marker.read_text() == point


def _stages(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["stages"]


def _resume(out: Path) -> None:
    run(miniature.mini_config(), out, log=lambda m: None, report=False)


def _same_tables(ref: Path, out: Path) -> None:
    for name in miniature.TIMING_FREE:
        a = pd.read_parquet(ref / "metrics" / f"{name}.parquet")
        b = pd.read_parquet(out / "metrics" / f"{name}.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12, obj=name)
    assert json.loads((ref / "metrics" / "phases.json").read_text()) == json.loads((out / "metrics" / "phases.json").read_text())
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert set(_stages(out)) == {"train_model", "extract", "analysis"}


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-7, msg=k)


def _mtimes(out: Path, rels: list[str]) -> dict[str, int]:
    return {r: (out / r).stat().st_mtime_ns for r in rels}


def test_kill_inside_training_resumes_from_the_saved_optimizer_and_rng_state(mini_run, tmp_path):
    out = tmp_path / "run"
    _killed_at("train:3", out, tmp_path)
    # killed after epoch 3 of 6: its state is saved, epoch 4's checkpoint is not, the stage is unfinished
    state = torch.load(out / "checkpoints" / "model" / "state.pt", weights_only=False)
    assert state["epoch"] == 3
    assert (out / "checkpoints" / "model" / "epoch_0002.pt").exists()
    assert not (out / "checkpoints" / "model" / "epoch_0004.pt").exists()
    assert not (out / "checkpoints" / "training_log.json").exists()
    assert "train_model" not in _stages(out)
    early = _mtimes(out, ["checkpoints/model/epoch_0000.pt", "checkpoints/model/epoch_0002.pt"])
    _resume(out)
    # training continued from epoch 3 (the early checkpoints were not written again) and, with the
    # optimizer's momentum and the shuffling RNG restored, ends with the uninterrupted run's weights
    assert _mtimes(out, list(early)) == early
    for e in (4, 6):
        _same_weights(mini_run / "checkpoints" / "model" / f"epoch_{e:04d}.pt", out / "checkpoints" / "model" / f"epoch_{e:04d}.pt")
    _same_tables(mini_run, out)
    # and a further run is a no-op that succeeds
    before = _mtimes(out, ["checkpoints/model/epoch_0006.pt", "interactions/model/epoch_0006.npz"])
    _resume(out)
    assert _mtimes(out, list(before)) == before


def test_kill_after_the_first_baseline_keeps_it_and_trains_the_rest(mini_run, tmp_path):
    out = tmp_path / "run"
    _killed_at("baseline:0", out, tmp_path)
    assert _stages(out) == {"train_model": "done"}
    assert (out / "checkpoints" / "baseline_0" / "final.pt").exists()
    assert not (out / "checkpoints" / "baseline_1" / "final.pt").exists()
    assert not (out / "interactions").exists()
    first = _mtimes(out, ["checkpoints/baseline_0/final.pt", "checkpoints/model/epoch_0006.pt"])
    _resume(out)
    assert _mtimes(out, list(first)) == first  # neither the model nor baseline 0 was trained again
    for k in range(miniature.K):
        _same_weights(mini_run / "checkpoints" / f"baseline_{k}" / "final.pt", out / "checkpoints" / f"baseline_{k}" / "final.pt")
    _same_tables(mini_run, out)


def test_kill_inside_extraction(mini_run, tmp_path):
    out = tmp_path / "run"
    _killed_at("extract:2", out, tmp_path)
    inter = out / "interactions" / "model"
    assert sorted(p.name for p in inter.iterdir()) == ["epoch_0000.npz", "epoch_0002.npz"]
    assert "extract" not in _stages(out)
    assert not (out / "metrics").exists()
    done = _mtimes(out, ["interactions/model/epoch_0000.npz", "interactions/model/epoch_0002.npz",
                         "interactions/baseline_0.npz"])
    _resume(out)
    assert _mtimes(out, list(done)) == done
    _same_tables(mini_run, out)


def test_kill_inside_analysis(mini_run, tmp_path):
    out = tmp_path / "run"
    _killed_at("analysis", out, tmp_path)
    assert len(list((out / "metrics").glob("*.parquet"))) == 1
    assert not (out / "metrics" / "phases.json").exists()
    assert "analysis" not in _stages(out) and _stages(out)["extract"] == "done"
    _resume(out)
    _same_tables(mini_run, out)


def test_kill_between_the_manifest_and_config_writes(mini_run, tmp_path):
    out = tmp_path / "run"
    _killed_at("prepare", out, tmp_path)
    assert (out / "manifest.json").exists() and not (out / "config.yaml").exists()
    _resume(out)
    assert (out / "config.yaml").read_text() == (mini_run / "config.yaml").read_text()
    _same_tables(mini_run, out)


def test_run_directory_of_another_genphase_version_is_refused(mini_run, tmp_path):
    import genphase

    out = miniature.copy_run(mini_run, tmp_path / "old")
    man = json.loads((out / "manifest.json").read_text())
    man["genphase_version"] = "0.0.1"
    (out / "manifest.json").write_text(json.dumps(man))
    before = (out / "metrics" / "h_bar.parquet").read_bytes()
    with pytest.raises(RunDirectoryError,
                       match=rf"was made by genphase 0\.0\.1, this is {genphase.__version__}; choose another --out or delete it"):
        _resume(out)
    assert (out / "metrics" / "h_bar.parquet").read_bytes() == before  # nothing was touched
