"""A run's data: the dataset, its three disjoint splits (train, reference, evaluation), and the explained samples."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .config import RunConfig

__all__ = ["SPLIT_ROLES", "VARIES_PER_SAMPLE", "load_data", "check_disjoint", "pick_samples", "select_samples"]


#: What each value of the training log's ``split`` column means (also recorded in manifest.json ``splits``).
SPLIT_ROLES: dict[str, str] = {
    "train": "training split: the model under study is trained on it (label noise, if any, is here only)",
    "test": "reference split (the paper's test split): the K baselines are trained on it; explained 'test' "
            "samples come from it",
    "eval": "evaluation split: held out from train and reference; used only to score a recommended stop",
}


#: Modalities whose input variables differ from sample to sample (the Jaccard similarity is then not applicable).
VARIES_PER_SAMPLE: tuple[str, ...] = ("text", "pointcloud")


def load_data(cfg: RunConfig):
    """The dataset of ``cfg.data`` with its three disjoint splits (seeded; docs/run-directory.md, "Splits").

    ``x_train`` / ``y_train``: the training split (subsampled to ``data.train_size``, then
    ``data.label_noise`` of its labels flipped). The loader's test split, capped at
    ``data.test_subsample``, is divided into ``x_eval`` / ``y_eval``, the *evaluation* split
    (``data.eval_fraction`` of it, stratified, seeded by ``data.seed``), and ``x_test`` / ``y_test``,
    the *reference* split (the rest: the paper's test split, on which the baselines train). Splits
    that share a sample (by content) raise :class:`~genphase.errors.ConfigError`, as does an
    evaluation split of fewer than :data:`~genphase.pipeline.config.MIN_EVAL_SAMPLES` samples.

    >>> from genphase.pipeline.config import load_config
    >>> ds = load_data(load_config("breast-cancer-mlp"))  # bundled with scikit-learn: 427 train / 142 test
    >>> len(ds.y_train), len(ds.y_eval), len(ds.y_test), ds.x_train.shape  # 142 = 36 evaluation + 106 reference
    (427, 36, 106, (427, 30))
    >>> load_data(load_config("breast-cancer-mlp", ["data.eval_fraction=0.1"]))
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'data.eval_fraction': 0.1 of the 142 held-out (test) samples ...
    """
    from ..datasets import add_label_noise, carve_eval, load_dataset, subsample_train
    from .config import MIN_EVAL_SAMPLES

    ds = load_dataset(cfg.data.name, **cfg.data.options)
    if cfg.data.train_size is not None:
        if cfg.data.train_size > len(ds.y_train):
            raise ConfigError(
                f"config key 'data.train_size': {cfg.data.train_size} exceeds the {len(ds.y_train)} training samples of {cfg.data.name!r}"
            )
        ds = subsample_train(ds, cfg.data.train_size, seed=cfg.data.seed)
    if cfg.data.test_subsample is not None and cfg.data.test_subsample < len(ds.y_test):
        from ..datasets import subsample

        ds = subsample(ds, n_test=cfg.data.test_subsample, seed=cfg.data.seed)
    n_eval = int(round(cfg.data.eval_fraction * len(ds.y_test)))
    if n_eval < MIN_EVAL_SAMPLES or len(ds.y_test) - n_eval < 1:
        raise ConfigError(
            f"config key 'data.eval_fraction': {cfg.data.eval_fraction} of the {len(ds.y_test)} held-out (test) samples of "
            f"{cfg.data.name!r} gives an evaluation split of {n_eval} samples and a reference split of "
            f"{len(ds.y_test) - n_eval}; the evaluation split needs at least {MIN_EVAL_SAMPLES} and the reference split "
            "at least 1: change data.eval_fraction (or raise data.test_subsample, or give the loader a larger test split "
            "through data.options)")
    n_ref, m = len(ds.y_test) - n_eval, cfg.explain.samples
    if n_ref < m and len(ds.y_test) - MIN_EVAL_SAMPLES >= m:  # a smaller evaluation split fixes it: name its key
        most = math.floor((len(ds.y_test) - m) / len(ds.y_test) * 100) / 100
        least = math.ceil(MIN_EVAL_SAMPLES / len(ds.y_test) * 100) / 100
        raise ConfigError(
            f"config key 'data.eval_fraction': {cfg.data.eval_fraction} of the {len(ds.y_test)} held-out (test) samples "
            f"of {cfg.data.name!r} leaves a reference split of {n_ref} sample(s), fewer than the {m} explained test "
            f"samples it must hold (explain.samples={m}); lower data.eval_fraction to at most {most} (the evaluation "
            f"split needs at least {MIN_EVAL_SAMPLES} samples: {least} or more), or lower explain.samples")
    ds = carve_eval(ds, cfg.data.eval_fraction, seed=cfg.data.seed)
    if cfg.data.label_noise > 0:
        ds = add_label_noise(ds, cfg.data.label_noise, seed=cfg.data.seed)
    check_disjoint(ds, cfg.data.name)
    return ds


def check_disjoint(ds, name: str = "") -> None:
    """Raise :class:`~genphase.errors.ConfigError` when two of the train / reference / evaluation splits
    share a sample (equal content: :func:`~genphase.datasets.sample_digests`).

    >>> import dataclasses
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> check_disjoint(ds, "breast-cancer")  # disjoint: no error
    >>> leak = dataclasses.replace(ds, x_test=np.concatenate([ds.x_train[:1], ds.x_test[1:]]))
    >>> check_disjoint(leak, "breast-cancer")
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config keys 'data.name' / 'data.options': the train and reference splits of 'breast-cancer' share 1 identical sample(s) (reference positions [0]...); ...
    """
    from ..datasets import sample_digests

    digests = {"train": sample_digests(ds.x_train), "reference": sample_digests(ds.x_test)}
    if ds.y_eval is not None:
        digests["evaluation"] = sample_digests(ds.x_eval)
    names = list(digests)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = np.intersect1d(digests[a], digests[b])
            if common.size:
                where = np.flatnonzero(np.isin(digests[b], common))[:3].tolist()
                raise ConfigError(
                    f"config keys 'data.name' / 'data.options': the {a} and {b} splits of {name or 'the dataset'!r} share "
                    f"{common.size} identical sample(s) ({b} positions {where}...); the splits must be disjoint: use a "
                    "dataset without duplicates (e.g. keep data.options.drop_duplicates=true for rotten-tomatoes) or "
                    "remove them before loading")


def pick_samples(
    x: Any, m: int, *, seed: int, selection: str = "random", usable: Callable[[Any], bool] | None = None, what: str = "split"
) -> np.ndarray:
    """Sorted indices of ``m`` samples of ``x``: the first ones or a seeded permutation, skipping
    samples ``usable`` rejects (text: fewer than n eligible words, too long).

    >>> x = np.arange(10) * 10
    >>> pick_samples(x, 3, seed=0, selection="first").tolist()
    [0, 1, 2]
    >>> pick_samples(x, 3, seed=0, selection="first", usable=lambda v: v % 20 == 10).tolist()  # odd positions
    [1, 3, 5]
    >>> sorted(set(pick_samples(x, 3, seed=0).tolist())) == pick_samples(x, 3, seed=0).tolist()  # sorted, distinct
    True
    >>> pick_samples(x, 11, seed=0)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: config key 'explain.samples': 11 exceeds the 10 samples of the split
    """
    size = len(x)
    if m > size:
        raise ConfigError(f"config key 'explain.samples': {m} exceeds the {size} samples of the {what}")
    order = np.arange(size) if selection == "first" else np.random.default_rng(seed).permutation(size)
    if usable is None:
        return np.sort(order[:m])
    picked = []
    for i in order:  # stops after m usable samples; not a hot path
        if usable(x[int(i)]):
            picked.append(int(i))
            if len(picked) == m:
                break
    if len(picked) < m:
        raise ConfigError(
            f"config key 'explain.samples': only {len(picked)} samples of the {what} can be explained with "
            "these variables; lower variables.n or explain.samples"
        )
    return np.sort(np.asarray(picked))


def select_samples(cfg: RunConfig, ds, usable: Callable[[Any], bool] | None = None) -> dict[str, np.ndarray]:
    """Indices of the M training and M reference ("test") samples to explain (see :func:`pick_samples`).

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> sel = select_samples(load_config("breast-cancer-mlp", ["explain.samples=8"]), load_breast_cancer())
    >>> {split: idx.size for split, idx in sel.items()}
    {'train': 8, 'test': 8}
    """
    e = cfg.explain
    out = {
        split: pick_samples(x, e.samples, seed=e.seed + (split == "test"), selection=e.selection, usable=usable,
                            what="reference (test) split" if split == "test" else "train split")
        for split, x in (("train", ds.x_train), ("test", ds.x_test))
    }
    if e.unseen:  # evaluation samples nobody trained on (explain.unseen)
        try:
            out["unseen"] = pick_samples(ds.x_eval, e.unseen, seed=e.seed + 2, selection=e.selection, usable=usable,
                                         what="evaluation split")
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("'explain.samples'", "'explain.unseen'")) from exc
    return out


def _take(x, idx):
    return [x[i] for i in idx] if isinstance(x, list) else np.asarray(x)[idx]


def _data_fingerprint(split: str, x: Any, y: np.ndarray) -> dict:
    """Provenance of the data a model was trained on: split name, size and a SHA-256 of inputs and labels."""
    h = hashlib.sha256()
    if isinstance(x, list):
        h.update("\x00".join(x).encode())
    else:
        h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return {"split": split, "n": int(len(y)), "sha256": h.hexdigest()}
