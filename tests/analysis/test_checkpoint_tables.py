"""analyze_checkpoint / analyze_series produce exactly the metric tables of docs/run-directory.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genphase as gp
from genphase.analysis import (
    TABLE_COLUMNS,
    analyze_checkpoint,
    analyze_series,
    generalization_power,
    long_form,
    order_distribution,
    order_jaccard,
)
from genphase.analysis.strengths import OrderStrengths
from genphase.errors import InputError

from .helpers import make, random_set, stack

SPLIT = np.array(["train", "train", "test", "test"])


@pytest.fixture
def batch(rng):
    model = random_set(rng, batch=(4,), n=4, bias=0.2)
    bases = [random_set(rng, batch=(4,), n=4) for _ in range(3)]
    return model, bases


def test_exact_columns_and_no_checkpoint(batch):
    model, bases = batch
    out = analyze_checkpoint(model, bases, split=SPLIT, labels=[0, 1, 1, 0])
    assert set(out) == set(TABLE_COLUMNS)
    for name, fr in out.items():
        assert tuple(fr.columns) == TABLE_COLUMNS[name], name
        assert "checkpoint" not in fr.columns
    n, B, K = 4, 4, 3
    assert len(out["h_bar"]) == B
    assert len(out["order_strengths"]) == B * 3 * n * 2
    assert len(out["baseline_ablation"]) == K * B
    assert len(out["order_distribution"]) == 2 * 3 * n * 2
    assert len(out["jaccard"]) == 3 * n
    assert out["removal_loss"]["label"].tolist() == [0, 1, 1, 0]


def test_tables_agree_with_the_library_functions(batch):
    model, bases = batch
    out = analyze_checkpoint(model, bases, split=SPLIT)
    gpow = generalization_power(model, bases)
    np.testing.assert_allclose(out["h_bar"]["h_bar"], gp.h_bar(model, bases), equal_nan=True)
    assert out["h_bar"]["split"].tolist() == SPLIT.tolist()
    st = OrderStrengths.from_power(gpow)
    os_ = out["order_strengths"]
    row = os_.query("sample == 2 and type == 'or' and order == 3 and sign == '-'")
    assert row["total"].item() == pytest.approx(st.total[2, 1, 2, 1])
    assert row["generalizable"].item() == pytest.approx(st.generalizable[2, 1, 2, 1])
    assert row["split"].item() == "test"
    assert (os_.loc[os_["sign"] == "-", ["total", "generalizable"]] <= 0).all().all()
    ab = out["baseline_ablation"]
    np.testing.assert_allclose(ab.loc[ab["k"] == 3, "h_bar"], out["h_bar"]["h_bar"], equal_nan=True)
    rm = out["removal_loss"]
    np.testing.assert_allclose(rm["v"], model.values[:, -1])
    np.testing.assert_allclose(rm["loss"], np.logaddexp(0, -rm["v"]))
    np.testing.assert_allclose(rm["loss_removed"], np.logaddexp(0, -rm["v_tilde"]))
    assert rm["label"].isna().all()  # no labels given
    od = order_distribution(model, split=SPLIT).to_table()
    pd.testing.assert_frame_equal(out["order_distribution"], od)
    j = order_jaccard(model[:2], model[2:])
    np.testing.assert_allclose(out["jaccard"]["jaccard"], j.reshape(-1), equal_nan=True)


def test_closed_form_checkpoint():
    train = make({3: 1.0, 5: 2.0}, {6: 3.0, 7: 4.0}, bias=0.0)
    test = make({3: 1.0}, bias=0.0)
    base = stack(make({3: 0.5}, {7: 2.0}), make({3: 1.0}))
    out = analyze_checkpoint(stack(train, test), [base], split=["train", "test"], labels=[1, 1])
    assert out["h_bar"]["h_bar"].tolist() == pytest.approx([0.5, 1.0])
    rm = out["removal_loss"].set_index("sample")
    assert rm.loc[0, "v"] == pytest.approx(10.0) and rm.loc[0, "v_tilde"] == pytest.approx(5.0)
    j = out["jaccard"].set_index(["type", "order"])["jaccard"]
    assert j[("and", 2)] == pytest.approx(1.0 / 3.0)  # train (1, 2) vs test (1, 0) on AND{0,1}, AND{0,2}
    assert j[("or", 2)] == 0.0  # OR{1,2} only on the training sample: no overlap


def test_parquet_round_trip(batch, tmp_path):
    model, bases = batch
    out = analyze_series({0: model, 10: model}, bases, split=SPLIT, labels=[0, 1, 2, 3])
    for name, fr in out.items():
        assert fr.columns[0] == "checkpoint" and sorted(fr["checkpoint"].unique()) == [0, 10]
        p = tmp_path / f"{name}.parquet"
        fr.to_parquet(p)
        back = pd.read_parquet(p)
        assert list(back.columns) == list(fr.columns) and len(back) == len(fr)
    none = analyze_checkpoint(model, bases, split=SPLIT)["removal_loss"]
    none.to_parquet(tmp_path / "nolabels.parquet")


def test_one_split_only_gives_empty_jaccard(batch):
    model, bases = batch
    out = analyze_checkpoint(model, bases, split=["train"] * 4)
    assert out["jaccard"].empty and tuple(out["jaccard"].columns) == TABLE_COLUMNS["jaccard"]
    assert out["order_distribution"]["split"].unique().tolist() == ["train"]


def test_bad_split_and_labels(batch):
    model, bases = batch
    with pytest.raises(InputError, match="split"):
        analyze_checkpoint(model, bases, split=["train", "val", "test", "test"])
    with pytest.raises(InputError, match="split"):
        analyze_checkpoint(model, bases, split=["train"])
    with pytest.raises(InputError, match="labels"):
        analyze_checkpoint(model, bases, split=SPLIT, labels=[0.5, 1, 1, 0])
    with pytest.raises(InputError, match="labels"):
        analyze_checkpoint(model, bases, split=SPLIT, labels=[0, 1])
    with pytest.raises(InputError, match="empty"):
        analyze_series({}, bases, split=SPLIT)


def test_long_form_helper():
    fr = long_form(np.arange(6.0).reshape(2, 3), [("sample", [0, 1]), ("order", [1, 2, 3])],
                   constants={"checkpoint": 5, "model": "m"}, per_axis={"split": ("sample", ["train", "test"])})
    assert list(fr.columns) == ["checkpoint", "sample", "split", "model", "order", "value"]
    assert fr["value"].tolist() == [0, 1, 2, 3, 4, 5]
    assert fr.loc[fr["sample"] == 1, "split"].unique().tolist() == ["test"]
    with pytest.raises(InputError, match="shape"):
        long_form(np.zeros(3), [("sample", [0, 1])])
    with pytest.raises(InputError, match="unknown axis"):
        long_form(np.zeros(2), [("sample", [0, 1])], per_axis={"split": ("nope", ["a", "b"])})


def test_nan_outputs_and_multi_dim_batch(rng):
    from dataclasses import replace

    model = random_set(rng, batch=(2, 2), n=3)
    bases = [random_set(rng, batch=(2, 2), n=3)]
    out = analyze_checkpoint(model, bases, split=[["train", "train"], ["test", "test"]])
    assert out["h_bar"]["sample"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(out["h_bar"]["h_bar"], gp.h_bar(model, bases).reshape(-1), equal_nan=True)
    assert len(out["jaccard"]) == 3 * 3
    vals = model.values.copy()
    vals[1, 0, -1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        analyze_checkpoint(replace(model, values=vals), bases, split=[["train", "train"], ["test", "test"]])
