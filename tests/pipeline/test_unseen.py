"""Samples nobody trained on (issue 27): explain.unseen explains evaluation samples as split "unseen"; their H-bar is
reported, and no stop or boundary reads them."""

from __future__ import annotations

import json

import miniature
import numpy as np
import pandas as pd
import pytest

import genphase as gp
from genphase.analysis import BaselineRecord, analyse_run
from genphase.errors import ConfigError
from genphase.io import load_interactions
from genphase.pipeline.config import load_config
from genphase.pipeline.run import run
from genphase.rundir import RunPaths, interactions_rel, read_json


@pytest.fixture(scope="module")
def unseen_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("unseen") / "run"
    return run(load_config("digits", [*miniature.MINI, "explain.unseen=8"]), root, log=lambda m: None, report=False)


def test_unseen_samples_are_explained_and_reported(unseen_run):
    paths = RunPaths(unseen_run)
    with np.load(paths.samples) as z:
        split, index = z["split"], z["dataset_index"]
    assert (split == "unseen").sum() == 8 and list(split[-8:]) == ["unseen"] * 8
    summary = pd.read_parquet(paths.table("h_bar_summary"))
    assert set(summary[summary["split"] == "unseen"]["checkpoint"]) == set(miniature.EPOCHS)
    ceiling = pd.read_parquet(paths.table("h_bar_ceiling"))
    assert "unseen" in set(ceiling["split"])
    assert np.unique(index[split == "unseen"]).size == 8  # 8 distinct evaluation samples


def test_no_stop_or_boundary_moves_when_the_unseen_samples_are_replaced_by_noise(unseen_run):
    paths = RunPaths(unseen_run)
    cfg = load_config(str(paths.config))
    with np.load(paths.samples) as z:
        split, labels, index = z["split"], z["labels"], z["dataset_index"]
    unseen = split == "unseen"
    rng = np.random.default_rng(0)
    K = cfg.baselines.k
    bases = [load_interactions(unseen_run / interactions_rel(f"baseline_{k}")) for k in range(K)]
    records = [BaselineRecord(train_index=np.arange(10), epoch=4) for _ in range(K)]
    training = read_json(paths.training_log)

    def series(noise: bool):
        out = {}
        for e in miniature.EPOCHS:
            res = load_interactions(paths.interactions(e))
            if noise:  # the unseen samples' outputs (hence their losses) and interactions replaced by random numbers
                a, o = res.and_effects.copy(), res.or_effects.copy()
                a[unseen] = rng.normal(scale=5.0, size=a[unseen].shape)
                o[unseen] = rng.normal(scale=5.0, size=o[unseen].shape)
                res = gp.AndOrInteractions.from_effects(a, o, np.asarray(res.bias))
            out[e] = res
        return out

    kw = dict(split=split, labels=labels, training=training, settings=cfg.settings, records=records,
              dataset_index=index)
    before = analyse_run(series(False), bases, **kw).phases
    after = analyse_run(series(True), bases, **kw).phases
    for key in ("boundaries", "boundaries_ci", "three_phases", "three_phase_support"):
        assert before[key] == after[key], key
    assert before["early_stopping"] == after["early_stopping"]
    stored = json.loads(paths.phases.read_text())
    assert stored["early_stopping"]["epoch"] == before["early_stopping"]["epoch"]


def test_too_few_or_too_many_unseen_samples_are_refused():
    with pytest.raises(ConfigError, match="explain.unseen"):
        load_config("digits", ["explain.unseen=3"])
    with pytest.raises(ConfigError, match="explain.unseen"):
        from genphase.pipeline.inputs import setup_for
        setup_for(load_config("breast-cancer-mlp", ["explain.unseen=500", "explain.samples=8", "variables.n=4"]), None)
