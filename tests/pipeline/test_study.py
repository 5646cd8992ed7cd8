"""`genphase study`: one resumable run directory per seed, study.parquet recomputed here from those run
directories, study.html, and the bad inputs (no seeds, duplicate seeds, another study's directory)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from genphase.cli import app
from genphase.errors import ConfigError, RunDirectoryError
from genphase.pipeline.study import seed_config, study

pytestmark = pytest.mark.slow

TINY = ["training.epochs=5", "baselines.k=1", "baselines.epochs=2", "checkpoints.schedule=every",
        "checkpoints.every=1", "explain.samples=8", "variables.n=3", "data.train_size=60", "device=cpu"]


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _text(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study") / "s"
    r = _invoke("study", "digits", *TINY, "--seeds", "0", "1", "--out", str(root), "--patience", "2")
    assert r.exit_code == 0, r.output
    return root


def _patience_by_hand(epochs, loss, patience):
    best, keep, wait = np.inf, None, 0
    for e, x in zip(epochs, loss):
        if x < best:
            best, keep, wait = x, e, 0
        else:
            wait += 1
            if wait == patience:
                break
    return keep


def test_each_seed_is_a_run_directory_with_its_seeds_shifted(tiny_study):
    info = json.loads((tiny_study / "study.json").read_text())
    assert info["preset"] == "digits" and info["seeds"] == [0, 1] and info["quick"] is False
    for s in (0, 1):
        cfg = yaml.safe_load((tiny_study / f"seed_{s}" / "config.yaml").read_text())
        assert (cfg["data"]["seed"], cfg["training"]["seed"], cfg["explain"]["seed"], cfg["variables"]["seed"],
                cfg["analysis"]["seed"]) == (s, s, s, s, s)
        assert cfg["baselines"]["seed"] == 1000 + s  # K = 1: seed * K
        man = json.loads((tiny_study / f"seed_{s}" / "manifest.json").read_text())
        assert man["stages"]["analysis"] == "done" and (tiny_study / f"seed_{s}" / "report.html").is_file()
    a = pd.read_parquet(tiny_study / "seed_0" / "metrics" / "samples.parquet")
    b = pd.read_parquet(tiny_study / "seed_1" / "metrics" / "samples.parquet")
    assert not np.array_equal(a["dataset_index"], b["dataset_index"])  # another draw of explained samples


def test_study_parquet_equals_its_recomputation_from_the_run_directories(tiny_study):
    rows = pd.read_parquet(tiny_study / "study.parquet")
    assert rows["seed"].tolist() == [0, 1] and (rows["preset"] == "digits").all()
    for required in ("preset", "seed", "clear", "three_phase_support", "phase1_end", "phase3_start", "stop_epoch",
                     "best_epoch", "regret", "baseline_stop_epoch", "baseline_regret", "accuracy_regret",
                     "baseline_accuracy_regret"):
        assert required in rows.columns, required
    for _, row in rows.iterrows():
        run = tiny_study / f"seed_{row['seed']}"
        phases = json.loads((run / "metrics" / "phases.json").read_text())
        tr = pd.read_parquet(run / "metrics" / "training.parquet")
        tr = tr[tr["model"] == "model"]
        checkpoints = [0, 1, 2, 3, 4, 5]
        ev = tr[tr["split"] == "eval"].set_index("epoch").loc[checkpoints]
        ref = tr[tr["split"] == "test"].set_index("epoch").loc[checkpoints]
        stop = phases["early_stopping"]["epoch"]
        assert row["stop_epoch"] == stop and bool(row["clear"]) == phases["clear"]
        assert row["three_phase_support"] == pytest.approx(phases["three_phase_support"])
        assert row["best_epoch"] == ev["loss"].idxmin()
        assert row["regret"] == pytest.approx(ev["loss"][stop] - ev["loss"].min())
        assert row["accuracy_regret"] == pytest.approx(ev["accuracy"].max() - ev["accuracy"][stop])
        base = _patience_by_hand(checkpoints, ref["loss"].to_numpy(), 2)
        assert row["baseline_stop_epoch"] == base
        assert row["baseline_regret"] == pytest.approx(ev["loss"][base] - ev["loss"].min())
        assert row["baseline_accuracy_regret"] == pytest.approx(ev["accuracy"].max() - ev["accuracy"][base])
        assert [row["stop_ci_low"], row["stop_ci_high"]] == phases["early_stopping"]["ci"]
        assert row["patience"] == 2
        # Label Wave: centred moving mean of 3 (shrinking at the ends), first minimum not beaten for 5 epochs
        pc = tr[tr["split"] == "train"].dropna(subset=["prediction_changes"]).set_index("epoch")["prediction_changes"]
        e, v = pc.index.to_numpy(), pc.to_numpy(dtype=float)
        sm = np.array([v[max(0, i - 1):i + 2].mean() for i in range(v.size)])
        best, wait = 0, 0
        for i in range(1, v.size):
            if sm[i] < sm[best]:
                best, wait = i, 0
            else:
                wait += 1
                if wait >= 5:
                    break
        lw = int(e[best])
        assert row["labelwave_stop_epoch"] == lw
        evl = tr[tr["split"] == "eval"].set_index("epoch")["loss"]
        assert row["labelwave_regret"] == pytest.approx(evl[lw] - evl.loc[sorted(set(checkpoints) | {lw})].min())


def test_study_html_overlays_the_seeds(tiny_study):
    page = (tiny_study / "study.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "seed" in page
    for stem in ("study_h_bar", "study_losses"):
        assert (tiny_study / "figures" / f"{stem}.png").is_file() and (tiny_study / "figures" / f"{stem}.pdf").is_file()


def test_a_rerun_resumes_and_adds_seeds_without_mixing(tiny_study, tmp_path):
    import shutil

    root = tmp_path / "s"
    shutil.copytree(tiny_study, root)
    before = pd.read_parquet(root / "study.parquet")
    stamp = (root / "seed_0" / "checkpoints" / "model" / "epoch_0005.pt").stat().st_mtime_ns
    logs: list[str] = []
    study("digits", [1, 0], overrides=TINY, out=root, patience=2, log=logs.append, report=False)
    assert (root / "seed_0" / "checkpoints" / "model" / "epoch_0005.pt").stat().st_mtime_ns == stamp  # not retrained
    assert not any("stage 1/5 train" in m for m in logs)
    pd.testing.assert_frame_equal(pd.read_parquet(root / "study.parquet"), before)
    # another study (other preset, --quick, other overrides) is refused before anything runs
    for kwargs, what in ((dict(preset="breast-cancer-mlp"), "preset"), (dict(quick=True), "quick"),
                         (dict(overrides=TINY + ["training.lr=0.1"]), "overrides")):
        args = {"preset": "digits", "overrides": TINY, **kwargs}
        with pytest.raises(RunDirectoryError, match=f"holds another study.*{what}.*never mixed"):
            study(args.pop("preset"), [2], out=root, report=False, log=lambda m: None, **args)
    assert not (root / "seed_2").exists()
    # a run directory (not a study) is refused too
    with pytest.raises(RunDirectoryError, match="not a genphase study directory"):
        study("digits", [0], overrides=TINY, out=root / "seed_0", report=False, log=lambda m: None)


def test_bad_seeds_are_refused_by_the_cli(tmp_path):
    out = str(tmp_path / "s")
    r = _invoke("study", "digits", "--out", out)
    assert r.exit_code == 2 and "--seeds: no seeds given; name at least one, e.g. --seeds 0 1 2" in _text(r)
    r = _invoke("study", "digits", "--seeds", "0", "1", "1", "--out", out)
    assert r.exit_code == 2 and "--seeds: seed(s) [1] given twice" in _text(r)
    r = _invoke("study", "digits", "--seeds", "x", "--out", out)
    assert r.exit_code == 2 and "--seeds: 'x' is not a seed" in _text(r)
    r = _invoke("study", "digits", "0", "1", "--out", out)
    assert r.exit_code == 2 and "seeds go after --seeds" in _text(r)
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError, match="explain.samples"):
        study("digits", [0], overrides=["explain.samples=2"], out=tmp_path / "t", report=False)


def test_seed_zero_is_the_preset_itself():
    from genphase.pipeline.config import config_hash, load_config

    base = load_config("digits")
    assert config_hash(seed_config(base, 0)) == config_hash(base)
    s3 = seed_config(base, 3)
    assert (s3.data.seed, s3.training.seed, s3.baselines.seed, s3.explain.seed, s3.variables.seed, s3.analysis.seed) == \
        (3, 3, 1009, 3, 3, 3)


# ---- replication over training runs (issue 26)
def test_vary_model_changes_only_the_training_seed_and_writes_replication_json(tmp_path):
    """`genphase study breast-cancer-mlp --quick --seeds 0 1 2 --vary model`, shrunk: a subprocess, as a user runs it."""
    import subprocess
    import sys

    small = ["training.epochs=6", "baselines.k=2", "baselines.epochs=3", "explain.samples=8", "variables.n=4",
             "analysis.n_resamples=50", "checkpoints.refine=false", "device=cpu"]
    root = tmp_path / "s"
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).parent / "genphase"), "study", "breast-cancer-mlp", "--quick", *small,
                           "--seeds", "0", "1", "2", "--vary", "model", "--out", str(root), "--no-report"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rep = json.loads((root / "replication.json").read_text())
    assert rep["vary"] == "model" and rep["n_seeds"] == 3
    assert set(rep["boundaries"]) == {"phase1_end", "phase3_start", "stop"}
    for b in rep["boundaries"].values():
        assert {"median", "min", "max", "sd", "bootstrap_width"} <= set(b)
    assert len(rep["peak_h_bar"]) == 3 and rep["peak_h_bar_sd"] is not None and rep["final_h_bar_sd"] is not None
    finals = list(rep["final_h_bar"].values())
    assert abs(rep["final_h_bar_sd"] - float(np.std(finals, ddof=1))) < 1e-12
    cfgs = [yaml.safe_load((root / f"seed_{s}" / "config.yaml").read_text()) for s in (0, 1, 2)]
    assert [c["training"]["seed"] for c in cfgs] == [0, 1, 2]
    for key in ("data", "baselines", "explain", "variables", "analysis"):
        assert cfgs[0][key] == cfgs[1][key] == cfgs[2][key], key
    # the same explained samples and baselines in every seed: only the model differs
    for s in (1, 2):
        with np.load(root / "seed_0/explained/samples.npz") as a, np.load(root / f"seed_{s}/explained/samples.npz") as b:
            np.testing.assert_array_equal(a["dataset_index"], b["dataset_index"])


def test_an_unknown_vary_is_refused_before_anything_runs(tmp_path):
    r = _invoke("study", "digits", "--seeds", "0", "--vary", "data", "--out", str(tmp_path / "s"))
    assert r.exit_code != 0 and "--vary: 'data'" in _text(r) and "all, model, baselines, samples" in _text(r)
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError, match="--vary"):
        study("digits", [0], vary="everything", out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_seed_config_vary_shifts_one_source_each():
    from genphase.pipeline.config import load_config

    base = load_config("digits")
    seeds = lambda c: (c.data.seed, c.training.seed, c.baselines.seed, c.explain.seed, c.variables.seed, c.analysis.seed)  # noqa: E731
    assert seeds(seed_config(base, 3, "all")) == (3, 3, 1009, 3, 3, 3)
    assert seeds(seed_config(base, 3, "model")) == (0, 3, 1000, 0, 0, 0)
    assert seeds(seed_config(base, 3, "baselines")) == (0, 0, 1009, 0, 0, 0)
    assert seeds(seed_config(base, 3, "samples")) == (0, 0, 1000, 3, 0, 0)


# ---- sensitivity (issue 27): --sweep
def test_sweep_runs_one_study_per_value_and_tabulates_verdicts_and_claims(tmp_path):
    small = ["training.epochs=4", "baselines.k=2", "baselines.epochs=2", "explain.samples=8", "variables.n=4",
             "analysis.n_resamples=50", "checkpoints.refine=false", "device=cpu"]
    root = tmp_path / "sw"
    r = _invoke("study", "breast-cancer-mlp", *small, "--seeds", "0", "1", "--sweep", "interactions.tau=0.05,0.2",
                "--out", str(root), "--no-report")
    assert r.exit_code == 0, r.output
    f = pd.read_parquet(root / "sweep.parquet")
    assert sorted(zip(f["sweep_value"], f["seed"])) == [("0.05", 0), ("0.05", 1), ("0.2", 0), ("0.2", 1)]
    assert {"three_phases", "phase1_end", "stop_epoch", "removal_closes_gap_supported"} <= set(f.columns)
    cfg = yaml.safe_load((root / "interactions.tau=0.2" / "seed_1" / "config.yaml").read_text())
    assert cfg["interactions"]["tau"] == 0.2
    assert json.loads((root / "sweep.json").read_text())["values"] == ["0.05", "0.2"]


@pytest.mark.parametrize("spec, words", [("interactions.taus=0.1,0.2", "unknown config key 'interactions.taus'"),
                                         ("interactions.tau=0.1,abc", "expected float"),
                                         ("interactions.tau=0.1", "at least two values")])
def test_a_bad_sweep_is_refused_before_anything_trains(tmp_path, spec, words):
    r = _invoke("study", "digits", "--seeds", "0", "--sweep", spec, "--out", str(tmp_path / "s"))
    assert r.exit_code != 0 and words in _text(r) and "--sweep" in _text(r)
    assert not (tmp_path / "s").exists()


def test_an_absolute_tau_is_one_threshold_for_every_sample():
    import genphase as gp
    from genphase.analysis import analyse_run
    from genphase.settings import AnalysisConfig, InteractionConfig, Settings

    a = np.array([[0, 0.3, 0, 2.0], [0, 0.3, 0, 0.5]])  # sample 1's largest effect is 0.5, sample 0's 2.0
    res = gp.AndOrInteractions.from_effects(a, np.zeros_like(a))
    rel = Settings(interactions=InteractionConfig(tau=0.2), analysis=AnalysisConfig(n_resamples=0, null_draws=0))
    ab = Settings(interactions=InteractionConfig(tau=0.4, tau_mode="absolute"),
                  analysis=AnalysisConfig(n_resamples=0, null_draws=0))
    kw = dict(split=np.array(["train", "test"]), labels=np.array([0, 1]),
              training=[{"epoch": 0, "split": sp, "loss": 1.0, "accuracy": 0.5} for sp in ("train", "test")])
    ost = lambda s: analyse_run({0: res}, [res], settings=s, **kw).tables["order_strengths"]  # noqa: E731
    rows = lambda t, i: t[(t["sample"] == i) & (t["type"] == "all")]["total"].abs().sum()  # noqa: E731
    # relative 0.2: 0.3 is salient in sample 0 only if 0.3 > 0.4 (no) and in sample 1 (0.3 > 0.1, yes)
    assert rows(ost(rel), 0) == pytest.approx(2.0) and rows(ost(rel), 1) == pytest.approx(0.8)
    # absolute 0.4: the same cut for both samples (0.3 is never salient)
    assert rows(ost(ab), 0) == pytest.approx(2.0) and rows(ost(ab), 1) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="interactions.tau_mode"):
        Settings(interactions=InteractionConfig(tau_mode="fixed")).validate()
