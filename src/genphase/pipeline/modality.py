"""Modality adapters: how the pipeline batches inputs for training and builds a masker.

A :class:`Modality` hides the difference between array inputs (images, tabular, point clouds;
``model(x)``) and text (tokenised on the fly; ``model(**encoding)``).
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import ConfigError, InputError
from .config import LAYOUTS, RunConfig

__all__ = ["Modality", "ArrayModality", "TextModality", "make_modality"]


@dataclass
class Modality:
    """Base adapter. ``modality`` is one of image, tabular, pointcloud, text.

    >>> from genphase.pipeline.presets import preset_dict
    >>> task = make_modality("tabular", RunConfig.from_dict(preset_dict("breast-cancer-mlp")))
    >>> isinstance(task, Modality), task.modality, task.usable(None)  # None: every sample can be explained
    (True, 'tabular', None)
    """

    modality: str
    cfg: RunConfig

    def batch(self, x: Any, idx: np.ndarray, device: torch.device) -> Any:
        raise NotImplementedError

    def usable(self, model: torch.nn.Module):
        """A filter ``x -> bool`` for samples that can be explained (None: all can)."""
        return None

    def forward(self, model: torch.nn.Module, xb: Any) -> torch.Tensor:
        return model(**xb) if isinstance(xb, dict) else model(xb)

    def masker_and_inputs(self, model: torch.nn.Module, data, x_explained: Any) -> tuple[Any, Any, dict]:
        """Return ``(masker, masker_inputs, variables_json)`` for the explained samples."""
        raise NotImplementedError


def _check_variables(modality: str, v: Any, allowed_options: tuple[str, ...]) -> None:
    """``variables.layout`` and ``variables.options`` keys valid for ``modality`` (ConfigError otherwise)."""
    layouts = LAYOUTS.get(modality, ())
    if v.layout not in layouts:
        extra = " (point-cloud variables are clusters; set variables.options.start=first|centroid instead)" \
            if modality == "pointcloud" else ""
        raise ConfigError(f"config key 'variables.layout': {v.layout!r} is not a layout for {modality} data; "
                          f"choose one of {', '.join(layouts)}{extra}")
    unknown = sorted(set(v.options) - set(allowed_options))
    if unknown:
        raise ConfigError(f"config key 'variables.options': unknown option(s) {unknown} for {modality} data; "
                          f"valid options: {', '.join(allowed_options) or 'none'}")


def _params(fn: Any, skip: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for p in inspect.signature(fn).parameters if p not in ("self", *skip))


@contextlib.contextmanager
def _as_config_error(what: str) -> Iterator[None]:
    """Re-raise a masker's InputError as a ConfigError that names the config keys involved."""
    try:
        yield
    except ConfigError:
        raise
    except (InputError, TypeError, ValueError) as exc:
        raise ConfigError(f"config keys {what}: {exc}") from exc


