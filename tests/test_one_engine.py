"""One engine: a finished `genphase run` replayed through the Tracker gives its tables and phases.json exactly.

The Tracker gets what the run used, read back from the run directory: the checkpoints, the baselines'
weights and records (data.npz, training logs), the explained samples, the run's masker and settings, and
the model's training log. It extracts and analyses everything itself; every metrics/*.parquet and
phases.json must be identical (they hold no timings).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from genphase import Tracker
from genphase.analysis import BaselineRecord
from genphase.pipeline.config import load_config
from genphase.pipeline.inputs import setup_for
from genphase.pipeline.models import build_model_for
from genphase.rundir import RunPaths, baseline_rel, read_json


def _replay(run_root, out):
    # the run's stages computed with execution.threads torch threads; a Tracker computes with its process's
    # (the user's): give it the same count, since a reduction's rounding depends on it (docs/run-directory.md)
    paths = RunPaths(run_root)
    torch.set_num_threads(load_config(str(paths.config)).execution.threads)
    cfg = load_config(str(paths.config))
    su = setup_for(cfg, paths.root)
    with np.load(paths.samples) as z:
        x, y, split, index = (torch.as_tensor(z["inputs"], dtype=torch.float32), z["labels"], z["split"],
                              z["dataset_index"])
    tr, te = split == "train", split == "test"

    def model(seed, path):
        m = build_model_for(cfg, su.ds, seed=seed)
        m.load_state_dict(torch.load(path, weights_only=True))
        return m.eval()

    K = cfg.baselines.k
    baselines = [model(cfg.baselines.seed + k, paths.baseline(k)) for k in range(K)]
    records = []
    for k in range(K):
        with np.load(paths.baseline_data(k)) as z:
            records.append(BaselineRecord(str(z["split"]), z["train_index"], z["holdout_index"], int(z["epoch"]),
                                          read_json(paths.baseline_log(k))))
    nulls = [model(cfg.baselines.seed + k, paths / baseline_rel(k, "final.pt", null=True)) for k in range(K)] \
        if cfg.baselines.null else None
    flipped = pd.read_parquet(paths.table("samples"))["label_flipped"]
    flipped = flipped[tr].astype(bool).to_numpy() if flipped[tr].notna().all() else None
    tracker = Tracker((x[tr], y[tr]), (x[te], y[te]), run_dir=out, masker=su.masker, settings=cfg.settings,
                      baselines=baselines, baseline_records=records, null_baselines=nulls,
                      dataset_index=(index[tr], index[te]), label_flipped=flipped, strict=True)
    log = read_json(paths.training_log)
    prev = -1
    for e in cfg.checkpoint_epochs():
        rows = [r for r in log if prev < r["epoch"] <= e]
        tracker.measure(model(cfg.training.seed, paths.checkpoint(e)), step=e, training=rows)
        prev = e
    return tracker


def _assert_same_tables(run_root, tracker_root):
    names = sorted(p.name for p in (run_root / "metrics").glob("*.parquet"))
    assert names == sorted(p.name for p in (tracker_root / "metrics").glob("*.parquet"))
    assert {"h_bar_summary.parquet", "h_bar_ceiling.parquet", "evidence.parquet", "phases.parquet"} <= set(names)
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(run_root / "metrics" / name),
                                      pd.read_parquet(tracker_root / "metrics" / name), check_exact=True, obj=name)
    assert json.loads((run_root / "metrics/phases.json").read_text()) == \
        json.loads((tracker_root / "metrics/phases.json").read_text())


def test_a_run_replayed_through_the_tracker_gives_identical_tables(mini_run, tmp_path):
    tracker = _replay(mini_run, tmp_path / "replay")
    _assert_same_tables(mini_run, tmp_path / "replay")
    # the tracker's verdict is the run's
    phases = json.loads((mini_run / "metrics/phases.json").read_text())
    assert tracker.verdict.stop == (phases["boundaries"]["phase3_start"] is not None)


@pytest.mark.slow
def test_a_crossfit_run_replayed_through_the_tracker_gives_identical_tables(tmp_path):
    """Cross-fitted, early-stopped baselines: the eligibility mask comes from the records and dataset indices."""
    from miniature import TABULAR, build

    root = build(tmp_path / "run", "breast-cancer-mlp",
                 [*TABULAR, "baselines.trained_on=crossfit", "baselines.early_stopping=true"], report=False)
    _replay(root, tmp_path / "replay")
    _assert_same_tables(root, tmp_path / "replay")


def test_report_of_a_tracker_directory_has_every_section_of_a_run(mini_run, tmp_path):
    """`genphase report` on a tracker's directory: the headings of a run's report, no figure skipped."""
    import re
    import shutil

    from genphase.report import build_report

    _replay(mini_run, tmp_path / "replay")
    run_copy = shutil.copytree(mini_run, tmp_path / "run")
    pages = [build_report(run_copy).read_text(), build_report(tmp_path / "replay").read_text()]
    heads = [re.findall(r"<h[23][^>]*>([^<]*)", page) for page in pages]
    assert heads[0] == heads[1] and len(heads[0]) >= 10
    assert "Figure skipped" not in pages[0] and "Figure skipped" not in pages[1]
