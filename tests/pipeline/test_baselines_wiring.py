"""Wiring of issue 18 in `genphase run`: cross-fitted and early-stopped baselines, the H-bar ceiling, graded
evidence, the phase count and the baselines table, checked on real miniature runs (tests/miniature.py).

Every check recomputes a stored table from the stored inputs with loops written here from the definitions
(docs/analysis.md), or checks a provenance fact read from the run directory.
"""

from __future__ import annotations

import json

import miniature
import numpy as np
import pandas as pd
import pytest
import torch

from genphase.errors import ConfigError
from genphase.io import load_interactions
from genphase.pipeline.config import load_config

pytestmark = pytest.mark.slow

N = miniature.N_VARS
FULL = (1 << N) - 1
TAU = miniature.TAU


# ------------------------------------------------------------------------------ independent definitions
def _salient(eff: np.ndarray) -> np.ndarray:
    thr = TAU * np.abs(eff).reshape(len(eff), -1).max(axis=1)
    return np.abs(eff) > thr[:, None, None]


def _h_bar_loop(eff: np.ndarray, others: list[np.ndarray], use: np.ndarray) -> np.ndarray:
    """Per sample: H-bar of ``eff`` against the baselines ``others[k]`` with ``use[s, k]`` True (any-of)."""
    sal = _salient(eff)
    osal = [_salient(o) for o in others]
    out = np.full(len(eff), np.nan)
    for s in range(len(eff)):
        num = den = 0.0
        for t in range(2):
            for T in range(1, FULL + 1):
                if not sal[s, t, T]:
                    continue
                den += abs(eff[s, t, T])
                if any(use[s, k] and osal[k][s, t, T] and eff[s, t, T] * others[k][s, t, T] > 0
                       for k in range(len(others))):
                    num += abs(eff[s, t, T])
        if den > 0:
            out[s] = num / den
    return out


def _read(run) -> dict:
    with np.load(run / "explained" / "samples.npz") as z:
        samples = {k: z[k] for k in z.files}
    cfg = load_config(str(run / "config.yaml"))
    K = cfg.baselines.k
    bases = [miniature.merged_effects(load_interactions(run / "interactions" / f"baseline_{k}.npz")) for k in range(K)]
    data = []
    for k in range(K):
        with np.load(run / "checkpoints" / f"baseline_{k}" / "data.npz") as z:
            data.append({f: z[f] for f in z.files})
    return {"cfg": cfg, "samples": samples, "bases": bases, "data": data, "K": K}


def _table(run, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / "metrics" / f"{name}.parquet")


_data, _sha = miniature.run_data, miniature.data_sha


@pytest.fixture(scope="module")
def crossfit_run(tmp_path_factory):
    return miniature.build(tmp_path_factory.mktemp("crossfit") / "run", overrides=[*miniature.MINI,
                                                                                  "baselines.trained_on=crossfit"],
                           report=True)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    return miniature.build(tmp_path_factory.mktemp("stopped") / "run", overrides=[*miniature.MINI,
                                                                                 "baselines.early_stopping=true"],
                           report=False)


# ------------------------------------------------------------------------------ the ceiling and the evidence
def test_ceiling_equals_its_recomputation_from_the_baseline_interaction_files(mini_run):
    st = _read(mini_run)
    K, split = st["K"], st["samples"]["split"]
    per = np.stack([_h_bar_loop(st["bases"][j], [b for l, b in enumerate(st["bases"]) if l != j],
                                np.ones((len(split), K - 1), dtype=bool)) for j in range(K)])  # [K, B]
    ceil = _table(mini_run, "h_bar_ceiling").set_index("split")
    assert list(_table(mini_run, "h_bar_ceiling").columns) == ["split", "mean", "ci_low", "ci_high"]
    for sp in ("train", "test"):
        sel = split == sp
        want = np.mean([np.nanmean(per[j, sel]) for j in range(K)])
        assert ceil.loc[sp, "mean"] == pytest.approx(want, abs=1e-12), sp
        assert ceil.loc[sp, "ci_low"] <= ceil.loc[sp, "mean"] <= ceil.loc[sp, "ci_high"]
    summ = _table(mini_run, "h_bar_summary")
    want = summ["mean"] / summ["split"].map(ceil["mean"])
    np.testing.assert_allclose(summ["normalized"], want, rtol=1e-12)


