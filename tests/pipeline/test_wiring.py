"""Wiring of `genphase run`, checked on one real miniature run (tests/miniature.py).

Every test recomputes a stored table from the stored inputs with code written here from the
definitions (not genphase.analysis), or checks a provenance fact: which split each model was
trained on, where label noise went, which tau reached the tables, where each explained sample came
from. Definitions used (docs/analysis.md, the paper's Eq. 7-13), per sample, with singletons
merged into AND (a one-variable OR is added to the AND of the same variable) and the empty set
excluded:

* salient: ``|I[t, T]| > tau * max_{t', T'} |I[t', T']|`` over that model's own AND and OR effects;
* G_k[t, T] = 1 iff T is salient in the model and in baseline k, with the same sign (Eq. 7);
  G_hat(k) = G_1 or ... or G_k (Eq. 10), the tables use k = K;
* H-bar = sum |I| over salient T with G_hat = 1 / sum |I| over salient T (NaN if none) (Eq. 11);
* order strengths: per type, order m and sign, the sum of the positive (negative) salient effects
  of order m, all of them ("total", Eq. 8) or the generalizable ones ("generalizable", Eq. 9);
  type "all" = AND + OR;
* removal: v = v(x_N) (values[..., -1]); v_tilde = v - sum of the salient non-generalizable effects
  (Eq. 12); loss = -log sigmoid(v), loss_removed = -log sigmoid(v_tilde) (Eq. 13).
"""

from __future__ import annotations

import json
import math

import miniature
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from genphase.io import load_interactions
from genphase.pipeline.config import load_config

pytestmark = pytest.mark.slow

N = miniature.N_VARS
FULL = (1 << N) - 1


# ------------------------------------------------------------------------------ independent definitions
def _salient(eff: np.ndarray, tau: float) -> np.ndarray:
    thr = tau * np.abs(eff).reshape(len(eff), -1).max(axis=1)
    return np.abs(eff) > thr[:, None, None]


def _generalizes(model_eff, base_effs, tau, k=None) -> np.ndarray:
    """G_hat(k) over the first k baselines (all when k is None), as a Python loop over everything."""
    sal = _salient(model_eff, tau)
    out = np.zeros_like(sal)
    for b in base_effs[:k]:
        bsal = _salient(b, tau)
        for s in range(sal.shape[0]):
            for t in range(2):
                for T in range(1, FULL + 1):
                    if sal[s, t, T] and bsal[s, t, T] and model_eff[s, t, T] * b[s, t, T] > 0:
                        out[s, t, T] = True
    return out


def _h_bar(eff, sal, gen) -> np.ndarray:
    num = np.where(sal & gen, np.abs(eff), 0.0).sum(axis=(1, 2))
    den = np.where(sal, np.abs(eff), 0.0).sum(axis=(1, 2))
    return np.array([n / d if d > 0 else np.nan for n, d in zip(num, den)])


def _order(T: int) -> int:
    return bin(T).count("1")


@pytest.fixture(scope="module")
def stored(mini_run):
    """Everything the recomputations read: config, split per sample, model and baseline effects."""
    cfg = yaml.safe_load((mini_run / "config.yaml").read_text())
    with np.load(mini_run / "explained" / "samples.npz") as z:
        samples = {k: z[k] for k in z.files}
    bases = [load_interactions(mini_run / "interactions" / f"baseline_{k}.npz") for k in range(miniature.K)]
    models = {e: load_interactions(mini_run / "interactions" / "model" / f"epoch_{e:04d}.npz") for e in miniature.EPOCHS}
    return {"cfg": cfg, "samples": samples, "bases": bases, "models": models,
            "base_effs": [miniature.merged_effects(b) for b in bases]}


def _table(run, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / "metrics" / f"{name}.parquet")


# ------------------------------------------------------------------------------ tau, H-bar, strengths, removal
def test_configured_tau_is_the_one_in_config_yaml(stored):
    assert stored["cfg"]["interactions"]["tau"] == miniature.TAU == 0.1  # not the 0.05 default


