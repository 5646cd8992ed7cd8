"""A run's models: a fresh model of the config, the run's one tokenizer, a checkpoint loaded into a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .._readers import read_torch, run_file_fix
from ..errors import ConfigError, CorruptFileError, GenphaseError
from .config import RunConfig

__all__ = ["build_model_for", "run_tokenizer"]


def build_model_for(cfg: RunConfig, ds, seed: int, tokenizer: Any = None) -> torch.nn.Module:
    """A fresh model of ``cfg.model`` for dataset ``ds`` (initialised from ``seed``).

    ``bert-scratch`` needs a tokenizer: pass the run's (see :func:`run_tokenizer`); without one a
    WordPiece tokenizer is trained on the training texts.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> ds = load_breast_cancer()
    >>> model = build_model_for(load_config("breast-cancer-mlp"), ds, seed=0)
    >>> tuple(model(torch.zeros(5, 30)).shape)  # [batch, classes]
    (5, 2)
    """
    from ..models import build_model

    kw = dict(cfg.model.options)
    if ds.modality == "text" and cfg.model.name == "bert-scratch" and "vocab_size" not in kw and "tokenizer" not in kw:
        if tokenizer is not None:
            kw["tokenizer"] = tokenizer
        elif "texts" not in kw:
            kw["texts"] = list(ds.x_train)
    try:
        return build_model(cfg.model.name, num_classes=ds.num_classes, input_shape=ds.input_shape, seed=seed, **kw)
    except GenphaseError as exc:
        if isinstance(exc, ConfigError) or not isinstance(exc, (ValueError, TypeError)):
            raise
        raise ConfigError(f"config keys 'model.name' / 'model.options' ({cfg.model.name!r}, {dict(cfg.model.options)!r}): {exc}") from exc
    except (TypeError, ValueError) as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in cfg.model.options.items()) or "none"
        raise ConfigError(
            f"config key 'model.options': model {cfg.model.name!r} cannot be built with options {given} "
            f"({type(exc).__name__}: {exc}); check each option's type in the docstring of genphase.models "
            f"(e.g. model.options.hidden=[256,256] for mlp)"
        ) from exc


def run_tokenizer(cfg: RunConfig, ds, root: Path | None) -> Any:
    """The one tokenizer of a ``bert-scratch`` run, trained once and kept in ``checkpoints/tokenizer``.

    WordPiece training is not bit-for-bit repeatable across calls, so every model of a run (and a
    resumed run) must share the saved one. Returns None for other models.

    >>> from genphase.pipeline.config import load_config
    >>> from genphase.datasets import load_breast_cancer
    >>> run_tokenizer(load_config("breast-cancer-mlp"), load_breast_cancer(), None) is None  # not bert-scratch
    True
    """
    if ds.modality != "text" or cfg.model.name != "bert-scratch" or "vocab_size" in cfg.model.options:
        return None
    from transformers import PreTrainedTokenizerFast

    target = None if root is None else Path(root) / "checkpoints" / "tokenizer"
    if target is not None and (target / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(str(target))
    tok = build_model_for(cfg, ds, seed=cfg.training.seed).tokenizer
    if target is not None:
        import shutil
        import tempfile

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tokenizer."))
        tok.save_pretrained(str(tmp))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    return tok


def _load(model: torch.nn.Module, path: Path, device: torch.device, fix: str | None = None) -> torch.nn.Module:
    fix = fix or run_file_fix(path.parent)
    return _apply_state(model, read_torch(path, map_location=device, fix=fix), path, device, fix)


def _apply_state(model: torch.nn.Module, state: Any, path: Path, device: torch.device, fix: str) -> torch.nn.Module:
    """``model`` with the state_dict ``state`` read from ``path`` (a mismatch names the file)."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise CorruptFileError(
            f"{str(path)!r} does not hold a state_dict of this model ({' '.join(str(exc).split())[:300]}); {fix}", path) from exc
    return model.to(device).eval()


def _inputs_for(inputs: Any, model: torch.nn.Module, masker: Any, modality: str) -> Any:
    """Text maskers embed with the model's own embedding layer: rebind it per model."""
    if modality == "text" and hasattr(masker, "embedding"):
        masker.embedding = model.model.get_input_embeddings()
    return inputs