def test_evidence_over_agreeing_baselines_is_the_generalizable_strength(mini_run):
    ev = _table(mini_run, "evidence")
    assert list(ev.columns) == ["checkpoint", "split", "type", "order", "n_agree", "strength"]
    assert sorted(ev["n_agree"].unique()) == list(range(miniature.K + 1))
    os_ = _table(mini_run, "order_strengths")
    key = ["checkpoint", "split", "type", "order"]
    per_sample = (os_.assign(g=os_["generalizable"].abs(), t=os_["total"].abs())
                  .groupby(key + ["sample"])[["g", "t"]].sum().groupby(key).mean())  # both signs, mean over samples
    agree = ev[ev["n_agree"] >= 1].groupby(key)["strength"].sum()
    every = ev.groupby(key)["strength"].sum()
    np.testing.assert_allclose(agree.loc[per_sample.index], per_sample["g"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(every.loc[per_sample.index], per_sample["t"], rtol=1e-9, atol=1e-12)
    assert per_sample["g"].max() > 0  # not a vacuous equality


def test_evidence_counts_agreeing_baselines_like_a_loop(mini_run):
    st = _read(mini_run)
    e = miniature.EPOCHS[-1]
    m = miniature.merged_effects(load_interactions(mini_run / "interactions" / "model" / f"epoch_{e:04d}.npz"))
    sal, bsal = _salient(m), [_salient(b) for b in st["bases"]]
    K, split = st["K"], st["samples"]["split"]
    want = np.zeros((len(m), K + 1))  # "all" types, summed over orders
    for s in range(len(m)):
        for t in range(2):
            for T in range(1, FULL + 1):
                if sal[s, t, T]:
                    n = sum(bool(bsal[k][s, t, T] and m[s, t, T] * st["bases"][k][s, t, T] > 0) for k in range(K))
                    want[s, n] += abs(m[s, t, T])
    ev = _table(mini_run, "evidence")
    ev = ev[(ev["checkpoint"] == e) & (ev["type"] == "all")].groupby(["split", "n_agree"])["strength"].sum()
    for sp in ("train", "test"):
        np.testing.assert_allclose(ev.loc[sp].to_numpy(), want[split == sp].mean(0), rtol=1e-9, atol=1e-12)


def test_phase_count_is_not_computed_below_five_checkpoints_and_says_why(mini_run):
    ph = json.loads((mini_run / "metrics" / "phases.json").read_text())
    assert len(miniature.EPOCHS) < 5
    assert ph["phase_count"] is None and ph["phase_count_support"] is None
    assert "fewer than 5" in ph["phase_count_evidence"]["reason"]
    assert ph["baselines_trained_on"] == "reference" and ph["not_computed"] == {}


def test_training_table_has_prediction_changes_on_train_rows_only(mini_run):
    tr = _table(mini_run, "training")
    assert str(tr["prediction_changes"].dtype) == "Int64"
    on = (tr["model"] == "model") & (tr["split"] == "train") & (tr["epoch"] >= 1)
    assert tr.loc[on, "prediction_changes"].notna().all() and (tr.loc[on, "prediction_changes"] >= 0).all()
    assert tr.loc[~on, "prediction_changes"].isna().all()


def test_baselines_table_is_each_baselines_own_evaluation(mini_run):
    ds = _data(mini_run)
    cfg = load_config(str(mini_run / "config.yaml"))
    tab = _table(mini_run, "baselines")
    assert list(tab.columns) == ["baseline", "trained_on", "n_train", "epochs", "eval_loss", "eval_accuracy"]
    assert tab["baseline"].tolist() == list(range(miniature.K)) and (tab["trained_on"] == "reference").all()
    assert (tab["n_train"] == len(ds.y_test)).all() and (tab["epochs"] == cfg.baselines.epochs).all()
    from genphase.pipeline.run import build_model_for

    for k in range(miniature.K):
        model = build_model_for(cfg, ds, seed=cfg.baselines.seed + k)
        model.load_state_dict(torch.load(mini_run / "checkpoints" / f"baseline_{k}" / "final.pt", weights_only=True))
        with torch.no_grad():
            logits = model.eval()(torch.as_tensor(ds.x_eval)).double()
        ce = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(ds.y_eval)))
        acc = float((logits.argmax(1).numpy() == ds.y_eval).mean())
        assert tab.loc[k, "eval_loss"] == pytest.approx(ce, rel=1e-5)
        assert tab.loc[k, "eval_accuracy"] == pytest.approx(acc, abs=1e-12)


