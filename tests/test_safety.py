"""No file genphase reads can run code: a malicious pickle planted in every place a file is read.

Each planted file's unpickling would write a marker file; every test checks that the marker is
never written and that the error is a genphase error naming the file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from minirun import copy_run, drop, evil_payload, rewrite_record, tiny_config, tiny_run_dir
from typer.testing import CliRunner

from genphase.errors import ConfigError, CorruptFileError, UnsafePickleError
from genphase.pipeline.run import run


@pytest.fixture
def tiny(tmp_path_factory, tmp_path):
    return copy_run(tiny_run_dir(tmp_path_factory), tmp_path / "run")


def _plant_torch(path, marker):
    torch.save({"weight": evil_payload(marker)}, path)


def _resume(run_dir, log=lambda m: None):
    return run(tiny_config(), run_dir, log=log, report=False)


def test_extract_refuses_a_pickled_payload(tmp_path):
    from genphase.cli import app

    marker, evil = tmp_path / "PWNED", tmp_path / "evil.pt"
    _plant_torch(evil, marker)
    r = CliRunner().invoke(app, ["extract", str(evil), "-c", "digits", "variables.n=3", "--samples", "2",
                                 "--out", str(tmp_path / "o.npz")])
    assert r.exit_code == 2
    assert not marker.exists()
    assert "evil.pt" in r.output and "--trust-pickle" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_extract_trust_pickle_loads_a_whole_module(tmp_path):
    from genphase.cli import app
    from genphase.pipeline.run import build_model_for, load_data

    cfg = tiny_config()
    torch.save(build_model_for(cfg, load_data(cfg), seed=1), tmp_path / "whole.pt")  # a whole pickled module
    args = ["extract", str(tmp_path / "whole.pt"), "-c", "digits", "variables.n=3", "--samples", "2",
            "--out", str(tmp_path / "o.npz")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "--trust-pickle" in refused.output
    r = CliRunner().invoke(app, args + ["--trust-pickle"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o.npz").exists()


def test_load_checkpoint_api(tmp_path):
    from genphase.io import load_checkpoint

    marker = tmp_path / "PWNED"
    _plant_torch(tmp_path / "e.pt", marker)
    with pytest.raises(UnsafePickleError, match="e.pt"):
        load_checkpoint(tmp_path / "e.pt")
    assert not marker.exists()
    torch.save({"w": torch.ones(2)}, tmp_path / "ok.pt")
    assert torch.equal(load_checkpoint(tmp_path / "ok.pt")["w"], torch.ones(2))


def test_resume_refuses_a_planted_training_state(tiny, tmp_path):
    marker = tmp_path / "PWNED"
    man = json.loads((tiny / "manifest.json").read_text())
    man["stages"].pop("train_model")  # training not finished: the resumed run reads state.pt
    (tiny / "manifest.json").write_text(json.dumps(man))
    _plant_torch(tiny / "checkpoints" / "model" / "state.pt", marker)
    with pytest.raises(UnsafePickleError, match="state.pt"):
        _resume(tiny)
    assert not marker.exists()


@pytest.mark.parametrize("ckpt, ints, stage", [
    ("checkpoints/model/epoch_0002.pt", "interactions/model/epoch_0002.npz", "extract"),
    ("checkpoints/baseline_0/final.pt", "interactions/baseline_0.npz", "extract"),
])
def test_resume_refuses_planted_checkpoints(tiny, tmp_path, ckpt, ints, stage):
    marker = tmp_path / "PWNED"
    drop(tiny, ints, stage=stage)  # its interactions must be extracted again: the checkpoint is read
    _plant_torch(tiny / ckpt, marker)
    lines = []
    _resume(tiny, log=lines.append)  # the manifest's hash catches it first: never opened, recomputed
    assert any(ckpt in line and "not the file this run wrote" in line and "recomputing" in line for line in lines)
    assert not marker.exists()
    drop(tiny, ints, stage=stage)
    _plant_torch(tiny / ckpt, marker)
    rewrite_record(tiny, ckpt)  # an attacker who also rewrites manifest.json: weights_only still refuses
    with pytest.raises(UnsafePickleError, match=ckpt.split("/")[-1]):
        _resume(tiny)
    assert not marker.exists()


def test_npz_with_pickled_objects_never_runs(tiny, tmp_path):
    import genphase as gp
    from genphase.report import build_report

    marker = tmp_path / "PWNED"
    bad = tmp_path / "bad.npz"
    np.savez(bad, __meta__=np.array([evil_payload(marker)], dtype=object))
    with pytest.raises(CorruptFileError, match="bad.npz"):
        gp.load_interactions(bad)
    # the same file as a run's interactions and samples: resume and report refuse it, nothing runs
    for rel in ("interactions/model/epoch_0002.npz", "explained/samples.npz"):
        (tiny / rel).write_bytes(bad.read_bytes())
        rewrite_record(tiny, rel)
    with pytest.raises(CorruptFileError, match="epoch_0002.npz"):
        _resume(tiny)
    page = build_report(tiny).read_text()
    # the report reads the samples (never the interactions), without unpickling: listed as an unusable input
    assert "explained/samples.npz holds no inputs, labels or split (its arrays: __meta__)" in page
    assert not marker.exists()


def test_yaml_config_cannot_build_objects(tmp_path):
    from genphase.pipeline.config import load_config

    marker = tmp_path / "PWNED"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"preset: digits\ndata: !!python/object/apply:builtins.exec [\"open({str(marker)!r}, 'w')\"]\n")
    with pytest.raises(ConfigError, match="c.yaml"):
        load_config(str(cfg))
    assert not marker.exists()
