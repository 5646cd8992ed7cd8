"""What every stage of a run shares: data, modality, tokenizer, explained samples and masker, computed once per
process from the config (a worker of any executor recomputes it; the driver computes it first, so a bad
config fails before any work starts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..rundir import TOKENIZER_DIR

__all__ = ["Setup", "setup_for"]


@dataclass
class Setup:
    """Data, modality adapter, tokenizer, a fresh model (initialisation only), explained samples and masker of a run.

    The explained samples are ``explain.samples`` training samples, then as many reference ("test") ones:

    >>> from genphase.pipeline.config import load_config
    >>> su = setup_for(load_config("breast-cancer-mlp", ["explain.samples=8", "variables.n=4"]), None)
    >>> su.x_exp.shape, su.y_exp.shape, su.split_exp[[0, 8]].tolist(), su.masker.n, sorted(su.eval_sets)
    ((16, 30), (16,), ['train', 'test'], 4, ['eval', 'test', 'train'])
    """

    ds: Any
    modality: Any
    tokenizer: Any
    model: Any
    sel: dict
    x_exp: Any
    y_exp: np.ndarray
    split_exp: np.ndarray
    eval_sets: dict
    masker: Any
    m_inputs: Any
    var_info: dict


_SETUPS: dict[tuple, Setup] = {}


_MAX_SETUPS = 8


def setup_for(cfg: Any, root: Path | None) -> Setup:
    """What the stages of ``cfg`` share, computed once per process and run directory ``root`` (where the
    run's tokenizer lies, for ``bert-scratch``; None when this worker has no tokenizer to read).

    >>> from genphase.pipeline.config import load_config
    >>> su = setup_for(load_config("breast-cancer-mlp", ["explain.samples=8", "variables.n=4"]), None)
    >>> su.y_exp.shape, su.var_info["modality"]
    ((16,), 'tabular')
    """
    from .config import config_hash
    from .data import _take, load_data, select_samples
    from .modality import make_modality
    from .models import build_model_for, run_tokenizer

    tok_id = None
    if root is not None:
        tok = Path(root) / TOKENIZER_DIR / "tokenizer.json"
        tok_id = (str(root), tok.stat().st_mtime_ns if tok.exists() else None)
    key = (config_hash(cfg), cfg.device, tok_id)
    if key in _SETUPS:
        return _SETUPS[key]
    ds = load_data(cfg)
    modality = make_modality(ds.modality, cfg)
    tokenizer = run_tokenizer(cfg, ds, root)
    model = build_model_for(cfg, ds, seed=cfg.training.seed, tokenizer=tokenizer)
    sel = select_samples(cfg, ds, usable=modality.usable(model))
    parts = [("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)]
    if "unseen" in sel:  # explain.unseen: evaluation samples nobody trained on, last
        parts.append(("unseen", ds.x_eval, ds.y_eval))
    xs = [_take(x, sel[name]) for name, x, _ in parts]
    x_exp = sum(xs, []) if isinstance(ds.x_train, list) else np.concatenate(xs)
    y_exp = np.concatenate([y[sel[name]] for name, _, y in parts]).astype(np.int64)
    split_exp = np.array([name for name, _, _ in parts for _ in range(len(sel[name]))])
    # the model is scored on all three splits (training log `split`: train, test = the reference split, eval);
    # "test" last: the progress line below reads the last row of an epoch
    eval_sets = {"train": (ds.x_train, ds.y_train), "eval": (ds.x_eval, ds.y_eval), "test": (ds.x_test, ds.y_test)}
    # the masker is built before any training: bad variables fail first
    masker, m_inputs, var_info = modality.masker_and_inputs(model, ds, x_exp)
    su = Setup(ds, modality, tokenizer, model, sel, x_exp, y_exp, split_exp, eval_sets, masker, m_inputs, var_info)
    if len(_SETUPS) >= _MAX_SETUPS:
        _SETUPS.pop(next(iter(_SETUPS)))
    _SETUPS[key] = su
    return su