def test_one_baseline_gives_reasons_not_nan_tables(tmp_path_factory):
    import minirun

    run = minirun.tiny_run_dir(tmp_path_factory)
    ph = json.loads((run / "metrics" / "phases.json").read_text())
    assert "K >= 2" in ph["not_computed"]["h_bar_ceiling"] and "K >= 2" in ph["not_computed"]["evidence"]
    assert not (run / "metrics" / "h_bar_ceiling.parquet").exists()
    assert not (run / "metrics" / "evidence.parquet").exists()


# ------------------------------------------------------------------------------ cross-fitting
def test_crossfit_never_compares_a_training_sample_with_a_baseline_that_saw_it(crossfit_run):
    st = _read(crossfit_run)
    ds = _data(crossfit_run)
    K, split, idx = st["K"], st["samples"]["split"], st["samples"]["dataset_index"]
    man = json.loads((crossfit_run / "manifest.json").read_text())
    seen = np.zeros((len(split), K), dtype=bool)
    for k, d in enumerate(st["data"]):
        assert str(d["split"]) == "train" and d["holdout_index"].size == 0
        tr = d["train_index"]
        # the recorded indices are the data baseline k trained on (the manifest's fingerprint of its training data)
        assert man["training_data"][f"baseline_{k}"]["sha256"] == _sha(ds.x_train[tr], ds.y_train[tr])
        seen[:, k] = (split == "train") & np.isin(idx, tr)
    assert (~seen[split == "train"]).sum(1).min() >= 2  # each training sample has >= 2 baselines that never saw it
    assert seen.any()  # the design does put explained training samples into some baselines
    stored = _table(crossfit_run, "h_bar")
    for e in miniature.EPOCHS:
        m = miniature.merged_effects(load_interactions(crossfit_run / "interactions" / "model" / f"epoch_{e:04d}.npz"))
        want = _h_bar_loop(m, st["bases"], ~seen)  # reference samples: all K
        got = stored[stored["checkpoint"] == e].sort_values("sample")["h_bar"].to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_crossfit_folds_split_the_training_data_and_the_model_trains_as_with_reference(crossfit_run, mini_run):
    st = _read(crossfit_run)
    n_train = miniature.TRAIN_SIZE
    counts = np.zeros(n_train, dtype=int)
    for d in st["data"]:
        counts[d["train_index"]] += 1
    assert (counts == st["K"] - 2).all()  # K = 3: each sample in exactly one baseline, left out of two
    tab = _table(crossfit_run, "baselines")
    assert (tab["trained_on"] == "crossfit").all() and tab["n_train"].sum() == n_train
    for e in miniature.EPOCHS:  # the model under study is the same as in the reference run
        a = torch.load(crossfit_run / "checkpoints" / "model" / f"epoch_{e:04d}.pt", weights_only=True)
        b = torch.load(mini_run / "checkpoints" / "model" / f"epoch_{e:04d}.pt", weights_only=True)
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert "Cross-fitted" in (crossfit_run / "report.html").read_text()


def test_crossfit_ceiling_uses_only_baselines_that_never_saw_the_sample(crossfit_run):
    st = _read(crossfit_run)
    K, split, idx = st["K"], st["samples"]["split"], st["samples"]["dataset_index"]
    unseen = np.ones((len(split), K), dtype=bool)
    for k, d in enumerate(st["data"]):
        unseen[:, k] = ~((split == "train") & np.isin(idx, d["train_index"]))
    ceil = _table(crossfit_run, "h_bar_ceiling").set_index("split")
    per = np.full((K, len(split)), np.nan)
    for j in range(K):
        others = [l for l in range(K) if l != j]
        h = _h_bar_loop(st["bases"][j], [st["bases"][l] for l in others], unseen[:, others])
        per[j] = np.where(unseen[:, j], h, np.nan)
    for sp in ("train", "test"):
        sel = split == sp
        vals = [np.nanmean(per[j, sel]) for j in range(K) if np.isfinite(per[j, sel]).any()]
        assert ceil.loc[sp, "mean"] == pytest.approx(np.mean(vals), abs=1e-12), sp


