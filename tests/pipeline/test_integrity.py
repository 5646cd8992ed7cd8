"""Integrity on resume: finished files are recorded (what, config hash, SHA-256) and checked before use;
`genphase run --verify` reports what is missing, corrupt or foreign; orphan temp files are removed."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch
from minirun import copy_run, drop, rewrite_record, tiny_config, tiny_run_dir
from typer.testing import CliRunner

from genphase.cli import app
from genphase.errors import CorruptFileError
from genphase.pipeline.integrity import verify_run
from genphase.pipeline.run import run


@pytest.fixture
def tiny(tmp_path_factory, tmp_path):
    return copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")


def _resume(run_dir, log=lambda m: None):
    return run(tiny_config(), run_dir, log=log, report=False)


def _status(findings):
    return {f.path: f.status for f in findings}


def test_every_finished_file_is_recorded_and_verifies(tiny):
    man = json.loads((tiny / "manifest.json").read_text())
    rec = man["files"]["interactions/model/epoch_0002.npz"]
    assert rec["kind"] == "interactions" and rec["model"] == "model" and rec["epoch"] == 2
    assert rec["config_hash"] == man["config_hash"] and len(rec["sha256"]) == 64
    assert man["files"]["checkpoints/model/epoch_0001.pt"]["epoch"] == 1
    assert "metrics/h_bar.parquet" in man["files"] and "checkpoints/baseline_0/final.pt" in man["files"]
    findings = verify_run(tiny)
    assert {f.status for f in findings} == {"ok"}, [f for f in findings if f.status != "ok"]
    r = CliRunner().invoke(app, ["run", "--verify", str(tiny)])
    assert r.exit_code == 0 and "ok" in r.output


def test_a_copied_epoch_file_is_detected(tiny):
    ints = tiny / "interactions" / "model"
    shutil.copyfile(ints / "epoch_0001.npz", ints / "epoch_0002.npz")
    found = {f.path: f for f in verify_run(tiny)}
    assert found["interactions/model/epoch_0002.npz"].status == "foreign"
    assert "holds model epoch 1" in found["interactions/model/epoch_0002.npz"].detail
    r = CliRunner().invoke(app, ["run", "--verify", str(tiny)])
    assert r.exit_code == 1 and "epoch_0002.npz" in r.output
    lines = []
    _resume(tiny, log=lines.append)  # the same command recomputes it (tests/pipeline/test_recovery.py)
    assert any("epoch_0002.npz" in line and "recomputing extract/model/epoch_0002" in line for line in lines), lines
    assert {f.status for f in verify_run(tiny)} == {"ok"}
    shutil.copyfile(ints / "epoch_0001.npz", ints / "epoch_0002.npz")
    rewrite_record(tiny, "interactions/model/epoch_0002.npz")  # manifest edited to match: the file's own metadata tells
    with pytest.raises(CorruptFileError, match="epoch_0002.npz in .* holds model epoch 1"):
        _resume(tiny)


def test_orphans_removed_and_unrecorded_leftovers_recomputed(tiny):
    before = pd.read_parquet(tiny / "metrics" / "h_bar.parquet")
    orphans = [tiny / "interactions" / "model" / ".epoch_0001.npz.k2j4.tmp", tiny / ".manifest.json.a8x.tmp"]
    for p in orphans:
        p.write_bytes(b"half a file")
    (tiny / "checkpoints" / ".tokenizer.q1").mkdir()
    drop_only_record = "interactions/model/epoch_0002.npz"  # killed after the rename, before the manifest update
    man = json.loads((tiny / "manifest.json").read_text())
    man["files"].pop(drop_only_record)
    (tiny / "manifest.json").write_text(json.dumps(man))
    st = _status(verify_run(tiny))
    assert st[drop_only_record] == "corrupt"
    assert st["interactions/model/.epoch_0001.npz.k2j4.tmp"] == "orphan" and st["checkpoints/.tokenizer.q1"] == "orphan"
    logs = []
    _resume(tiny, log=logs.append)
    assert not any(p.exists() for p in orphans) and not (tiny / "checkpoints" / ".tokenizer.q1").exists()
    assert any("removed 3 temporary" in m for m in logs)
    assert any("epoch_0002.npz has no record" in m for m in logs)
    assert {f.status for f in verify_run(tiny)} == {"ok"}
    pd.testing.assert_frame_equal(before, pd.read_parquet(tiny / "metrics" / "h_bar.parquet"))


def test_verify_reports_missing_corrupt_and_foreign(tiny):
    (tiny / "checkpoints" / "model" / "epoch_0001.pt").unlink()
    shutil.copyfile(tiny / "interactions" / "model" / "epoch_0000.npz", tiny / "interactions" / "model" / "epoch_0099.npz")
    p = tiny / "metrics" / "removal_loss.parquet"
    p.write_bytes(p.read_bytes()[:40])
    st = _status(verify_run(tiny))
    assert st["checkpoints/model/epoch_0001.pt"] == "missing"
    assert st["interactions/model/epoch_0099.npz"] == "foreign"
    assert st["metrics/removal_loss.parquet"] == "corrupt"
    (tiny / "config.yaml").write_text((tiny / "config.yaml").read_text().replace("epochs: 2", "epochs: 3", 1))
    assert _status(verify_run(tiny))["config.yaml"] == "foreign"


def test_unfinished_stages_are_pending_not_errors(tiny):
    drop(tiny, "interactions/model/epoch_0002.npz", stage="extract")
    man = json.loads((tiny / "manifest.json").read_text())
    man["stages"].pop("analysis")
    (tiny / "manifest.json").write_text(json.dumps(man))
    st = _status(verify_run(tiny))
    assert st["interactions/model/epoch_0002.npz"] == "pending"
    assert CliRunner().invoke(app, ["run", "--verify", str(tiny)]).exit_code == 0


def test_training_state_of_another_run_is_refused(tiny):
    state = tiny / "checkpoints" / "model" / "state.pt"
    st = torch.load(state, weights_only=True)
    assert st["genphase"]["config_hash"] == json.loads((tiny / "manifest.json").read_text())["config_hash"]
    st["genphase"]["config_hash"] = "0123456789abcdef"
    torch.save(st, state)
    man = json.loads((tiny / "manifest.json").read_text())
    man["stages"].pop("train_model")
    (tiny / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(CorruptFileError, match="state.pt.*another run"):
        _resume(tiny)
    state.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="state.pt.*empty"):
        _resume(tiny)


def test_run_directory_made_before_integrity_records_is_adopted(tiny):
    man = json.loads((tiny / "manifest.json").read_text())
    man.pop("files")
    man.pop("integrity")
    (tiny / "manifest.json").write_text(json.dumps(man))
    assert {f.status for f in verify_run(tiny)} == {"ok"}
    _resume(tiny)
    man = json.loads((tiny / "manifest.json").read_text())
    assert "interactions/model/epoch_0002.npz" in man["files"] and "checkpoints/model/epoch_0001.pt" in man["files"]