def test_h_bar_equals_its_recomputation_from_the_interaction_files(mini_run, stored):
    tab = _table(mini_run, "h_bar")
    assert sorted(tab["checkpoint"].unique()) == miniature.EPOCHS
    split = stored["samples"]["split"].astype(str)
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        sal = _salient(eff, miniature.TAU)
        want = _h_bar(eff, sal, _generalizes(eff, stored["base_effs"], miniature.TAU))
        got = tab[tab["checkpoint"] == e].sort_values("sample")
        assert got["sample"].tolist() == list(range(2 * miniature.M))
        assert got["split"].tolist() == split.tolist()
        np.testing.assert_allclose(got["h_bar"].to_numpy(), want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_the_tables_depend_on_tau(mini_run, stored):
    """The recomputation above can fail: with 4 x tau (0.4) H-bar differs from the stored table."""
    tab = _table(mini_run, "h_bar")
    diffs = 0
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        other = _h_bar(eff, _salient(eff, 4 * miniature.TAU), _generalizes(eff, stored["base_effs"], 4 * miniature.TAU))
        got = tab[tab["checkpoint"] == e].sort_values("sample")["h_bar"].to_numpy()
        diffs += int((~np.isclose(got, other, rtol=1e-9, atol=1e-12, equal_nan=True)).sum())
    assert diffs > 0


def test_baseline_ablation_equals_its_recomputation(mini_run, stored):
    tab = _table(mini_run, "baseline_ablation")
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        sal = _salient(eff, miniature.TAU)
        for k in range(1, miniature.K + 1):
            want = _h_bar(eff, sal, _generalizes(eff, stored["base_effs"], miniature.TAU, k))
            got = tab[(tab["checkpoint"] == e) & (tab["k"] == k)].sort_values("sample")["h_bar"].to_numpy()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_order_strengths_equal_their_recomputation(mini_run, stored):
    tab = _table(mini_run, "order_strengths").set_index(["checkpoint", "sample", "type", "order", "sign"])
    split = stored["samples"]["split"].astype(str)
    checked = 0
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        sal = _salient(eff, miniature.TAU)
        gen = _generalizes(eff, stored["base_effs"], miniature.TAU)
        for s in range(eff.shape[0]):
            sums = {}
            for t, tname in enumerate(("and", "or")):
                for T in range(1, FULL + 1):
                    if not sal[s, t, T]:
                        continue
                    x = eff[s, t, T]
                    key = (tname, _order(T), "+" if x > 0 else "-")
                    tot, g = sums.get(key, (0.0, 0.0))
                    sums[key] = (tot + x, g + (x if gen[s, t, T] else 0.0))
            for m in range(1, N + 1):
                for sign in "+-":
                    a, o = sums.get(("and", m, sign), (0.0, 0.0)), sums.get(("or", m, sign), (0.0, 0.0))
                    for tname, (tot, g) in (("and", a), ("or", o), ("all", (a[0] + o[0], a[1] + o[1]))):
                        row = tab.loc[(e, s, tname, m, sign)]
                        assert row["split"] == split[s]
                        assert row["total"] == pytest.approx(tot, abs=1e-12)
                        assert row["generalizable"] == pytest.approx(g, abs=1e-12)
                        checked += 1
    assert checked == len(tab) == len(miniature.EPOCHS) * 2 * miniature.M * 3 * N * 2


def test_removal_loss_equals_its_recomputation(mini_run, stored):
    tab = _table(mini_run, "removal_loss")
    labels = stored["samples"]["labels"]
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        sal = _salient(eff, miniature.TAU)
        gen = _generalizes(eff, stored["base_effs"], miniature.TAU)
        v = res.values[:, FULL]
        v_tilde = v - np.where(sal & ~gen, eff, 0.0).sum(axis=(1, 2))
        got = tab[tab["checkpoint"] == e].sort_values("sample")
        np.testing.assert_array_equal(got["label"].to_numpy(), labels)
        np.testing.assert_allclose(got["v"].to_numpy(), v, rtol=1e-12)
        np.testing.assert_allclose(got["v_tilde"].to_numpy(), v_tilde, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["loss"].to_numpy(), [math.log1p(math.exp(-x)) for x in v], rtol=1e-9)
        np.testing.assert_allclose(got["loss_removed"].to_numpy(), [math.log1p(math.exp(-x)) for x in v_tilde], rtol=1e-9)


# ------------------------------------------------------------------------------ provenance
_data, _sha = miniature.run_data, miniature.data_sha


def test_baselines_trained_on_the_test_split_and_the_model_on_the_training_split(mini_run):
    ds = _data(mini_run)
    man = json.loads((mini_run / "manifest.json").read_text())
    prov = man["training_data"]
    test_sha, train_sha = _sha(ds.x_test, ds.y_test), _sha(ds.x_train, ds.y_train)
    assert test_sha != train_sha
    assert prov["model"] == {"split": "train", "n": miniature.TRAIN_SIZE, "sha256": train_sha}
    for k in range(miniature.K):
        assert prov[f"baseline_{k}"] == {"split": "test", "n": len(ds.y_test), "sha256": test_sha}, k


def test_a_baseline_retrained_on_the_test_split_is_the_stored_one(mini_run):
    """Baseline 0 is what training a fresh model (seed baselines.seed + 0) on the test split gives."""
    from genphase.pipeline.modality import make_modality
    from genphase.pipeline.run import build_model_for
    from genphase.pipeline.training import TrainSpec, train

    cfg = load_config(str(mini_run / "config.yaml"))
    ds = _data(mini_run)
    t = cfg.training
    spec = TrainSpec(epochs=cfg.baselines.epochs, optimizer=t.optimizer, lr=t.lr, momentum=t.momentum,
                     weight_decay=t.weight_decay, batch_size=t.batch_size, seed=cfg.baselines.seed)
    model = build_model_for(cfg, ds, seed=cfg.baselines.seed)
    train(model, make_modality(ds.modality, cfg), ds.x_test, ds.y_test, spec, torch.device("cpu"),
          eval_sets={"test": (ds.x_test, ds.y_test)})
    stored = torch.load(mini_run / "checkpoints" / "baseline_0" / "final.pt", weights_only=True)
    for name, w in model.state_dict().items():
        torch.testing.assert_close(w, stored[name], rtol=1e-5, atol=1e-6, msg=name)


def test_label_noise_lands_only_in_the_training_split(mini_run, stored):
    from genphase.datasets import carve_eval, load_dataset, subsample_train

    cfg = load_config(str(mini_run / "config.yaml"))
    clean = carve_eval(subsample_train(load_dataset(cfg.data.name, **cfg.data.options), cfg.data.train_size,
                                       seed=cfg.data.seed), cfg.data.eval_fraction, seed=cfg.data.seed)
    noisy = _data(mini_run)
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)
    np.testing.assert_array_equal(noisy.y_eval, clean.y_eval)
    np.testing.assert_array_equal(noisy.x_train, clean.x_train)
    flipped = np.nonzero(noisy.y_train != clean.y_train)[0]
    assert len(flipped) == round(miniature.LABEL_NOISE * miniature.TRAIN_SIZE) == 24
    # the model under study saw the noisy labels, the baselines the clean test labels
    man = json.loads((mini_run / "manifest.json").read_text())["training_data"]
    assert man["model"]["sha256"] == _sha(noisy.x_train, noisy.y_train) != _sha(clean.x_train, clean.y_train)
    assert man["baseline_0"]["sha256"] == _sha(clean.x_test, clean.y_test)
    # explained test samples carry their clean labels
    s = stored["samples"]
    te = s["split"].astype(str) == "test"
    np.testing.assert_array_equal(s["labels"][te], clean.y_test[s["dataset_index"][te]])
    # the logged training-split loss of the initial model is measured against the noisy labels
    tr = _table(mini_run, "training")
    row = tr[(tr["model"] == "model") & (tr["epoch"] == 0) & (tr["split"] == "train")]
    model = _model(mini_run, "checkpoints/model/epoch_0000.pt")
    with torch.no_grad():
        logits = model(torch.as_tensor(noisy.x_train)).double()
    ce_noisy = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(noisy.y_train)))
    ce_clean = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(clean.y_train)))
    assert float(row["loss"].iloc[0]) == pytest.approx(ce_noisy, rel=1e-5)
    assert abs(ce_noisy - ce_clean) > 1e-4


