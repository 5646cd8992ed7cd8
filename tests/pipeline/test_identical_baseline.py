"""A model compared with a copy of itself as its baseline generalizes completely: H-bar is 1.0 at
every checkpoint. The model under study and the baselines go through the same extraction path
(no warm start from the previous checkpoint), so the same network gives the same interactions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genphase.io import load_interactions
from genphase.pipeline.config import load_config
from genphase.pipeline.run import run

# learning rate ~0 and one seed for both: every checkpoint and the baseline are the same network
# (up to 1e-12 relative weight changes); n = 5 variables, 8 + 8 explained samples, 3 checkpoints
COPY = ["training.epochs=4", "baselines.epochs=1", "checkpoints.schedule=every", "checkpoints.every=2",
        "explain.samples=8", "variables.n=5", "data.train_size=120", "baselines.k=1",
        "training.lr=1.0e-12", "baselines.lr=1.0e-12", "training.seed=7", "baselines.seed=7"]


@pytest.mark.parametrize("ties", ["cold-start", "least-norm"])
def test_model_against_a_copy_of_itself_has_h_bar_one(tmp_path, ties):
    out = run(load_config("digits", [*COPY, f"interactions.ties={ties}"]), tmp_path / "r", log=lambda m: None, report=False)
    meta = load_interactions(out / "interactions" / "baseline_0.npz").metadata
    assert meta["tie_rule"].startswith("cold-start:") == (ties == "cold-start"), meta
    h = pd.read_parquet(out / "metrics" / "h_bar.parquet")
    assert h["checkpoint"].nunique() >= 3 and h["sample"].nunique() == 16, h
    np.testing.assert_allclose(h["h_bar"].to_numpy(dtype=float), 1.0, atol=1e-9)
