"""The chance levels of a finished run (issue 26): the trained null recomputed from the null baselines' files with
plain loops, the null baselines' wiring (permuted labels, same seeds), and baselines.null=false."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from genphase.io import load_interactions
from genphase.rundir import RunPaths, interactions_rel, null_baseline_name

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
import miniature  # noqa: E402
from brute import salient_terms, shared  # noqa: E402


def test_the_permuted_labels_null_recomputed_from_the_null_baselines_files(mini_run):
    paths = RunPaths(mini_run)
    tab = pd.read_parquet(paths.table("h_bar_null"))
    assert set(tab["null"]) == {"order_permutation", "permuted_labels"}
    assert list(tab.columns) == ["checkpoint", "split", "null", "mean", "ci_low", "ci_high"]
    nulls = [load_interactions(mini_run / interactions_rel(null_baseline_name(k))) for k in range(miniature.K)]
    with np.load(paths.samples) as z:
        split = z["split"]
    for epoch in miniature.EPOCHS:
        model = load_interactions(paths.interactions(epoch))
        per_sample = []
        for i in range(split.size):  # Eq. 10-11 with plain loops: any-of-K, same sign, |I|-weighted
            terms = salient_terms(model, i, miniature.TAU)
            others = [salient_terms(b, i, miniature.TAU) for b in nulls]
            total = sum(abs(v) for v in terms.values())
            gen = sum(abs(v) for key, v in terms.items() if any(shared(terms, o, key) for o in others))
            per_sample.append(gen / total if total > 0 else np.nan)
        per_sample = np.array(per_sample)
        for sp in ("train", "test"):
            row = tab[(tab["checkpoint"] == epoch) & (tab["split"] == sp) & (tab["null"] == "permuted_labels")]
            assert len(row) == 1
            assert abs(float(row["mean"].iloc[0]) - float(np.nanmean(per_sample[split == sp]))) < 1e-12
            assert row["ci_low"].iloc[0] <= row["mean"].iloc[0] <= row["ci_high"].iloc[0]
    summary = pd.read_parquet(paths.table("h_bar_summary"))
    for col in ("above_null", "above_null_ci_low", "above_null_ci_high", "above_null_labels"):
        assert summary[col].notna().all()
    phases = json.loads(paths.phases.read_text())
    assert phases["nulls"]["permuted_labels"] == {"k": miniature.K}
    assert phases["nulls"]["order_permutation"]["draws"] == 20
    assert isinstance(phases["above_null"]["agrees"], bool)
    assert all("checkpoints" in p for p in phases["phases"])


def test_the_null_baselines_learn_permuted_labels_with_the_baselines_seeds(mini_run):
    import torch

    paths = RunPaths(mini_run)
    for k in range(miniature.K):
        real = torch.load(paths.baseline(k), weights_only=True)
        null = torch.load(mini_run / f"checkpoints/{null_baseline_name(k)}/final.pt", weights_only=True)
        assert real.keys() == null.keys()
        assert any(not torch.equal(real[p], null[p]) for p in real)  # other labels, other weights
        with np.load(paths.baseline_data(k)) as a, np.load(mini_run / f"checkpoints/{null_baseline_name(k)}/data.npz") as b:
            np.testing.assert_array_equal(a["train_index"], b["train_index"])  # the same data


def test_baselines_null_false_skips_the_trained_null_and_says_so(tmp_path):
    root = miniature.build(tmp_path / "run", "breast-cancer-mlp", [*miniature.TABULAR, "baselines.null=false"],
                           report=False)
    tab = pd.read_parquet(root / "metrics/h_bar_null.parquet")
    assert set(tab["null"]) == {"order_permutation"}
    phases = json.loads((root / "metrics/phases.json").read_text())
    assert "baselines.null is false" in phases["nulls"]["permuted_labels"]["skipped"]
    assert not (root / "checkpoints" / null_baseline_name(0)).exists()
    assert pd.read_parquet(root / "metrics/h_bar_summary.parquet")["above_null_labels"].isna().all()