def _model(run, rel: str, seed: int = 0):
    from genphase.pipeline.run import build_model_for

    cfg = load_config(str(run / "config.yaml"))
    m = build_model_for(cfg, _data(run), seed=seed)
    m.load_state_dict(torch.load(run / rel, weights_only=True))
    return m.eval()


def test_explained_samples_match_their_dataset_index_and_split(mini_run, stored):
    ds = _data(mini_run)
    s = stored["samples"]
    split = s["split"].astype(str)
    assert split.tolist() == ["train"] * miniature.M + ["test"] * miniature.M
    for i, (sp, idx) in enumerate(zip(split, s["dataset_index"])):
        x, y = (ds.x_train, ds.y_train) if sp == "train" else (ds.x_test, ds.y_test)
        np.testing.assert_array_equal(s["inputs"][i], x[idx], err_msg=f"sample {i}")
        assert s["labels"][i] == y[idx]
    tab = _table(mini_run, "samples")
    assert tab["sample"].tolist() == list(range(2 * miniature.M))
    assert tab["split"].tolist() == split.tolist()
    np.testing.assert_array_equal(tab["dataset_index"].to_numpy(), s["dataset_index"])
    np.testing.assert_array_equal(tab["label"].to_numpy(), s["labels"])
    for name in ("h_bar", "order_strengths", "baseline_ablation", "removal_loss"):
        t = _table(mini_run, name)
        assert (t["split"].to_numpy() == split[t["sample"].to_numpy()]).all(), name


