"""Resolved boundaries (issue 26): checkpoints.refine saves every epoch, extracts the schedule, then the saved epochs
around each reported boundary until its neighbours are consecutive saved epochs, and deletes the unread weights."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genphase.errors import ConfigError
from genphase.pipeline.config import load_config
from genphase.pipeline.integrity import verify_run
from genphase.pipeline.run import run
from genphase.rundir import checkpoint_rel, interactions_rel

# a tabular run whose H-bar peaks early (phase 1 ends at epoch 2-3 on the schedule 0, 1, 2, 4, 9, 19, 40)
REFINE = ["training.epochs=40", "baselines.epochs=30", "explain.samples=32", "variables.n=8", "checkpoints.count=7",
          "checkpoints.schedule=log", "checkpoints.refine=true", "analysis.n_resamples=200", "device=cpu"]


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    root = tmp_path_factory.mktemp("refine") / "run"
    lines: list[str] = []
    run(load_config("breast-cancer-mlp", REFINE), root, log=lines.append, report=False)
    return root, lines


def test_each_reported_boundary_is_resolved_to_the_saved_epochs(refined):
    root, lines = refined
    phases = json.loads((root / "metrics/phases.json").read_text())
    info = phases["refinement"]
    assert info["boundaries"], "the planted run reports at least one boundary"
    assert info["resolved"] and info["next"] == []
    for name, b in info["boundaries"].items():
        assert b["epoch"] == phases["boundaries"][name]
        assert (b["before"], b["after"]) == (b["epoch"] - 1, b["epoch"] + 1)  # every epoch is saved
    assert any(line.startswith("refine: extracting the saved epochs") for line in lines)
    man = json.loads((root / "manifest.json").read_text())
    schedule = load_config("breast-cancer-mlp", REFINE).checkpoint_epochs()
    assert man["refined"] and not set(man["refined"]) & set(schedule)
    extracted = sorted({*schedule, *man["refined"]})
    assert info["extracted"] == extracted
    assert sorted(pd.read_parquet(root / "metrics/h_bar.parquet")["checkpoint"].unique()) == extracted
    for e in extracted:
        assert (root / interactions_rel("model", e)).is_file() and (root / checkpoint_rel(e)).is_file()
    # the unread weights are gone, and listed
    pruned = [checkpoint_rel(e) for e in range(41) if e not in extracted]
    assert man["pruned"] == sorted(pruned)
    assert not any((root / rel).exists() for rel in pruned)
    assert not [f for f in verify_run(root) if f.status != "ok"]
    # every phase lists its extracted checkpoints
    for p in phases["phases"]:
        assert p["checkpoints"] == [e for e in extracted if p["start_epoch"] <= e <= p["end_epoch"]]


def test_the_same_command_again_adds_nothing_and_keeps_the_tables(refined, tmp_path):
    import shutil

    root, _ = refined
    copy = shutil.copytree(root, tmp_path / "again")
    before = {t: pd.read_parquet(copy / f"metrics/{t}.parquet") for t in ("h_bar", "h_bar_summary", "h_bar_null")}
    lines: list[str] = []
    run(load_config("breast-cancer-mlp", REFINE), copy, log=lines.append, report=False)
    assert not [line for line in lines if line.startswith(("stage 1/5", "stage 2/5", "refine: extracting"))]
    for t, frame in before.items():
        pd.testing.assert_frame_equal(frame, pd.read_parquet(copy / f"metrics/{t}.parquet"), check_exact=True)


def test_refinement_asked_of_a_run_saved_without_it_is_refused_naming_the_option(tmp_path):
    """Bad input: the run was trained saving only its schedule's epochs; refine=true on it fails before training."""
    from genphase.errors import RunDirectoryError

    tiny = ["training.epochs=4", "baselines.epochs=2", "explain.samples=8", "variables.n=4", "analysis.n_resamples=0",
            "device=cpu"]
    root = run(load_config("breast-cancer-mlp", [*tiny, "checkpoints.refine=false"]), tmp_path / "run",
               log=lambda m: None, report=False)
    stamp = (root / "checkpoints/training_log.json").stat().st_mtime_ns
    with pytest.raises(RunDirectoryError, match="checkpoints.refine=true needs the model saved at every epoch"):
        run(load_config("breast-cancer-mlp", [*tiny, "checkpoints.refine=true"]), root, log=lambda m: None, report=False)
    assert (root / "checkpoints/training_log.json").stat().st_mtime_ns == stamp  # nothing was trained again
    with pytest.raises(ConfigError, match="checkpoints.refine"):
        load_config("breast-cancer-mlp", ["checkpoints.refine=maybe"])