class ArrayModality(Modality):
    """Images ``[N, C, H, W]``, tabular ``[N, D]`` and point clouds ``[N, P, 3]``.

    >>> from genphase.datasets import load_breast_cancer
    >>> from genphase.pipeline.presets import preset_dict
    >>> task = ArrayModality("tabular", RunConfig.from_dict(preset_dict("breast-cancer-mlp")))  # the first 10 features
    >>> data = load_breast_cancer()
    >>> task.batch(data.x_train, np.array([0, 1]), torch.device("cpu")).shape
    torch.Size([2, 30])
    >>> masker, inputs, info = task.masker_and_inputs(None, data, data.x_test[:3])
    >>> masker.n, tuple(inputs.shape), info["feature_names"][:2]
    (10, (3, 30), ['mean radius', 'mean texture'])
    """

    def batch(self, x: np.ndarray, idx: np.ndarray, device: torch.device) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x)[idx], dtype=torch.float32, device=device)

    def masker_and_inputs(self, model, data, x_explained):
        from ..maskers import ImagePatchMasker, PointCloudMasker, TabularMasker

        v = self.cfg.variables
        xt = torch.as_tensor(np.asarray(x_explained), dtype=torch.float32)
        info: dict[str, Any] = {"modality": self.modality}
        if self.modality == "image":
            _check_variables("image", v, _params(ImagePatchMasker.__init__, ("baseline", "patch_size", "layout", "n", "seed", "image_shape")))
            c, h, w = data.input_shape
            ps = v.patch_size or max(1, min(h, w) // 4)
            kw: dict[str, Any] = dict(patch_size=ps, layout=v.layout, n=v.n, seed=v.seed)
            kw.update(v.options)
            with _as_config_error("'variables.n' / 'variables.patch_size' / 'variables.options'"):
                masker = ImagePatchMasker.from_data(np.asarray(data.x_train), **kw)
            info["patch_boxes"] = [list(map(int, b)) for b in masker.patch_boxes]
            info["image_shape"] = [int(c), int(h), int(w)]
        elif self.modality == "tabular":
            _check_variables("tabular", v, ("features",))
            d = data.input_shape[0]
            if v.n > d:
                raise ConfigError(f"config key 'variables.n': {v.n} variables but the data has only {d} features")
            feats = v.options.get("features")
            if feats is None:
                feats = list(range(v.n)) if v.layout == "first" else sorted(
                    np.random.default_rng(v.seed).choice(d, v.n, replace=False).tolist()
                )
            with _as_config_error("'variables.n' / 'variables.options.features'"):
                masker = TabularMasker.from_data(np.asarray(data.x_train), features=feats)
            if data.feature_names is not None:
                info["feature_names"] = [data.feature_names[i] for i in feats]
        elif self.modality == "pointcloud":
            _check_variables("pointcloud", v, _params(PointCloudMasker.__init__, ("n",)))
            kw = dict(v.options)
            with _as_config_error("'variables.n' / 'variables.options'"):
                masker = PointCloudMasker(n=v.n, **kw)
        else:  # pragma: no cover - guarded by make_modality
            raise ConfigError(f"unsupported modality {self.modality!r}")
        info["names"] = list(masker.variable_names)
        return masker, xt, info


class TextModality(Modality):
    """Sentences tokenised by the model's tokenizer; variables are words (sub-tokens together).

    >>> from genphase.models.text import bert_from_scratch, train_wordpiece_tokenizer
    >>> from genphase.pipeline.presets import preset_dict
    >>> cfg = RunConfig.from_dict({**preset_dict("rotten-tomatoes-bert"), "variables": {"n": 2}})
    >>> texts = ["a truly great movie", "not a good film"]
    >>> model = bert_from_scratch(train_wordpiece_tokenizer(texts, vocab_size=60, min_frequency=1), 2, hidden=8,
    ...                           layers=1, heads=2, max_position=16, seed=0)
    >>> task = TextModality("text", cfg)
    >>> sorted(task.batch(texts, np.array([0, 1]), torch.device("cpu"), model))
    ['attention_mask', 'input_ids']
    >>> masker, inputs, info = task.masker_and_inputs(model, None, texts)
    >>> type(masker).__name__, info["words"]
    ('EmbeddingMasker', [['truly', 'great'], ['not', 'good']])
    """

    max_length: int = 64

    def _tok(self, model):
        tok = getattr(model, "tokenizer", None)
        if tok is None:
            raise ConfigError("text models need a tokenizer (model.tokenizer); use bert-scratch, minilm or hf")
        return tok

    def batch(self, x: list[str], idx: np.ndarray, device: torch.device, model=None) -> dict:
        tok = self._tok(model)
        enc = tok([x[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {k: v.to(device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}

    def _words(self, tok, text: str):
        from ..maskers import word_variables

        v = self.cfg.variables
        _check_variables("text", v, ("baseline",))
        choose = "random" if v.layout == "random" else "first"
        return word_variables(tok, text, v.n, max_length=self.max_length, choose=choose, seed=v.seed)

    def usable(self, model):
        from ..errors import InputError

        tok = self._tok(model)

        def ok(text: str) -> bool:
            try:
                self._words(tok, text)
            except InputError:
                return False
            return True

        return ok

    def masker_and_inputs(self, model, data, x_explained):
        from ..maskers import EmbeddingMasker, collate_text

        tok = self._tok(model)
        v = self.cfg.variables
        items = [self._words(tok, text) for text in x_explained]
        inputs = collate_text(items, pad_token_id=tok.pad_token_id or 0)
        emb = model.model.get_input_embeddings()
        baseline = v.options.get("baseline", "mask")
        if baseline == "mask":
            baseline = int(tok.mask_token_id)
        elif baseline == "pad":
            baseline = int(tok.pad_token_id or 0)
        with _as_config_error("'variables.options.baseline'"):
            masker = EmbeddingMasker(emb, v.n, baseline=baseline)
        info = {"modality": "text", "names": [f"w{i}" for i in range(v.n)], "words": [list(it.words) for it in items]}
        return masker, inputs, info


def make_modality(modality: str, cfg: RunConfig) -> Modality:
    """The :class:`Modality` of a dataset modality: :class:`TextModality` for text, :class:`ArrayModality` for the others.

    >>> from genphase.pipeline.presets import preset_dict
    >>> cfg = RunConfig.from_dict(preset_dict("digits"))
    >>> type(make_modality("image", cfg)).__name__, type(make_modality("text", cfg)).__name__
    ('ArrayModality', 'TextModality')
    >>> make_modality("audio", cfg)
    Traceback (most recent call last):
    ...
    genphase.errors.ConfigError: dataset modality 'audio' is not supported by the pipeline
    """
    if modality == "text":
        return TextModality(modality, cfg)
    if modality in ("image", "tabular", "pointcloud"):
        return ArrayModality(modality, cfg)
    raise ConfigError(f"dataset modality {modality!r} is not supported by the pipeline")