def test_interactions_decompose_the_right_model_on_the_explained_samples(mini_run, stored):
    """v(x_N) in every interactions file is the log-odds of the stored label under that file's model."""
    s = stored["samples"]
    x = torch.as_tensor(s["inputs"])
    y = torch.as_tensor(s["labels"])

    def log_odds(model) -> np.ndarray:
        with torch.no_grad():
            z = model(x).double()
        zy = z.gather(1, y[:, None])[:, 0]
        rest = z.masked_fill(torch.nn.functional.one_hot(y, z.shape[1]).bool(), -math.inf)
        return (zy - torch.logsumexp(rest, dim=1)).numpy()

    for e, res in stored["models"].items():
        want = log_odds(_model(mini_run, f"checkpoints/model/epoch_{e:04d}.pt"))
        np.testing.assert_allclose(res.values[:, FULL], want, rtol=1e-4, atol=1e-5, err_msg=f"epoch {e}")
    for k, res in enumerate(stored["bases"]):
        want = log_odds(_model(mini_run, f"checkpoints/baseline_{k}/final.pt", seed=1000 + k))
        np.testing.assert_allclose(res.values[:, FULL], want, rtol=1e-4, atol=1e-5, err_msg=f"baseline {k}")


def test_training_table_is_the_models_own_loss(mini_run):
    """training.parquet at the last epoch equals the cross-entropy of the stored last checkpoint."""
    ds = _data(mini_run)
    tr = _table(mini_run, "training")
    model = _model(mini_run, "checkpoints/model/epoch_0006.pt")
    for split, (x, y) in (("train", (ds.x_train, ds.y_train)), ("test", (ds.x_test, ds.y_test)),
                          ("eval", (ds.x_eval, ds.y_eval))):
        with torch.no_grad():
            logits = model(torch.as_tensor(x)).double()
        ce = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)))
        acc = float((logits.argmax(1).numpy() == y).mean())
        row = tr[(tr["model"] == "model") & (tr["epoch"] == 6) & (tr["split"] == split)]
        assert float(row["loss"].iloc[0]) == pytest.approx(ce, rel=1e-5), split
        assert float(row["accuracy"].iloc[0]) == pytest.approx(acc, abs=1e-12), split
    base = tr[tr["model"] != "model"]
    assert set(base["split"]) == {"test", "eval"}  # the reference split every epoch, the evaluation split once
    assert (base[base["split"] == "eval"].groupby("model")["epoch"].agg(list) == pd.Series([[4]] * miniature.K, index=[
        f"baseline_{k}" for k in range(miniature.K)])).all()


# ------------------------------------------------------------------------------ the phase analysis and its bootstrap
def test_h_bar_summary_is_the_bootstrap_of_the_h_bar_table(mini_run):
    """Means and counts by hand; the interval by the documented resampling protocol, written here as a loop
    (docs/analysis.md: one default_rng(seed); per split in order of first appearance, integers(0, n) [R, n]
    picks among that split's samples sorted by id; percentile interval with linear interpolation)."""
    cfg = yaml.safe_load((mini_run / "config.yaml").read_text())
    h = _table(mini_run, "h_bar")
    summ = _table(mini_run, "h_bar_summary")
    assert list(summ.columns) == ["checkpoint", "split", "mean", "ci_low", "ci_high", "n_samples", "normalized",
                                  "above_null", "above_null_ci_low", "above_null_ci_high", "above_null_labels",
                                  "above_null_labels_ci_low", "above_null_labels_ci_high"]
    # with label noise, the clean and flipped training samples apart (their own bootstrap, tested in test_claims)
    assert set(summ["split"]) <= {"train", "test", "train_clean", "train_flipped"}
    summ = summ[summ["split"].isin(["train", "test"])]
    assert len(summ) == len(miniature.EPOCHS) * 2
    R, level = cfg["analysis"]["n_resamples"], cfg["analysis"]["ci_level"]
    rng = np.random.default_rng(cfg["analysis"]["seed"])
    splits = list(dict.fromkeys(h["split"]))
    picks = {sp: rng.integers(0, int((h[h["checkpoint"] == 0]["split"] == sp).sum()), size=(R, miniature.M))
             for sp in splits}
    for (ck, sp), row in summ.set_index(["checkpoint", "split"]).iterrows():
        vals = h[(h["checkpoint"] == ck) & (h["split"] == sp)].sort_values("sample")["h_bar"].to_numpy(float)
        ok = np.isfinite(vals)
        assert row["n_samples"] == ok.sum()
        assert row["mean"] == pytest.approx(vals[ok].mean())
        means = []
        for r in range(R):
            drawn = vals[picks[sp][r]]
            drawn = drawn[np.isfinite(drawn)]
            if drawn.size:
                means.append(drawn.mean())
        lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi)), (ck, sp)
        assert row["ci_low"] <= row["mean"] + 1e-12 and row["mean"] <= row["ci_high"] + 1e-12


