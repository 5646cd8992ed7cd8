"""A run's K baselines: their design (reference or cross-fitted), the data each learns from, its record (``data.npz``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from ..errors import ConfigError, CorruptFileError
from ..rundir import RunPaths, read_json, write_json
from ..settings import BASELINE_STOP_FRACTION, BASELINE_STOP_MIN
from .config import RunConfig
from .models import _load, build_model_for
from .training import evaluate

if TYPE_CHECKING:  # pragma: no cover
    from .records import _Files

__all__ = ["baseline_design", "baseline_data"]

Log = Callable[[str], None]


def baseline_design(cfg: RunConfig, ds) -> Any:
    """The :class:`~genphase.analysis.CrossfitDesign` of ``baselines.trained_on=crossfit`` (folds of the
    training split, stratified by its labels, seeded by ``baselines.seed``); None for ``reference``.
    A training split too small for the design raises :class:`~genphase.errors.ConfigError`.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> baseline_design(load_config("breast-cancer-mlp"), ds) is None  # the paper's design
    True
    >>> d = baseline_design(load_config("breast-cancer-mlp", ["baselines.trained_on=crossfit"]), ds)
    >>> d.K, d.folds.shape, sorted(set(d.folds.tolist()))  # one fold per training sample
    (3, (427,), [0, 1, 2])
    """
    if cfg.baselines.trained_on != "crossfit":
        return None
    from ..analysis import crossfit_design
    from ..errors import InputError

    try:
        return crossfit_design(len(ds.y_train), cfg.baselines.k, labels=ds.y_train, seed=cfg.baselines.seed)
    except InputError as exc:
        raise ConfigError(f"config keys 'baselines.trained_on=crossfit' / 'baselines.k' / 'data.train_size' "
                          f"({len(ds.y_train)} training samples, K = {cfg.baselines.k}): {exc}") from exc


def baseline_data(cfg: RunConfig, ds, design: Any, k: int) -> tuple[str, np.ndarray, np.ndarray]:
    """``(split, train_index, holdout_index)`` of baseline ``k``: the split it learns from ("test": the
    reference split; "train": cross-fitted), the indices into that split it trains on, and (with
    ``baselines.early_stopping``) the held-out slice it is stopped on: ``max(BASELINE_STOP_MIN,
    round(BASELINE_STOP_FRACTION * n))`` of its ``n`` samples, drawn by ``default_rng(baselines.seed + k)``.

    A slice that would leave fewer than ``BASELINE_STOP_MIN`` samples to train on raises ConfigError.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()  # 142 reference ("test") samples
    >>> split, idx, hold = baseline_data(load_config("breast-cancer-mlp"), ds, None, 0)
    >>> split, idx.size, hold.size  # the whole reference split, nothing held out
    ('test', 142, 0)
    >>> split, idx, hold = baseline_data(load_config("breast-cancer-mlp", ["baselines.early_stopping=true"]), ds, None, 1)
    >>> idx.size, hold.size, np.intersect1d(idx, hold).size  # round(0.1 * 142) = 14 held out to stop on
    (128, 14, 0)
    """
    if design is None:
        split, pool = "test", np.arange(len(ds.y_test))
    else:
        split, pool = "train", design.train_indices(k)
    hold = np.zeros(0, dtype=np.int64)
    if cfg.baselines.early_stopping:
        n_hold = max(BASELINE_STOP_MIN, int(round(BASELINE_STOP_FRACTION * pool.size)))
        if pool.size - n_hold < BASELINE_STOP_MIN:
            raise ConfigError(f"config key 'baselines.early_stopping': baseline {k} has {pool.size} training samples, too "
                              f"few to hold out {n_hold} for stopping and still train on {BASELINE_STOP_MIN}; use more "
                              "data or baselines.early_stopping=false")
        perm = np.random.default_rng(cfg.baselines.seed + k).permutation(pool.size)
        hold = np.sort(pool[perm[:n_hold]])
        pool = np.sort(pool[perm[n_hold:]])
    return split, pool.astype(np.int64), hold.astype(np.int64)


def _adopt_baseline(cfg: RunConfig, ds, modality, paths: RunPaths, files: "_Files", k: int, tokenizer: Any,
                    device: torch.device, log: Log) -> None:
    """A finished baseline of a run made before ``data.npz`` existed (only ``reference`` without early stopping
    could be: the config hash leaves those defaults out): record what it trained on and score it on the
    evaluation split once, as a new run does."""
    split, idx, hold = baseline_data(cfg, ds, None, k)
    model = _load(build_model_for(cfg, ds, cfg.baselines.seed + k, tokenizer), paths.baseline(k), device, files.fix)
    blog = read_json(paths.baseline_log(k), files.fix)
    kept = _kept_epoch(blog, None)
    loss, acc = evaluate(model, modality, ds.x_eval, ds.y_eval, device)
    blog = [r for r in blog if r.get("split") != "eval"] + [{"epoch": kept, "split": "eval", "loss": loss, "accuracy": acc}]
    _write_baseline_data(paths.baseline_data(k), split, idx, hold, kept)
    files.done(paths.baseline_data(k), {"kind": "baseline_data", "model": f"baseline_{k}"}, save=False)
    write_json(paths.baseline_log(k), blog)
    files.done(paths.baseline_log(k), {"kind": "training_log", "model": f"baseline_{k}"})
    log(f"  [baselines] baseline {k + 1}: recorded its training data and scored it on the evaluation split "
        "(a run made before these records)")


def _write_baseline_data(path: Path, split: str, idx: np.ndarray, hold: np.ndarray, kept: int) -> None:
    from ..rundir.files import atomic_write

    atomic_write(path, lambda fh: np.savez(fh, split=np.array(split), train_index=idx, holdout_index=hold,
                                           epoch=np.int64(kept)))


def _read_baseline_data(path: Path, fix: str) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {"split": str(z["split"]), "train_index": z["train_index"].astype(np.int64),
                   "holdout_index": z["holdout_index"].astype(np.int64), "epoch": int(z["epoch"])}
    except (OSError, KeyError, ValueError) as exc:
        raise CorruptFileError(f"{str(path)!r} is not a baseline data record ({exc}); {fix}", path) from exc
    return out


def _kept_epoch(blog: list[dict], stop_split: str | None) -> int:
    """The epoch whose weights a baseline keeps: the last one, or the first with the lowest held-out loss."""
    if stop_split is None:
        return int(max(r["epoch"] for r in blog))
    rows = [r for r in blog if r["split"] == stop_split]
    return int(min(rows, key=lambda r: (r["loss"], r["epoch"]))["epoch"])