@pytest.mark.parametrize("overrides, key", [
    (["baselines.trained_on=crossfit", "baselines.k=2"], "baselines.k"),
    (["baselines.trained_on=both"], "baselines.trained_on"),
])
def test_bad_crossfit_configs_are_refused_with_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("digits", overrides)


def test_a_training_split_too_small_for_crossfit_is_refused_before_training(tmp_path):
    from genphase.pipeline.run import run

    cfg = load_config("digits", [*miniature.MINI[:-3], "data.train_size=20", "baselines.trained_on=crossfit",
                                 "explain.samples=8"])
    with pytest.raises(ConfigError, match="too small for the crossfit design"):
        run(cfg, tmp_path / "run", log=lambda m: None, report=False)
    assert not (tmp_path / "run" / "checkpoints" / "model").exists()


# ------------------------------------------------------------------------------ early-stopped baselines
def test_early_stopped_baselines_hold_out_a_slice_and_keep_the_best_epoch(stopped_run):
    from genphase.pipeline.config import BASELINE_STOP_FRACTION, BASELINE_STOP_MIN, BASELINE_STOP_PATIENCE

    ds = _data(stopped_run)
    st = _read(stopped_run)
    tab = _table(stopped_run, "baselines")
    tr = _table(stopped_run, "training")
    n = len(ds.y_test)
    n_hold = max(BASELINE_STOP_MIN, round(BASELINE_STOP_FRACTION * n))
    for k, d in enumerate(st["data"]):
        hold, train_idx = d["holdout_index"], d["train_index"]
        assert hold.size == n_hold and np.intersect1d(hold, train_idx).size == 0
        assert np.array_equal(np.union1d(hold, train_idx), np.arange(n))
        assert tab.loc[k, "n_train"] == n - n_hold
        loss = tr[(tr["model"] == f"baseline_{k}") & (tr["split"] == "holdout")].set_index("epoch")["loss"]
        best = int(loss.idxmin())
        assert tab.loc[k, "epochs"] == best
        after = loss.index.max() - best  # training ran on until the patience was spent (or the epochs ran out)
        assert after == BASELINE_STOP_PATIENCE or loss.index.max() == 4


def test_a_run_made_before_baseline_records_is_adopted_on_resume(mini_run, tmp_path):
    """A finished baseline without data.npz and without its evaluation row (a run made before them) gets both on
    the next invocation: the same records and scores as a fresh run, nothing retrained."""
    import minirun

    from genphase.pipeline.integrity import verify_run
    from genphase.pipeline.run import run

    old = miniature.copy_run(mini_run, tmp_path / "old")
    for k in range(miniature.K):
        minirun.drop(old, f"checkpoints/baseline_{k}/data.npz")
        log_path = old / "checkpoints" / f"baseline_{k}" / "training_log.json"
        log_path.write_text(json.dumps([r for r in json.loads(log_path.read_text()) if r["split"] != "eval"]))
        minirun.rewrite_record(old, f"checkpoints/baseline_{k}/training_log.json")  # as the old code recorded it
    before = {k: (old / "checkpoints" / f"baseline_{k}" / "final.pt").stat().st_mtime_ns for k in range(miniature.K)}
    logs: list[str] = []
    run(miniature.mini_config(), old, log=logs.append, report=False)
    assert any("a run made before these records" in m for m in logs)
    assert before == {k: (old / "checkpoints" / f"baseline_{k}" / "final.pt").stat().st_mtime_ns
                      for k in range(miniature.K)}
    pd.testing.assert_frame_equal(_table(old, "baselines"), _table(mini_run, "baselines"))
    assert [f for f in verify_run(old) if f.status not in ("ok", "summary")] == []