def test_order_distribution_samples_equal_their_recomputation(mini_run, stored):
    """Per sample: the signed sum over ALL interactions of each order (singletons merged into AND)."""
    tab = _table(mini_run, "order_distribution_samples")
    assert list(tab.columns) == ["checkpoint", "sample", "split", "type", "order", "sign", "strength"]
    for e, res in stored["models"].items():
        eff = miniature.merged_effects(res)
        part = tab[tab["checkpoint"] == e].set_index(["sample", "type", "order", "sign"])["strength"]
        for s in range(2 * miniature.M):
            for m in range(1, N + 1):
                ts = [T for T in range(1, FULL + 1) if _order(T) == m]
                x = {"and": eff[s, 0, ts], "or": eff[s, 1, ts]}
                x["all"] = np.r_[x["and"], x["or"]]
                for typ, v in x.items():
                    assert part[(s, typ, m, "+")] == pytest.approx(v[v > 0].sum(), abs=1e-12)
                    assert part[(s, typ, m, "-")] == pytest.approx(v[v < 0].sum(), abs=1e-12)
    # its mean per split is the order_distribution table
    means = tab.groupby(["checkpoint", "split", "type", "order", "sign"])["strength"].mean()
    od = _table(mini_run, "order_distribution").set_index(["checkpoint", "split", "type", "order", "sign"])["strength"]
    np.testing.assert_allclose(means.sort_index().to_numpy(), od.sort_index().to_numpy(), rtol=1e-12, atol=1e-12)


def test_phases_json_has_the_intervals_and_the_two_phase_view_from_the_run(mini_run):
    from genphase.analysis import detect_phases

    info = json.loads((mini_run / "metrics" / "phases.json").read_text())
    assert set(info["boundaries_ci"]) == {"phase1_end", "phase3_start", "two_phase_turn"}
    assert isinstance(info["three_phase_support"], float) and 0.0 <= info["three_phase_support"] <= 1.0
    lo, hi = info["early_stopping"]["ci"]
    assert lo <= hi and lo in miniature.EPOCHS and hi in miniature.EPOCHS
    boot = info["evidence"]["bootstrap"]
    assert boot["n_resamples"] == 1000 and boot["two_phase_resampled"].startswith("paired")
    # the two-phase rule ran (on the all-interactions table), not "skipped"
    assert not info["two_phase"]["message"].startswith("two-phase rule skipped")
    assert info["evidence"]["two_phase"]["source"] == "order_distribution (all interactions)"
    # replacing every non-training loss (reference and evaluation) by random numbers changes neither the boundaries,
    # their intervals nor the stop: the phase analysis of the stored tables with and without them
    tr = _table(mini_run, "training")
    tr = tr[tr["model"] == "model"]
    tables = {n: _table(mini_run, n) for n in ("h_bar", "order_strengths", "order_distribution_samples")}
    a = detect_phases(tr, tables["h_bar"], tables["order_strengths"], order_distribution=tables["order_distribution_samples"])
    assert a.boundaries == info["boundaries"] and a.early_stopping["epoch"] == info["early_stopping"]["epoch"]
    noisy = tr.copy()
    other = noisy["split"] != "train"
    assert set(noisy.loc[other, "split"]) == {"test", "eval"}
    noisy.loc[other, "loss"] = np.random.default_rng(0).uniform(0, 9, int(other.sum()))
    b = detect_phases(noisy, tables["h_bar"], tables["order_strengths"], order_distribution=tables["order_distribution_samples"])
    assert (a.boundaries, a.boundaries_ci, a.early_stopping["epoch"], a.early_stopping["ci"], a.three_phase_support) == \
        (b.boundaries, b.boundaries_ci, b.early_stopping["epoch"], b.early_stopping["ci"], b.three_phase_support)


def test_jaccard_is_computed_per_class_for_images(mini_run):
    jac = _table(mini_run, "jaccard")
    assert jac["jaccard"].notna().any() and (jac["n_classes"] > 0).all() and (jac["note"] == "").all()
